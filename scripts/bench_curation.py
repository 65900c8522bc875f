"""The cleaning loop, measured: a simulated curator reviews the queue in order on a store of a
synthetic world (whose 3D truth says which automatic labels are wrong) and the labels are
checked against the truth after each budget.

The curator answers from the truth (pelvis depth): "ambiguous" when the two persons are nearer
than ``--ambiguous-m`` in depth, else accept when the automatic label is right and flip when it
is wrong — except for a share ``--error`` of pairs (drawn once per pair, the same for every
ranking), where the answer is the other one. Rankings compared:

- ``random``: the random QA order;
- ``cues``: the store's ``suspicion`` (max of the cue scores), and ``size_conflict`` alone;
- ``model``: a checkpoint's disagreement with the label, per checkpoint that scored the store
  (with how many of its scores were out-of-sample);
- ``most suspicious first, with the model``: the desk's queue of that name when a model is
  chosen (wsp_core.suspect.suspicious_first: the strongest percentile rank of the cue
  suspicion, size_conflict and the model's disagreement);
- ``unsupervised``: wsp_core.suspect's order before any verdict (max of the percentile ranks of
  size_conflict and the model's disagreement, out-of-sample scores preferred);
- ``learned``: the same start, then re-ranked after every ``--batch`` of the pairs reviewed by a
  logistic regression fitted on the verdicts so far (wsp_core.suspect.LearnedSuspicion).

Beside them, not a queue a curator could walk: the **evidence bound**, the same features ranked by
models fitted on the truth of the other pairs (5-fold cross-validated: each pair scored by a
logistic regression, and a gradient-boosted model, that never saw its truth) — what any ranking
learned from these signals could reach with every other label's truth known, and so how much of
a target the store's evidence allows.

For each: the share of the wrong labels found (reviewed and not accepted) after reviewing 5, 10
and 20 % of the pairs, and the accuracy against the truth of the labels training would use
(flips applied, ambiguous pairs left out) before and after each budget. ``--plot`` draws wrong
labels found against pairs reviewed (OpenCV).

``--retrain OUT``: the best ranking's verdicts at the 10 % budget (``--retrain-budget``) are
written into a copy of
the store (OUT/cleaned.db, reviewer ``bench_curation``), WSP is pre-trained on the store as it
was and on the cleaned copy with the same preset and settings (``--preset``, ``--set``), and
both networks are evaluated with RD protocol 1 on the same held-out pairs (the test split of
the first run's manifest: images neither run trained on) against the 3D truth.

Usage: python scripts/bench_curation.py --db STORE [--source NAME] [--error 0.05]
       [--ambiguous-m 0.3] [--batch 0.01] [--seed 0] [--plot OUT.png]
       [--retrain OUT [--retrain-budget 0.10] [--preset cpu-small] [--set KEY=VALUE …]]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

BUDGETS = (0.05, 0.10, 0.20)


def truth_of(store, source_id: int, pair_ids: np.ndarray, fmt: str) -> np.ndarray:
    """Per pair: the pelvis depth gap z_a − z_b in metres (NaN without truth)."""
    from wsp_core.skeleton import FORMAT_JOINT_SETS
    from wsp_core.store import truth

    pelvis = FORMAT_JOINT_SETS[fmt].index("pelvis")
    col = truth.truth_pairs(store, source_id)
    gap = {p: (a[pelvis][2] - b[pelvis][2]) / 1000.0
           for p, a, b in zip(col["pair_id"], col["cam_a"], col["cam_b"])}
    return np.array([gap.get(int(p), np.nan) for p in pair_ids])


def curator_answers(auto: np.ndarray, gap: np.ndarray, error: float, near_m: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Per pair: 0 accept, 1 flip, 2 ambiguous (see the module's docstring)."""
    right = (auto == 1) == (gap < 0)                  # a closer when z_a < z_b
    answer = np.where(right, 0, 1)
    slip = rng.random(len(auto)) < error
    answer = np.where(slip, 1 - answer, answer)
    return np.where(np.abs(gap) < near_m, 2, answer)


