"""The evented desk model (wsp_core.desk): the rules of the Pairs tab, driven without Qt."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import import_samples
from wsp_core.desk import Desk, PairState, View
from wsp_core.store import add_review, open_store, pair_history
from wsp_core.store.browse import PairFilter, load_queue, pair_rows


@pytest.fixture
def store(any_db):
    """The real samples' store, on each back end (an SQLite file, a PostgreSQL database)."""
    import_samples(any_db, "coco", "crowdpose")
    with open_store(any_db) as st:
        yield st


class Recorder:
    def __init__(self, desk: Desk) -> None:
        self.events: list[tuple[str, object]] = []
        desk.subscribe(lambda event, payload: self.events.append((event, payload)))

    def of(self, kind: str) -> list:
        return [p for e, p in self.events if e == kind]


class HeldWriter:
    """A writer whose reviews wait until released (the app's writer thread, slowed down)."""

    def __init__(self, store, reviewer="ana") -> None:
        self.store, self.reviewer, self.held = store, reviewer, []

    @property
    def pending(self) -> int:
        return len(self.held)

    def submit(self, pair_id, verdict, reason, note) -> None:
        self.held.append((pair_id, verdict, reason, note))

    def submit_many(self, reviews) -> None:
        self.held += [(r["pair_id"], r["verdict"], r["reason"], r["note"]) for r in reviews]

    def flush(self, timeout=None) -> bool:
        for review in self.held:
            add_review(self.store, *review, self.reviewer)
        self.held.clear()
        return True


def test_open_announces_sources_queue_and_the_first_pair(store):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(store)
    kinds = [e for e, _ in seen.events]
    assert kinds[:3] == ["sources", "queue", "pair"]
    queue = seen.of("queue")[-1]
    assert len(queue) == 13 and desk.current == int(queue.ids[0])
    assert seen.of("pair")[-1].pair_id == desk.current
    assert set(desk.sources()) == {"test_coco", "test_crowdpose"}


def test_a_verdict_is_written_announced_and_the_cursor_moves_on(store):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(store)
    first, second = (int(i) for i in desk.queue.ids[:2])
    auto = pair_rows(store, [first])[0]["auto_label"]
    desk.review("flip", "stairs")
    assert seen.of("states")[-1] == (PairState(first, "flip", "stairs", 1 - auto),)
    assert desk.current == second and seen.of("pair")[-1].pair_id == second
    assert pair_rows(store, [first])[0]["status"] == "flip"  # DirectWriter: committed
    assert [r["verdict"] for r in pair_history(store, first)] == ["flip"]
    assert desk.queue.reviewed() == 1


def test_the_pair_shows_its_own_review_while_it_is_still_on_its_way(store):
    desk = Desk("ana", claims=False)  # a team desk waits for its verdicts before it claims
    writer = HeldWriter(store)
    desk.attach(store, writer)
    desk.set_view(View())
    first = desk.current
    auto = desk.detail.auto_label
    desk.review("exclude")
    desk.previous()
    assert pair_rows(store, [first])[0]["status"] == "auto"  # not yet in the store
    assert desk.detail.pair_id == first
    assert (desk.detail.status, desk.detail.label) == ("exclude", None)
    writer.flush()
    desk.show_current()
    assert desk.detail.status == "exclude" and desk.detail.auto_label == auto


def test_next_unreviewed_skips_pairs_with_a_verdict(store):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(store)
    ids = [int(i) for i in desk.queue.ids]
    add_review(store, ids[1], "accept")
    add_review(store, ids[2], "flip")
    desk.refresh()
    assert desk.current == ids[0]
    assert desk.next_unreviewed() and desk.current == ids[3]
    desk.go(len(ids) - 1)
    assert not desk.next_unreviewed() and desk.current == ids[-1]
    assert seen.of("message")[-1] == "no unreviewed pair after this one in the queue"


def test_a_new_filter_keeps_the_pair_and_a_bad_one_says_why(store):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(store)
    crowd = int(load_queue(store, PairFilter(sources=("test_crowdpose",))).ids[0])
    assert desk.go_to_pair(crowd)
    desk.set_view(View(PairFilter(sources=("test_crowdpose",))))
    assert len(desk.queue) == 1 and desk.current == crowd
    desk.set_view(View(PairFilter(delta_s_min=2.0, delta_s_max=1.0)))
    assert len(desk.queue) == 0 and desk.current is None and desk.detail is None
    assert "the range is empty" in seen.of("error")[-1]
    assert seen.of("pair")[-1] is None


