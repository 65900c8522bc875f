"""3D fine-tuning: PoseNet's head on a backbone from WSP pre-training (or from scratch: the
PoseNet baseline), trained with integral regression on single-person 3D samples.

Data: ``FORMAT:PATH`` (see :mod:`wsp_core.formats.pose3d`). The manifest lists every sample with
its split by the config's protocol (docs/TRAINING.md); the samples, targets and loaders are in
:mod:`.data3d`, evaluation in :mod:`.eval3d`, photos in :mod:`.photo`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..evaluate.pose3d import pose_metrics
from ..formats.pose3d import read_3d_source
from ..models.backbone import IMAGENET
from ..skeleton import H36M, ROOT
from .config import FinetuneConfig
from .data3d import make_loader, sample_row, split_samples
from .manifest import read_manifest
from .precision import autocast, place_model
from .runner import Task, even_sample, run_training


def export_samples(spec: str, path: Path, cfg: FinetuneConfig) -> dict[str, Any]:
    """Write the fine-tuning manifest: every sample with its split under the protocol (train,
    val from the training side, test: listed, never read by training)."""
    data, images = read_3d_source(spec)
    parts = dict(zip(("train", "val", "test"), split_samples(data, cfg, spec)))
    split = np.full(len(data), "", dtype=object)
    for name, idx in parts.items():
        split[idx] = name
    counts = {name: int(len(idx)) for name, idx in parts.items()}
    with atomic_write(path) as f:
        for k in range(len(data)):
            if split[k]:
                f.write(json.dumps(sample_row(data, images, k, split[k]),
                                   separators=(",", ":")) + "\n")
        if cfg.mts_db:
            counts["train_2d"] = _write_2d_rows(Path(cfg.mts_db), f)
    return {"source": spec, "protocol": cfg.protocol, **counts}


#: Sample ids of 2D (MTS) rows start here, so they never meet a 3D sample's id.
ID_2D = 1_000_000_000


def _write_2d_rows(db: Path, f) -> int:
    """MTS: every MCPC person of the store as a 2D sample (Human3.6M joints it has, no depth)."""
    from ..skeleton import FORMAT_JOINT_SETS, to_canonical
    from ..store import open_store
    from ..store.queries import mcpc_persons

    count = 0
    with open_store(db, create=False) as store:
        for person in mcpc_persons(store):
            kp = to_canonical(np.asarray(person["keypoints"], dtype=np.float64),
                              FORMAT_JOINT_SETS[person["format"]], names=H36M.canonical)
            if (kp[:, 2] > 0).sum() < 6:
                continue
            f.write(json.dumps({
                "sample_id": ID_2D + person["person_id"], "kind": "2d", "split": "train",
                "image": str(Path(person["images_dir"]) / person["file_name"]),
                "box": person["bbox"], "joints_img": np.round(kp[:, :2], 2).tolist(),
                "visible": (kp[:, 2] > 0).tolist(), "action": "2d"},
                separators=(",", ":")) + "\n")
            count += 1
    return count


def build_model(cfg: FinetuneConfig, device: torch.device) -> torch.nn.Module:
    from ..models.posenet import PoseNet

    model = PoseNet(cfg.backbone, len(H36M.joints), cfg.head_channels, cfg.depth_bins,
                    backbone_weights=IMAGENET if cfg.init == IMAGENET else None)
    if cfg.init not in ("none", IMAGENET):
        from .checkpoint import init_backbone

        model.init_record = init_backbone(model, cfg.init, cfg.backbone,  # runner records it
                                          deconv=cfg.init_deconv)
    return place_model(model, device, cfg)


def describe_init(init: str | None, record: dict[str, Any] | None = None) -> str:
    """How a fine-tuned network started, as results print it. ``record`` is what the run's
    config.json keeps of a WSP start (:func:`~.checkpoint.init_backbone`), its own start
    included; nothing is read again."""
    from ..models.backbone import describe_start

    if init in (None, "none", IMAGENET):
        return describe_start(None if init in (None, "none") else IMAGENET) + \
            (" — the PoseNet baseline" if init == IMAGENET else "")
    if isinstance(record, dict) and "start" in record:
        return f"WSP pre-training {init}, itself started from {describe_start(record['start'])}"
    return f"WSP pre-training {init} (its own start is not recorded)"


def pose_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Eq. 12: the L1 norm of each joint's (x, y, z) error, averaged over the joints that count.
    A coordinate with weight 0 (outside the crop or the depth range; a 2D sample's z in MTS)
    adds nothing; a joint counts when any of its coordinates has weight."""
    per_joint = ((pred.float() - target).abs() * weight).sum(-1)            # (B, J)
    counted = (weight > 0).any(-1)
    return per_joint.sum() / counted.sum().clamp(min=1)


def training_step(model, batch, optimizer, cfg: FinetuneConfig,
                  device: torch.device) -> torch.Tensor:
    """One step of eq. 12's L1 loss (:func:`pose_loss`) on the soft-argmax coordinates."""
    with autocast(device, cfg):
        pred = model(batch["image"])
    loss = pose_loss(pred, batch["target"], batch["weight"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return torch.stack([loss.detach()]).float()


def _rows(path: Path, cfg: FinetuneConfig) -> tuple[list, list]:
    rows = read_manifest(path)
    train_rows = [r for r in rows if r["split"] == "train" and r.get("kind") != "2d"]
    rows_2d = [r for r in rows if r.get("kind") == "2d"]
    val_rows = [r for r in rows if r["split"] == "val"]
    if cfg.max_samples:
        train_rows = even_sample(train_rows, cfg.max_samples)
        val_rows = even_sample(val_rows, max(2, cfg.max_samples // 4))
        rows_2d = even_sample(rows_2d, cfg.max_samples)
    return train_rows + rows_2d, val_rows


def _validate(model, loader, device, cfg: FinetuneConfig) -> tuple[dict[str, Any], float | None]:
    from .eval3d import predict_3d

    rows = {r["sample_id"]: r for r in loader.dataset.rows}
    pred = predict_3d(model, loader, device, cfg)
    used = [rows[int(k)] for k in pred["sample_id"]]
    visible = np.array([r["visible"] for r in used], dtype=bool).reshape(len(used), -1)
    s = pose_metrics(pred["pred"], pred["gt"], visible, [r["action"] for r in used], ROOT)
    if not s["samples"]:
        return {}, None
    columns = {"val_mpjpe": s["mpjpe"], "val_pa_mpjpe": s["pa_mpjpe"],
               "val_action_mpjpe": s["action_avg_mpjpe"], "val_z_error": s["z"]}
    return columns, -s["mpjpe"]


FINETUNE_TASK = Task(kind="posenet-finetune", config_cls=FinetuneConfig, loss_names=("loss",),
                     export=export_samples, rows=_rows, make_loader=make_loader,
                     build_model=build_model, step=training_step, validate=_validate,
                     job_kind="finetune", unit="samples")


def finetune(data: str, out: Path, cfg: FinetuneConfig, resume: bool = False,
             progress: str = "bar", store: Path | None = None) -> dict[str, Any]:
    """Run (or resume) 3D fine-tuning on ``FORMAT:PATH`` data; returns the summary. A missing
    ImageNet file (``init = imagenet``) stops it at once, before anything is written."""
    from ..models.backbone import check_weights_available

    if not resume and cfg.init == IMAGENET:
        check_weights_available(cfg.backbone, IMAGENET)
    return run_training(FINETUNE_TASK, data, out, cfg, resume, progress, store=store,
                        source_key="data")
