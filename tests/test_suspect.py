"""The learned suspicion: features from the store's signals, the order before any verdict, and
a ranking fitted on verdicts that puts planted wrong labels first."""

import numpy as np
import pytest

from conftest import import_samples
from wsp_core.evaluate.ranking import roc_auc
from wsp_core.store import open_store
from wsp_core.store.browse import pair_rows
from wsp_core.store.signals import PAIR_COLUMNS, model_probs, pair_signals
from wsp_core.suspect import (ALL_FEATURES_EACH, EARLY_FEATURES, FEATURES, LearnedSuspicion,
                              features, percentile_rank, unsupervised_suspicion)


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
    s["height"], s["width"] = np.full(n, 480.0), np.full(n, 640.0)
    for hint, spread in (("knee_angle", 90), ("hip_angle", 90), ("torso_tilt", 90),
                         ("leg_drop", 2), ("labelled_share", 1)):
        for p in "ab":
            values = rng.random(n) * spread
            s[f"{hint}_{p}"] = np.where(rng.random(n) < 0.1, np.nan, values)  # some unknown
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


def test_pose_hints_are_fitted_once_the_verdicts_suffice():
    """A made-up world where only the far person's pose tells a wrong label (a seated far
    person, knee bent to ~90°: its ankles are not where it stands): with fewer than
    ALL_FEATURES_EACH verdicts of a kind the fit does not look at the pose hints; with more it
    finds the wrong labels by them."""
    rng = np.random.default_rng(3)
    n = 2000
    wrong = rng.random(n) < 0.2
    s = made_up_signals(n, np.zeros(n, bool), rng)          # S and boxes say nothing here
    s["size_conflict"] = rng.random(n) * 0.3
    far_is_b = s["auto_label"] == 1
    seated = 90 + rng.random(n) * 20
    standing = 160 + rng.random(n) * 20
    s["knee_angle_b"] = np.where(far_is_b & wrong, seated, np.where(far_is_b, standing,
                                                                      s["knee_angle_b"]))
    s["knee_angle_a"] = np.where(~far_is_b & wrong, seated, np.where(~far_is_b, standing,
                                                                       s["knee_angle_a"]))
    x = features(s)
    col = FEATURES.index("knee_bend_far")
    assert x[wrong, col].min() >= 180 - 110 - 1e-9 and x[~wrong, col].max() <= 20 + 1e-9
    rest = np.arange(n) >= 1000
    few = np.where(np.arange(n) < 3 * ALL_FEATURES_EACH, wrong.astype(int), -1)
    assert 10 <= (few == 1).sum() < ALL_FEATURES_EACH                     # flips are the fewer
    early = LearnedSuspicion().fit(x, few)
    assert early.fitted and early.columns == len(EARLY_FEATURES)
    shuffled = x.copy()
    shuffled[:, len(EARLY_FEATURES):] = rng.permutation(shuffled[:, len(EARLY_FEATURES):])
    assert np.array_equal(early.score(x), early.score(shuffled))          # pose not looked at
    many = np.where(~rest, wrong.astype(int), -1)
    assert (many == 1).sum() >= ALL_FEATURES_EACH
    full = LearnedSuspicion().fit(x, many)
    assert full.columns == len(FEATURES)
    assert roc_auc(wrong[rest], full.score(x)[rest]) > 0.95
    assert roc_auc(wrong[rest], early.score(x)[rest]) < 0.7


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


@pytest.fixture(params=["synthetic world", "samples in sqlite", "samples in postgresql"])
def signals_db(request, tmp_path):
    """The synthetic world's store, or the real samples (COCO, CrowdPose, MPII) imported into
    an SQLite file and into a PostgreSQL database."""
    if request.param == "synthetic world":
        return request.getfixturevalue("desk_db")
    db = tmp_path / "samples.db" if request.param == "samples in sqlite" \
        else request.getfixturevalue("pg_server").new_database()
    import_samples(db, "coco", "crowdpose", "mpii")
    return db


def test_pair_signals_carry_each_pairs_own_persons_and_image(signals_db):
    """Every per-person and per-image column against the store's rows, read pair by pair."""
    desk_db = signals_db
    from types import SimpleNamespace

    from sqlalchemy import select

    from wsp_core.store.models import Image, Pair, Person

    with open_store(desk_db) as store:
        s = pair_signals(store)
        with store.read() as session:
            def rows(model):
                names = [c.name for c in model.__table__.columns]
                return {r.id: SimpleNamespace(**{n: getattr(r, n) for n in names})
                        for r in session.execute(select(model)).scalars()}
            pairs, persons, images = rows(Pair), rows(Person), rows(Image)
        source = pairs[int(s["pair_id"][-1])].source_id
        one = pair_signals(store, source)

    def same(value, expected):
        return np.isnan(value) if expected is None else value == pytest.approx(expected)

    columns = {"box_w": "bbox_w", "box_h": "bbox_h", "box_x": "bbox_x", "box_y": "bbox_y",
               "ankle_y": "ankle_y", "scale": "scale", "knee_angle": "knee_angle",
               "hip_angle": "hip_angle", "torso_tilt": "torso_tilt", "leg_drop": "leg_drop",
               "labelled_share": "labelled_share"}
    assert len(s["pair_id"]) == len(pairs)
    for k, pair_id in enumerate(s["pair_id"]):
        pair = pairs[int(pair_id)]
        for who, person_id in (("a", pair.person_a), ("b", pair.person_b)):
            person = persons[person_id]
            assert all(same(s[f"{name}_{who}"][k], getattr(person, column))
                       for name, column in columns.items()), (pair_id, who)
        image = images[pair.image_id]
        assert s["height"][k] == image.height and s["width"][k] == image.width
        assert s["status"][k] == pair.status and same(s["delta_s"][k], pair.delta_s)
    assert set(one["pair_id"].tolist()) == {p.id for p in pairs.values() if p.source_id == source}
    at = np.searchsorted(s["pair_id"], one["pair_id"])
    assert all(np.array_equal(one[c], s[c][at], equal_nan=True) for c in PAIR_COLUMNS
               if c != "status")
