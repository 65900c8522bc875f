"""The Pairs tab: filters and the queue list on the left, the pair in the middle, its labels,
history and the statistics on the right.

The rules live in the core's :class:`wsp_core.desk.Desk` (the queue, the cursor, the verdicts,
undo); this tab turns key presses and filter changes into calls on it and draws what its events
announce. Every verdict goes to the review writer thread at once."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSocketNotifier, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QMessageBox, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from wsp_core.desk import Desk, View
from wsp_core.errors import WspError
from wsp_core.journal import Journal
from wsp_core.store import browse
from wsp_core.store.browse import PairDetail
from wsp_core.store.db import Store
from wsp_core.store.queries import default_reviewer
from wsp_core.store.server import ReviewListener

from .background import Background
from .filters import FilterPanel
from .images import ImageLoader
from .pair_list import COLUMNS, WIDTHS, QueueModel, QueueTable
from .pair_view import PairInfo, PairStrip, PairView
from .panels import HistoryPanel, NoteDialog, StatsPanel
from .writer import ReviewWriter

log = logging.getLogger(__name__)

PREFETCH = 4
#: The list's columns the blind mode hides.
BLIND_COLUMNS = ("status", "label", "suspicion", "model P")
#: A review write that has waited this long is waiting for another process: say so.
BUSY_AFTER_S = 1.0


class PairsTab(QWidget):
    """Browse and review the pairs of one store."""

    status_changed = Signal(str)
    error = Signal(str)
    #: the depth-order or the blind mode started or ended (the window enables their keys)
    ordering_changed = Signal()

    def __init__(self, parent: QWidget | None = None, reviewer: str | None = None) -> None:
        super().__init__(parent)
        self.reviewer = reviewer
        self.desk = Desk(reviewer)
        self.desk.defer_learned = True   # the learned queue's features read on the worker
        self.desk.subscribe(self._on_desk)
        self.writer: ReviewWriter | None = None
        #: the depth-order mode: the ranks given so far (person id → rank), None outside it
        self.ordering: dict[int, int] | None = None
        self._ordering_image: int | None = None
        #: the blind mode: the automatic label hidden; on in the QA queue unless the curator
        #: chose otherwise (Ctrl+B)
        self.blind = False
        self._blind_chosen = False
        # Qt objects get a parent: Qt deletes them on the GUI thread, never Python's garbage
        # collector on whichever thread (the review writer, an image read) happens to run it.
        self.loader = ImageLoader(parent=self)
        self.loader.loaded.connect(self._on_image_loaded)
        self.filters = FilterPanel()
        self.filters.changed.connect(self.apply_filters)
        self.filters.done.connect(self.focus_pair)
        self.model = QueueModel(None, browse.Queue.empty(), parent=self)  # type: ignore[arg-type]
        self.table = QueueTable()
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
        self.strip = PairStrip()
        self.loader.region_loaded.connect(self.strip.show_region)
        self.strip.setVisible(False)
        self.view.pressed.connect(self.focus_pair)
        self.view.person_clicked.connect(self._rank_person)
        self.info = PairInfo()
        self.history = HistoryPanel()
        self.stats = StatsPanel()
        self._rerank_timer = QTimer(self, singleShot=True, interval=self.RERANK_DELAY_MS)
        self.background = Background(self)  # the learned queue's fit, off the GUI thread
        self._rerank_timer.timeout.connect(self._rerank)
        self._stats_timer = QTimer(self, singleShot=True, interval=1500)
        self._stats_timer.timeout.connect(self.refresh_stats)
        self._busy_timer = QTimer(self, interval=500)
        self._busy_timer.timeout.connect(self._check_busy)
        self._busy_timer.start()
        #: why the store's server cannot be reached now (None: it can)
        self._offline: str | None = None
        self.journal: Journal | None = None
        self.listener: ReviewListener | None = None
        self._notifier: QSocketNotifier | None = None
        self._poll_timer = QTimer(self, interval=self.POLL_MS)
        self._poll_timer.timeout.connect(self.poll)
        self._poll_timer.start()
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
        side.currentChanged.connect(lambda _i: self._show_history())
        side.currentChanged.connect(lambda _i: self.refresh_stats()
                                    if side.currentWidget() is self.stats else None)
        self.side = side
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.view)
        middle.addWidget(self.strip)
        middle.setStretchFactor(0, 1)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([330, 800, 330])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    # -- what the desk holds ------------------------------------------------------------------
    @property
    def store(self) -> Store | None:
        return self.desk.store

    @property
    def session(self):
        return self.desk.session

    @property
    def detail(self) -> PairDetail | None:
        return self.desk.detail

    # -- the store ----------------------------------------------------------------------------
    def open(self, store: Store, queue_kind: str | None = None, pair_id: int | None = None) -> None:
        """Show a store (the caller opened it); ``queue_kind`` and ``pair_id`` restore where the
        curator was."""
        self.close_store()
        self.journal = Journal.of(store, self.reviewer or default_reviewer())
        self.writer = ReviewWriter(store, self.reviewer, journal=self.journal)
        self.writer.saved.connect(self._on_saved)
        self.writer.pending_changed.connect(self._on_pending)
        self.writer.busy.connect(self._on_busy)
        self.writer.offline.connect(self._on_offline)
        self.writer.failed.connect(self.error)
        self._listen(store)
        left = self.journal.pending_batches()  # an earlier session's, not yet in the store
        if left:
            self.writer.resume(left)
            self.status_changed.emit(f"{sum(map(len, left))} reviews of an earlier session "
                                     "found in the journal: writing them")
        self.model.set_store(store)
        self.desk.attach(store, self.writer)  # announces the sources: the filters list them
        if queue_kind in browse.QUEUES:
            self.filters.blockSignals(True)
            self.filters.set_queue_kind(queue_kind)
            self.filters.blockSignals(False)
        self._follow_queue_kind()
        self.desk.set_view(self._view(), pair_id)
        self.refresh_stats()

    def close_store(self, timeout: float = 30.0) -> bool:
        """Write what is pending, then let the store go. False when reviews are still waiting
        (the store stayed locked by another process): nothing is closed then."""
        if self.writer is not None:
            if not self.writer.flush(timeout):
                if self._offline is None:
                    return False
                self.writer.abandon()  # the server is away: the journal keeps the reviews
            self.writer.close(timeout)
            self.writer = None
            self.journal.close()
            self._offline = None
        self.loader.wait(2000)
        self._stop_listening()
        if self.desk.is_open:
            self.desk.close()
        return True

    def _view(self) -> View:
        return View(self.filters.pair_filter(), self.filters.queue_kind(),
                    self.filters.checkpoint_path())

    def apply_filters(self) -> None:
        """The filter panel changed: a new queue, staying on the current pair when it is in it."""
        self._follow_queue_kind()
        self.desk.set_view(self._view())
        self.refresh_stats()

    def refresh(self) -> None:
        """Re-read everything (another process may have written: an import, a score job)."""
        self.desk.refresh()
        self.refresh_stats()

    # -- the desk's events ---------------------------------------------------------------------
    def _on_desk(self, event: str, payload: Any) -> None:
        if event == "sources":
            self.filters.blockSignals(True)
            self.filters.set_sources(self.desk.sources())
            self.filters.set_checkpoints(self.desk.checkpoints(), fresh=payload)
            self.filters.blockSignals(False)
        elif event == "queue":
            self.model.set_queue(payload)
            self._rerank_later()         # a learned queue's first ranking, when it is due
        elif event == "pair":
            self._show_pair(payload)
        elif event == "states":
            self.model.update_pairs(payload)
        elif event == "message":
            self.status_changed.emit(payload)
        elif event == "error":
            self.error.emit(payload)

    def _show_pair(self, detail: PairDetail | None) -> None:
        if self.ordering is not None and (detail is None
                                          or detail.image_id != self._ordering_image):
            self._end_order()
        if detail is None:
            self.view.clear()
            self.info.show_pair(None)
            self.history.show_history([])
            self._announce()
            return
        loaded = self.loader.get(detail.image)
        if loaded is None:
            self.loader.request(detail.image)
        self.view.show_pair(detail, loaded, self._order_view())
        self._show_strip()
        self.info.show_pair(detail, self.blind)
        self._show_history()
        self._select_row()
        self.loader.prefetch(self.desk.upcoming_images(PREFETCH))
        self._announce()

    def show_current(self) -> None:
        self.desk.show_current()

    def _select_row(self) -> None:
        index = self.model.index(self.desk.position, 0)
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _on_image_loaded(self, path: str) -> None:
        if self.detail is not None and self.detail.image == path:
            self.view.show_pair(self.detail, self.loader.get(path), self._order_view())
            self._show_strip()

    def _show_strip(self) -> None:
        """A and B side by side; from a shrunk picture at once, then at the file's full
        resolution when read (off the GUI thread)."""
        if self.strip.isVisible() and self.detail is not None:
            image = self.detail.image
            for key, rect in self.strip.show_pair(self.detail, self.loader.get(image)):
                self.loader.request_region(key, image, rect)

    def toggle_strip(self) -> None:
        self.strip.setVisible(not self.strip.isVisible())
        self._show_strip()

    def _announce(self) -> None:
        self.status_changed.emit(self.desk.progress_text())

    def _on_pending(self, count: int) -> None:
        if count == 0 and self._offline is not None:
            self._offline = None  # the server is back: everything went in
            self.journal.compact()
        self._announce()

    def _on_offline(self, message: str) -> None:
        self._offline = message
        self.status_changed.emit(
            f"{message} · {self.writer.pending if self.writer else 0} reviews kept in the "
            "journal on disk, written when it is back")

    def _listen(self, store: Store) -> None:
        """On a server store, hear the others' reviews as they are committed (LISTEN/NOTIFY);
        the poll stays as the fallback (and is all there is on SQLite)."""
        self._stop_listening()
        if not store.server:
            return
        try:
            self.listener = ReviewListener(store)
        except WspError as e:
            self.status_changed.emit(f"not listening for the others' verdicts ({e}); "
                                     f"reading them every {self.POLL_MS // 1000} s")
            return
        self._notifier = QSocketNotifier(self.listener.fileno(), QSocketNotifier.Type.Read,
                                         self)
        self._notifier.activated.connect(self._heard)

    def _heard(self, *_args) -> None:
        try:
            if self.listener is not None and self.listener.heard():
                self.poll()
        except Exception as e:  # noqa: BLE001 - a lost connection: the poll takes over
            self.status_changed.emit(f"not listening any more ({e}); reading the others' "
                                     f"verdicts every {self.POLL_MS // 1000} s")
            self._stop_listening()

    def _stop_listening(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def poll(self) -> None:
        """Other curators' verdicts (and the statistics) show without a restart."""
        if not self.desk.is_open or self._offline is not None:
            return
        try:
            if self.desk.poll():
                self._stats_timer.start()
        except WspError as e:
            self.status_changed.emit(f"cannot read the others' verdicts: {e}")

    def _on_busy(self, _message: str = "") -> None:
        self.status_changed.emit(
            f"waiting for the store (another process is writing): "
            f"{self.writer.pending if self.writer else 0} reviews queued, saved when it frees")

    def _check_busy(self) -> None:
        if self.writer is not None and self.writer.waiting_s() > BUSY_AFTER_S \
                and self._offline is None:
            self._on_busy()

    def _show_history(self) -> None:
        """The current pair's reviews, read only while the History tab is shown (a query less
        per pair otherwise; switching to the tab reads them)."""
        if self.side.currentWidget() is self.history:
            try:
                self.history.show_history(self.desk.history())
            except WspError as e:
                self.status_changed.emit(f"history not read: {e}")

    def _on_saved(self, review: dict[str, Any]) -> None:
        if self.detail is not None and review["pair_id"] == self.detail.pair_id:
            self._show_history()
        self._stats_timer.start()

    # -- statistics ----------------------------------------------------------------------------
    def refresh_stats(self) -> None:
        if not self.desk.is_open:
            return
        shown = self.side.currentWidget() is self.stats
        try:
            stats = self.desk.statistics(team=shown)
        except WspError as e:  # a server away: the panel keeps what it showed
            self.status_changed.emit(f"statistics not read: {e}")
            return
        self.stats.show_stats(stats["queue"], stats["activity"], stats["qa"], stats.get("team"))

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
        self.desk.go(position)

    def next(self) -> None:
        self.desk.next()

    def previous(self) -> None:
        self.desk.previous()

    def first(self) -> None:
        self.desk.first()

    def next_unreviewed(self) -> None:
        self.desk.next_unreviewed()

    def review(self, verdict: str, reason: str | None = None) -> None:
        self.desk.review(verdict, reason)
        self._rerank_later()

    #: How long after a verdict the learned queue is ranked again: after the next pair is
    #: painted, so the key press that gave the verdict never waits for it.
    RERANK_DELAY_MS = 60
    #: how often the desk looks for the verdicts other curators wrote (ms)
    POLL_MS = 3000

    def _rerank_later(self) -> None:
        if self.desk.rerank_due and not self._rerank_timer.isActive():
            self._rerank_timer.start()

    def _rerank(self) -> None:
        """The learned queue's fit runs on the worker thread; its new order is shown when it
        comes back (unless the curator changed the queue meanwhile)."""
        if self.ordering is None and self.desk.rerank_due:
            work = self.desk.rerank_work()
            if work is not None:
                self.background.run(work, self._reranked, self._rerank_failed, channel="rerank")

    def _reranked(self, result) -> None:
        if self.ordering is None and self.desk.apply_rerank(result):
            self.status_changed.emit("learned queue ranked from your verdicts")

    def _rerank_failed(self, text: str) -> None:
        self.desk.rerank_failed()
        log.warning("re-ranking the learned queue failed: %s", text)
        self.status_changed.emit(f"the learned queue could not be ranked again: {text}")

    def note(self) -> None:
        """A note on the pair shown, recorded as a note (the pair keeps its state): the dialog
        saves it with Ctrl+Return on the pair it was opened for."""
        pair = self.desk.current
        if pair is None:
            return
        dialog = NoteDialog(self)
        self.note_dialog = dialog

        def save() -> None:
            if dialog.note() and self.desk.current == pair:
                self.desk.annotate(dialog.note())
            self.focus_pair()

        dialog.accepted.connect(save)
        dialog.open()
        dialog.text.setFocus()

    # -- the view -----------------------------------------------------------------------------
    def cycle_overlays(self) -> None:
        self.status_changed.emit(f"overlays {self.view.cycle_overlays()} (H)")

    def toggle_keep_zoom(self) -> None:
        self.view.keep_zoom = not self.view.keep_zoom
        self.status_changed.emit("the zoom is kept from pair to pair" if self.view.keep_zoom
                                 else "each pair starts fitted to the view")

    def adjust_picture(self, brightness: float = 0.0, contrast: float = 1.0) -> None:
        self.status_changed.emit(self.view.adjust(brightness, contrast))

    # -- the blind mode ----------------------------------------------------------------------
    def _follow_queue_kind(self) -> None:
        if not self._blind_chosen:
            self.set_blind(self.filters.queue_kind() == "qa")

    def toggle_blind(self) -> None:
        self._blind_chosen = True
        self.set_blind(not self.blind)
        self.status_changed.emit("blind mode: the automatic label is hidden; A, B or S answers"
                                 if self.blind else "blind mode off: the automatic label shows")

    def set_blind(self, on: bool) -> None:
        """Hide (or show) the automatic label and what gives it away: the label panel's label,
        status and scores, the list's columns, the ankle marks."""
        if on == self.blind:
            return
        self.blind = on
        self.view.blind = on
        for column in BLIND_COLUMNS:
            self.table.setColumnHidden(COLUMNS.index(column), on)
        if self.detail is not None:
            self._redraw()
            self.info.show_pair(self.detail, on)
        self.ordering_changed.emit()

    def toggle_practice(self) -> None:
        desk = self.desk
        desk.practice = not desk.practice
        self.status_changed.emit(
            "practice mode: the 3D truth follows each verdict (blind mode, Ctrl+B, hides the "
            "label)" if desk.practice else
            f"practice mode off: {desk.practice_right} of {desk.practice_judged} right")

    def answer(self, which: str) -> None:
        """A blind answer: "a", "b" or "same" (the desk derives the verdict)."""
        self.desk.answer(which)
        self._rerank_later()

    # -- the depth-order mode: a whole image at once -------------------------------------------
    def start_order(self) -> None:
        """Number the image's persons from the nearest by clicking them; Return writes every
        pair of the image (Desk.order_image), Escape leaves."""
        persons = self.desk.image_persons()
        if len(persons) < 2:
            self.status_changed.emit("no pair to order here")
            return
        self.ordering, self._ordering_image = {}, self.detail.image_id
        self.focus_pair()
        self._redraw()
        self.ordering_changed.emit()
        self._say_order()

    def _rank_person(self, person_id: int, same_depth: bool) -> None:
        """A click: the person gets the next rank (Shift: the last rank given, the same
        depth); a click on a numbered person takes it and the later ones back."""
        if self.ordering is None:
            return
        ranks = self.ordering
        if person_id in ranks:
            cut = ranks[person_id]
            self.ordering = {p: r for p, r in ranks.items() if r < cut}
        else:
            last = max(ranks.values(), default=-1)
            ranks[person_id] = last if same_depth and last >= 0 else last + 1
        self._redraw()
        self._say_order()

    def finish_order(self) -> None:
        if self.ordering is None:
            return
        ranks = self.ordering
        if len(ranks) < 2:
            self.status_changed.emit("depth order: number at least two persons (click them "
                                     "from the nearest), or Escape")
            return
        self._end_order()
        self.desk.order_image(ranks)
        self._rerank_later()

    def cancel_order(self) -> None:
        if self.ordering is not None:
            self._end_order()
            self._redraw()
            self._announce()

    def _end_order(self) -> None:
        self.ordering, self._ordering_image = None, None
        self.view.pickable = None
        self.ordering_changed.emit()

    def _order_view(self):
        if self.ordering is None:
            return None
        return self.desk.image_persons(), dict(self.ordering)

    def _redraw(self) -> None:
        if self.detail is not None:
            self.view.show_pair(self.detail, self.loader.get(self.detail.image),
                                self._order_view())

    def _say_order(self) -> None:
        total = len(self.desk.image_persons())
        self.status_changed.emit(
            f"depth order: {len(self.ordering)} of {total} persons numbered · click the next "
            "nearest (Shift: same depth as the last) · Return writes the image's pairs · "
            "Escape leaves")

    def undo(self) -> None:
        self.desk.undo()

    def redo(self) -> None:
        self.desk.redo()

    def ask_to_wait(self) -> bool:
        """When closing with reviews still waiting for a locked store: wait (True) or not."""
        pending = self.writer.pending if self.writer else 0
        answer = QMessageBox.question(
            self, "Reviews not yet saved",
            f"{pending} reviews are waiting for the store, which another process is writing "
            "to. Wait for them to be saved?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