def test_undo_of_a_pair_another_curator_changed_is_refused(store):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(store)
    first = desk.current
    desk.review("flip")
    add_review(store, first, "exclude", reviewer="ben")  # a later verdict by another curator
    assert desk.undo() is None
    assert seen.of("message")[-1].startswith("not undone:")
    assert desk.current == first and desk.detail.status == "exclude"
    assert seen.of("states")[-1][-1].status == "exclude"
    assert pair_rows(store, [first])[0]["status"] == "exclude"  # ben's verdict stands
    assert desk.undo() is None and seen.of("message")[-1] == "nothing to undo"


def test_undo_and_redo_restore_and_rewrite(store):
    desk = Desk("ana")
    desk.open(store)
    first = desk.current
    desk.review("accept")
    assert desk.undo().pair_id == first and desk.current == first
    assert desk.detail.status == "auto"
    assert desk.redo().pair_id == first and desk.detail.status == "accept"
    assert [r["verdict"] for r in pair_history(store, first)] == ["accept", "reset", "accept"]


def test_statistics_read_the_qa_sample_whatever_the_queue(store):
    desk = Desk("ana")
    desk.open(store, View(kind="qa"))
    qa_ids = [int(i) for i in desk.queue.ids]
    assert desk.qa_queue() is desk.queue
    desk.review("accept")
    desk.review("flip")
    desk.set_view(View(PairFilter(statuses=("auto",)), kind="order"))
    qa = desk.qa_queue()
    assert qa.kind == "qa" and [int(i) for i in qa.ids] == qa_ids  # statuses ignored
    estimate = desk.statistics()["qa"]
    assert (estimate["sample"], estimate["right"], estimate["wrong"]) == (2, 1, 1)
    assert "reviewed 0 / 11" in desk.progress_text()  # the two reviewed left this queue


def test_the_pair_detail_is_frozen_and_derives_its_label(store):
    desk = Desk("ana")
    desk.open(store)
    detail = desk.detail
    with pytest.raises(dataclasses.FrozenInstanceError):
        detail.status = "flip"  # type: ignore[misc]
    flipped = detail.with_state("flip", "hugging")
    assert flipped.label == 1 - detail.auto_label and flipped.reason == "hugging"
    assert detail.with_state("auto", "hugging").reason is None
    assert detail.with_state("ambiguous", None).label is None


@pytest.fixture
def crowd(tmp_path):
    from helpers import crowd_store

    with open_store(crowd_store(tmp_path)) as st:
        yield st


def test_an_image_ordered_by_depth_writes_every_pair_in_one_step(crowd):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(crowd)
    persons = desk.image_persons()
    assert len(persons) == 4 and len(desk.queue) == 6
    by_ankle = sorted(persons, key=lambda p: -p.ankle_y)            # nearest first
    ranks = {p.person_id: k for k, p in enumerate(by_ankle)}
    ranks[by_ankle[3].person_id] = 2                                # the two farthest: a tie
    group = desk.order_image(ranks)
    assert len(group.steps) == 6
    rows = {r["pair_id"]: r for r in pair_rows(crowd, desk.queue.ids)}
    verdicts = sorted(r["status"] for r in rows.values())
    assert verdicts == ["accept"] * 5 + ["ambiguous"]               # the labels were right
    tie = next(r for r in rows.values() if r["status"] == "ambiguous")
    assert tie["reason"] == "same_depth"
    assert len(seen.of("states")) == 1 and len(seen.of("states")[0]) == 6   # one event
    assert desk.queue.reviewed() == 6
    undone = desk.undo()
    assert undone is group and all(r["status"] == "auto" for r in
                                   pair_rows(crowd, desk.queue.ids))
    assert sum(len(pair_history(crowd, int(p))) for p in desk.queue.ids) == 12  # 6 + 6 undos
    desk.redo()
    assert sorted(r["status"] for r in pair_rows(crowd, desk.queue.ids)) == verdicts


