"""The learned suspicion: features from the store's signals, the order before any verdict, and
a ranking fitted on verdicts that puts planted wrong labels first."""

import numpy as np
import pytest

from wsp_core.evaluate.ranking import roc_auc
from wsp_core.store import open_store
from wsp_core.store.browse import pair_rows
from wsp_core.store.signals import PAIR_COLUMNS, model_probs, pair_signals
from wsp_core.suspect import (FEATURES, LearnedSuspicion, features, percentile_rank,
                              unsupervised_suspicion)


def made_up_signals(n: int, wrong: np.ndarray, rng) -> dict[str, np.ndarray]:
    """Pairs of one made-up world: a wrong label's far person looks larger than the near one
    (its S and box), a right label's smaller; every other signal is noise."""
    s = {name: rng.random(n) for name in ("hug", "knee_line", "raised_ground", "delta_s",
                                           "margin_rel")}
    s["size_conflict"] = np.where(wrong, rng.random(n), rng.random(n) * 0.3)
    s["suspicion"] = s["size_conflict"]
    s["auto_label"] = rng.integers(0, 2, n)
    near_s, far_s = 20 + rng.random(n) * 5, np.where(wrong, 24, 14) + rng.random(n) * 6
    a_near = s["auto_label"] == 1
    s["scale_a"], s["scale_b"] = np.where(a_near, near_s, far_s), np.where(a_near, far_s, near_s)
    for k in ("box_w", "box_h", "box_x", "box_y", "ankle_y"):
        s[f"{k}_a"], s[f"{k}_b"] = rng.random(n) * 100 + 10, rng.random(n) * 100 + 10
    s["height"] = np.full(n, 480.0)
    return s


def test_the_learned_suspicion_ranks_planted_wrong_labels_first():
    rng = np.random.default_rng(0)
    n = 600
    wrong = rng.random(n) < 0.15
    x = features(made_up_signals(n, wrong, rng))
    assert x.shape == (n, len(FEATURES)) and np.isfinite(x).all()
    reviewed = np.arange(n) < 200                                  # the curator's first third
    verdicts = np.where(reviewed, wrong.astype(int), -1)
    model = LearnedSuspicion().fit(x, verdicts)
    assert model.fitted
    rest = ~reviewed
    assert roc_auc(wrong[rest], model.score(x)[rest]) > 0.95     # held out of the fit
    # too few verdicts of one kind: the order before any verdict stands
    few = np.where(np.arange(n) < 20, wrong.astype(int), -1)
    early = LearnedSuspicion().fit(x, few)
    assert not early.fitted and np.array_equal(early.score(x), unsupervised_suspicion(x))


def test_the_order_before_verdicts_takes_the_larger_rank_of_size_and_model():
    assert percentile_rank(np.array([3.0, 1.0, 3.0, 2.0])) == pytest.approx([0.875, 0.25, 0.875, 0.5])
    rng = np.random.default_rng(1)
    s = made_up_signals(4, np.zeros(4, bool), rng)
    s["size_conflict"] = np.array([0.0, 0.1, 0.2, 0.3])
    s["auto_label"] = np.array([1, 1, 0, 0])
    prob = np.array([0.1, 0.9, np.nan, 0.5])                   # P(A closer)
    x = features(s, prob)
    col = FEATURES.index("disagreement")
    assert x[:, col] == pytest.approx([0.9, 0.1, 0.5, 0.5])     # unscored: 0.5, flagged
    assert x[:, FEATURES.index("model_known")].tolist() == [1, 1, 0, 1]
    # size ranks .25 .5 .75 1; disagreement ranks 1, .25, (unscored), .625
    assert unsupervised_suspicion(x) == pytest.approx([1.0, 0.5, 0.75, 1.0])
    assert unsupervised_suspicion(features(s)) == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_pair_signals_are_the_stores_pairs(desk_db):
    with open_store(desk_db) as store:
        s = pair_signals(store)
        rows = {r["pair_id"]: r for r in pair_rows(store, s["pair_id"])}
        probs = model_probs(store, s["pair_id"])
    assert set(s) == set(PAIR_COLUMNS) and len(s["pair_id"]) == len(rows) > 0
    assert all(rows[int(p)]["auto_label"] == a for p, a in zip(s["pair_id"], s["auto_label"]))
    assert (np.diff(s["pair_id"]) > 0).all() and probs == {}       # no model scored it
    x = features(s)
    assert np.isfinite(x).all() and x.shape[0] == len(s["pair_id"])
