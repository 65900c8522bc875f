"""The review writer: one background thread that appends reviews to the store, in order.

A key press hands its review here and returns at once, so the window never waits on the store,
even while another process (an import, a scoring job) holds the write lock. Each review is its
own transaction (``add_review``); a busy store is retried until it frees, never dropped.

With a journal (:class:`wsp_core.journal.Journal`) each review is first appended to it (on
disk, before ``submit`` returns) and marked done once the store has it: a store on a server
that cannot be reached (a lost connection, a restart) keeps the reviews in the journal and the
writer retries until it is back; an app killed meanwhile hands them on at the next opening
(:meth:`ReviewWriter.resume`), and the store's client keys make each go in once.

A review handed in waits for the window's next frame before the thread writes it: the write's
Python work (the ORM, the journal's marks) shares the interpreter's lock with the GUI thread, so
a commit that ran while the window paints the next pair made that paint wait (a depth order's
eight verdicts doubled the time from `Return` to the next image). The hand-over to the thread is
a posted event of a priority below every repaint's, so it is delivered once the repaints pending
have been painted; the journal has the review on disk before that, and :meth:`flush` and
:meth:`close` hand over what waits at once (ADR 0024).
"""

from __future__ import annotations

import queue
import threading
import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal

from wsp_core.errors import InputError
from wsp_core.journal import Journal, write_journaled
from wsp_core.store.db import UNREACHABLE, Store, retryable
from wsp_core.store.queries import add_review, add_reviews

_STOP = object()
#: the event that hands the reviews waiting to the thread, and its priority: below Qt's
#: LowEventPriority, that of the repaint requests, so it comes after the frame they paint
_HAND_OVER = QEvent.Type(QEvent.registerEventType())
_AFTER_REPAINTS = Qt.EventPriority.LowEventPriority.value - 1


class _Many(list):
    """Reviews written together, in one transaction (a depth order)."""


class _Journaled(list):
    """Reviews as the journal holds them (with their keys), written together."""


class ReviewWriter(QObject):
    saved = Signal(dict)           # the review as stored (add_review's dict)
    pending_changed = Signal(int)  # reviews handed in and not yet committed
    busy = Signal(str)             # the store is locked by another process; retrying
    offline = Signal(str)          # the store's server cannot be reached; retrying
    failed = Signal(str)           # a review that cannot be stored (its pair is gone, ...)

    def __init__(self, store: Store, reviewer: str | None = None, retry_s: float = 0.5,
                 journal: Journal | None = None) -> None:
        super().__init__()
        self.store = store
        self.journal = journal
        self.reviewer = reviewer
        self.retry_s = retry_s
        self._queue: queue.Queue = queue.Queue()
        #: reviews handed in, waiting for the next frame to be painted (then to the thread)
        self._waiting: list = []
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._abandoned = threading.Event()
        #: why the store's server cannot be reached (None: it could, at the last write)
        self.offline_reason: str | None = None
        #: time.monotonic() when the write now in progress started (None when idle): a write
        #: that takes long is waiting for another process's lock.
        self.write_started: float | None = None
        self._thread = threading.Thread(target=self._run, name="review-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, pair_id: int, verdict: str, reason: str | None, note: str | None) -> None:
        if self.journal is not None:
            self._put(_Journaled(self.journal.add([{
                "pair_id": pair_id, "verdict": verdict, "reason": reason, "note": note,
                "reviewer": self.reviewer}])))
            return
        self._put((pair_id, verdict, reason, note))

    def submit_many(self, reviews: list[dict]) -> None:
        """Reviews ({pair_id, verdict, reason, note}) written together in one transaction."""
        if self.journal is not None:
            self._put(_Journaled(self.journal.add([{**r, "reviewer": self.reviewer}
                                                   for r in reviews], group=True)))
            return
        self._put(_Many(reviews))

    def resume(self, batches: list[list[dict]]) -> None:
        """Reviews a journal still holds from an earlier session (a killed app, a server that
        was away; :meth:`Journal.pending_batches`): written first, in order."""
        for batch in batches:
            self._put(_Journaled(batch))

    def _put(self, item) -> None:
        with self._lock:
            self._pending += len(item) if isinstance(item, list) else 1
            self._idle.clear()
            self._waiting.append(item)
            first = len(self._waiting) == 1
        self.pending_changed.emit(self._pending)
        if first:
            QCoreApplication.postEvent(self, QEvent(_HAND_OVER), _AFTER_REPAINTS)

    def event(self, event: QEvent) -> bool:
        if event.type() == _HAND_OVER:
            self._hand_over()
            return True
        return super().event(event)

    def _hand_over(self) -> None:
        """The reviews waiting go to the thread, in the order they came."""
        with self._lock:  # under the lock: two hand-overs never reorder the reviews
            for item in self._waiting:
                self._queue.put(item)
            self._waiting = []

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted review is committed; False on timeout."""
        self._hand_over()
        return self._idle.wait(timeout)

    def abandon(self) -> None:
        """Stop retrying a store that cannot be reached (the app closes it): what is left
        stays in the journal for the next opening. Only with a journal."""
        if self.journal is not None:
            self._abandoned.set()
            self._queue.put(_STOP)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is pending, then stop the thread; False when it did not finish in time."""
        self._hand_over()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Journaled):
                self._write_journaled(item)
            elif isinstance(item, _Many):
                self._write_many(item)
            else:
                self._write(*item)
            with self._lock:
                self._pending -= len(item) if isinstance(item, list) else 1
                if self._pending == 0:
                    self._idle.set()
            self.pending_changed.emit(self._pending)

    def _write(self, pair_id: int, verdict: str, reason: str | None, note: str | None) -> None:
        self._retrying(lambda: [add_review(self.store, pair_id, verdict, reason, note,
                                           self.reviewer)],
                       f"review of pair {pair_id}")

    def _write_many(self, reviews: list[dict]) -> None:
        self._retrying(lambda: add_reviews(self.store, [{**r, "reviewer": self.reviewer}
                                                        for r in reviews], "depth order"),
                       f"{len(reviews)} reviews of an image")

    def _write_journaled(self, reviews: list[dict]) -> None:
        what = f"review of pair {reviews[0]['pair_id']}" if len(reviews) == 1 else \
            f"{len(reviews)} reviews of an image"
        if self._retrying(lambda: write_journaled(self.store, reviews), what):
            self.journal.done([r["key"] for r in reviews])  # in the store, or refused for good

    def _retrying(self, write, what: str) -> bool:
        """Run ``write`` (it returns the reviews it stored) until the store is not busy and
        its server can be reached; a review that cannot be stored (its pair is gone, ...) is
        reported, never retried. False when the writer was abandoned meanwhile (the journal
        keeps the review)."""
        while True:
            self.write_started = time.monotonic()
            try:
                written = write()
            except InputError as e:  # StoreError included
                if retryable(e):
                    if self._abandoned.is_set() and self.journal is not None:
                        return False
                    away = UNREACHABLE in e.problem
                    self.offline_reason = str(e) if away else None
                    (self.offline if away else self.busy).emit(str(e))
                    self._abandoned.wait(self.retry_s)
                    continue
                self.failed.emit(str(e))
                return True
            except Exception as e:  # noqa: BLE001 - shown to the curator, the thread lives on
                self.failed.emit(f"{what} not saved: {e}")
                return
            finally:
                self.write_started = None
            self.offline_reason = None
            for review in written:
                self.saved.emit(review)
            return True

    def waiting_s(self) -> float:
        """How long the write in progress has been waiting (0 when idle)."""
        started = self.write_started
        return 0.0 if started is None else time.monotonic() - started
