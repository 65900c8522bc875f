"""Mean and 95 % confidence interval of a few per-seed results (Student's t), for tables that
report runs repeated over seeds: ``mean ± half-width``, and paired differences between methods
run on the same seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Two-sided 95 % critical values of Student's t by degrees of freedom (standard tables).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
        120: 1.980}


def t95(df: int) -> float:
    """The two-sided 95 % critical value of t with ``df`` degrees of freedom; between tabled
    values the one of the next smaller df (slightly wider: conservative), 1.96 beyond 120."""
    if df < 1:
        raise ValueError("an interval needs at least two values")
    return _T95[max(k for k in _T95 if k <= df)] if df <= 120 else 1.96


def mean_interval(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, half-width of its 95 % interval); the half-width is None for a single value."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    if n == 1:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t95(n - 1) * sd / math.sqrt(n)


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float | None]:
    """Mean and 95 % interval of a − b over pairs made on the same seeds."""
    if len(a) != len(b):
        raise ValueError("paired values need the same seeds")
    return mean_interval([x - y for x, y in zip(a, b)])


def format_interval(mean: float, half: float | None, digits: int = 1) -> str:
    """``mean ± half`` at ``digits`` decimals (a mean that rounds to zero has no sign)."""
    text = f"{mean:.{digits}f}"
    if float(text) == 0:
        text = f"{0.0:.{digits}f}"
    return text if half is None else f"{text} ± {half:.{digits}f}"
