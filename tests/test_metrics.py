"""Each metric against values worked out by hand."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from wsp_core.evaluate.metrics import (axis_errors, mpjpe, pa_mpjpe,
                                       pck3d, per_action, procrustes_align,
                                       rd_scores)
from wsp_core.evaluate.ranking import roc_auc
from wsp_core.errors import BadValue


def test_rd_scores_by_hand():
    s = rd_scores([1, 1, 0, 0, 1], [0.9, 0.4, 0.2, 0.6, 0.7])
    # predictions at 0.5: 1, 0, 0, 1, 1 -> TP 2, FN 1, FP 1, TN 1
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert s["auc"] == pytest.approx(5 / 6)       # 5 of the 6 positive/negative pairs ordered right
    assert rd_scores([1, 1], [0.2, 0.9])["auc"] is None


def test_macro_scores_by_hand():
    s = rd_scores([1, 1, 1, 0], [0.9, 0.8, 0.2, 0.1])
    # class 1: TP 2, FP 0, FN 1 -> P 1, R 2/3; class 0: TP 1, FP 1, FN 0 -> P 1/2, R 1
    assert s["precision"] == 1.0 and s["recall"] == pytest.approx(2 / 3)
    assert s["macro_precision"] == pytest.approx((1 + 0.5) / 2)
    assert s["macro_recall"] == pytest.approx((2 / 3 + 1) / 2)
    assert s["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_randomised_order_swaps_persons_and_flips_every_label():
    from wsp_core.train.rd import randomise_order

    rows = [{"pair_id": k, "a": f"a{k}", "b": f"b{k}", "label": 1, "auto_label": 1,
             "truth": None if k % 3 else 0} for k in range(200)]
    out = randomise_order(rows, seed=0)
    swapped = [r for r in out if r["a"].startswith("b")]
    assert 70 < len(swapped) < 130 and out == randomise_order(rows, seed=0)
    for r in swapped:
        k = r["pair_id"]
        assert (r["a"], r["b"], r["label"], r["auto_label"]) == (f"b{k}", f"a{k}", 0, 0)
        assert r["truth"] == (None if k % 3 else 1)
    assert all(r["label"] == 1 for r in out if r["a"].startswith("a"))


def test_rd_protocol1_all_pairs_include_unknown_scale():
    from wsp_core.evaluate.relative_depth import rd_summary

    pred = {"prob": np.array([[0.9], [0.2], [0.7]]), "label": np.array([1, 0, 1]),
            "truth": np.array([-1, -1, -1]), "delta_s": np.array([0.05, np.nan, 0.4]),
            "pair_id": np.arange(3), "present": np.ones((3, 1))}
    subsets = rd_summary(pred)["subsets"]
    assert subsets["<= 1.0"]["pairs"] == 3 and subsets["<= 0.5"]["pairs"] == 2
    assert subsets["<= 0.1"]["pairs"] == 1


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


def test_pck3d_by_hand():
    gt = np.zeros((1, 4, 3))
    pred = np.array([[[90.0, 0, 0], [0, 120.0, 0], [0, 0, 149.0], [151.0, 0, 0]]])
    assert pck3d(pred, gt, 150) == 0.75 and pck3d(pred, gt, 100) == 0.25
    assert pck3d(pred, gt, 150, visible=[[True, True, False, False]]) == 1.0


def test_per_action_average_weighs_actions_alike():
    table = per_action([10, 20, 30, 100], ["walk", "walk", "walk", "sit"])
    assert table == {"sit": 100.0, "walk": 20.0, "average": 60.0}
    assert not math.isnan(table["average"])


def test_protocol_splits_on_a_made_up_table():
    from wsp_core.evaluate.protocols import protocol_split

    # subject, action of each sample; the lists are written out from the protocols' definitions
    table = [(1, "Walk"), (5, "Sit"), (9, "Walk"), (11, "Eat"), (11, "Walk"), (6, "Eat"),
             (2, "Walk"), (8, "Walk"), (7, "Sit"), (9, "Sit")]
    subjects, actions = [t[0] for t in table], [t[1] for t in table]

    def expect(train_if, test_if):
        return ([k for k, t in enumerate(table) if train_if(*t)],
                [k for k, t in enumerate(table) if test_if(*t)])

    train, test, metric = protocol_split(subjects, actions, "subject1")
    assert (train.tolist(), test.tolist()) == expect(lambda s, a: s in (1, 5, 6, 7, 8),
                                                     lambda s, a: s in (9, 11))
    assert metric == "mpjpe"
    train, test, metric = protocol_split(subjects, actions, "subject2")
    assert (train.tolist(), test.tolist()) == expect(lambda s, a: s in (1, 5, 6, 7, 8, 9),
                                                     lambda s, a: s == 11)
    assert metric == "pa_mpjpe"
    # cross-action: one action of the training subjects; every action of S9 and S11
    train, test, _ = protocol_split(subjects, actions, "cross-action", "Walk")
    assert train.tolist() == [0, 7] and test.tolist() == [2, 3, 4, 9]
    with pytest.raises(BadValue, match="training subjects"):
        protocol_split(subjects, actions, "cross-action", "Dance")
    with pytest.raises(BadValue, match="protocol: unknown protocol"):
        protocol_split(subjects, actions, "subject3")
