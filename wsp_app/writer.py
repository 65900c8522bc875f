"""The review writer: one background thread that appends reviews to the store, in order.

A key press hands its review here and returns at once, so the window never waits on the store,
even while another process (an import, a scoring job) holds the write lock. Each review is its
own transaction (``add_review``); a busy store is retried until it frees, never dropped.
"""

from __future__ import annotations

import queue
import threading
import time

from PySide6.QtCore import QObject, Signal

from wsp_core.errors import InputError
from wsp_core.store.db import Store
from wsp_core.store.queries import add_review, add_reviews

_STOP = object()


class _Many(list):
    """Reviews written together, in one transaction (a depth order)."""


class ReviewWriter(QObject):
    saved = Signal(dict)           # the review as stored (add_review's dict)
    pending_changed = Signal(int)  # reviews handed in and not yet committed
    busy = Signal(str)             # the store is locked by another process; retrying
    failed = Signal(str)           # a review that cannot be stored (its pair is gone, ...)

    def __init__(self, store: Store, reviewer: str | None = None, retry_s: float = 0.5) -> None:
        super().__init__()
        self.store = store
        self.reviewer = reviewer
        self.retry_s = retry_s
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        #: time.monotonic() when the write now in progress started (None when idle): a write
        #: that takes long is waiting for another process's lock.
        self.write_started: float | None = None
        self._thread = threading.Thread(target=self._run, name="review-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, pair_id: int, verdict: str, reason: str | None, note: str | None) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self.pending_changed.emit(self._pending)
        self._queue.put((pair_id, verdict, reason, note))

    def submit_many(self, reviews: list[dict]) -> None:
        """Reviews ({pair_id, verdict, reason, note}) written together in one transaction."""
        with self._lock:
            self._pending += len(reviews)
            self._idle.clear()
        self.pending_changed.emit(self._pending)
        self._queue.put(_Many(reviews))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted review is committed; False on timeout."""
        return self._idle.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Write what is pending, then stop the thread; False when it did not finish in time."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Many):
                self._write_many(item)
            else:
                self._write(*item)
            with self._lock:
                self._pending -= len(item) if isinstance(item, _Many) else 1
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

    def _retrying(self, write, what: str) -> None:
        """Run ``write`` (it returns the reviews it stored) until the store is not busy; a
        review that cannot be stored (its pair is gone, ...) is reported, never retried."""
        while True:
            self.write_started = time.monotonic()
            try:
                written = write()
            except InputError as e:  # StoreError included
                if "busy" in e.problem:
                    self.busy.emit(str(e))
                    time.sleep(self.retry_s)
                    continue
                self.failed.emit(str(e))
                return
            except Exception as e:  # noqa: BLE001 - shown to the curator, the thread lives on
                self.failed.emit(f"{what} not saved: {e}")
                return
            finally:
                self.write_started = None
            for review in written:
                self.saved.emit(review)
            return

    def waiting_s(self) -> float:
        """How long the write in progress has been waiting (0 when idle)."""
        started = self.write_started
        return 0.0 if started is None else time.monotonic() - started
