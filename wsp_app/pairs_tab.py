"""The Pairs tab: filters and the queue list on the left, the pair in the middle, its labels,
history and the statistics on the right. Every verdict goes to the review writer at once."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QInputDialog, QMessageBox, QSplitter,
                               QTableView, QTabWidget, QVBoxLayout, QWidget)

from wsp_core.curation import ReviewSession, restoring_verdict
from wsp_core.errors import ReviewConflict, WspError
from wsp_core.store import browse
from wsp_core.store.db import Store
from wsp_core.store.queries import effective, pair_history

from .filters import FilterPanel
from .images import ImageLoader
from .pair_list import WIDTHS, QueueModel
from .pair_view import PairInfo, PairView
from .panels import HistoryPanel, StatsPanel
from .writer import ReviewWriter

PREFETCH = 4
#: A review write that has waited this long is waiting for another process: say so.
BUSY_AFTER_S = 1.0


class PairsTab(QWidget):
    """Browse and review the pairs of one store."""

    status_changed = Signal(str)
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None, reviewer: str | None = None) -> None:
        super().__init__(parent)
        self.reviewer = reviewer
        self.store: Store | None = None
        self.index: browse.PairIndex | None = None
        self.session: ReviewSession | None = None
        self.writer: ReviewWriter | None = None
        self.detail: dict[str, Any] | None = None
        # Qt objects get a parent: Qt deletes them on the GUI thread, never Python's garbage
        # collector on whichever thread (the review writer, an image read) happens to run it.
        self.loader = ImageLoader(parent=self)
        self.loader.loaded.connect(self._on_image_loaded)
        self.filters = FilterPanel()
        self.filters.changed.connect(self.reload_queue)
        self.filters.done.connect(self.focus_pair)
        self.model = QueueModel(None, browse.Queue.empty(), parent=self)  # type: ignore[arg-type]
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        for column, width in enumerate(WIDTHS):
            self.table.setColumnWidth(column, width)
        self.table.clicked.connect(lambda index: self.go(index.row()))
        self.view = PairView()
        self.view.pressed.connect(self.focus_pair)
        self.info = PairInfo()
        self.history = HistoryPanel()
        self.stats = StatsPanel()
        self._stats_timer = QTimer(self, singleShot=True, interval=1500)
        self._stats_timer.timeout.connect(self.refresh_stats)
        self._busy_timer = QTimer(self, interval=500)
        self._busy_timer.timeout.connect(self._check_busy)
        self._busy_timer.start()
        self._build()

    def _build(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.filters)
        left.addWidget(self.table)
        left.setStretchFactor(1, 1)
        side = QTabWidget()
        side.addTab(self.info, "Labels")
        side.addTab(self.history, "History")
        side.addTab(self.stats, "Statistics")
        self.side = side
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([330, 800, 330])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    # -- the store ----------------------------------------------------------------------------
    def open(self, store: Store, queue_kind: str | None = None, pair_id: int | None = None) -> None:
        """Show a store (the caller opened it); ``queue_kind`` and ``pair_id`` restore where the
        curator was."""
        self.close_store()
        self.store = store
        self.writer = ReviewWriter(store, self.reviewer)
        self.writer.saved.connect(self._on_saved)
        self.writer.pending_changed.connect(lambda _n: self._announce())
        self.writer.busy.connect(self._on_busy)
        self.writer.failed.connect(self.error)
        self.model.store = store
        self.index = browse.PairIndex(store)
        self.filters.blockSignals(True)
        self.filters.set_sources(list(self.index.sources))
        self.filters.set_checkpoints(browse.checkpoints(store), fresh=True)
        if queue_kind in browse.QUEUES:
            self.filters.set_queue_kind(queue_kind)
        self.filters.blockSignals(False)
        queue = self._load_queue()
        self.session = ReviewSession(store, queue, writer=self.writer.submit,
                                     reviewer=self.reviewer, index=self.index)
        self.model.set_queue(queue)
        if pair_id is not None:
            self.session.go_to_pair(pair_id)
        self.show_current()
        self.refresh_stats()

    def close_store(self, timeout: float = 30.0) -> bool:
        """Write what is pending, then let the store go. False when reviews are still waiting
        (the store stayed locked by another process): nothing is closed then."""
        if self.writer is not None:
            if not self.writer.flush(timeout):
                return False
            self.writer.close()
            self.writer = None
        self.loader.wait(2000)
        self.store, self.index, self.session, self.detail = None, None, None, None
        return True

    def _load_queue(self) -> browse.Queue:
        try:
            return self.index.queue(self.filters.pair_filter(), self.filters.queue_kind(),
                                    self.filters.checkpoint_path())
        except WspError as e:
            self.error.emit(str(e))
            return browse.Queue.empty()

    def reload_queue(self) -> None:
        """Apply the filter panel: a new queue, staying on the current pair when it is in it."""
        if self.store is None or self.session is None:
            return
        queue = self._load_queue()
        self.session.replace_queue(queue)
        self.model.set_queue(queue)
        self.show_current()
        self.refresh_stats()

    def refresh(self) -> None:
        """Re-read everything (another process may have written: an import, a score job)."""
        if self.store is None:
            return
        self.index.reload()
        self.filters.blockSignals(True)
        self.filters.set_sources(list(self.index.sources))
        self.filters.set_checkpoints(browse.checkpoints(self.store))
        self.filters.blockSignals(False)
        self.reload_queue()

    # -- showing the current pair --------------------------------------------------------------
    def show_current(self) -> None:
        pair = self.session.current if self.session else None
        if pair is None:
            self.detail = None
            self.view.scene().clear()
            self.info.show_pair(None)
            self.history.show_history([])
            self._announce()
            return
        detail = browse.pair_detail(self.store, pair, self.filters.checkpoint_path())  # live
        own = self.session.own_state(pair) if self.writer.pending else None
        if own is not None:  # our review is still on its way
            detail["status"], detail["reason"] = own
            detail["label"] = effective(restoring_verdict(own[0]), detail["auto_label"])[1]
        self.detail = detail
        loaded = self.loader.get(detail["image"])
        if loaded is None:
            self.loader.request(detail["image"])
        self.view.show_pair(detail, loaded)
        self.info.show_pair(detail)
        self.history.show_history(pair_history(self.store, pair))
        self._select_row()
        self._prefetch()
        self._announce()

    def _select_row(self) -> None:
        index = self.model.index(self.session.position, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _prefetch(self) -> None:
        start = self.session.position + 1
        ids = self.session.queue.ids[start:start + PREFETCH]
        paths = browse.image_paths(self.store, ids)
        self.loader.prefetch(paths[int(i)] for i in ids if int(i) in paths)

    def _on_image_loaded(self, path: str) -> None:
        if self.detail is not None and self.detail["image"] == path:
            self.view.show_pair(self.detail, self.loader.get(path))

    def _announce(self) -> None:
        if self.session is None:
            self.status_changed.emit("no store open")
            return
        queue = self.session.queue
        pending = self.writer.pending if self.writer else 0
        text = (f"reviewed {queue.reviewed():,} / {len(queue):,}   ·   "
                f"position {self.session.position + 1 if len(queue) else 0:,} / {len(queue):,}"
                f"   ·   queue: {browse.QUEUES[queue.kind]}")
        text += f"   ·   saving {pending}…" if pending else "   ·   all saved"
        self.status_changed.emit(text)

    def _on_busy(self, _message: str = "") -> None:
        self.status_changed.emit(
            f"waiting for the store (another process is writing): "
            f"{self.writer.pending if self.writer else 0} reviews queued, saved when it frees")

    def _check_busy(self) -> None:
        if self.writer is not None and self.writer.waiting_s() > BUSY_AFTER_S:
            self._on_busy()

    def _on_saved(self, review: dict[str, Any]) -> None:
        if self.detail is not None and review["pair_id"] == self.detail["pair_id"]:
            self.history.show_history(pair_history(self.store, review["pair_id"]))
        self._stats_timer.start()

    # -- statistics ----------------------------------------------------------------------------
    def refresh_stats(self) -> None:
        if self.store is None or self.session is None:
            return
        queue = self.session.queue
        flt = self.filters.pair_filter()
        if queue.kind == "qa" and not flt.statuses:
            qa_queue = queue
        else:
            qa_queue = browse.load_qa(self.store, flt, self.filters.checkpoint_path(), self.index)
        self.stats.show_stats(queue, browse.review_activity(self.store),
                              browse.qa_estimate(qa_queue))

    # -- actions (the window binds the keys: wsp_app/actions.py) ------------------------------
    def focus_pair(self) -> None:
        """Hand the keyboard back to the pair: no field keeps the focus, so the next keys are
        the window's review and navigation actions."""
        focused = QApplication.focusWidget()
        if focused is not None and self.isAncestorOf(focused):
            focused.clearFocus()

    def reset_filters(self) -> None:
        self.filters.reset()
        self.focus_pair()

    def go(self, position: int) -> None:
        if self.session is not None:
            self.session.go(position)
            self.show_current()

    def next(self) -> None:
        if self.session is not None:
            self.go(self.session.position + 1)

    def previous(self) -> None:
        if self.session is not None:
            self.go(self.session.position - 1)

    def first(self) -> None:
        self.go(0)

    def next_unreviewed(self) -> None:
        if self.session is None:
            return
        queue, start = self.session.queue, self.session.position + 1
        later = (queue.status[start:] == 0).nonzero()[0]
        if len(later):
            self.go(start + int(later[0]))
        else:
            self.status_changed.emit("no unreviewed pair after this one in the queue")

    def review(self, verdict: str, reason: str | None = None) -> None:
        if self.session is None or self.session.current is None:
            return
        step = self.session.review(verdict, reason)
        self._show_step(step.pair_id)

    def note(self) -> None:
        if self.session is None or self.session.current is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Note", "A note on this pair:")
        if ok and text.strip():
            step = self.session.annotate(text.strip())
            self._show_step(step.pair_id)

    def undo(self) -> None:
        self._replay("undo")

    def redo(self) -> None:
        self._replay("redo")

    def _replay(self, which: str) -> None:
        """Undo or redo: the verdicts on their way are committed first, then the session writes
        on condition that nobody changed the pair since (else it says whose verdict stands)."""
        if self.session is None:
            return
        if not self.writer.flush(timeout=10.0):
            self.status_changed.emit(f"not {which}ne: the store is busy; try again")
            return
        try:
            step = getattr(self.session, which)()
        except ReviewConflict as e:
            if self.session.current is not None:
                self._show_step(self.session.current)
            self.status_changed.emit(f"not {which}ne: {e.problem}")
            return
        if step is None:
            self.status_changed.emit(f"nothing to {which}")
            return
        self._show_step(step.pair_id)

    def _show_step(self, pair_id: int) -> None:
        position = self.session.queue.index_of(pair_id)
        row = self.model.row(position) if position is not None else None
        if row is not None:
            status, reason = self.session.state(pair_id)
            label = effective(restoring_verdict(status), row["auto_label"])[1]
            self.model.update_pair(pair_id, status, label, reason)
        self.show_current()

    def ask_to_wait(self) -> bool:
        """When closing with reviews still waiting for a locked store: wait (True) or not."""
        pending = self.writer.pending if self.writer else 0
        answer = QMessageBox.question(
            self, "Reviews not yet saved",
            f"{pending} reviews are waiting for the store, which another process is writing "
            "to. Wait for them to be saved?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