def test_a_reversed_order_flips_every_pair_and_undo_refuses_after_another_curator(crowd):
    desk = Desk("ana")
    seen = Recorder(desk)
    desk.open(crowd)
    far_first = sorted(desk.image_persons(), key=lambda p: p.ankle_y)   # farthest first
    desk.order_image({p.person_id: k for k, p in enumerate(far_first)})
    ids = [int(i) for i in desk.queue.ids]
    assert {r["status"] for r in pair_rows(crowd, ids)} == {"flip"}
    add_review(crowd, ids[0], "exclude", reviewer="ben")
    assert desk.undo() is None and seen.of("message")[-1].startswith("not undone:")
    rows = pair_rows(crowd, ids)
    assert rows[0]["status"] == "exclude" and {r["status"] for r in rows[1:]} == {"flip"}


def test_blind_answers_become_accept_flip_or_same_depth(crowd):
    """The curator says which person is closer without seeing the label; the desk derives the
    verdict from the automatic label (here right for every pair: lower ankles are nearer)."""
    desk = Desk("ana")
    desk.open(crowd)
    first, second, third = (int(i) for i in desk.queue.ids[:3])
    nearer = {}
    for pair in pair_rows(crowd, [first, second, third]):
        detail = desk.detail
        nearer[pair["pair_id"]] = "a" if detail.a.ankle_y > detail.b.ankle_y else "b"
        desk.next()
    desk.first()
    desk.answer(nearer[first])                                      # right: accept
    desk.answer("b" if nearer[second] == "a" else "a")              # the other one: flip
    desk.answer("same")
    rows = {r["pair_id"]: r for r in pair_rows(crowd, [first, second, third])}
    assert rows[first]["status"] == "accept"
    assert rows[second]["status"] == "flip" and rows[second]["label"] != rows[second]["auto_label"]
    assert (rows[third]["status"], rows[third]["reason"]) == ("ambiguous", "same_depth")
    with pytest.raises(ValueError, match="unknown answer"):
        desk.answer("c")


def test_the_pair_says_which_evidence_makes_it_suspicious(crowd):
    import dataclasses

    desk = Desk("ana")
    desk.open(crowd)
    detail = desk.detail
    assert detail.evidence() == []                                   # upright, apart: none
    odd = dataclasses.replace(detail, size_conflict=0.8, hug=0.35, knee_line=0.1, prob=0.97,
                              raised_ground=0.5, label=0, prob_out_of_sample=True)
    assert odd.evidence() == [
        "the model disagrees with the label (0.97, out-of-sample)",
        "size conflict 0.80: the far one has the larger head: sitting, crouching or a stage",
        "raised ground 0.50: the far one looks larger than where its feet are: on a step or a "
        "stage",
        "hug 0.35: the two touch, nearly the same depth"]


def test_practice_tells_the_truth_and_keeps_the_curators_accuracy(tmp_path):
    """On the synthetic world (3D truth), each verdict is followed by the truth and the
    curator's accuracy so far."""
    from helpers import synth_store

    with open_store(synth_store(tmp_path, 6, 3)) as st:
        desk = Desk("ana")
        seen = Recorder(desk)
        desk.open(st)
        desk.practice = True
        truths = []
        for verdict in ("accept", "flip", "exclude"):
            pair, auto = desk.current, desk.detail.auto_label
            truths.append((pair, auto))
            desk.review(verdict)
        from wsp_core.store.browse import pair_truth

        right = [pair_truth(st, truths[0][0]) == truths[0][1],
                 pair_truth(st, truths[1][0]) == 1 - truths[1][1]]
        messages = [m for m in seen.of("message") if m.startswith("practice")]
        assert len(messages) == 3
        assert messages[-1].endswith(f"{sum(right)} of 2 right ({100 * sum(right) / 2:.0f} %)")
        assert "you: not judged" in messages[-1]
        closer = "A" if pair_truth(st, truths[0][0]) == 1 else "B"
        assert f"{closer} was closer (3D truth)" in messages[0]


