"""The curator's desk without Qt: filters, queues, the QA estimate, the review session."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import import_samples
from wsp_core.curation import ReviewSession
from wsp_core.evaluate.ranking import wilson_interval
from wsp_core.skeleton import COCO, MPII, bones
from wsp_core.store import add_review, check_effective_labels, open_store, pair_history
from wsp_core.store.browse import (PairFilter, load_qa, load_queue, pair_detail, pair_rows,
                                   qa_estimate, qa_key, review_activity)
from wsp_core.store.predictions import write_predictions
from wsp_core.errors import BadValue


@pytest.fixture
def store(any_db):
    """The real samples' store, on each back end (an SQLite file, a PostgreSQL database)."""
    import_samples(any_db, "coco", "crowdpose")
    with open_store(any_db) as st:
        yield st


def all_pairs(store) -> list[dict]:
    return pair_rows(store, load_queue(store).ids)


def test_wilson_interval_by_hand():
    low, high = wilson_interval(9, 10)
    assert (round(low, 4), round(high, 4)) == (0.5958, 0.9821)
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73


def test_bones_follow_each_joint_set():
    names = {frozenset((COCO.joints[i], COCO.joints[j])) for i, j in bones(COCO)}
    assert frozenset(("left_shoulder", "left_elbow")) in names
    assert len(bones(COCO)) == 16
    mpii = {(MPII.canonical[i], MPII.canonical[j]) for i, j in bones(MPII)}
    assert ("neck", "head_top") in mpii  # MPII has no head joint between them


def test_filters_select_by_source_status_reason_delta_s_and_image(store):
    rows = all_pairs(store)
    assert len(rows) == 13
    coco = load_queue(store, PairFilter(sources=("test_coco",)))
    assert {r["source"] for r in pair_rows(store, coco.ids)} == {"test_coco"}
    assert len(coco) == 12
    ds = np.array([r["delta_s"] for r in rows])
    cut = float(np.median(ds))
    low = load_queue(store, PairFilter(delta_s_max=cut))
    assert len(low) == int((ds <= cut).sum()) and np.all(low.delta_s <= cut)
    band = load_queue(store, PairFilter(delta_s_min=cut, delta_s_max=cut))
    assert len(band) == int((ds == cut).sum())
    name = rows[-1]["image"]
    by_image = load_queue(store, PairFilter(image=name[2:-3]))
    assert {r["image"] for r in pair_rows(store, by_image.ids)} == {name}
    assert len(load_queue(store, PairFilter(image="100%_no"))) == 0  # LIKE wildcards escaped
    first = rows[0]["pair_id"]
    add_review(store, first, "ambiguous", "hugging")
    add_review(store, rows[1]["pair_id"], "flip", "stairs")
    assert list(load_queue(store, PairFilter(statuses=("ambiguous",))).ids) == [first]
    assert len(load_queue(store, PairFilter(statuses=("auto",)))) == 11
    assert list(load_queue(store, PairFilter(reasons=("stairs",))).ids) == [rows[1]["pair_id"]]
    with pytest.raises(BadValue, match="ΔS: the range is empty"):
        load_queue(store, PairFilter(delta_s_min=0.5, delta_s_max=0.1))
    with pytest.raises(BadValue, match="status: unknown status"):
        load_queue(store, PairFilter(statuses=("done",)))


