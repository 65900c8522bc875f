"""WSP pre-training: the task that :mod:`wsp_core.train.runner` runs (docs/TRAINING.md).

The manifest is the store's effective labels, split by image into train, val and test; the data
are pair crops; the model is :class:`~wsp_core.models.wsp.WSPNet`; validation gives the
relative-depth scores on the val images, and best.pt has the best validation AUC. The test images
are never seen in training or in the choice of best.pt: ``eval-rd`` reports on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..errors import InputError
from ..evaluate.relative_depth import rd_summary
from ..perspective.cues import size_conflict
from .config import PretrainConfig
from .data import PRETRAIN_JOINTS, PairDataset, check_images
from .device_crops import collate
from .manifest import export_manifest, read_manifest
from .precision import autocast, place_model
from .runner import Task, epoch_loader, even_sample, run_training, to_device

def build_model(cfg: PretrainConfig, device: torch.device) -> torch.nn.Module:
    from ..models.wsp import WSPNet

    model = WSPNet(cfg.backbone, len(PRETRAIN_JOINTS), cfg.head_channels, cfg.rd_hidden,
                   cfg.backbone_weights, cfg.detach_masks)
    return place_model(model, device, cfg)


def make_loader(rows, cfg: PretrainConfig, train: bool, world: int, rank: int,
                ankles_removed: bool = False, batch: int | None = None) -> DataLoader:
    dataset = PairDataset(rows, cfg.input_size, cfg.sampled_joints, cfg.sigma,
                          augment=train and cfg.augment,
                          aug={"scale": cfg.aug_scale, "rotation": cfg.aug_rotation,
                               "flip": cfg.aug_flip, "colour": cfg.aug_colour},
                          seed=cfg.seed, ankles_removed=ankles_removed,
                          per_image=train and cfg.epoch_pairs == "image",
                          # held-out crops are measured against every person the crop shows,
                          # whatever the run trained with: one yardstick for every run
                          hm_persons=cfg.hm_persons if train else "all",
                          pixels_on_device=train and cfg.decode_on_device)
    return epoch_loader(dataset, cfg, train, world, rank, batch,
                        collate if dataset.pixels_on_device else None)


def training_step(model, batch: dict[str, torch.Tensor], optimizer, cfg: PretrainConfig,
                  device: torch.device) -> torch.Tensor:
    """One optimisation step on a batch already on the device; returns (loss, L_hm, L_rd)."""
    from ..models.wsp import wsp_loss

    with autocast(device, cfg):
        heat, logits = model(batch["image"], batch["boxes"], batch["joints"])
    loss, l_hm, l_rd = wsp_loss(heat, logits, batch, cfg.alpha)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return torch.stack([loss.detach(), l_hm.detach(), l_rd.detach()]).float()


@torch.inference_mode()
def predict(model, loader, device, cfg: PretrainConfig, progress=None) -> dict[str, np.ndarray]:
    """Probabilities that A is closer for every (pair, joint the source annotates), and the
    heatmaps' sums (:func:`~wsp_core.models.wsp.heatmap_scores`) under ``heatmaps``."""
    from ..models.wsp import heatmap_scores

    model.eval()
    out: dict[str, list] = {k: [] for k in ("prob", "label", "truth", "delta_s", "pair_id", "present")}
    sums = torch.zeros(9, dtype=torch.float64)
    for batch in (progress.wrap(loader) if progress is not None else loader):
        batch = to_device(batch, device, cfg)
        joints = torch.arange(len(PRETRAIN_JOINTS), device=device).expand(len(batch["label"]), -1)
        with autocast(device, cfg):
            heat, logits = model(batch["image"], batch["boxes"], joints)
        out["prob"].append(torch.sigmoid(logits.float()).cpu().numpy())
        for key in ("label", "truth", "delta_s", "pair_id", "present"):
            out[key].append(batch[key].cpu().numpy())
        sums += heatmap_scores(heat, batch).cpu()
    result = {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    result["heatmaps"] = sums.numpy()
    return result


def _export(db: Path, path: Path, cfg: PretrainConfig) -> dict[str, Any]:
    from ..store import open_store

    if db is None:
        raise InputError("--db", "a store is needed to start a run")
    with open_store(db, create=False) as store:
        return export_manifest(store, path, cfg.val_fraction, cfg.test_fraction, cfg.folds,
                               cfg.fold)


def _rows(path: Path, cfg: PretrainConfig) -> tuple[list, list]:
    rows = read_manifest(path)
    train_rows = size_cue_agreeing([r for r in rows if r["split"] == "train"],
                                   cfg.max_size_conflict)
    val_rows = [r for r in rows if r["split"] == "val"]
    if cfg.max_pairs:  # an even sample: max_pairs for training, a quarter as many held out
        train_rows = even_sample(train_rows, cfg.max_pairs)
        val_rows = even_sample(val_rows, max(2, cfg.max_pairs // 4))
    check_images(train_rows + val_rows)
    return train_rows, val_rows


def size_cue_agreeing(rows: list[dict[str, Any]], max_conflict: float) -> list[dict[str, Any]]:
    """The training rows left when automatic labels whose size cue conflicts with their ankle cue
    by more than ``max_conflict`` (:func:`~wsp_core.perspective.cues.size_conflict` of the
    persons' S, the one the label calls closer as "near") are left out. A pair a curator
    reviewed trains whatever its sizes; an unknown S is no conflict (ADR 0029)."""
    if max_conflict >= 1.0 or not rows:
        return rows

    def scale(person: dict[str, Any]) -> float:
        return np.nan if person.get("scale") is None else float(person["scale"])

    s_a = np.array([scale(r["a"]) for r in rows])
    s_b = np.array([scale(r["b"]) for r in rows])
    a_near = np.array([r["label"] == 1 for r in rows])
    conflict = size_conflict(np.where(a_near, s_a, s_b), np.where(a_near, s_b, s_a))
    return [r for r, c in zip(rows, conflict) if c <= max_conflict or r.get("status") != "auto"]


def _validate(model, loader, device, cfg: PretrainConfig) -> tuple[dict[str, Any], float | None]:
    pred = predict(model, loader, device, cfg)
    if not np.isfinite(pred["prob"]).all():  # finite weights whose outputs overflow
        from .runner import TrainingDiverged

        raise TrainingDiverged("validation", "training diverged: the network's outputs are no "
                                             "longer finite; lower lr (or alpha). last.pt keeps "
                                             "the last finite epoch")
    columns = _val_columns(rd_summary(pred))
    return columns, columns.get("val_auc")


WSP_TASK = Task(kind="wsp-pretrain", config_cls=PretrainConfig,
                loss_names=("loss", "loss_hm", "loss_rd"), export=_export, rows=_rows,
                make_loader=make_loader, build_model=build_model, step=training_step,
                validate=_validate, job_kind="pretrain", unit="pairs")


def pretrain(db: Path | None, out: Path, cfg: PretrainConfig, resume: bool = False,
             progress: str = "bar") -> dict[str, Any]:
    """Run (or resume) WSP pre-training on a store's effective labels; returns the summary.
    Starting weights that are not here stop it at once, before anything is written."""
    from ..models.backbone import check_weights_available

    if not resume:
        check_weights_available(cfg.backbone, cfg.backbone_weights)
    return run_training(WSP_TASK, db, out, cfg, resume, progress, store=db, source_key="db")


def _val_columns(val: dict[str, Any] | None) -> dict[str, Any]:
    if not val or not val.get("subsets"):
        return {}
    top = val["subsets"]["<= 1.0"]
    cols = {"val_auc": top["auc"], "val_accuracy": top["accuracy"], "val_f1": top["f1"],
            "val_auc_ds_0.1": val["subsets"]["<= 0.1"]["auc"]}
    if val.get("truth"):
        cols["val_accuracy_vs_truth"] = val["truth"]["accuracy_vs_truth"]
    hm = val.get("heatmaps") or {}
    if hm.get("loss") is not None:
        cols.update({"val_loss_hm": hm["loss"], "val_loss_hm_zero": hm["zero_loss"],
                     "val_peaks_2px": hm["peaks_within_2px"],
                     "val_peaks_2px_visible": hm["peaks_within_2px_visible"]})
    return cols