def test_the_desk_reads_ahead_the_next_distinct_images(tmp_path, crowd):
    from helpers import synth_store

    desk = Desk("ana")
    desk.open(crowd)                       # one image: nothing else to read ahead
    assert desk.upcoming_images(3) == []
    with open_store(synth_store(tmp_path / "w", 6, 3)) as st:
        desk.open(st)
        ahead = desk.upcoming_images(2)
        assert len(ahead) == 2 == len(set(ahead)) and desk.detail.image not in ahead
        later = [desk.index.image_path(int(p)) for p in desk.queue.ids[desk.position + 1:]]
        assert ahead == list(dict.fromkeys(p for p in later if p != desk.detail.image))[:2]


def test_the_learned_queue_ranks_by_suspicion_and_reranks_after_verdicts(desk_db, monkeypatch):
    """The learned queue starts in the order before any verdict; after RERANK_EVERY verdicts
    the desk ranks the rest of it again from them, the reviewed prefix and the pair shown
    unchanged."""
    import numpy as np

    import wsp_core.desk as desk_module
    from wsp_core.suspect import unsupervised_suspicion

    monkeypatch.setattr(desk_module, "RERANK_EVERY", 6)
    with open_store(desk_db) as st:
        desk = Desk("ana")
        seen = Recorder(desk)
        desk.open(st, View(kind="learned"))
        ranker = desk._ranker[1]
        ranker.model.min_each = 3
        first = unsupervised_suspicion(ranker.x)
        at = np.searchsorted(desk.index.ids, desk.queue.ids)
        assert len(desk.queue) == len(desk.index.ids) > 40
        assert (np.diff(first[at]) <= 0).all()                  # most suspicious first
        for verdict in ("flip", "accept") * 3:
            assert not desk.rerank_due
            desk.review(verdict)
        assert desk.rerank_due and desk.verdicts_since_rank == 6
        before, current, position = desk.queue.ids.copy(), desk.current, desk.position
        assert desk.rerank() and ranker.model.fitted             # 3 flips, 3 accepts
        after = desk.queue.ids
        assert desk.current == current and desk.position == position
        assert (after[:position + 1] == before[:position + 1]).all()
        assert sorted(after.tolist()) == sorted(before.tolist())
        scores = ranker.model.score(ranker.x)
        rest = scores[np.searchsorted(desk.index.ids, after[position + 1:])]
        assert (np.diff(rest) <= 0).all() and desk.verdicts_since_rank == 0
        assert seen.of("queue")[-1] is desk.queue and not desk.rerank_due


def test_a_deferred_learned_queue_is_ranked_by_its_first_rerank(desk_db, monkeypatch):
    """With ``defer_learned`` (the app's choice) the learned queue opens in the order before any
    verdict without reading the features; its first re-rank reads them and they are kept; a
    re-rank whose read failed (the server away) asks again."""
    import numpy as np

    import wsp_core.desk as desk_module
    from wsp_core.errors import StoreError
    from wsp_core.suspect import unsupervised_suspicion

    real = desk_module.StoreRanker
    with open_store(desk_db) as st:
        desk = Desk("ana")
        desk.defer_learned = True
        desk.open(st, View(kind="learned"))
        opened = desk.queue.ids.copy()
        assert desk._ranker is None and desk.rerank_due and len(opened) > 40
        work = desk.rerank_work()
        assert not desk.rerank_due

        def away(*args, **kwargs):
            raise StoreError(st.path, "the server is away")

        monkeypatch.setattr(desk_module, "StoreRanker", away)
        with pytest.raises(StoreError):
            work()
        desk.rerank_failed()
        assert desk.rerank_due and desk._ranker is None
        monkeypatch.setattr(desk_module, "StoreRanker", real)
        assert desk.apply_rerank(desk.rerank_work()())
        ranker = desk._ranker[1]
        first = unsupervised_suspicion(ranker.x)
        assert (np.diff(first[np.searchsorted(desk.index.ids, opened)]) <= 0).all()
        assert not desk.rerank_due
        desk.set_view(View(kind="suspicious"))
        desk.set_view(View(kind="learned"))                 # the features are kept
        assert desk._ranker[1] is ranker and not desk.rerank_due


