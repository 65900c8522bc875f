"""The Jobs tab's run view: a job's progress and ETA, its live loss and metric curves, its log,
its result, and the comparison of several runs (curves overlaid, configs side by side)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QSplitter,
                               QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from wsp_core.launch import TRAINING, JobProgress, format_result
from wsp_core.runs import Run, config_table, curve

from .scene import person_colour
from .widgets import readonly_table


def _monospace() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.TypeWriter)
    return font


def _rgb255(rgb: tuple[float, float, float]) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in rgb)  # type: ignore[return-value]


class RunView(QWidget):
    """What one job shows while it runs and when it ends."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress_bar = QProgressBar()
        self.eta = QLabel("")
        self.loss_plot = pg.PlotWidget(title="training losses (per step, log scale)")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.addLegend(offset=(-4, 4))
        self.loss_plot.setLabel("bottom", "epoch")
        self.metric_plot = pg.PlotWidget(title="validation metrics (per epoch)")
        self.metric_plot.addLegend(offset=(-4, 4))
        self.metric_plot.setLabel("bottom", "epoch")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setFont(_monospace())
        self.result = QPlainTextEdit()
        self.result.setReadOnly(True)
        self.result.setFont(_monospace())
        self.configs = readonly_table(QTableWidget(), ("key",))
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.progress_bar, 1)
        bar.addWidget(self.eta)
        layout.addLayout(bar)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        layout.addWidget(plots, 2)
        self.outputs = QTabWidget()
        self.outputs.addTab(self.log, "Log")
        self.outputs.addTab(self.result, "Result")
        self.outputs.addTab(self.configs, "Configs")
        layout.addWidget(self.outputs, 1)

    # -- one job -----------------------------------------------------------------------------
    def clear(self) -> None:
        self.metric_plot.setTitle("validation metrics (per epoch)")
        for plot in (self.loss_plot, self.metric_plot):
            plot.clear()
            if plot.plotItem.legend is not None:
                plot.plotItem.legend.clear()
        self.curves = {}
        self.result.clear()
        self.eta.setText("")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)

    def started(self, command: str) -> None:
        self.clear()
        self.log.appendPlainText("$ " + command)
        self.progress_bar.setRange(0, 0)  # busy until the first progress event

    def line(self, text: str, event: str, progress: JobProgress) -> None:
        self.log.appendPlainText(text)
        if event == "step":
            self._draw_progress(progress)
            self._draw_curves(self.loss_plot, progress.step_curves, "step")
        elif event == "epoch":
            self._draw_curves(self.metric_plot, progress.epoch_curves(), "epoch")

    def finished(self, kind: str, status: str, progress: JobProgress) -> None:
        self._draw_curves(self.metric_plot, progress.epoch_curves(), "epoch")
        self.progress_bar.setRange(0, 1000)
        if status == "finished":
            self.progress_bar.setValue(1000)
            self.eta.setText("done")
        else:  # stopped or failed: the bar stays where the run stopped
            if progress.fraction is not None:
                self.progress_bar.setValue(int(progress.fraction * 1000))
            self.eta.setText(status)
        if progress.result is not None and kind not in TRAINING:
            self.result.setPlainText(format_result(kind, progress.result))
            self.outputs.setCurrentWidget(self.result)

    def finished_epochs(self, progress: JobProgress) -> None:
        """The epochs a resumed run did before (its metrics.jsonl), drawn at once."""
        self._draw_curves(self.metric_plot, progress.epoch_curves(), "epoch")

    def _draw_progress(self, progress: JobProgress) -> None:
        if progress.fraction is not None:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(progress.fraction * 1000))
        if progress.eta_s is not None:
            minutes, seconds = divmod(int(progress.eta_s), 60)
            self.eta.setText(f"ETA {minutes}:{seconds:02d}")

    def _draw_curves(self, plot: pg.PlotWidget, curves: dict, prefix: str) -> None:
        for k, (name, (xs, ys)) in enumerate(sorted(curves.items())):
            key = f"{prefix}:{name}"
            if key not in self.curves:
                self.curves[key] = plot.plot([], [], name=name, symbol="o" if prefix == "epoch"
                                             else None, symbolSize=5,
                                             pen=pg.mkPen(_rgb255(person_colour(k)), width=2))
            self.curves[key].setData(xs, ys)

    def show_past(self, kind: str, epochs: list[dict], result: dict | None,
                  status: str) -> None:
        """A job of the list that is not running: its run folder's epochs (the metrics and the
        epochs' mean losses) and its stored result."""
        self.clear()
        progress = JobProgress(epoch_rows=list(epochs))
        losses = {name: ([row["epoch"] + 1 for row in epochs if name in row],
                         [row[name] for row in epochs if name in row])
                  for name in ("loss", "loss_rd", "loss_hm") if any(name in r for r in epochs)}
        self._draw_curves(self.loss_plot, losses, "epoch-loss")
        self._draw_curves(self.metric_plot, progress.epoch_curves(), "epoch")
        self.eta.setText(status)
        self.progress_bar.setValue(1000 if status == "finished" else 0)
        if result:
            self.result.setPlainText(format_result(kind, result))

    # -- several runs ------------------------------------------------------------------------
    def compare(self, runs: list[Run], measure: str) -> None:
        """The runs' curves of ``measure`` overlaid in the metrics plot."""
        self.metric_plot.clear()
        if self.metric_plot.plotItem.legend is not None:
            self.metric_plot.plotItem.legend.clear()
        self.curves = {k: v for k, v in self.curves.items() if not k.startswith("epoch:")}
        self.metric_plot.setTitle(f"{measure} per epoch, {len(runs)} run(s)")
        for k, run in enumerate(runs):
            xs, ys = curve(run, measure)
            self.metric_plot.plot(xs, ys, name=run.name, symbol="o", symbolSize=5,
                                  pen=pg.mkPen(_rgb255(person_colour(k)), width=2))

    def show_configs(self, runs: list[Run]) -> None:
        """The runs' configs side by side, the differing keys first and highlighted."""
        table = sorted(config_table(runs), key=lambda row: not row[2])  # differences first
        self.configs.clear()
        self.configs.setColumnCount(1 + len(runs))
        self.configs.setHorizontalHeaderLabels(["key", *(run.name for run in runs)])
        self.configs.setRowCount(len(table))
        marked = QColor(255, 236, 179)
        for r, (key, values, differs) in enumerate(table):
            for c, text in enumerate((key, *values)):
                item = QTableWidgetItem(text)
                if differs:
                    item.setBackground(marked)
                    item.setToolTip("differs between the runs")
                self.configs.setItem(r, c, item)
        self.outputs.setCurrentWidget(self.configs)
