"""Small widgets the tabs share."""

from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView,
                               QLineEdit, QTableWidget, QToolButton, QWidget)


def readonly_table(table: QTableWidget, columns: tuple[str, ...] | list[str]) -> QTableWidget:
    """A list of rows: the given headers, no editing, whole-row selection, columns sized to
    their contents with the last one stretched."""
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def path_row(edit: QLineEdit, parent: QWidget, folder: bool = False,
             title: str = "Choose a file", pattern: str = "") -> QWidget:
    """``edit`` with a "…" button that picks a file (or a folder) into it."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QToolButton()
    button.setText("…")

    def browse() -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(parent, title, edit.text())
        else:
            path, _ = QFileDialog.getOpenFileName(parent, title, edit.text(), pattern)
        if path:
            edit.setText(path)

    button.clicked.connect(browse)
    row.addWidget(button)
    return box
