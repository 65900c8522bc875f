"""Each metric against values worked out by hand."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from wsp_core.evaluate.metrics import (axis_errors, match_persons, mpjpe, pa_mpjpe, pck3d,
                                       pck3d_curve, pck3d_multi, per_action, procrustes_align,
                                       rd_scores)
from wsp_core.evaluate.ranking import roc_auc


def test_rd_scores_by_hand():
    s = rd_scores([1, 1, 0, 0, 1], [0.9, 0.4, 0.2, 0.6, 0.7])
    # predictions at 0.5: 1, 0, 0, 1, 1 -> TP 2, FN 1, FP 1, TN 1
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert s["auc"] == pytest.approx(5 / 6)       # 5 of the 6 positive/negative pairs ordered right
    assert rd_scores([1, 1], [0.2, 0.9])["auc"] is None


def test_rank_auc_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 1)              # many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_mpjpe_and_axis_errors_by_hand():
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 10.0]]])
    assert mpjpe(pred, gt) == pytest.approx((5 + 10) / 2)
    assert axis_errors(pred, gt) == {"x": 1.5, "y": 2.0, "z": 5.0}
    shifted = gt + [100.0, 0, 0]
    assert mpjpe(shifted, gt) == 100.0 and mpjpe(shifted, gt, root=0) == 0.0


def test_pa_mpjpe_is_invariant_to_a_similarity_transform():
    rng = np.random.default_rng(1)
    gt = rng.normal(0, 300, (4, 17, 3))
    a = np.radians(37)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    moved = 1.7 * gt @ rot.T + [50.0, -20.0, 4000.0]
    assert pa_mpjpe(moved, gt) == pytest.approx(0.0, abs=1e-6)
    noisy = gt + rng.normal(0, 10, gt.shape)
    assert pa_mpjpe(1.3 * noisy @ rot.T + 7.0, gt) == pytest.approx(pa_mpjpe(noisy, gt), rel=1e-9)
    assert pa_mpjpe(noisy, gt) <= mpjpe(noisy, gt)


def test_pa_mpjpe_does_not_reflect():
    rng = np.random.default_rng(2)
    gt = rng.normal(0, 300, (1, 17, 3))
    mirrored = gt * [-1.0, 1.0, 1.0]               # a reflection is not a similarity
    aligned = procrustes_align(mirrored, gt)
    centred = aligned - aligned.mean(1, keepdims=True)
    m = mirrored - mirrored.mean(1, keepdims=True)
    # the fitted map is a proper rotation: the mirrored pose keeps its handedness
    u, _, vt = np.linalg.svd(m[0].T @ centred[0])
    assert np.linalg.det(u @ vt) > 0
    assert pa_mpjpe(mirrored, gt) > 1.0


def test_pck3d_and_curve_by_hand():
    gt = np.zeros((1, 4, 3))
    pred = np.array([[[90.0, 0, 0], [0, 120.0, 0], [0, 0, 149.0], [151.0, 0, 0]]])
    assert pck3d(pred, gt, 150) == 0.75 and pck3d(pred, gt, 100) == 0.25
    curve = pck3d_curve(pred, gt)
    assert list(curve) == list(range(100, 151, 5)) and curve[125] == 0.5


def test_pck3d_all_counts_a_missing_person_as_wrong():
    person = np.zeros((17, 3)) + [0, 0, 5000.0]
    other = person + [1000.0, 0, 0]
    images = [(np.stack([person]), np.stack([person, other]))]       # the second is not predicted
    result = pck3d_multi(images, root=0)
    assert result["matched"] == 1.0 and result["all"] == 0.5
    assert match_persons(np.array([[0, 0, 0], [900.0, 0, 0]]), np.array([[1000.0, 0, 0]])) == [(1, 0)]


def test_per_action_average_weighs_actions_alike():
    table = per_action([10, 20, 30, 100], ["walk", "walk", "walk", "sit"])
    assert table == {"sit": 100.0, "walk": 20.0, "average": 60.0}
    assert not math.isnan(table["average"])


def test_protocol_splits():
    from wsp_core.evaluate.protocols import protocol_split

    subjects = [1, 5, 9, 11, 11, 6, 2]
    actions = ["Walk", "Sit", "Walk", "Eat", "Walk", "Eat", "Walk"]
    train, test, metric = protocol_split(subjects, actions, "subject1")
    assert train.tolist() == [0, 1, 5] and test.tolist() == [2, 3, 4] and metric == "mpjpe"
    train, test, metric = protocol_split(subjects, actions, "subject2")
    assert train.tolist() == [0, 1, 2, 5] and test.tolist() == [3, 4] and metric == "pa_mpjpe"
    train, test, _ = protocol_split(subjects, actions, "cross-action", "Walk")
    assert train.tolist() == [0, 2, 4, 6] and test.tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_split(subjects, actions, "subject3")
