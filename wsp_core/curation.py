"""A curator's review session: a queue, a cursor, and undo/redo written as new reviews.

Qt-free: the desktop app drives it from key presses, a test or a script can drive it directly.
Every verdict goes through ``writer`` (by default :func:`add_review`, one transaction each; the
app passes one that hands the review to its writer thread). The session keeps what it wrote in
memory, so undo knows the state it undoes even while the write is still on its way. Undo and redo
are written at once and on condition (:func:`add_review`'s ``expect``): only while the pair's
latest review is still the one they undo or redo, so one curator's undo never overwrites another
curator's later verdict on a shared store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ReviewConflict
from .store.browse import PairIndex, Queue, pair_rows
from .store.db import Store
from .store.queries import add_review, add_reviews, default_reviewer
from .verdicts import NOTE, UNDO_NOTE, check_verdict, effective, normalise_reason, restoring_verdict

#: writer(pair_id, verdict, reason, note): append one review.
Writer = Callable[[int, str, "str | None", "str | None"], Any]
#: many_writer([{pair_id, verdict, reason, note}, ...]): append them in one transaction.
ManyWriter = Callable[[list], Any]


@dataclass(frozen=True)
class Step:
    """One review this session wrote: the pair's state before, and the review itself."""

    pair_id: int
    before_status: str
    before_reason: str | None
    verdict: str
    reason: str | None
    note: str | None


@dataclass(frozen=True)
class Group:
    """Reviews this session wrote together (a whole image's depth order): written in one
    transaction, undone and redone as one step."""

    steps: tuple[Step, ...]

    @property
    def pair_id(self) -> int:
        return self.steps[0].pair_id


