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

from wsp_core.store.browse import Queue, pair_rows
from wsp_core.store.db import Store

from .widgets import status_colour

#: The status and label first: at the list's default width (330 px) they show beside the pair.
COLUMNS = ("#", "pair", "status", "label", "ΔS", "suspicion", "model P", "source", "image")
#: Fixed widths (px): sizing columns to their contents would read every row.
WIDTHS = (44, 50, 84, 58, 50, 64, 60, 96, 130)


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
            rows = pair_rows(self.store, ids, self.queue.checkpoint)
            self.page_reads += 1
            self._pages[page] = rows
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page)
        offset = position - page * self.page_size
        return rows[offset] if offset < len(rows) else None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole):
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
        PairStates; the rows they span are redrawn once."""
        positions = []
        for state in states:
            position = self.queue.index_of(state.pair_id)
            if position is None:
                continue
            row = self.row(position)  # read now, so a page read before the commit is mended
            if row is not None:
                row.update(status=state.status, label=state.label, reason=state.reason)
                positions.append(position)
        if positions:
            self.dataChanged.emit(self.index(min(positions), 0),
                                  self.index(max(positions), len(COLUMNS) - 1))


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
