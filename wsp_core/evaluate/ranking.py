"""How well a score ranks the positives (e.g. wrong labels) first: ROC AUC and precision at k %."""

from __future__ import annotations

import math

import numpy as np


def mean_ranks(values: np.ndarray) -> np.ndarray:
    """Each value's 1-based rank among all, ties sharing their mean rank."""
    _, inverse, counts = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True,
                                   return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank statistic (Mann–Whitney U), ties counted half.

    None when only one class is present (the AUC is undefined).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = mean_ranks(s)[y].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _top(score: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the top ``fraction`` of items by score (at least one); ties at the cut are
    broken in a fixed pseudo-random order, so the result does not depend on the order the items
    come in (e.g. import order)."""
    k = max(1, math.ceil(fraction * len(score)))
    tie_break = np.random.default_rng(0).random(len(score))
    return np.lexsort((tie_break, -np.asarray(score, dtype=np.float64)))[:k]


def precision_at(y_true: np.ndarray, score: np.ndarray, fraction: float) -> float | None:
    """Fraction of positives among the top ``fraction`` of items by score (at least one item).
    None for an empty input."""
    y = np.asarray(y_true).astype(bool)
    if len(y) == 0:
        return None
    return float(y[_top(score, fraction)].mean())


def recall_at(y_true: np.ndarray, score: np.ndarray, fraction: float) -> float | None:
    """Fraction of all positives that the top ``fraction`` of items by score holds (what a
    curator who reviews that share of a queue finds). None without positives."""
    y = np.asarray(y_true).astype(bool)
    if not y.any():
        return None
    return float(y[_top(score, fraction)].sum() / y.sum())


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (95 % for z = 1.96); None when n = 0.

    Unlike the normal approximation it stays inside [0, 1] and is sound near 0 and 1, where the
    accuracy of automatic labels lives (about 0.9).
    """
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