def label_accuracy(auto: np.ndarray, right: np.ndarray, answers: np.ndarray,
                   reviewed: np.ndarray) -> float:
    """Accuracy against the truth of the labels training uses after ``reviewed`` pairs got
    their answers (flip: the other label; ambiguous: left out)."""
    answer = np.where(reviewed, answers, 0)
    used = answer != 2
    correct = np.where(answer == 1, ~right, right)
    return float(correct[used].mean())


def static_order(score: np.ndarray, rng_seed: int = 0) -> np.ndarray:
    """Pairs by score, highest first; ties in a fixed pseudo-random order."""
    tie = np.random.default_rng(rng_seed).random(len(score))
    return np.lexsort((tie, -score))


def learned_order(x: np.ndarray, answers: np.ndarray, batch: int, upto: int) -> np.ndarray:
    """The order a curator walks when the queue is re-ranked after every ``batch`` verdicts."""
    from wsp_core.suspect import LearnedSuspicion

    n = len(x)
    reviewed = np.zeros(n, dtype=bool)
    order: list[int] = []
    model = LearnedSuspicion()
    while len(order) < min(upto, n):
        verdicts = np.where(reviewed, np.where(answers == 2, -1, answers), -1)
        score = model.fit(x, verdicts).score(x)
        score = np.where(reviewed, -np.inf, score)
        take = static_order(score)[:min(batch, n - len(order))]
        order.extend(take.tolist())
        reviewed[take] = True
    return np.array(order)


