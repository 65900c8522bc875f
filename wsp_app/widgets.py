"""Small widgets the tabs share."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QTableWidget, QToolButton, QWidget)

#: One colour per reviewed status (wsp_core.verdicts.REVIEWED), wherever a status is drawn.
STATUS_COLOURS = {"accept": "#2a7", "flip": "#e80", "ambiguous": "#a6c", "exclude": "#d33"}


def status_colour(status: str) -> QColor | None:
    """The status's colour (None for "auto": drawn in the default colour)."""
    colour = STATUS_COLOURS.get(status)
    return QColor(colour) if colour else None


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


def say(label: QLabel, text: str, error: bool = False) -> None:
    """Show ``text`` in a tab's message line, in red when it is an error."""
    label.setStyleSheet("color: #d33;" if error else "")
    label.setText(text)


def checkpoint_row(edit: QLineEdit, parent: QWidget) -> QWidget:
    """``edit`` with a "…" button that picks a 3D checkpoint."""
    return path_row(edit, parent, title="A 3D checkpoint", pattern="Checkpoints (*.pt)")


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
