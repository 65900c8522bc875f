"""3D evaluation of a fine-tuned checkpoint: predictions on a protocol's test samples, scored
by :mod:`wsp_core.evaluate.pose3d`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..evaluate.pose3d import summary_3d, worst_first, write_samples
from ..formats.pose3d import read_3d_source
from ..skeleton import ROOT
from .config import FinetuneConfig
from .data3d import make_loader, sample_row, split_samples
from .finetune import FINETUNE_TASK, describe_init
from .runner import load_trained, to_device


@torch.inference_mode()
def predict_3d(model, loader, device, cfg: FinetuneConfig) -> dict[str, np.ndarray]:
    """Camera-frame predictions (mm, root depth from the ground truth) and the ground truth."""
    from ..models.posenet import decode

    model.eval()
    preds, gts, ids = [], [], []
    cuda = device.type == "cuda"
    for batch in loader:
        batch = to_device(batch, device, cfg.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and cfg.bf16):
            out = model(batch["image"]).float()
        cam = decode(out, batch["crop_to_image"], batch["root_depth"], batch["f"], batch["c"],
                     cfg.input_size // 4, cfg.input_size, ROOT, cfg.depth_bins)
        preds.append(cam.cpu().numpy())
        gts.append(batch["joints_cam"].cpu().numpy())
        ids.append(batch["sample_id"].cpu().numpy())
    if not preds:
        return {"pred": np.zeros((0, 17, 3)), "gt": np.zeros((0, 17, 3)), "sample_id": np.zeros(0)}
    return {"pred": np.concatenate(preds), "gt": np.concatenate(gts),
            "sample_id": np.concatenate(ids)}


def test_rows(data: str, cfg: FinetuneConfig) -> list[dict[str, Any]]:
    """The test samples of ``FORMAT:PATH`` under the config's protocol, as manifest rows."""
    pose_set, images = read_3d_source(data)
    _, _, test_idx = split_samples(pose_set, cfg, data)
    return [sample_row(pose_set, images, int(k), "test") for k in test_idx]


def _predict_protocol(ckpt: Path, data: str, protocol: str, action: str | None, batch: int,
                      workers: int, device: str):
    """(checkpoint state, predictions, rows by sample id) on a protocol's test set."""
    model, cfg, state, dev = load_trained(ckpt, FINETUNE_TASK, device, workers=workers,
                                          batch_size=batch, init="none")
    if protocol != "custom":  # custom keeps the subject lists the checkpoint was trained with
        cfg.protocol, cfg.action = protocol, action
    cfg.mts_db = None
    rows = test_rows(data, cfg)
    if not rows:
        raise InputError(data, f"no test sample under protocol {protocol}")
    pred = predict_3d(model, make_loader(rows, cfg, False, 1, 0), dev, cfg)
    return state, pred, {r["sample_id"]: r for r in rows}


def eval_3d(ckpt: Path, data: str, protocol: str = "subject1", action: str | None = None,
            batch: int = 32, workers: int = 2, device: str = "auto",
            samples_out: Path | None = None) -> dict[str, Any]:
    """The field's 3D metrics of a fine-tuned checkpoint on the test samples of a protocol
    (``all``: the images the run's ``test_fraction`` holds out), with the ground-truth root depth. ``samples_out`` also writes every
    sample's prediction, truth and per-joint errors, worst first (see :func:`write_samples`)."""
    state, pred, by_id = _predict_protocol(ckpt, data, protocol, action, batch, workers, device)
    result = {"checkpoint": str(ckpt), "epoch": state["epoch"], "data": data,
              "protocol": protocol, "start": describe_init(state["config"].get("init")),
              **summary_3d(pred, [by_id[int(k)]["action"] for k in pred["sample_id"]],
                           [by_id[int(k)]["image"] for k in pred["sample_id"]])}
    if samples_out is not None:
        write_samples(samples_out, worst_first(pred, by_id))
        result["samples_file"] = str(samples_out)
    return result
