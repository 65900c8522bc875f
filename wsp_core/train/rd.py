"""Using a pre-trained WSP network: relative-depth evaluation (the paper's protocols) and
scoring a store's pairs so the review queue can put model disagreement first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from .checkpoint import load_checkpoint, load_weights
from .data import check_images
from .manifest import read_manifest
from .config import PretrainConfig
from .pretrain import build_model, config_from_checkpoint, make_loader, predict, rd_summary
from .runner import pick_device


def load_wsp(ckpt: Path, device: str = "auto") -> tuple[torch.nn.Module, PretrainConfig, dict]:
    state = load_checkpoint(ckpt)
    cfg = config_from_checkpoint(state, Path(ckpt))
    cfg.device, cfg.backbone_weights = device, None
    model = build_model(cfg, pick_device(cfg))
    load_weights(model, state["model"], Path(ckpt))
    model.eval()
    return model, cfg, state


def store_rows(db: Path, labelled_only: bool = True) -> list[dict[str, Any]]:
    """Every pair of a store as manifest rows (split "all")."""
    from ..store import iter_export, open_store

    with open_store(db, create=False) as store:
        rows = [r for r in iter_export(store, with_truth=True)
                if r["label"] is not None or not labelled_only]
    for r in rows:
        r["split"] = "all"
    return rows


def eval_rd(ckpt: Path, db: Path | None = None, manifest: Path | None = None,
            split: str = "val", protocols: tuple[int, ...] = (1, 2), batch: int = 32,
            workers: int = 2, device: str = "auto") -> dict[str, Any]:
    """RD protocol 1 (by ΔS) and 2 (ankles removed) on a store, a manifest, or the run's
    own held-out pairs (the manifest next to the checkpoint)."""
    model, cfg, state = load_wsp(ckpt, device)
    if db is not None:
        rows, split = store_rows(db), "all"
    else:
        manifest = manifest or Path(ckpt).parent / "manifest.jsonl"
        rows = read_manifest(manifest, split)
    if not rows:
        raise InputError(manifest or db or ckpt, f"no labelled pair to evaluate (split {split})")
    check_images(rows)
    cfg.workers = workers
    dev = pick_device(cfg)
    result: dict[str, Any] = {"checkpoint": str(ckpt), "epoch": state["epoch"], "split": split,
                              "pairs": len(rows)}
    for protocol in protocols:
        loader = make_loader(rows, cfg, False, 1, 0, ankles_removed=protocol == 2, batch=batch)
        result[f"protocol{protocol}"] = rd_summary(predict(model, loader, dev, cfg))
    return result


def score_store(db: Path, ckpt: Path, batch: int = 32, workers: int = 2,
                device: str = "auto") -> dict[str, Any]:
    """Write each pair's predicted probability (mean over joints) into ``predictions``."""
    from ..store import open_store
    from ..store.predictions import write_predictions

    model, cfg, _ = load_wsp(ckpt, device)
    rows = store_rows(db, labelled_only=False)
    if not rows:
        raise InputError(db, "the store has no pair to score")
    for r in rows:
        r["label"] = r["auto_label"] if r["label"] is None else r["label"]
    check_images(rows)
    cfg.workers = workers
    pred = predict(model, make_loader(rows, cfg, False, 1, 0, batch=batch), pick_device(cfg), cfg)
    present = pred["present"].astype(bool)
    prob = (pred["prob"] * present).sum(1) / np.maximum(present.sum(1), 1)
    key = str(Path(ckpt).resolve())
    with open_store(db, create=False) as store:
        write_predictions(store, key, pred["pair_id"].astype(int).tolist(), prob.tolist())
    label_of = {r["pair_id"]: r["label"] for r in rows}
    labels = np.array([label_of[int(p)] for p in pred["pair_id"]], dtype=float)
    disagree = np.abs(prob - labels) > 0.5
    return {"checkpoint": key, "pairs": len(rows), "mean_prob": float(prob.mean()),
            "disagreeing": int(disagree.sum())}


def format_rd_tables(result: dict[str, Any]) -> str:
    """The paper's Tables 2 and 3: AUC, accuracy, precision, recall, F1 by ΔS subset (in %)."""
    lines = [f"checkpoint {result['checkpoint']} (epoch {result['epoch']}), "
             f"{result['pairs']} pairs ({result['split']})"]
    for protocol in (1, 2):
        r = result.get(f"protocol{protocol}")
        if not r:
            continue
        title = "RD protocol 1 (by scale gap)" if protocol == 1 else \
            "RD protocol 2 (ankle regions removed)"
        lines += ["", title, f"{'ΔS':<8} {'pairs':>6} {'AUC':>7} {'Acc':>7} {'Prec':>7} "
                             f"{'Rec':>7} {'F1':>7}"]
        for subset, s in r["subsets"].items():
            vals = " ".join(f"{'-' if s[k] is None else f'{100 * s[k]:.2f}':>7}"
                            for k in ("auc", "accuracy", "precision", "recall", "f1"))
            lines.append(f"{subset:<8} {s['pairs']:>6} {vals}")
        if r.get("truth"):
            t = r["truth"]
            lines.append(f"against 3D truth ({t['pairs']} pairs): accuracy "
                         f"{100 * t['accuracy_vs_truth']:.2f} (vs the perspective labels "
                         f"{100 * t['accuracy_vs_labels']:.2f}; labels themselves right "
                         f"{100 * t['labels_vs_truth']:.2f})")
    return "\n".join(lines)