def evidence_bound(x: np.ndarray, wrong: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Orders of the pairs by models fitted on the truth of the other pairs (5-fold
    cross-validated; see the module's docstring): ``logistic`` and ``boosted``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    models = {"logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
              "boosted": HistGradientBoostingClassifier(random_state=seed)}
    return {name: static_order(cross_val_predict(m, x, wrong, cv=folds,
                                                 method="predict_proba")[:, 1])
            for name, m in models.items()}


def measure(order: np.ndarray, wrong: np.ndarray, auto, right, answers) -> dict:
    n = len(wrong)
    out = {"found": {}, "accuracy": {}}
    for b in BUDGETS:
        k = int(round(b * n))
        seen = np.zeros(n, dtype=bool)
        seen[order[:k]] = True
        found = wrong & seen & (answers != 0)
        out["found"][f"{int(b * 100)}%"] = round(float(found.sum() / max(wrong.sum(), 1)), 4)
        out["accuracy"][f"{int(b * 100)}%"] = round(label_accuracy(auto, right, answers, seen), 4)
    return out


PLOT_UPTO = 0.3


def curve(order: np.ndarray, wrong: np.ndarray, answers: np.ndarray):
    """The share of the wrong labels found after each pair of ``order`` (up to PLOT_UPTO)."""
    k = min(len(order), int(PLOT_UPTO * len(wrong)))
    hits = (wrong & (answers != 0))[order[:k]]
    return np.cumsum(hits) / max(wrong.sum(), 1)


def plot(curves: dict[str, np.ndarray], n: int, path: Path) -> None:
    import cv2

    width, height, left, bottom, top, right = 820, 440, 60, 50, 20, 260
    img = np.full((height, width, 3), 255, np.uint8)
    w, h = width - left - right, height - top - bottom
    upto = PLOT_UPTO
    for v in np.linspace(0, 1, 6):
        y = int(top + (1 - v) * h)
        cv2.line(img, (left, y), (left + w, y), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.0%}", (12, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1)
    for v in np.linspace(0, upto, 7):
        x = int(left + v / upto * w)
        cv2.putText(img, f"{v:.0%}", (x - 10, top + h + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (60, 60, 60), 1)
    cv2.putText(img, "pairs reviewed (share of the queue)", (left + 60, height - 10),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1)
    cv2.putText(img, "wrong labels found", (left, top - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (40, 40, 40), 1)
    colours = [(160, 160, 160), (40, 160, 40), (30, 120, 220), (200, 80, 30), (160, 60, 160),
               (0, 0, 200), (120, 90, 0), (0, 150, 150)]
    for k, (name, c) in enumerate(curves.items()):
        colour = colours[k % len(colours)]
        pts = np.stack([left + np.arange(1, len(c) + 1) / n / upto * w,
                        top + (1 - c) * h], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, name[:40], (left + w + 10, top + 20 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX,
                    0.42, colour, 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


VERDICT_NAMES = ("accept", "flip", "ambiguous")


def cleaned_copy(db: Path, out: Path, pair_ids: np.ndarray, reviewed: np.ndarray,
                 answers: np.ndarray) -> Path:
    """A copy of the store (SQLite's backup) with the simulated curator's verdicts on the
    reviewed pairs, in one transaction."""
    import sqlite3

    from wsp_core.store import add_reviews, open_store

    out.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as src, sqlite3.connect(out) as dst:
        src.backup(dst)
    reviews = [{"pair_id": int(pair_ids[k]), "verdict": VERDICT_NAMES[answers[k]],
                "reviewer": "bench_curation"} for k in reviewed]
    with open_store(out, create=False) as store:
        add_reviews(store, reviews, where="bench_curation")
    return out


def _core(*args) -> str:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, args)], check=True,
                          capture_output=True, text=True).stdout


def retrain(db: Path, cleaned: Path, out: Path, preset: str, settings: list[str]) -> dict:
    """WSP pre-trained on the store and on its cleaned copy alike; RD protocol 1 against the
    3D truth on the first run's held-out test pairs, for both."""
    extra = [a for s in settings for a in ("--set", s)]
    result = {"preset": preset, "settings": settings}
    t0 = time.perf_counter()
    for name, store in (("before", db), ("after", cleaned)):
        _core("pretrain", "--db", store, "--out", out / name, "--preset", preset, *extra,
              "--progress", "none")
    result["train_s"] = round(time.perf_counter() - t0, 1)
    for name in ("before", "after"):
        rd = json.loads(_core("eval-rd", "--ckpt", out / name / "last.pt", "--manifest",
                              out / "before" / "manifest.jsonl", "--split", "test",
                              "--protocol", "1", "--json"))
        truth = rd["protocol1"]["truth"]
        result[name] = {"rd_accuracy_vs_truth": round(100 * truth["accuracy_vs_truth"], 2),
                        "test_pairs": truth["pairs"],
                        "auc_vs_labels": round(100 * rd["protocol1"]["subsets"]["<= 1.0"]["auc"],
                                               2)}
    result["gain_points"] = round(result["after"]["rd_accuracy_vs_truth"]
                                  - result["before"]["rd_accuracy_vs_truth"], 2)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--source", help="a source with 3D truth (default: the first)")
    parser.add_argument("--error", type=float, default=0.05)
    parser.add_argument("--ambiguous-m", type=float, default=0.3)
    parser.add_argument("--batch", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--retrain", type=Path, metavar="OUT",
                        help="pre-train WSP before and after the best ranking's cleaning")
    parser.add_argument("--retrain-budget", type=float, default=0.10,
                        help="the share of the pairs the curator reviews before --retrain")
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from wsp_core.store import open_store, truth
    from wsp_core.store.signals import model_probs, pair_signals
    from wsp_core.suspect import (cue_rank, disagreement, features, suspicious_first,
                                  unsupervised_suspicion)

    t0 = time.perf_counter()
    with open_store(args.db, create=False) as store:
        source = truth.sources(store, args.source)[0]
        signals = pair_signals(store, source["id"])
        gap = truth_of(store, source["id"], signals["pair_id"], source["format"])
        models = model_probs(store, signals["pair_id"])
    keep = np.isfinite(gap)
    signals = {k: v[keep] for k, v in signals.items()}
    gap, n = gap[keep], int(keep.sum())
    models = {c: {k: v[keep] for k, v in m.items()} for c, m in models.items()}
    auto = signals["auto_label"]
    right = (auto == 1) == (gap < 0)
    wrong = ~right
    answers = curator_answers(auto, gap, args.error, args.ambiguous_m,
                              np.random.default_rng(args.seed))
    # the model the suspicion uses: per pair an out-of-sample score where any model has one
    prob = np.full(n, np.nan)
    for m in models.values():
        prob = np.where(np.isnan(prob) & (m["out_of_sample"] == 1), m["prob"], prob)
    oos_pairs = int(np.isfinite(prob).sum())
    for m in sorted(models.values(), key=lambda m: -np.isfinite(m["prob"]).sum()):
        prob = np.where(np.isnan(prob), m["prob"], prob)
    x = features(signals, prob if models else None)

    orders = {"random": np.random.default_rng(args.seed + 1).permutation(n),
              "cues (suspicion)": static_order(signals["suspicion"]),
              "size_conflict": static_order(signals["size_conflict"])}
    for checkpoint, m in models.items():
        disagree = disagreement(auto, m["prob"])
        oos = int((m["out_of_sample"] == 1).sum())
        orders[f"model {Path(checkpoint).parent.name or checkpoint} ({oos}/"
               f"{int(np.isfinite(m['prob']).sum())} out-of-sample)"] = \
            static_order(np.nan_to_num(disagree, nan=-1.0))
    if models:  # the desk's "most suspicious first" with a model (cues ∨ the model)
        orders["most suspicious first, with the model"] = static_order(suspicious_first(
            cue_rank(signals["suspicion"], signals["size_conflict"]),
            disagreement(auto, prob)))
    orders["unsupervised (suspect)"] = static_order(unsupervised_suspicion(x))
    batch = max(1, int(round(args.batch * n)))
    orders[f"learned, re-ranked every {args.batch:.0%}"] = learned_order(
        x, answers, batch, int(max(max(BUDGETS), PLOT_UPTO if args.plot else 0) * n) + batch)
    result = {"pairs": n, "wrong": int(wrong.sum()), "wrong_rate": round(float(wrong.mean()), 4),
              "curator_error": args.error, "ambiguous_m": args.ambiguous_m,
              "ambiguous_pairs": int((answers == 2).sum()),
              "model_scores_out_of_sample": oos_pairs,
              "accuracy_before": round(float(right.mean()), 4),
              "rankings": {name: measure(o, wrong, auto, right, answers)
                           for name, o in orders.items()}}
    bound = evidence_bound(x, wrong, args.seed)
    result["evidence_bound"] = {name: measure(o, wrong, auto, right, answers)
                                for name, o in bound.items()}
    best = max(result["rankings"].items(), key=lambda kv: kv[1]["found"]["10%"])
    result["best_at_10%"] = best[0]
    result["targets"] = {"found_10pct_ge_80": best[1]["found"]["10%"] >= 0.80,
                         "accuracy_10pct_ge_97": best[1]["accuracy"]["10%"] >= 0.97}
    if args.retrain:
        reviewed = orders[best[0]][:int(round(args.retrain_budget * n))]
        cleaned = cleaned_copy(args.db, args.retrain / "cleaned.db", signals["pair_id"],
                               reviewed, answers)
        seen = np.zeros(n, dtype=bool)
        seen[reviewed] = True
        result["retrain"] = {"budget": args.retrain_budget,
                             "labels_right_after": round(label_accuracy(
                                 auto, right, answers, seen), 4),
                             **retrain(args.db, cleaned, args.retrain, args.preset, args.set)}
        result["targets"]["retrain_gain_ge_2"] = result["retrain"]["gain_points"] >= 2.0
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.plot:
        plot({name: curve(o, wrong, answers) for name, o in orders.items()}
             | {"bound: boosted, truth of the rest": curve(bound["boosted"], wrong, answers)},
             n, args.plot)
        result["plot"] = str(args.plot)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