def test_a_rerank_computed_elsewhere_is_shown_on_its_queue_only(desk_db, monkeypatch):
    """The app fits on its worker thread (rerank_work) while the curator goes on: the result
    keeps every pair up to the cursor where it is, even a cursor that moved meanwhile; a queue
    replaced meanwhile (another filter) drops it, and the next verdict asks for another."""
    import numpy as np

    import wsp_core.desk as desk_module

    monkeypatch.setattr(desk_module, "RERANK_EVERY", 6)
    with open_store(desk_db) as st:
        desk = Desk("ana")
        desk.open(st, View(kind="learned"))
        ranker = desk._ranker[1]
        ranker.model.min_each = 3
        for verdict in ("flip", "accept") * 3:
            desk.review(verdict)
        work = desk.rerank_work()
        assert work is not None and not desk.rerank_due
        result = work()                                       # as the worker thread does
        desk.review("accept")                                 # the curator went on meanwhile
        before, position, current = desk.queue.ids.copy(), desk.position, desk.current
        assert position == result.cut                         # one pair further than asked
        assert desk.apply_rerank(result)
        after = desk.queue.ids
        assert desk.position == position and desk.current == current
        assert (after[:position + 1] == before[:position + 1]).all()
        assert sorted(after.tolist()) == sorted(before.tolist())
        rest = ranker.model.score(ranker.x)[np.searchsorted(desk.index.ids, after[position + 1:])]
        assert (np.diff(rest) <= 0).all()
        for verdict in ("flip", "accept") * 3:
            desk.review(verdict)
        result = desk.rerank_work()()
        desk.set_view(View(PairFilter(statuses=("auto",)), kind="learned"))   # another queue
        shown = desk.queue
        assert not desk.apply_rerank(result) and desk.queue is shown and desk.rerank_due


def test_a_rerank_takes_over_the_verdicts_recorded_while_it_was_computed(desk_db, monkeypatch):
    """The worker orders a copy of the queue; a verdict that arrives before the result is
    shown (another curator's, read by the poll) keeps its status in the new order."""
    import wsp_core.desk as desk_module
    from wsp_core.store.browse import STATUSES

    monkeypatch.setattr(desk_module, "RERANK_EVERY", 6)
    with open_store(desk_db) as st:
        desk = Desk("ana")
        desk.open(st, View(kind="learned"))
        desk._ranker[1].model.min_each = 3
        for verdict in ("flip", "accept") * 3:
            desk.review(verdict)
        result = desk.rerank_work()()                         # as the worker thread does
        later = int(desk.queue.ids[-1])
        add_review(st, later, "flip", None, None, "ben")      # meanwhile, another curator
        assert desk.poll() == 1
        assert desk.apply_rerank(result)
        assert STATUSES[desk.queue.status[desk.queue.index_of(later)]] == "flip"
        assert desk.queue.reviewed() == 7


def test_the_learned_queue_of_an_empty_store_is_empty(tmp_path):
    with open_store(tmp_path / "empty.db") as st:
        desk = Desk("ana")
        desk.open(st, View(kind="learned"))
        assert len(desk.queue) == 0 and desk.current is None
        assert desk.rerank() and len(desk.queue) == 0


def test_a_rerank_shown_after_the_cursor_moved_keeps_the_pairs_before_it():
    """The worker ranks the pairs after the cursor as it was; when the curator has moved on
    (or back) meanwhile, the order shown keeps every pair up to the cursor now in its place and
    ranks the rest by descending score, ties in queue order."""
    import numpy as np

    from wsp_core.desk import Reranked, _moved_cut, _rank_after
    from wsp_core.store.browse import Queue

    rng = np.random.default_rng(3)
    n = 400
    values = np.round(rng.random(n), 1)                   # many ties
    queue = Queue(np.arange(n, dtype=np.int64) + 10, np.zeros(n, np.int8), np.zeros(n),
                  np.zeros(n))
    for cut0 in (0, 17, 200):
        order = _rank_after(values, cut0)
        result = Reranked(queue, cut0, values, order, queue.permuted(order), (None, None))
        for cut in (cut0, cut0 + 1, cut0 + 55, max(cut0 - 9, 0), n):
            expected = list(range(cut)) + sorted(range(cut, n), key=lambda p: (-values[p], p))
            assert _moved_cut(result, cut).tolist() == expected, (cut0, cut)
