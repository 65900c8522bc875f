"""The Jobs tab's list: every job the store records, started from the app or a terminal."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from wsp_core.store.db import Store
from wsp_core.store.jobs import list_jobs

from .widgets import readonly_table

COLUMNS = ("job", "kind", "status", "run folder", "started")


class JobList(QTableWidget):
    """The newest job first; each row carries its job (``list_jobs``' dict)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        readonly_table(self, COLUMNS)

    def refresh(self, store: Store | None) -> None:
        """Read the jobs again, keeping the selection (a busy or vanished store: the last
        list stays)."""
        if store is None:
            return
        try:
            rows = list_jobs(store)
        except Exception:  # noqa: BLE001 - a busy or vanished store: keep the last list
            return
        selected = self.selected_job()
        self.setRowCount(len(rows))
        for r, job in enumerate(reversed(rows)):
            values = (str(job["id"]), job["kind"], job["status"], job["run_dir"] or "",
                      job["created_at"].replace("T", " ")[:19])
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, job)
                self.setItem(r, c, item)
            if selected is not None and job["id"] == selected["id"]:
                self.selectRow(r)

    def selected_jobs(self) -> list[dict[str, Any]]:
        rows = sorted({item.row() for item in self.selectedItems()})
        return [self.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def selected_job(self) -> dict[str, Any] | None:
        items = self.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None