def test_suspicious_queue_by_the_cues_alone_or_by_the_strongest_of_cues_and_model(store):
    """Without a model the cue suspicion orders the queue; with one, each pair's strongest
    percentile rank (its rank among all, ties sharing their mean rank, over the count) of the
    cue suspicion, the size conflict and, where the model scored it, the model's disagreement
    (its probability of the other label); ties by id (docs/CURATION.md, decisions)."""
    from scipy.stats import rankdata

    rows = all_pairs(store)
    ids = [r["pair_id"] for r in rows]
    labels = {r["pair_id"]: r["label"] for r in rows}
    with store.engine.connect() as conn:
        cues = {i: (s or 0.0, c or 0.0) for i, s, c in conn.exec_driver_sql(
            "SELECT id, suspicion, size_conflict FROM pairs")}
    plain = load_queue(store, kind="suspicious")
    assert list(plain.ids) == sorted(ids, key=lambda p: (-cues[p][0], p))
    # the model agrees with every label but two; it disagrees most with ids[5]
    probs = {p: (0.9 if labels[p] == 1 else 0.1) for p in ids[:8]}
    probs[ids[3]] = 0.3 if labels[ids[3]] == 1 else 0.7
    probs[ids[5]] = 0.05 if labels[ids[5]] == 1 else 0.95
    write_predictions(store, "/runs/a/best.pt", list(probs), list(probs.values()))
    queue = load_queue(store, kind="suspicious", checkpoint="/runs/a/best.pt")
    disagreement = {p: (1 - probs[p] if labels[p] == 1 else probs[p]) if p in probs else None
                    for p in ids}

    def share(values):
        return dict(zip(ids, rankdata(values) / len(ids)))

    suspicion = share([cues[p][0] for p in ids])
    size = share([cues[p][1] for p in ids])
    model = share([0.5 if disagreement[p] is None else disagreement[p] for p in ids])
    strongest = {p: max(suspicion[p], size[p], model[p] if p in probs else 0.0) for p in ids}
    assert list(queue.ids) == sorted(ids, key=lambda p: (-strongest[p], p))
    assert strongest[ids[5]] == 1.0  # the model's strongest disagreement is at the top
    at = {int(p): k for k, p in enumerate(queue.ids)}
    assert math.isclose(queue.disagreement[at[ids[5]]], 0.95)
    disagree = load_queue(store, PairFilter(disagree=True), checkpoint="/runs/a/best.pt")
    assert sorted(disagree.ids) == sorted([ids[3], ids[5]])
    assert len(load_queue(store, PairFilter(disagree=True))) == 0  # no model chosen
    # flipping a pair the model disagrees with makes them agree: it leaves the filter
    add_review(store, ids[5], "flip")
    again = load_queue(store, PairFilter(disagree=True), checkpoint="/runs/a/best.pt")
    assert list(again.ids) == [ids[3]]


def test_qa_queue_is_a_fixed_permutation_and_its_prefix_estimates_accuracy(store):
    qa = load_qa(store)
    order = load_queue(store)
    assert sorted(qa.ids) == sorted(order.ids) and list(qa.ids) != list(order.ids)
    assert list(load_qa(store).ids) == list(qa.ids)  # the same order every time
    assert list(np.argsort(qa_key(order.ids))) == [list(order.ids).index(p) for p in qa.ids]
    estimate = qa_estimate(qa)
    assert estimate["sample"] == 0 and estimate["accuracy"] is None
    verdicts = ["accept", "accept", "flip", "accept", "exclude"]
    for pair, verdict in zip(qa.ids, verdicts):
        add_review(store, int(pair), verdict)
    add_review(store, int(qa.ids[7]), "flip")  # beyond a gap: not in the sample
    estimate = qa_estimate(load_qa(store, PairFilter(statuses=("auto",))))  # status ignored
    assert estimate["sample"] == 5 and estimate["next_position"] == 5
    assert (estimate["right"], estimate["wrong"], estimate["excluded"]) == (3, 1, 1)
    assert estimate["accuracy"] == 0.75
    assert estimate["ci95"] == pytest.approx(list(wilson_interval(3, 4)))
    with pytest.raises(ValueError):
        qa_estimate(load_queue(store))


def test_pair_detail_has_what_the_view_draws(store):
    pair = int(load_queue(store).ids[0])
    detail = pair_detail(store, pair, checkpoint=None)
    assert detail.format == "coco" and len(detail.joint_names) == 17
    assert list(detail.bones) == bones(COCO) and detail.ankles == (15, 16)
    assert detail.a.person_id != detail.b.person_id
    assert len(detail.a.keypoints) == 17 and detail.image.endswith(detail.file_name)
    assert all(o.person_id not in (detail.a.person_id, detail.b.person_id)
               for o in detail.others)
    assert detail.label == detail.auto_label and detail.prob is None