class ReviewSession:
    """Walks a queue; records verdicts; undoes and redoes them as new reviews."""

    def __init__(self, store: Store, queue: Queue, writer: Writer | None = None,
                 reviewer: str | None = None, advance: bool = True,
                 index: PairIndex | None = None, many_writer: ManyWriter | None = None) -> None:
        self.store = store
        self.index = index  # a snapshot the app filters from: kept up to date with our reviews
        self.queue = queue
        self.reviewer = reviewer
        self.writer: Writer = writer or (lambda pid, verdict, reason, note: add_review(
            store, pid, verdict, reason, note, reviewer))
        self.many_writer: ManyWriter = many_writer or (lambda reviews: add_reviews(
            store, [{**r, "reviewer": reviewer} for r in reviews], "depth order"))
        self.advance = advance
        self.position = 0
        self.undo_stack: list[Step | Group] = []
        self.redo_stack: list[Step | Group] = []
        self._state: dict[int, tuple[str, str | None]] = {}  # what this session wrote

    # -- the cursor -------------------------------------------------------------------------
    @property
    def current(self) -> int | None:
        """The pair id under the cursor (None for an empty queue)."""
        if not len(self.queue):
            return None
        return int(self.queue.ids[self.position])

    def go(self, position: int) -> int | None:
        """Move the cursor (clamped to the queue); returns the pair id there."""
        if len(self.queue):
            self.position = max(0, min(int(position), len(self.queue) - 1))
        return self.current

    def step(self, delta: int) -> int | None:
        return self.go(self.position + delta)

    def go_to_pair(self, pair_id: int) -> bool:
        """Put the cursor on a pair; False when the queue does not hold it."""
        k = self.queue.index_of(pair_id)
        if k is None:
            return False
        self.position = k
        return True

    def replace_queue(self, queue: Queue) -> None:
        """A new filter on the same kind of queue stays on the same pair when the new queue
        holds it. Another kind of queue starts at its start: the first pair, or for the QA
        queue the first pair of the random order without a verdict (where the sample grows)."""
        pair = self.current
        same_kind = queue.kind == self.queue.kind
        self.queue = queue
        self.position = 0
        if same_kind and pair is not None and self.go_to_pair(pair):
            return
        if queue.kind == "qa":
            unreviewed = (queue.status == 0).nonzero()[0]
            self.position = int(unreviewed[0]) if len(unreviewed) else 0

    # -- reviews ----------------------------------------------------------------------------
    def state(self, pair_id: int) -> tuple[str, str | None]:
        """(status, reason) of a pair: as this session last left it, else as the snapshot
        (``index``) or, without one, the store has it."""
        if pair_id in self._state:
            return self._state[pair_id]
        known = self.index.state(pair_id) if self.index is not None else None
        if known is not None:
            return known
        rows = pair_rows(self.store, [pair_id])
        if not rows:
            return "auto", None
        return rows[0]["status"], rows[0]["reason"]

    def review(self, verdict: str, reason: str | None = None, note: str | None = None) -> Step:
        """Record a verdict on the current pair, then (with ``advance``) move to the next."""
        pair = self.current
        if pair is None:
            raise ValueError("the queue is empty")
        step = self._write(pair, verdict, normalise_reason(reason), note)
        self.undo_stack.append(step)
        self.redo_stack.clear()
        if self.advance and verdict != "reset":
            self.step(+1)
        return step

    def annotate(self, note: str) -> Step:
        """A note on the current pair, recorded as a note: the pair keeps its state, and the
        note is not a step of undo (it changes nothing to undo)."""
        pair = self.current
        if pair is None:
            raise ValueError("the queue is empty")
        return self._write(pair, NOTE, None, note)

    def review_many(self, items: list[tuple[int, str, str | None, str | None]]) -> Group | None:
        """Verdicts on several pairs (pair_id, verdict, reason, note), written together in one
        transaction and kept as one undo step; the cursor stays. None for no items."""
        if not items:
            return None
        steps = []
        for pair_id, verdict, reason, note in items:
            check_verdict(verdict)
            before_status, before_reason = self.state(pair_id)
            steps.append(Step(pair_id, before_status, before_reason, verdict,
                              normalise_reason(reason), note))
        self.many_writer([{"pair_id": s.pair_id, "verdict": s.verdict, "reason": s.reason,
                           "note": s.note} for s in steps])
        for s in steps:
            self._remember_verdict(s.pair_id, s.verdict, s.reason)
        group = Group(tuple(steps))
        self.undo_stack.append(group)
        self.redo_stack.clear()
        return group

    def undo(self) -> Step | Group | None:
        """Write a review that restores the pair as it was before the last step, provided the
        pair's latest review is still that step's; the cursor goes back to that pair. None when
        there is nothing to undo.

        Raises :class:`ReviewConflict` when somebody reviewed the pair since: their verdict
        stands, the step leaves the undo stack (the next undo reaches the one before) and the
        session takes the pair's state from the store. Reviews handed to an asynchronous
        writer must be committed first (the app flushes its writer)."""
        if not self.undo_stack:
            return None
        step = self.undo_stack.pop()
        self.go_to_pair(step.pair_id)
        if isinstance(step, Group):
            self._write_group_checked(
                [(s.pair_id, restoring_verdict(s.before_status), s.before_reason, UNDO_NOTE,
                  self._as_written(s.verdict, s.reason, s.note)) for s in step.steps])
            self.redo_stack.append(step)
            return step
        self._write_checked(step.pair_id, restoring_verdict(step.before_status),
                            step.before_reason, UNDO_NOTE, self._as_written(step.verdict,
                                                                         step.reason, step.note))
        self.redo_stack.append(step)
        return step

    def redo(self) -> Step | Group | None:
        """Write the undone review again, provided the pair's latest review is still the undo;
        the cursor goes to its pair. :class:`ReviewConflict` as for :meth:`undo`."""
        if not self.redo_stack:
            return None
        step = self.redo_stack.pop()
        self.go_to_pair(step.pair_id)
        if isinstance(step, Group):
            self._write_group_checked(
                [(s.pair_id, s.verdict, s.reason, s.note,
                  self._as_written(restoring_verdict(s.before_status), s.before_reason, UNDO_NOTE))
                 for s in step.steps])
            self.undo_stack.append(step)
            return step
        undo = self._as_written(restoring_verdict(step.before_status), step.before_reason,
                                 UNDO_NOTE)
        self._write_checked(step.pair_id, step.verdict, step.reason, step.note, undo)
        self.undo_stack.append(step)
        return step

    def forget(self, pair_id: int) -> None:
        """Another curator changed the pair: its state is the snapshot's (``index``) again."""
        self._state.pop(pair_id, None)

    def own_state(self, pair_id: int) -> tuple[str, str | None] | None:
        """(status, reason) as this session's latest review left the pair, if it wrote one."""
        return self._state.get(pair_id)

    def _as_written(self, verdict: str, reason: str | None, note: str | None) -> dict[str, Any]:
        return {"verdict": verdict, "reason": reason, "note": note,
                "reviewer": self.reviewer or default_reviewer()}

    def _write_checked(self, pair_id: int, verdict: str, reason: str | None, note: str | None,
                       expect: dict[str, Any]) -> None:
        def write(pid: int, v: str, r: str | None, n: str | None) -> None:
            add_review(self.store, pid, v, r, n, self.reviewer, expect=expect)

        try:
            self._write(pair_id, verdict, reason, note, write)
        except ReviewConflict:
            self.redo_stack.clear()
            rows = pair_rows(self.store, [pair_id])
            if rows:
                self._remember(pair_id, rows[0]["status"], rows[0]["reason"],
                               rows[0]["label"])
            raise

    def _write_group_checked(self, items: list[tuple]) -> None:
        """(pair_id, verdict, reason, note, expect) in one transaction, each on condition;
        a conflict writes none, and the session takes the pairs' states from the store."""
        try:
            add_reviews(self.store, [{"pair_id": p, "verdict": v, "reason": r, "note": n,
                                      "reviewer": self.reviewer, "expect": e}
                                     for p, v, r, n, e in items], "undo")
        except ReviewConflict:
            self.redo_stack.clear()
            rows = pair_rows(self.store, [item[0] for item in items])
            for row in rows:
                self._remember(row["pair_id"], row["status"], row["reason"], row["label"])
            raise
        for pair_id, verdict, reason, _note, _expect in items:
            self._remember_verdict(pair_id, verdict, reason)

    def _remember_verdict(self, pair_id: int, verdict: str, reason: str | None) -> None:
        if verdict == NOTE:
            return
        status, _ = effective(verdict, 0)
        auto = self.index.auto_label_of(pair_id) if self.index is not None else None
        self._remember(pair_id, status, reason if status != "auto" else None,
                       effective(verdict, auto)[1] if auto is not None else None)

    def _write(self, pair_id: int, verdict: str, reason: str | None, note: str | None,
               writer: Writer | None = None) -> Step:
        before_status, before_reason = self.state(pair_id)
        check_verdict(verdict)
        (writer or self.writer)(pair_id, verdict, reason, note)
        self._remember_verdict(pair_id, verdict, reason)
        return Step(pair_id, before_status, before_reason, verdict, reason, note)

    def _remember(self, pair_id: int, status: str, reason: str | None,
                  label: int | None) -> None:
        """The pair's state as the session now knows it, in its queue and snapshot too."""
        self._state[pair_id] = (status, reason)
        self.queue.set_status(pair_id, status)
        if self.index is not None and self.index.auto_label_of(pair_id) is not None:
            self.index.record(pair_id, status, label, reason)
