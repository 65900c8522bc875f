"""The side panels of the Pairs tab: the current pair's review history, and the statistics
(ΔS histogram, reviews over time, verdicts by reason, the QA accuracy estimate)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from wsp_core.store.browse import Queue
from wsp_core.verdicts import REVIEWED

from .widgets import STATUS_COLOURS, readonly_table

HISTORY_COLUMNS = ("time (UTC)", "verdict", "reason", "reviewer", "note")


class HistoryPanel(QTableWidget):
    """Every review of the current pair, oldest first (one pair's history is short); notes
    wrap onto several lines, and the full text is the cell's tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        readonly_table(self, HISTORY_COLUMNS)
        self.setWordWrap(True)

    def show_history(self, reviews: list[dict[str, Any]]) -> None:
        self.setRowCount(len(reviews))
        for row, review in enumerate(reviews):
            values = (review["created_at"].replace("T", " ")[:19], review["verdict"],
                      review["reason"] or "", review["reviewer"], review["note"] or "")
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == len(values) - 1 and value:
                    item.setToolTip(value)
                self.setItem(row, col, item)
        self.resizeRowsToContents()
        if reviews:
            self.scrollToBottom()


class NoteDialog(QDialog):
    """A note on the pair: Ctrl+Return saves it, Escape drops it (not modal: the window's keys
    rest while it has the focus)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Note on this pair")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("what a later reader should know about this pair")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.text.installEventFilter(self)  # the text field would take Ctrl+Return as a newline
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Ctrl+Return saves the note; it changes nothing else."))
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(460, 220)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if (event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.accept()
            return True
        return super().eventFilter(watched, event)

    def note(self) -> str:
        return self.text.toPlainText().strip()


#: Room a time tick's label needs on the axis (px), so that labels never overlap.
TICK_PX = 90


def time_ticks(times: list[str], width_px: int) -> list[tuple[int, str]]:
    """Ticks for bars of hours ("2026-12-02 17:00") or days: as many as the width holds, a
    label saying the day only where it changes ("12-02 17:00", then "18:00")."""
    if not times:
        return []
    room = max(1, width_px // TICK_PX)
    step = max(1, -(-len(times) // room))
    ticks, last_day = [], None
    for i in range(0, len(times), step):
        day, _, hour = times[i].partition(" ")
        ticks.append((i, (day[5:] + " " + hour if day != last_day else hour).strip()))
        last_day = day
    return ticks


def qa_text(estimate: dict[str, Any]) -> str:
    """The QA estimate in one line of rich text."""
    if estimate["accuracy"] is None:
        return ("<b>QA estimate:</b> no sample yet: review the <i>random QA sample</i> queue "
                "from its start")
    low, high = estimate["ci95"]
    judged = estimate["right"] + estimate["wrong"]
    return (f"<b>Automatic labels right: {estimate['accuracy']:.1%}</b> "
            f"(95% CI {low:.1%}–{high:.1%}; {estimate['right']} of {judged} judged in a random "
            f"sample of {estimate['sample']}, {estimate['ambiguous']} ambiguous, "
            f"{estimate['excluded']} excluded)")


class StatsPanel(QWidget):
    """pyqtgraph plots of the filtered pairs and of the reviews."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.qa_label = QLabel()
        self.qa_label.setWordWrap(True)
        layout.addWidget(self.qa_label)
        self.team_label = QLabel()
        self.team_label.setWordWrap(True)
        self.team_label.setObjectName("team")
        for label in (self.qa_label, self.team_label):  # their lines never squeezed by the plots
            label.setMinimumHeight(3 * label.fontMetrics().lineSpacing())
        layout.addWidget(self.team_label)
        self.curators = readonly_table(QTableWidget(0, 4), ("curator", "verdicts",
                                                           "s / verdict", "mix"))
        self.curators.setObjectName("curators")
        self.curators.setMaximumHeight(130)
        layout.addWidget(self.curators)
        self.plots = pg.GraphicsLayoutWidget()
        layout.addWidget(self.plots, 1)
        self.hist = self.plots.addPlot(row=0, col=0, title="ΔS of the filtered pairs")
        self.hist.setLabel("bottom", "ΔS")
        self.hist.setLabel("left", "pairs")
        self.timeline = self.plots.addPlot(row=1, col=0, title="reviews over time")
        self.reasons = self.plots.addPlot(row=2, col=0, title="reviewed pairs by reason")
        self.reasons.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.last: dict[str, Any] = {}

    def show_stats(self, queue: Queue, activity: dict[str, Any],
                   estimate: dict[str, Any], team: dict[str, Any] | None = None) -> None:
        self.qa_label.setText(qa_text(estimate))
        self._histogram(queue.delta_s)
        self._timeline(activity)
        self._reasons(activity["verdicts_by_reason"])
        if team is not None:
            self._team(team)
        self.last = {"estimate": estimate, "activity": activity, "team": team}

    def _team(self, team: dict[str, Any]) -> None:
        """Each curator's counts, speed and verdict mix; the agreement; the consensus rule."""
        settings, agree = team["settings"], team["agreement"]
        kappa = "-" if agree["kappa"] is None else f"{agree['kappa']:.2f}"
        self.team_label.setText(
            f"<b>Team:</b> consensus {settings.consensus}, double review "
            f"{100 * settings.double_review:.0f} %<br>"
            + (f"Cohen's κ {kappa} on {agree['pairs']} pairs two curators judged; "
               f"{len(agree['disagreements'])} disagree"
               if agree["pairs"] else "no pair judged by two curators yet"))
        rows = team["curators"]
        self.curators.setRowCount(len(rows))
        for r, c in enumerate(rows):
            speed = "-" if c["median_s"] is None else f"{c['median_s']:.1f}"
            mix = ", ".join(f"{k} {v}" for k, v in sorted(c["mix"].items()))
            for col, value in enumerate((c["reviewer"], str(c["verdicts"]), speed, mix)):
                self.curators.setItem(r, col, QTableWidgetItem(value))

    def _histogram(self, delta_s: np.ndarray) -> None:
        self.hist.clear()
        values = delta_s[~np.isnan(delta_s)]
        if not len(values):
            return
        counts, edges = np.histogram(values, bins=min(40, max(5, len(values) // 20)))
        self.hist.plot(edges, counts, stepMode="center", fillLevel=0,
                       brush=(46, 196, 255, 120), pen=pg.mkPen("#2ec4ff"))

    def _timeline(self, activity: dict[str, Any]) -> None:
        self.timeline.clear()
        times, counts = activity["times"], activity["counts"]
        self.timeline.setLabel("bottom", f"{activity['bucket']} (UTC)")
        if not times:
            return
        x = np.arange(len(times))
        self.timeline.addItem(pg.BarGraphItem(x=x, height=counts, width=0.8, brush="#ff9f1c"))
        self.timeline.getAxis("bottom").setTicks([time_ticks(times, self.width())])

    def _reasons(self, rows: list[dict[str, Any]]) -> None:
        self.reasons.clear()
        if self.reasons.legend is not None:
            self.reasons.legend.clear()
        if not rows:
            return
        reasons = sorted({r["reason"] or "none" for r in rows})
        width = 0.8 / len(REVIEWED)
        for k, status in enumerate(REVIEWED):
            heights = [sum(r["pairs"] for r in rows
                           if r["status"] == status and (r["reason"] or "none") == reason)
                       for reason in reasons]
            if any(heights):
                x = np.arange(len(reasons)) - 0.4 + (k + 0.5) * width
                self.reasons.addItem(pg.BarGraphItem(x=x, height=heights, width=width,
                                                     brush=STATUS_COLOURS[status], name=status))
        self.reasons.getAxis("bottom").setTicks([list(enumerate(reasons))])
        self.reasons.setXRange(-0.6, len(reasons) - 0.4, padding=0)
