"""``eval-3d``: a fine-tuned checkpoint's predictions, or any model's predictions from a file,
scored by one code path (:func:`wsp_core.evaluate.pose3d.score`) on a protocol's test samples.

The truth is read in the evaluation's joint order (Human3.6M's on single-person sets,
MuPoTS-3D's on multi-person sets); a checkpoint predicts Human3.6M's 17 joints from each person's
crop (the ground-truth box and root depth, or a detected box and estimated root from a
``bbox_root_*_output.json`` file), with flip test unless turned off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..progress import PassProgress
from ..evaluate.pose3d import (Predictions, entry_image, finite_or_none, image_key, image_lookup,
                               read_predictions, reorder, score, take_samples, worst_first,
                               write_samples)
from ..formats.h36m import Pose3DSet
from ..formats.pose3d import (MULTI_PERSON_FORMATS, OWN_JOINTS, parse_spec, read_3d_source,
                              read_bbox_root)
from ..skeleton import CANONICAL, H36M, MUPOTS, ROOT
from .config import FinetuneConfig
from .data3d import FLIP, make_loader, sample_row, split_samples
from .finetune import FINETUNE_TASK, describe_init
from .precision import autocast
from .runner import load_trained, to_device


def _forward(model, images: torch.Tensor, cfg: FinetuneConfig, flip: bool) -> torch.Tensor:
    """PoseNet's output (B, J, 3) in heatmap units; with ``flip``, averaged with the output on
    the mirrored crops, mirrored back and left/right swapped (3DMPPE's flip test)."""
    with autocast(images.device, cfg):
        out = model(images).float()
        if not flip:
            return out
        mirrored = model(torch.flip(images, dims=[3])).float()
    mirrored[..., 0] = cfg.input_size // 4 - 1 - mirrored[..., 0]
    return (out + mirrored[:, torch.as_tensor(FLIP, device=out.device)]) / 2


@torch.inference_mode()
def predict_3d(model, loader, device, cfg: FinetuneConfig, flip: bool = False,
               progress=None) -> dict[str, np.ndarray]:
    """Camera-frame predictions (mm; root depth from the row: the truth's, or an estimate) and
    the ground truth, Human3.6M's joint order."""
    from ..models.posenet import decode

    model.eval()
    preds, gts, ids = [], [], []
    for batch in (progress.wrap(loader) if progress is not None else loader):
        batch = to_device(batch, device, cfg)
        out = _forward(model, batch["image"], cfg, flip)
        cam = decode(out, batch["crop_to_image"], batch["root_depth"], batch["f"], batch["c"],
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins)
        preds.append(cam.cpu().numpy())
        gts.append(batch["joints_cam"].cpu().numpy())
        ids.append(batch["sample_id"].cpu().numpy())
    if not preds:
        return {"pred": np.zeros((0, 17, 3)), "gt": np.zeros((0, 17, 3)), "sample_id": np.zeros(0)}
    return {"pred": np.concatenate(preds), "gt": np.concatenate(gts),
            "sample_id": np.concatenate(ids)}


def evaluation_set(data: str, cfg: FinetuneConfig) -> tuple[Pose3DSet, list[dict], bool, Path]:
    """The test samples of ``FORMAT:PATH`` under the config's protocol: the truth in the
    evaluation's joint order, the same samples as loader rows (Human3.6M's order), whether the
    set is multi-person, and its image folder."""
    fmt, _ = parse_spec(data)
    multi = fmt in MULTI_PERSON_FORMATS
    have = CANONICAL if multi else H36M.canonical
    full, images = read_3d_source(data, names=have, training=False)
    _, _, test_idx = split_samples(full, cfg, data)
    gt = take_samples(full, test_idx, have, MUPOTS.canonical if multi else H36M.canonical)
    rows_set = take_samples(full, test_idx, have, H36M.canonical)
    return gt, [sample_row(rows_set, images, k, "test") for k in range(len(rows_set))], multi, images


def box_rows(path: Path, gt: Pose3DSet, images: Path) -> list[dict[str, Any]]:
    """Loader rows of a boxes-and-roots file (:func:`~wsp_core.formats.pose3d.read_bbox_root`):
    each box cropped as it is, at its root's depth."""
    keys, rows, j = image_lookup(gt), [], len(H36M.joints)
    for n, (image_id, box, root) in enumerate(read_bbox_root(path)):
        key, k = entry_image(path, n, {"image_id": image_id}, keys, "box")
        rows.append({"sample_id": n, "image": str(images / gt.images[k]), "split": "val",
                     "box": box.tolist(), "box_ready": True, "root_cam": root.tolist(),
                     "joints_img": [[0.0, 0.0]] * j, "joints_cam": [[0.0, 0.0, 0.0]] * j,
                     "visible": [False] * j, "f": gt.f[k].tolist(), "c": gt.c[k].tolist(),
                     "action": "", "image_key": key})
    return rows


def model_predictions(pred: dict[str, np.ndarray], rows: list[dict], gt: Pose3DSet,
                      want: tuple[str, ...]) -> Predictions:
    """A checkpoint's predictions (Human3.6M's order) grouped by image in the order ``want``."""
    by_id = {r["sample_id"]: r for r in rows}
    out: Predictions = {}
    for cam, sid in zip(pred["pred"], pred["sample_id"]):
        row = by_id[int(sid)]
        img = cam[:, :2] / cam[:, 2:] * np.asarray(row["f"]) + np.asarray(row["c"])
        cam_w, has = reorder(cam, H36M.canonical, want)
        key = row.get("image_key") or image_key(gt, int(sid))
        out.setdefault(key, []).append((cam_w, reorder(img, H36M.canonical, want)[0], has))
    return out


def run_config(ckpt: Path) -> dict[str, Any]:
    """The config.json of a checkpoint's run folder ({} when there is none)."""
    try:
        config = json.loads((Path(ckpt).parent / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def trained_on(run: dict[str, Any], data: str) -> bool:
    """Whether ``data`` (``FORMAT:PATH``) is what a run (its config.json) trained on; paths
    compared resolved."""
    try:
        fmt, path = parse_spec(run.get("data"))
    except (AttributeError, TypeError, InputError):   # no run folder, or data of no format
        return False
    want_fmt, want_path = parse_spec(data)
    return (fmt, path.resolve()) == (want_fmt, want_path.resolve())


def eval_3d(ckpt: Path | None, data: str, protocol: str | None = None, action: str | None = None,
            batch: int = 32, workers: int = 2, device: str = "auto",
            samples_out: Path | None = None, pred_file: Path | None = None,
            boxes: Path | None = None, flip: bool = True,
            progress: str = "none") -> dict[str, Any]:
    """The field's 3D numbers on the test samples of a protocol for a fine-tuned checkpoint, or
    for the predictions of any model in ``pred_file``. ``all`` on the data a checkpoint was
    trained on tests the images its run held out (``test_fraction``); on any other data, and
    for ``pred_file``, every sample is a test sample.
    ``samples_out`` also writes every matched sample's prediction, truth and per-joint errors,
    worst first. ``protocol`` defaults to ``subject1``, on multi-person sets to ``all``."""
    if (ckpt is None) == (pred_file is None):
        raise InputError(pred_file or data, "give a checkpoint or --pred FILE, not both")
    model, cfg, state, dev = (None, FinetuneConfig(), {"epoch": None}, None) if ckpt is None else \
        load_trained(ckpt, FINETUNE_TASK, device, workers=workers, batch_size=batch, init="none")
    protocol = protocol or ("all" if parse_spec(data)[0] in MULTI_PERSON_FORMATS else "subject1")
    if protocol != "custom" or ckpt is None:  # custom keeps the checkpoint's subject lists
        cfg.protocol, cfg.action = protocol, action
    cfg.mts_db = None
    run = {} if ckpt is None else run_config(ckpt)
    own = ckpt is not None and trained_on(run, data)
    if protocol == "all" and not own:
        cfg.test_fraction = 1.0                      # data the model never trained on: all
    gt, rows, multi, images = evaluation_set(data, cfg)
    if not len(gt):
        raise InputError(data, f"no test sample under protocol {protocol}")
    want = MUPOTS.canonical if multi else H36M.canonical
    if pred_file is not None:
        preds = read_predictions(pred_file, OWN_JOINTS[parse_spec(data)[0]], want, gt)
    else:
        rows = rows if boxes is None else box_rows(boxes, gt, images)
        preds = model_predictions(predict_3d(model, make_loader(rows, cfg, False, 1, 0), dev,
                                             cfg, flip, PassProgress(progress, "eval-3d")),
                                  rows, gt, want)
    root = want.index("pelvis")
    numbers, ok, matched = score(gt, preds, root, multi)
    result = {"checkpoint": None if ckpt is None else str(ckpt), "epoch": state["epoch"],
              "predictions": None if pred_file is None else str(pred_file), "data": data,
              "protocol": protocol, "tested": "the images the run held out" if
              protocol == "all" and own else "every test sample of the protocol",
              "flip_test": bool(flip and ckpt is not None),
              "boxes": str(boxes) if boxes else "ground truth",
              "roots": str(boxes) if boxes else "ground truth", "joints": list(want),
              **finite_or_none(numbers)}
    if ckpt is not None:
        result["start"] = describe_init(state["config"].get("init"), run.get("init"))
    if samples_out is not None:
        names = (MUPOTS if multi else H36M).joints
        write_samples(samples_out, worst_first(gt, ok, matched, root, names))
        result["samples_file"] = str(samples_out)
    return result
