"""Out-of-sample scores, ``wsp-core score --folds K``: K WSP networks, network k trained with
fold k of K image-disjoint folds of the store held out (:func:`.manifest.image_split`), and each
pair scored by the network that never saw its image. Probabilities used to find wrong labels
must be out-of-sample (cleanlab's rule): a network that has fit a wrong label agrees with it.

Each fold's run lives in ``OUT/fold<k>`` (a whole pre-training run: config.json, manifest,
metrics, checkpoints) and is scored with its ``last.pt`` (the final epoch; no choice is made on
the fold it scores). The scores go into the store under the key ``OUT`` (absolute), marked
out-of-sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .config import PretrainConfig, load_config
from .manifest import image_key, image_split
from .pretrain import pretrain
from .rd import disagreeing, load_wsp, pair_probabilities, score_rows


def fold_rows(rows: list[dict[str, Any]], cfg: PretrainConfig) -> list[dict[str, Any]]:
    """The rows whose image is in the config's held-out fold."""
    return [r for r in rows if image_split(image_key(r), cfg.val_fraction, cfg.test_fraction,
                                           cfg.folds, cfg.fold) == "test"]


def score_folds(db: Path, out: Path, folds: int, preset: str, overrides: list[str],
                progress: str = "bar", batch: int = 32, workers: int = 2,
                device: str = "auto") -> dict[str, Any]:
    """Train the K fold networks, score every pair out-of-sample, write the scores."""
    from ..store import open_store
    from ..store.predictions import write_predictions

    if folds < 2:
        raise InputError("--folds", f"needs at least 2 folds, not {folds}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(out, "exists and is not an empty folder; fold runs go into a new one")
    rows = score_rows(db)
    ids, probs, runs = [], [], []
    for k in range(folds):
        cfg = load_config(PretrainConfig, preset, [*overrides, f"folds={folds}", f"fold={k}"])
        held = fold_rows(rows, cfg)
        run = out / f"fold{k}"
        summary = pretrain(db, run, cfg, progress=progress)
        if summary["status"] != "finished":
            raise InputError(run, f"fold {k}'s training {summary['status']}; nothing is scored")
        if held:
            model, fold_cfg, _ = load_wsp(run / "last.pt", device)
            fold_ids, fold_probs = pair_probabilities(model, fold_cfg, held, batch, workers)
            ids.append(fold_ids)
            probs.append(fold_probs)
        runs.append({"fold": k, "run": str(run.resolve()), "pairs": len(held)})
    pair_ids = np.concatenate(ids).astype(int)
    prob = np.concatenate(probs)
    key = str(out.resolve())
    with open_store(db, create=False) as store:
        write_predictions(store, key, pair_ids.tolist(), prob.tolist(), [True] * len(pair_ids))
    label_of = {r["pair_id"]: r["label"] for r in rows}
    return {"checkpoint": key, "folds": folds, "pairs": len(pair_ids), "runs": runs,
            "mean_prob": float(prob.mean()),
            "disagreeing": disagreeing(prob, [label_of[int(p)] for p in pair_ids]),
            "out_of_sample": len(pair_ids), "in_sample": 0}
