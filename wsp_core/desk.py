"""The curator's desk as a model: the store, the queue, the review session and the current pair,
with events (napari's habit, as :class:`wsp_app.scene.SceneModel`: the model never calls a view).

Qt-free. The Pairs tab subscribes and draws; a test or a script drives the same rules directly:
which queue a filter gives, where the cursor goes, what "next unreviewed" means, which QA sample
the statistics use, and what a pair looks like while its review is still on its way to the store.

Events (``listener(event, payload)``):

- ``"sources"``: the sources and checkpoints of the store changed (payload: True for a store
  just opened, False when read again),
- ``"queue"``: a new queue (payload: the :class:`Queue`),
- ``"pair"``: the current pair to show (payload: a :class:`PairDetail`, or None),
- ``"states"``: review states changed (payload: a tuple of :class:`PairState`; one event for
  a whole image's depth order or its undo, so a list redraws once),
- ``"message"``: a line for the status bar (payload: str),
- ``"error"``: something the curator must read (payload: str).

On a team store (a PostgreSQL server, or ``claims=True``) the desk claims the pair in front of
it (:mod:`wsp_core.store.claims`): forward moves skip pairs another curator holds or has
judged, except the blind double-review share, which it shows without the others' verdicts; and
:meth:`Desk.poll` brings in the verdicts the others wrote since.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from .curation import Group, ReviewSession, Step
from .errors import ReviewConflict, StoreError, WspError
from .store import browse
from .store.claims import blind_pairs, claim_next, release_claims
from .store.team import agreement, reviewer_stats, team_settings
from .store.browse import PairDetail, PairFilter, PersonView, Queue
from .journal import Journal, write_journaled
from .store.db import UNREACHABLE, Store, retryable
from .store.queries import add_review, add_reviews, default_reviewer, pair_history
from .suspect import RERANK_EVERY, StoreRanker, disagreement, suspicion_before_verdicts
from .verdicts import STATUSES, label_for, verdict_from_answer, verdict_from_order

Listener = Callable[[str, Any], None]


class ReviewWriter(Protocol):
    """Where the desk's verdicts go: at once (:class:`DirectWriter`) or through a thread that
    never blocks a key press (the app's writer)."""

    @property
    def pending(self) -> int: ...

    def submit(self, pair_id: int, verdict: str, reason: str | None,
               note: str | None) -> None: ...

    def submit_many(self, reviews: list[dict[str, Any]]) -> None:
        """Reviews ({pair_id, verdict, reason, note}) written in one transaction."""

    def flush(self, timeout: float | None = None) -> bool: ...


class DirectWriter:
    """Each review is committed before ``submit`` returns (scripts, tests, the CLI)."""

    pending = 0

    def __init__(self, store: Store, reviewer: str | None = None) -> None:
        self.store, self.reviewer = store, reviewer

    def submit(self, pair_id: int, verdict: str, reason: str | None, note: str | None) -> None:
        add_review(self.store, pair_id, verdict, reason, note, self.reviewer)

    def submit_many(self, reviews: list[dict[str, Any]]) -> None:
        add_reviews(self.store, [{**r, "reviewer": self.reviewer} for r in reviews])

    def flush(self, timeout: float | None = None) -> bool:
        return True


class JournaledWriter:
    """Each review goes to the desk's journal (:class:`~wsp_core.journal.Journal`), then to the
    store; when the store cannot be reached (a lost connection, a server restart) the reviews
    wait in the journal, in order, and go at the next review or flush. A review the store
    refuses for good (its pair is gone) is reported through ``on_failed`` and dropped."""

    def __init__(self, store: Store, reviewer: str | None, journal: Journal,
                 on_failed: Callable[[str], None] | None = None) -> None:
        self.store, self.reviewer, self.journal = store, reviewer, journal
        self.on_failed = on_failed or (lambda _text: None)
        self._waiting: list[list[dict[str, Any]]] = []
        #: why the store could not be reached at the last try (None: it could)
        self.offline_reason: str | None = None

    @property
    def pending(self) -> int:
        return sum(len(batch) for batch in self._waiting)

    def submit(self, pair_id: int, verdict: str, reason: str | None, note: str | None) -> None:
        self._waiting.append(self.journal.add([{"pair_id": pair_id, "verdict": verdict,
                                                "reason": reason, "note": note,
                                                "reviewer": self.reviewer}]))
        self._drain()

    def submit_many(self, reviews: list[dict[str, Any]]) -> None:
        self._waiting.append(self.journal.add([{**r, "reviewer": self.reviewer}
                                               for r in reviews], group=True))
        self._drain()

    def flush(self, timeout: float | None = None) -> bool:
        self._drain()
        return not self._waiting

    def resume(self) -> int:
        """Take the reviews the journal still holds from an earlier session (a killed desk,
        a server that was away) before any new one; returns how many."""
        batches = self.journal.pending_batches()
        self._waiting = batches + self._waiting
        return sum(len(b) for b in batches)

    def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[0]
            try:
                write_journaled(self.store, batch)
            except WspError as e:
                if retryable(e):
                    self.offline_reason = str(e)
                    return
                self.on_failed(str(e))
            self.offline_reason = None
            self.journal.done([r["key"] for r in batch])
            self._waiting.pop(0)


@dataclass(frozen=True)
class PairState:
    """A pair's review state as the desk now knows it (the list row shows it)."""

    pair_id: int
    status: str
    reason: str | None
    label: int | None


@dataclass(frozen=True)
class View:
    """What the curator asked to see: a filter, a queue kind, the checkpoint whose scores
    the queue and the pair show."""

    filter: PairFilter = PairFilter()
    kind: str = "order"
    checkpoint: str | None = None


class Desk:
    """One curator's desk on one store at a time."""

    #: How many pairs of the queue a team desk offers the store at once when it claims (the
    #: next window follows when none is free).
    CLAIM_WINDOW = 256
    #: A team desk claims the pair it shows and this many after it, and reads them ahead, so
    #: that it can go on while the server is away (their verdicts wait in the journal).
    READ_AHEAD = 8
    #: How long a team desk waits for its verdicts to reach the store before it claims anew.
    FLUSH_S = 1.0
    #: How often a team desk renews its claims (s), whatever is left of them; the store's
    #: lease must be longer (the default is ten minutes).
    RENEW_S = 60.0

    def __init__(self, reviewer: str | None = None, claims: bool | None = None) -> None:
        self.reviewer = reviewer
        #: claim the pair in front of the desk (None: on a store on a server)
        self.claims = claims
        self.claiming = False
        #: the pairs this curator sees blind (double review: others judged them, not this one)
        self.blind_ids: set[int] = set()
        self._seen_review = 0
        self._ahead: dict[tuple[int, str | None], PairDetail] = {}
        #: the pairs this desk holds claims on (queue order), and why the server is away
        self._claimed: list[int] = []
        self._claimed_at = 0.0
        self.offline: str | None = None
        self.store: Store | None = None
        self.index: browse.PairIndex | None = None
        self.session: ReviewSession | None = None
        self.writer: ReviewWriter | None = None
        self.view = View()
        self.detail: PairDetail | None = None
        #: the practice mode: after each verdict the 3D truth is told, and the curator's own
        #: accuracy kept (on a source with truth: the synthetic world)
        self.practice = False
        self.practice_right = self.practice_judged = 0
        self._listeners: list[Listener] = []
        #: the learned queue's ranker (features read once per store and checkpoint) and the
        #: verdicts given since it last ranked
        self._ranker: tuple[str | None, StoreRanker] | None = None
        self.verdicts_since_rank = 0
        #: the app's choice: the learned queue's features are read (2–4 s at 220,000 pairs) by
        #: its first re-rank on a worker thread (:meth:`rerank_work`); until that comes back
        #: the queue stands in the order before any verdict, made from the snapshot's columns
        self.defer_learned = False

    # -- events ---------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: str, payload: Any = None) -> None:
        for listener in list(self._listeners):
            listener(event, payload)

    # -- the store ------------------------------------------------------------------------
    def open(self, store: Store, view: View = View(), pair_id: int | None = None,
             writer: ReviewWriter | None = None) -> None:
        """Show a store (the caller opened it and closes it) through ``view``; ``pair_id``
        puts the cursor on that pair when the queue holds it; ``writer`` defaults to
        :class:`DirectWriter`."""
        self.attach(store, writer)
        self.set_view(view, pair_id)

    def attach(self, store: Store, writer: ReviewWriter | None = None) -> None:
        """Take a store with an empty queue and announce its sources and checkpoints (a view
        that lists them picks its filter from them, then calls :meth:`set_view`)."""
        self.store = store
        self.writer = writer or DirectWriter(store, self.reviewer)
        self.claiming = store.server if self.claims is None else self.claims
        if self.claiming and self.reviewer is None:
            self.reviewer = default_reviewer()  # a claim is somebody's
        self.index = browse.PairIndex(store)
        self._seen_review = browse.latest_review_id(store)
        self._ranker = None
        self.session = ReviewSession(store, Queue.empty(), writer=self.writer.submit,
                                     reviewer=self.reviewer, index=self.index,
                                     many_writer=self.writer.submit_many)
        self._emit("sources", True)

    def close(self) -> None:
        """Forget the store (the caller flushed and closed its writer); a team desk releases
        its claim (if the store cannot be reached, the claim ends with its lease)."""
        if self.claiming and self.store is not None:
            try:
                release_claims(self.store, self.reviewer)
            except WspError:
                pass
        self.store = self.index = self.session = self.writer = self.detail = None
        self._emit("queue", Queue.empty())
        self._emit("pair", None)

    @property
    def is_open(self) -> bool:
        return self.session is not None

    def sources(self) -> list[str]:
        return list(self.index.sources) if self.index is not None else []

    def checkpoints(self) -> list[dict[str, Any]]:
        return browse.checkpoints(self.store) if self.store is not None else []

    def set_view(self, view: View, pair_id: int | None = None) -> None:
        """A new filter, queue kind or checkpoint: a new queue, staying on the current pair
        when the same kind of queue holds it (:meth:`ReviewSession.replace_queue`), or on
        ``pair_id`` when given and held."""
        self.view = view
        if not self.is_open:
            return
        queue = self._load_queue()
        self.session.replace_queue(queue)
        if pair_id is not None:
            self.session.go_to_pair(pair_id)
        else:
            self._steer()
        self._emit("queue", queue)
        self.show_current()

    def refresh(self) -> None:
        """Read the store again: what other processes wrote (an import, a score job, another
        curator's verdicts) shows."""
        if not self.is_open:
            return
        self.index.reload()
        self._ranker = None  # new pairs or new scores: the features are read again
        self._emit("sources", False)
        self.set_view(self.view)

    def _load_queue(self) -> Queue:
        try:
            learned = self._learned_scores() if self.view.kind == "learned" else None
            disagreeing = agreement(self.store)["disagreements"] \
                if self.view.kind == "disagreements" else None
            queue = self.index.queue(self.view.filter, self.view.kind, self.view.checkpoint,
                                     learned, disagreeing)
            if self.claiming:
                self.blind_ids = blind_pairs(self.store, self.reviewer, queue.ids)
                for pair_id in self.blind_ids:  # unjudged, for this curator
                    queue.set_status(pair_id, "auto")
            return queue
        except WspError as e:
            self._emit("error", str(e))
            return Queue.empty()

    @property
    def queue(self) -> Queue:
        return self.session.queue if self.session is not None else Queue.empty()

    # -- the learned queue ----------------------------------------------------------------
    def _ranker_ready(self) -> bool:
        """Whether the learned queue's ranker for the chosen model and this snapshot is built."""
        return (self._ranker is not None and self._ranker[0] == self.view.checkpoint
                and len(self._ranker[1].pair_ids) == len(self.index.ids))

    def _learned_ranker(self) -> StoreRanker:
        """The learned queue's ranker for the chosen model (its features read from the store
        once per store, model and snapshot size)."""
        if not self._ranker_ready():
            checkpoint = self.view.checkpoint
            prob = self.index.probs(checkpoint) if checkpoint is not None else None
            self._ranker = (checkpoint, StoreRanker(self.store, self.index.ids, prob))
        return self._ranker[1]

    def _learned_scores(self) -> np.ndarray:
        """Every pair's learned suspicion (index order), fitted on the verdicts the snapshot
        holds (this desk's included); with the chosen model's scores as a feature. With
        ``defer_learned`` and no ranker yet: the order before any verdict, and a re-rank due."""
        if self.defer_learned and not self._ranker_ready():
            self.verdicts_since_rank = RERANK_EVERY
            prob = self.index.probs(self.view.checkpoint)      # NaN: not scored, or no model
            return suspicion_before_verdicts(self.index.size_conflict,
                                             disagreement(self.index.auto_label, prob))
        ranker = self._learned_ranker()
        self.verdicts_since_rank = 0
        return ranker.scores(self.index.status)

    @property
    def rerank_due(self) -> bool:
        """Whether the learned queue should be ranked again (RERANK_EVERY new verdicts)."""
        return (self.is_open and self.queue.kind == "learned"
                and self.verdicts_since_rank >= RERANK_EVERY)

    def rerank(self) -> bool:
        """Rank the learned queue again from the verdicts so far, here and now (the app does
        the fit off its GUI thread: :meth:`rerank_work`, :meth:`apply_rerank`). False when not
        the learned queue."""
        work = self.rerank_work()
        return work is not None and self.apply_rerank(work())

    def rerank_work(self) -> Callable[[], Reranked] | None:
        """The learned queue's re-ranking as work for another thread: a fit on a snapshot of
        the verdicts so far, and the new order of the queue after the pair shown; hand its
        result to :meth:`apply_rerank` on the desk's thread. None when not the learned queue.
        When the ranker is not built yet, the work reads the features too (``defer_learned``:
        the first ranking of a learned queue)."""
        if not self.is_open or self.queue.kind != "learned":
            return None
        checkpoint, store = self.view.checkpoint, self.store
        ranker = self._ranker[1] if self._ranker_ready() else None
        prob = self.index.probs(checkpoint) if ranker is None and checkpoint is not None \
            else None
        status, ids, queue = self.index.status.copy(), self.index.ids, self.queue
        cut = min(self.position + 1, len(queue))
        self.verdicts_since_rank = 0

        def work() -> Reranked:
            made = ranker if ranker is not None else StoreRanker(store, ids, prob)
            # one BLAS/OpenMP thread: the fit runs beside the window, whose key presses keep
            # the other core (two threads took both and slowed the keys pressed meanwhile)
            with threadpool_limits(limits=1):
                values = queue.values_of(ids, made.scores(status))
            order = _rank_after(values, cut)
            return Reranked(queue, cut, values, order, queue.permuted(order), (checkpoint, made))

        return work

    def rerank_failed(self) -> None:
        """A re-ranking that could not be made (its features could not be read: the server
        away): the queue keeps its order and the next verdict or queue asks again."""
        if self.is_open and self.queue.kind == "learned":
            self.verdicts_since_rank = max(self.verdicts_since_rank, RERANK_EVERY)

    def apply_rerank(self, result: "Reranked") -> bool:
        """Show a re-ranking: the pairs up to the cursor keep their places (the current pair
        stays shown), the rest take the new order. A re-ranking of a queue since replaced (a
        filter, another queue) is dropped, and the next verdict asks for another; the features
        it read are kept while they are of this snapshot and model."""
        checkpoint, ranker = result.ranker
        if self.is_open and not self._ranker_ready() and ranker is not None \
                and checkpoint == self.view.checkpoint and ranker.pair_ids is self.index.ids:
            self._ranker = result.ranker
        if result.queue is not self.queue or not self.is_open:
            if self.is_open and self.queue.kind == "learned":
                self.verdicts_since_rank = max(self.verdicts_since_rank, RERANK_EVERY)
            return False
        cut = min(self.position + 1, len(result.queue))
        if cut == result.cut:
            ranked = result.ranked  # its statuses as of the worker's start: verdicts since
            ranked.status[:] = result.queue.status[result.order]  # are taken over now
        else:
            ranked = result.queue.permuted(_moved_cut(result, cut))
        self.session.replace_queue(ranked)
        self._emit("queue", ranked)
        self._emit("pair", self.detail)
        return True

    # -- the current pair -----------------------------------------------------------------
    @property
    def current(self) -> int | None:
        return self.session.current if self.session is not None else None

    @property
    def position(self) -> int:
        return self.session.position if self.session is not None else 0

    def show_current(self) -> None:
        """Read the current pair from the store and announce it. While this desk's review of
        it is still on its way to the store, the pair shows that review's state."""
        pair = self.current
        if pair is None:
            self.detail = None
        else:
            detail = self._read_detail(pair)
            if detail is None:
                return
            own = self.session.own_state(pair) if self.writer.pending else None
            if own is None and pair in self.blind_ids:
                own = ("auto", None)  # blind double review: the others' verdicts unseen
            self.detail = detail.with_state(*own) if own is not None else detail
        self._emit("pair", self.detail)

    def _read_detail(self, pair: int) -> PairDetail | None:
        """The pair as the store has it; on a team store, from what was read ahead when the
        server cannot be reached (None, said in a message, when it was not)."""
        key = (pair, self.view.checkpoint)
        try:
            detail = browse.pair_detail(self.store, pair, self.view.checkpoint)
        except WspError as e:
            if not (self.claiming and retryable(e)):
                raise
            self.offline = str(e)
            if key not in self._ahead:
                self._emit("error", f"{e}; pair {pair} was not read ahead")
                return None
            return self._ahead[key]
        if self.claiming:
            self._read_ahead()
        return detail

    def _read_ahead(self) -> None:
        """Read the pairs this desk claimed (a server store), to show them while it is away."""
        wanted = [(p, self.view.checkpoint) for p in self._claimed]
        self._ahead = {k: v for k, v in self._ahead.items() if k in wanted}
        for key in wanted:
            if key not in self._ahead:
                try:
                    self._ahead[key] = browse.pair_detail(self.store, *key)
                except WspError as e:
                    if not retryable(e):
                        raise
                    self.offline = str(e)  # gone meanwhile: what was read stays
                    return

    def history(self) -> list[dict[str, Any]]:
        """Every review of the current pair, oldest first (of a pair this curator sees blind,
        only their own)."""
        if self.current is None:
            return []
        history = pair_history(self.store, self.current)
        if self.current in self.blind_ids:
            history = [h for h in history if h["reviewer"] == self.reviewer]
        return history

    # -- a team store ---------------------------------------------------------------------
    def _steer(self) -> None:
        """A team desk, moving forward: onto the first pair from the cursor on that it may
        take, claimed for it with the next few (:func:`~wsp_core.store.claims.claim_next`).
        While the server is away: onto the next pair it claimed and has not judged yet."""
        if not self.claiming or self.current is None:
            return
        if self._claims_hold():
            return
        start = self.position
        try:
            away = getattr(self.writer, "offline_reason", None)
            if self.writer.pending and not self.writer.flush(0.0 if away else self.FLUSH_S):
                # verdicts not yet in the store keep their pairs claimed
                away = getattr(self.writer, "offline_reason", None)
                raise StoreError(self.store.path, f"{UNREACHABLE}: verdicts still on their way"
                                 + (f" ({away})" if away else ""))
            got: list[int] = []
            while not got and start < len(self.queue):   # window by window to the queue's end
                got = claim_next(self.store, self.reviewer,
                                 self.queue.ids[start:start + self.CLAIM_WINDOW], self.READ_AHEAD)
                start += self.CLAIM_WINDOW
        except WspError as e:
            if not retryable(e):
                raise
            self.offline = str(e)
            left = [p for p in self._claimed if self.session.own_state(p) is None]
            if left:
                self.session.go_to_pair(left[0])
            self._emit("message", f"{e} · {len(left)} claimed pairs left to review; verdicts "
                                  "are kept in the journal on disk")
            return
        self.offline = None
        self._claimed = got
        self._claimed_at = time.monotonic()
        if not got:
            self._emit("message", "the rest of the queue is held or judged by other curators")
        elif got[0] != self.current:
            self.session.go_to_pair(got[0])

    def _claims_hold(self) -> bool:
        """The fast way forward: while at least half of this desk's claimed pairs are still to
        be judged and the claims are young (renewed every RENEW_S), go to the next of them
        without asking the store."""
        if self.offline or time.monotonic() - self._claimed_at > self.RENEW_S:
            return False
        at, auto = self.position, STATUSES.index("auto")
        places = [(p, self.queue.index_of(p)) for p in self._claimed]
        # still to judge: not by this desk, nor (as far as it knows) by another curator
        left = [p for p, k in places if k is not None and k >= at
                and self.session.own_state(p) is None and self.queue.status[k] == auto]
        if len(left) <= self.READ_AHEAD // 2:
            return False
        if self.current != left[0]:
            self.session.go_to_pair(left[0])
        return True

    @property
    def claimed(self) -> tuple[int, ...]:
        """The pairs this desk holds claims on (a team store), in queue order."""
        return tuple(self._claimed)

    @property
    def may_review(self) -> bool:
        """Whether a verdict on the pair shown may be given now: always, except on a team
        store whose server is away, where only the pairs this desk claimed (or judged
        already) are safe from another curator's review."""
        if not (self.claiming and self.offline) or self.current is None:
            return self.current is not None
        return self.current in self._claimed or self.session.own_state(self.current) is not None

    def poll(self) -> int:
        """Bring in the verdicts written by others since the last look (a team store: each
        desk polls): the list and the current pair show them. Returns how many came."""
        if not self.is_open:
            return 0
        changes, self._seen_review = browse.reviews_since(self.store, self._seen_review,
                                                         self.reviewer)
        if not changes:
            return 0
        if self.claiming:  # judged by another curator, in the double-review share: blind
            self.blind_ids |= blind_pairs(self.store, self.reviewer, [c[0] for c in changes])
        for pair_id, status, label, reason, _who in changes:
            if pair_id in self.blind_ids:
                continue
            self.index.record(pair_id, status, label, reason)
            self.queue.set_status(pair_id, status)
            self.session.forget(pair_id)
        self._announce_states([c[0] for c in changes if c[0] not in self.blind_ids])
        if self.current in {c[0] for c in changes}:
            self.show_current()
        return len(changes)


    #: How far ahead in the queue :meth:`upcoming_images` looks for images to read ahead.
    LOOK_AHEAD = 32

    def upcoming_images(self, count: int) -> list[str]:
        """The next ``count`` distinct image files of the queue after the cursor (to read
        ahead; an image's pairs follow each other, and the depth order skips them all)."""
        if not self.is_open:
            return []
        start = self.position + 1
        current = self.detail.image if self.detail is not None else None
        out: list[str] = []
        for i in self.queue.ids[start:start + self.LOOK_AHEAD]:
            path = self.index.image_path(int(i))
            if path is not None and path != current and path not in out:
                out.append(path)
                if len(out) == count:
                    break
        return out

    # -- moving ---------------------------------------------------------------------------
    def go(self, position: int) -> None:
        if self.is_open:
            self.session.go(position)
            self.show_current()

    def next(self) -> None:
        if self.is_open:
            self.session.go(self.position + 1)
            self._steer()
            self.show_current()

    def previous(self) -> None:
        self.go(self.position - 1)

    def first(self) -> None:
        self.go(0)

    def go_to_pair(self, pair_id: int) -> bool:
        """Put the cursor on a pair; False (and no move) when the queue does not hold it."""
        if not self.is_open or not self.session.go_to_pair(pair_id):
            return False
        self.show_current()
        return True

    def next_unreviewed(self) -> bool:
        """Go to the first pair after the cursor that has no verdict; False (with a message)
        when there is none."""
        if not self.is_open:
            return False
        start = self.position + 1
        later = (self.queue.status[start:] == STATUSES.index("auto")).nonzero()[0]
        if not len(later):
            self._emit("message", "no unreviewed pair after this one in the queue")
            return False
        self.go(start + int(later[0]))
        return True

    # -- reviewing ------------------------------------------------------------------------
    def review(self, verdict: str, reason: str | None = None) -> Step | None:
        """A verdict on the pair under the cursor (the one shown), then the next pair."""
        if self.current is None:
            return None
        if not self.may_review:
            self._emit("message", f"{self.offline} · pair {self.current} is not claimed by this "
                                  "desk: another curator may be on it; no verdict written")
            return None
        auto = self.detail.auto_label if self.detail is not None else None
        step = self.session.review(verdict, reason)
        self.blind_ids.discard(step.pair_id)   # judged by this curator now
        self.verdicts_since_rank += 1
        self._steer()
        self._show_step(step.pair_id)
        if self.practice and auto is not None:
            self._tell_truth(step.pair_id, auto, verdict)
        return step

    def _tell_truth(self, pair_id: int, auto: int, verdict: str) -> None:
        """Practice: the truth of the pair just decided and the curator's accuracy so far
        (accept and flip are judged; ambiguous, exclude and reset are not)."""
        truth = browse.pair_truth(self.store, pair_id)
        if truth is None:
            self._emit("message", "practice: this pair has no 3D truth")
            return
        said = {"accept": auto, "flip": 1 - auto}.get(verdict)
        closer = "A" if truth == 1 else "B"
        if said is None:
            verdict_text = "not judged"
        else:
            self.practice_judged += 1
            self.practice_right += int(said == truth)
            verdict_text = "right" if said == truth else "wrong"
        share = (f" ({100 * self.practice_right / self.practice_judged:.0f} %)"
                 if self.practice_judged else "")
        self._emit("message", f"practice: pair {pair_id}: {closer} was closer (3D truth) · you: "
                              f"{verdict_text} · {self.practice_right} of "
                              f"{self.practice_judged} right{share}")

    def answer(self, which: str) -> Step | None:
        """A blind answer on the pair under the cursor, the automatic label unseen: "a" (A is
        closer), "b", or "same" (same depth); the desk writes the verdict it implies
        (:func:`~wsp_core.verdicts.verdict_from_answer`) and moves on."""
        if self.detail is None:
            return None
        verdict, reason = verdict_from_answer(self.detail.auto_label, which)
        return self.review(verdict, reason)

    def annotate(self, note: str) -> Step | None:
        """A note on the pair under the cursor; its verdict stays."""
        if self.current is None or not note.strip():
            return None
        step = self.session.annotate(note.strip())
        self._show_step(step.pair_id)
        return step

    # -- a whole image at once ------------------------------------------------------------
    def image_persons(self) -> tuple[PersonView, ...]:
        """The persons of the current pair's image that its pairs are made of (MCPC persons),
        A and B first."""
        if self.detail is None:
            return ()
        d = self.detail
        return (d.a, d.b) + tuple(p for p in d.others if p.mcpc)

    def order_image(self, ranks: dict[int, int]) -> Group | None:
        """The curator ranked the image's persons by depth (person id → rank, 0 nearest;
        equal ranks: the same depth). Every pair of the image whose two persons are ranked gets
        its verdict (:func:`~wsp_core.verdicts.verdict_from_order`), all in one transaction
        and one undo step; then the cursor moves to the next pair of another image."""
        if self.detail is None:
            return None
        image_id = self.detail.image_id
        items = []
        for pair in browse.image_pairs(self.store, image_id):
            rank_a, rank_b = ranks.get(pair["person_a"]), ranks.get(pair["person_b"])
            if rank_a is not None and rank_b is not None:
                verdict, reason = verdict_from_order(pair["auto_label"], rank_a, rank_b)
                items.append((pair["pair_id"], verdict, reason, None))
        group = self.session.review_many(items)
        if group is None:
            self._emit("message", "no pair of this image has both its persons ranked")
            return None
        self.verdicts_since_rank += len(group.steps)
        self._announce_states([step.pair_id for step in group.steps])
        self._emit("message", f"depth order: {len(group.steps)} pairs of the image decided")
        self._leave_image(image_id)
        return group

    def _leave_image(self, image_id: int) -> None:
        """Go to the first pair after the cursor that belongs to another image (else stay)."""
        queue, index = self.queue, self.index
        for k in range(self.position + 1, len(queue)):
            at = index.position(int(queue.ids[k]))
            if at is not None and int(index.image_id[at]) != image_id:
                self.go(k)
                return
        self.show_current()

    def undo(self) -> Step | Group | None:
        return self._replay("undo")

    def redo(self) -> Step | Group | None:
        return self._replay("redo")

    def _replay(self, which: str) -> Step | Group | None:
        """Undo or redo: the verdicts on their way are committed first, then the session
        writes on condition that nobody changed the pair since (else it says whose verdict
        stands)."""
        if not self.is_open:
            return None
        if not self.writer.flush(timeout=10.0):
            self._emit("message", f"not {which}ne: the store is busy; try again")
            return None
        stack = self.session.undo_stack if which == "undo" else self.session.redo_stack
        coming = stack[-1] if stack else None
        try:
            step = getattr(self.session, which)()
        except ReviewConflict as e:
            self._announce_states(_pair_ids(coming))  # their states as the store now has them
            if self.current is not None:
                self._show_step(self.current)
            self._emit("message", f"not {which}ne: {e.problem}")
            return None
        if step is None:
            self._emit("message", f"nothing to {which}")
            return None
        self._announce_states(_pair_ids(step))
        self.show_current()
        return step

    def _show_step(self, pair_id: int) -> None:
        """A pair's state changed: announce it (for the list), then show the current pair."""
        self._announce_states([pair_id])
        self.show_current()

    def _announce_states(self, pair_ids) -> None:
        states = []
        for pair_id in pair_ids:
            auto = self.index.auto_label_of(pair_id)
            if auto is not None:
                status, reason = self.session.state(pair_id)
                states.append(PairState(pair_id, status, reason, label_for(status, auto)))
        if states:
            self._emit("states", tuple(states))

    # -- statistics -----------------------------------------------------------------------
    def qa_queue(self) -> Queue:
        """The QA sample the accuracy estimate is read from: the queue itself when it is the
        QA queue of every status, else the QA queue of the same filter (reviewed pairs are the
        sample, so the filter's status choice is ignored)."""
        queue = self.queue
        if queue.kind == "qa" and not self.view.filter.statuses:
            return queue
        return browse.load_qa(self.store, self.view.filter, self.view.checkpoint, self.index)

    def statistics(self, team: bool = False) -> dict[str, Any]:
        """What the Statistics panel draws: the queue, the review activity, the QA estimate;
        with ``team``, each curator's counts, speed and verdict mix, the agreement between
        curators and the store's consensus rule (read only while the panel is shown)."""
        out = {"queue": self.queue, "activity": browse.review_activity(self.store),
               "qa": browse.qa_estimate(self.qa_queue())}
        if team:
            out["team"] = {"curators": reviewer_stats(self.store),
                           "agreement": agreement(self.store),
                           "settings": team_settings(self.store)}
        return out

    def progress_text(self) -> str:
        """One line: how far the curator is in the queue, and whether everything is saved."""
        if not self.is_open:
            return "no store open"
        queue, pending = self.queue, self.writer.pending
        text = (f"reviewed {queue.reviewed():,} / {len(queue):,}   ·   "
                f"position {self.position + 1 if len(queue) else 0:,} / {len(queue):,}"
                f"   ·   queue: {browse.QUEUES[queue.kind]}")
        return text + (f"   ·   saving {pending}…" if pending else "   ·   all saved")


def _pair_ids(step: Step | Group | None) -> list[int]:
    if step is None:
        return []
    return [s.pair_id for s in step.steps] if isinstance(step, Group) else [step.pair_id]


@dataclass(frozen=True)
class Reranked:
    """A re-ranking of the learned queue (:meth:`Desk.rerank_work`): the queue it was made for,
    the cursor then, each queued pair's new score (queue order), the new order and the queue in
    that order (permuted on the worker: ≈ 8 ms at 220k pairs the GUI thread does not spend),
    and the ranker it used with its model's checkpoint."""

    queue: Queue
    cut: int
    values: np.ndarray
    order: np.ndarray
    ranked: Queue
    ranker: tuple[str | None, StoreRanker]


def _moved_cut(result: Reranked, cut: int) -> np.ndarray:
    """The new order for a cursor that moved while the re-ranking was computed. Forward (the
    curator went on): the worker's order with the positions now before the cursor taken out of
    its ranked part — the stable sort of the rest, without sorting 220,000 scores again on the
    GUI thread. Backward: sorted anew."""
    if cut < result.cut:
        return _rank_after(result.values, cut)
    rest = result.order[result.cut:]
    return np.concatenate([np.arange(cut), rest[rest >= cut]])


def _rank_after(values: np.ndarray, cut: int) -> np.ndarray:
    """The queue's new order: the first ``cut`` positions kept, the rest by descending score
    (ties keep their places: the queue was sorted by score, then id)."""
    return np.concatenate([np.arange(cut), cut + np.argsort(-values[cut:], kind="stable")])