def test_session_reviews_undo_and_redo_as_new_reviews(store):
    queue = load_queue(store)
    session = ReviewSession(store, queue, reviewer="ana")
    first, second = int(queue.ids[0]), int(queue.ids[1])
    auto = pair_rows(store, [first])[0]["auto_label"]
    session.review("flip", "stairs")
    assert session.current == second
    session.review("ambiguous", "hugging")
    assert [r["verdict"] for r in pair_history(store, first)] == ["flip"]
    assert pair_rows(store, [first])[0]["label"] == 1 - auto
    assert session.undo().pair_id == second
    assert session.current == second
    assert [r["verdict"] for r in pair_history(store, second)] == ["ambiguous", "reset"]
    assert session.undo().pair_id == first
    row = pair_rows(store, [first])[0]
    assert (row["status"], row["label"]) == ("auto", auto)
    assert session.undo() is None
    session.redo()
    row = pair_rows(store, [first])[0]
    assert (row["status"], row["reason"], row["label"]) == ("flip", "stairs", 1 - auto)
    assert [r["verdict"] for r in pair_history(store, first)] == ["flip", "reset", "flip"]
    session.go_to_pair(second)
    session.annotate("two people on a stage")  # recorded as a note: the pair stays as it is
    history = pair_history(store, second)
    assert history[-1]["verdict"] == "note" and history[-1]["note"] == "two people on a stage"
    assert pair_rows(store, [second])[0]["status"] == "auto"
    assert all(r["reviewer"] == "ana" for r in history)
    assert queue.reviewed() == 1 and check_effective_labels(store) == []
    assert session.undo_stack[-1].pair_id == first  # a note is not a step to undo
    session.review("accept")  # a new review empties the redo stack
    assert session.redo() is None


def test_undo_never_overwrites_another_curators_later_verdict(store):
    """Two curators on one store: ana's undo of a pair bo has reviewed since is refused, bo's
    verdict stands, and ana's next undo reaches her step before; redo likewise."""
    from wsp_core.errors import ReviewConflict

    queue = load_queue(store)
    ana = ReviewSession(store, queue, reviewer="ana")
    bo = ReviewSession(store, load_queue(store), reviewer="bo")
    first, second = int(queue.ids[0]), int(queue.ids[1])
    ana.review("flip")
    ana.review("accept")
    bo.go_to_pair(second)
    bo.review("exclude", "occlusion")
    with pytest.raises(ReviewConflict, match=f"pair {second} changed since: its latest review "
                                             "is bo's exclude"):
        ana.undo()
    row = pair_rows(store, [second])[0]
    assert (row["status"], row["reason"]) == ("exclude", "occlusion")       # bo's stands
    assert ana.state(second) == ("exclude", "occlusion") and ana.current == second
    assert [r["verdict"] for r in pair_history(store, second)] == ["accept", "exclude"]
    assert ana.undo().pair_id == first                                       # her step before
    assert pair_rows(store, [first])[0]["status"] == "auto"
    bo.go_to_pair(first)
    bo.review("accept")
    with pytest.raises(ReviewConflict, match="bo's accept"):
        ana.redo()                                 # would overwrite bo's accept with ana's flip
    assert pair_rows(store, [first])[0]["status"] == "accept"
    assert ana.undo() is None and ana.redo() is None
    assert check_effective_labels(store) == []


def test_session_keeps_its_place_when_the_queue_changes(store):
    queue = load_queue(store)
    session = ReviewSession(store, queue)
    session.go(4)
    pair = session.current
    session.replace_queue(load_queue(store, PairFilter(statuses=("auto",))))
    assert session.current == pair  # a filter change on the same kind of queue keeps the pair
    qa = load_queue(store, kind="qa")
    add_review(store, int(qa.ids[0]), "accept")
    session.replace_queue(load_queue(store, kind="qa"))
    assert session.position == 1  # the QA queue starts where its sample grows
    session.replace_queue(load_queue(store, kind="suspicious"))
    assert session.position == 0
    session.replace_queue(load_queue(store, PairFilter(sources=("test_crowdpose",)),
                                     kind="suspicious"))
    assert session.position == 0 and len(session.queue) == 1
    session.step(+5)
    assert session.position == 0


def test_review_activity_counts_reviews_and_current_verdicts(store):
    ids = [int(i) for i in load_queue(store).ids[:3]]
    add_review(store, ids[0], "flip", "sitting")
    add_review(store, ids[1], "exclude", "annotation_error")
    add_review(store, ids[1], "reset")
    activity = review_activity(store)
    assert activity["bucket"] == "hour" and sum(activity["counts"]) == 3
    assert activity["verdicts_by_reason"] == [{"status": "flip", "reason": "sitting", "pairs": 1}]


def test_reviews_over_time_count_verdicts_not_notes_or_undos(store):
    session = ReviewSession(store, load_queue(store), reviewer="ana")
    session.review("flip")
    session.review("accept")
    session.undo()
    session.annotate("a note")
    activity = review_activity(store)
    assert sum(activity["counts"]) == 2            # flip and accept; not the undo, not the note
    assert [r["status"] for r in activity["verdicts_by_reason"]] == ["flip"]

