"""The list of a queue's pairs: a Qt table model that pages rows in from the store.

The model holds only the queue's id array; the columns of a row are read, a page of rows at a
time, when the view first asks to paint it, and a few pages are kept. A queue of 220,000 pairs
costs the list one page query, never a whole table.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtWidgets import QTableView

from wsp_core.errors import StoreError
from wsp_core.store.browse import Queue, pair_rows
from wsp_core.store.db import Store

from .widgets import status_colour

#: The status and label first: at the list's default width (330 px) they show beside the pair.
COLUMNS = ("#", "pair", "status", "label", "ΔS", "suspicion", "model P", "source", "image")
#: Fixed widths (px): sizing columns to their contents would read every row.
WIDTHS = (44, 50, 84, 58, 50, 64, 60, 96, 130)
_ROLES = frozenset((Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole))


class QueueModel(QAbstractTableModel):
    def __init__(self, store: Store, queue: Queue, page_size: int = 200, pages: int = 16,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.queue = queue
        self.page_size = page_size
        self.max_pages = pages
        self._pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self.page_reads = 0  # pages read from the store (tests check the paging)
        #: the newest state the desk announced per pair (pair id → status, label, reason),
        #: laid over every page as it is read: a page read before the writer has committed
        #: a verdict still shows it, and no page is read just to mend it
        self._states: dict[int, dict[str, Any]] = {}

    def set_store(self, store: Store) -> None:
        """Another store: its pages and states replace this one's."""
        self.store = store
        self._states.clear()

    def set_queue(self, queue: Queue) -> None:
        self.beginResetModel()
        self.queue = queue
        self._pages.clear()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.queue)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def row(self, position: int) -> dict[str, Any] | None:
        """The columns of the pair at ``position`` of the queue (reads its page if needed)."""
        if not 0 <= position < len(self.queue):
            return None
        page = position // self.page_size
        rows = self._pages.get(page)
        if rows is None:
            start = page * self.page_size
            ids = self.queue.ids[start:start + self.page_size]
            try:
                rows = pair_rows(self.store, ids, self.queue.checkpoint)
            except StoreError:
                return None  # the server is away (the window says so): empty, read when back
            self.page_reads += 1
            for row in rows:
                row.update(self._states.get(row["pair_id"], ()))
            self._pages[page] = rows
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        offset = position - page * self.page_size
        return rows[offset] if offset < len(rows) else None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        # the role first: a cell's paint asks for about ten roles, two of which are answered
        if role not in _ROLES or not index.isValid():
            return None
        row = self.row(index.row())
        if row is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole:
            return status_colour(row["status"]) if column in ("status", "label") else None
        return _cell(column, index.row(), row)

    def update_pairs(self, states) -> None:
        """Show reviews at once (before their pages are read again): ``states`` are the desk's
        PairStates; only their status and label cells are redrawn, each run of adjacent rows
        once (one range from the first to the last would repaint every row on screen between
        them: ≈ 20 ms for an image's verdicts spread over the queue). A page not read yet is
        not read now: the state is laid over it when it is."""
        positions = []
        for state in states:
            shown = {"status": state.status, "label": state.label, "reason": state.reason}
            self._states[state.pair_id] = shown
            position = self.queue.index_of(state.pair_id)
            if position is None:
                continue
            positions.append(position)
            page = self._pages.get(position // self.page_size)
            offset = position % self.page_size
            if page is not None and offset < len(page):
                page[offset].update(shown)
        first, last = COLUMNS.index("status"), COLUMNS.index("label")
        for start, stop in _runs(sorted(positions)):
            self.dataChanged.emit(self.index(start, first), self.index(stop, last))


def _runs(positions: list[int]) -> list[tuple[int, int]]:
    """Sorted positions as runs of adjacent ones, each (first, last)."""
    runs: list[tuple[int, int]] = []
    for position in positions:
        if runs and position <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], position))
        else:
            runs.append((position, position))
    return runs


def _cell(column: str, position: int, row: dict[str, Any]) -> str:
    if column == "#":
        return str(position + 1)
    if column == "pair":
        return str(row["pair_id"])
    if column == "status":
        return row["status"] + (f" ({row['reason']})" if row["reason"] else "")
    if column == "label":
        return {1: "A closer", 0: "B closer"}.get(row["label"], "not used")
    if column == "ΔS":
        return "–" if row["delta_s"] is None else f"{row['delta_s']:.3f}"
    if column == "suspicion":
        return f"{row['suspicion']:.2f}"
    if column == "model P":
        return "–" if row["prob"] is None else f"{row['prob']:.2f}"
    return str(row[column])


class QueueTable(QTableView):
    """The queue's list; the current pair stays in view when the list is resized."""

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        current = self.currentIndex()
        if current.isValid():
            self.scrollTo(current)
