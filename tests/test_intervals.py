"""The per-seed tables' statistics: Student's t intervals, checked against textbook values."""

import math

import pytest

from wsp_core.evaluate.intervals import format_interval, mean_interval, paired_difference, t95


def test_t_critical_values_are_the_tables():
    assert t95(2) == pytest.approx(4.303)       # n = 3 seeds
    assert t95(4) == pytest.approx(2.776)
    assert t95(27) == pytest.approx(2.060)      # between tabled values: the smaller df's
    assert t95(1000) == pytest.approx(1.96)
    with pytest.raises(ValueError):
        t95(0)


def test_mean_interval_of_three_seeds():
    # values 1, 2, 3: mean 2, sample sd 1, half-width t(2) · 1 / √3
    mean, half = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 / math.sqrt(3))
    assert mean_interval([5.0]) == (5.0, None)
    assert format_interval(2.0, half) == "2.0 ± 2.5" and format_interval(5.0, None) == "5.0"
    assert format_interval(-0.01, 0.02) == "0.0 ± 0.0" and format_interval(-0.06, None) == "-0.1"


def test_paired_difference_uses_the_per_seed_differences():
    wsp, posenet = [100.0, 110.0, 95.0], [104.0, 113.0, 100.0]
    mean, half = paired_difference(wsp, posenet)
    diffs = [-4.0, -3.0, -5.0]                      # sd 1: far tighter than either method's
    assert mean == pytest.approx(sum(diffs) / 3) and half == pytest.approx(4.303 / math.sqrt(3))
    assert half < mean_interval(wsp)[1]
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])
