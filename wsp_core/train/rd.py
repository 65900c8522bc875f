"""Using a pre-trained WSP network: relative-depth evaluation (the paper's protocols) and
scoring a store's pairs so the review queue can put model disagreement first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..progress import PassProgress
from ..store.db import store_key
from ..models.backbone import describe_start
from .data import check_images, swap_persons
from .manifest import image_key, image_split, read_manifest
from .config import PretrainConfig
from ..evaluate.relative_depth import rd_summary
from .pretrain import WSP_TASK, make_loader, predict
from .runner import load_trained, pick_device


def load_wsp(ckpt: Path, device: str = "auto") -> tuple[torch.nn.Module, PretrainConfig, dict]:
    """A trained WSP network, its config and the checkpoint's dict (the config's
    ``backbone_weights`` is None: the checkpoint's weights replace the start's; how the network
    started is ``state["config"]["backbone_weights"]``)."""
    model, cfg, state, _ = load_trained(ckpt, WSP_TASK, device, backbone_weights=None)
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


def randomise_order(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Each pair with A and B swapped or not by a coin drawn from (seed, pair id): a source
    lists persons in an order (often left to right, or the nearer first) that would otherwise
    make one class the majority and tilt precision against recall."""
    return [swap_persons(r) if np.random.default_rng([seed, int(r["pair_id"])]).random() < 0.5
            else r for r in rows]


def eval_rd(ckpt: Path, db: Path | None = None, manifest: Path | None = None,
            split: str = "test", protocols: tuple[int, ...] = (1, 2), batch: int = 32,
            workers: int = 2, device: str = "auto", order_seed: int | None = 0,
            progress: str = "none") -> dict[str, Any]:
    """RD protocol 1 (by ΔS) and 2 (ankles removed) on a store, a manifest, or the run's
    own held-out test pairs (the manifest next to the checkpoint; never seen in training nor in
    the choice of best.pt). The A/B order of each pair is randomised with ``order_seed`` (None:
    the source's order)."""
    model, cfg, state = load_wsp(ckpt, device)
    if db is not None:
        rows, split = store_rows(db), "all"
    else:
        manifest = manifest or Path(ckpt).parent / "manifest.jsonl"
        rows = read_manifest(manifest, split)
    if not rows:
        raise InputError(manifest or db or ckpt, f"no labelled pair to evaluate (split {split}; "
                                                 "a run made before test splits existed has "
                                                 "none: use --split val or --db)")
    check_images(rows)
    if order_seed is not None:
        rows = randomise_order(rows, order_seed)
    cfg.workers = workers
    dev = pick_device(cfg)
    result: dict[str, Any] = {"checkpoint": str(ckpt), "epoch": state["epoch"], "split": split,
                              "pairs": len(rows), "order_seed": order_seed,
                              "start": describe_start(state["config"].get("backbone_weights"))}
    if split == "val":
        result["note"] = ("the val pairs chose best.pt: numbers of best.pt on them are not "
                          "held-out numbers")
    passes = PassProgress(progress, "eval-rd", len(protocols))
    for protocol in protocols:
        loader = make_loader(rows, cfg, False, 1, 0, ankles_removed=protocol == 2, batch=batch)
        result[f"protocol{protocol}"] = rd_summary(predict(model, loader, dev, cfg, passes))
    return result


def score_rows(db: Path) -> list[dict[str, Any]]:
    """Every pair of a store as rows to score (an unlabelled pair with its automatic label)."""
    rows = store_rows(db, labelled_only=False)
    if not rows:
        raise InputError(db, "the store has no pair to score")
    for r in rows:
        r["label"] = r["auto_label"] if r["label"] is None else r["label"]
    check_images(rows)
    return rows


def pair_probabilities(model, cfg: PretrainConfig, rows: list[dict[str, Any]], batch: int,
                       workers: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(pair ids, P(A closer)): each pair's probability, the mean over its present joints."""
    cfg.workers = workers
    pred = predict(model, make_loader(rows, cfg, False, 1, 0, batch=batch), pick_device(cfg), cfg,
                   progress)
    present = pred["present"].astype(bool)
    prob = (pred["prob"] * present).sum(1) / np.maximum(present.sum(1), 1)
    return pred["pair_id"].astype(int), prob


def trained_images(ckpt: Path, db: Path) -> Callable[[dict[str, Any]], bool | None]:
    """Whether a checkpoint trained on a row's image: from its run's config.json, which names
    the store it trained on and how it split the images (the split is a function of the image's
    name). None for every row when the run is not there or trained on another store."""
    run = Path(ckpt).parent / "config.json"
    try:
        record = json.loads(run.read_text())
        same = store_key(record["db"]) == store_key(db)
        c = record["config"]
        split = (c["val_fraction"], c["test_fraction"], c.get("folds", 0), c.get("fold", 0))
    except (OSError, ValueError, KeyError, TypeError):
        same = False
    if not same:
        return lambda _row: None
    return lambda row: image_split(image_key(row), *split) == "train"


def score_store(db: Path, ckpt: Path, batch: int = 32, workers: int = 2,
                device: str = "auto", progress: str = "none") -> dict[str, Any]:
    """Write each pair's predicted probability (mean over joints) into ``predictions``, with
    whether it is out-of-sample (the checkpoint never trained on the pair's image)."""
    from ..store import open_store
    from ..store.predictions import write_predictions

    model, cfg, _ = load_wsp(ckpt, device)
    rows = score_rows(db)
    ids, prob = pair_probabilities(model, cfg, rows, batch, workers,
                                   PassProgress(progress, "score"))
    trained = trained_images(ckpt, db)
    by_id = {r["pair_id"]: r for r in rows}
    seen = [trained(by_id[int(p)]) for p in ids]
    oos = [None if s is None else not s for s in seen]
    key = str(Path(ckpt).resolve())
    with open_store(db, create=False) as store:
        write_predictions(store, key, ids.tolist(), prob.tolist(), oos)
    return {"checkpoint": key, "pairs": len(rows), "mean_prob": float(prob.mean()),
            "disagreeing": disagreeing(prob, [by_id[int(p)]["label"] for p in ids]),
            "out_of_sample": sum(o is True for o in oos),
            "in_sample": sum(o is False for o in oos)}


def disagreeing(prob: np.ndarray, labels: list[int]) -> int:
    """How many probabilities side against their pair's label."""
    return int((np.abs(prob - np.asarray(labels, dtype=float)) > 0.5).sum())
