"""The Jobs tab: launch a ``wsp-core`` job from a form, watch it, cancel or resume it.

The job runs in its own process (QProcess), the very command a terminal would run
(wsp_core.launch builds it); the GUI never trains in its own process. One job runs at a time.
Training jobs print ``--progress jsonl`` events (progress, ETA, curves); the others print their
result as JSON at the end (evaluation tables are shown formatted). Jobs are kept in the store's
jobs table: training commands record themselves, the tab records the others; jobs started from
a terminal appear too. "Compare runs" reads the selected training jobs' run folders
(wsp_core.runs): their curves of one measure overlaid, their configs side by side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFont
from PySide6.QtWidgets import (QComboBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from wsp_core.errors import InputError, WspError
from wsp_core.launch import KINDS, TRAINING, JobProgress, format_result, job_command, run_folder
from wsp_core.runs import Run, config_table, curve, measures, read_run
from wsp_core.store.db import Store
from wsp_core.store.jobs import finish_job, list_jobs, start_job

from .process import JobRunner
from .scene import person_colour
from .widgets import path_row, readonly_table, say

SELF_RECORDING = ("pretrain", "finetune")  # these write their own row in the jobs table


def _monospace() -> QFont:
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.TypeWriter)
    return font


def _rgb255(rgb: tuple[float, float, float]) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in rgb)  # type: ignore[return-value]


class JobsTab(QWidget):
    """Form, job list, progress, curves, log and result."""

    error = Signal(str)
    job_finished = Signal(str, str)  # kind, status

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Store | None = None
        self.runner: JobRunner | None = None
        self._job_row: int | None = None  # the store's row of a job this tab records
        self._inputs: dict[str, QWidget] = {}
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.kind.currentTextChanged.connect(self._build_form)
        self.form = QFormLayout()
        self.launch_button = QPushButton("Launch")
        self.launch_button.clicked.connect(self.launch)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("continue the stopped training run in the run folder")
        self.resume_button.clicked.connect(self.resume)
        self.open_button = QPushButton("Open run folder")
        self.open_button.clicked.connect(self.open_folder)
        self.compare_button = QPushButton("Compare runs")
        self.compare_button.setToolTip("the selected training runs' curves overlaid and their "
                                       "configs side by side (Ctrl or Shift selects several)")
        self.compare_button.clicked.connect(self.compare_runs)
        self.measure = QComboBox()
        self.measure.setToolTip("the measure the compared runs' curves show")
        self.measure.currentTextChanged.connect(self._draw_comparison)
        self.compared: list[Run] = []
        self.configs = readonly_table(QTableWidget(), ("key",))
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_bar = QProgressBar()
        self.eta = QLabel("")
        self.jobs = readonly_table(QTableWidget(),
                                   ("job", "kind", "status", "run folder", "started"))
        self.jobs.itemSelectionChanged.connect(self._on_job_selected)
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
        self._build()
        self._build_form(self.kind.currentText())
        self._poll = QTimer(self, interval=2000)  # jobs started elsewhere (the CLI) appear
        self._poll.timeout.connect(lambda: self.isVisible() and self.refresh_jobs())
        self._poll.start()
        self._update_buttons()

    def _build(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        top = QFormLayout()
        top.addRow("Kind", self.kind)
        column.addLayout(top)
        column.addLayout(self.form)
        buttons = QHBoxLayout()
        for button in (self.launch_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        column.addLayout(buttons)
        column.addWidget(self.open_button)
        compare = QHBoxLayout()
        compare.addWidget(self.compare_button)
        compare.addWidget(self.measure, 1)
        column.addLayout(compare)
        column.addWidget(self.message)
        column.addWidget(QLabel("Jobs in the store"))
        column.addWidget(self.jobs, 1)
        right = QWidget()
        watch = QVBoxLayout(right)
        bar = QHBoxLayout()
        bar.addWidget(self.progress_bar, 1)
        bar.addWidget(self.eta)
        watch.addLayout(bar)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        watch.addWidget(plots, 2)
        outputs = QTabWidget()
        outputs.addTab(self.log, "Log")
        outputs.addTab(self.result, "Result")
        outputs.addTab(self.configs, "Configs")
        self.outputs = outputs
        watch.addWidget(outputs, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([420, 980])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- the form ------------------------------------------------------------------------------
    def _build_form(self, kind: str) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._inputs = {}
        for f in KINDS[kind]:
            if f.kind == "choice":
                widget = QComboBox()
                widget.addItems(list(f.choices))
                widget.setCurrentText(f.default)
                row: QWidget = widget
            else:
                widget = QLineEdit(f.default)
                if f.help:
                    widget.setPlaceholderText(f.help)
                row = widget
                if f.kind in ("file", "dir"):
                    row = path_row(widget, self, folder=f.kind == "dir",
                                   title=f"Choose the {f.label}")
            if f.name == "db" and self.store is not None:
                widget.setText(str(self.store.path))
            widget.setToolTip(f.help)
            self.form.addRow(f.label + (" *" if f.required else ""), row)
            self._inputs[f.name] = widget

    def values(self) -> dict[str, str]:
        out = {}
        for name, widget in self._inputs.items():
            out[name] = widget.currentText() if isinstance(widget, QComboBox) else widget.text()
        return out

    def set_values(self, kind: str, values: dict[str, str]) -> None:
        """Fill the form (tests, and the job list's "use again")."""
        self.kind.setCurrentText(kind)
        for name, value in values.items():
            widget = self._inputs[name]
            if isinstance(widget, QComboBox):
                widget.setCurrentText(value)
            else:
                widget.setText(value)

    # -- the store -----------------------------------------------------------------------------
    def set_store(self, store: Store | None) -> None:
        self.store = store
        if store is not None and "db" in self._inputs and not self.values().get("db"):
            self._inputs["db"].setText(str(store.path))
        self.refresh_jobs()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh_jobs()

    def refresh_jobs(self) -> None:
        if self.store is None:
            return
        try:
            rows = list_jobs(self.store)
        except Exception:  # noqa: BLE001 - a busy or vanished store: keep the last list
            return
        selected = self._selected_job()
        self.jobs.setRowCount(len(rows))
        for r, job in enumerate(reversed(rows)):
            values = (str(job["id"]), job["kind"], job["status"], job["run_dir"] or "",
                      job["created_at"].replace("T", " ")[:19])
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, job)
                self.jobs.setItem(r, c, item)
            if selected is not None and job["id"] == selected["id"]:
                self.jobs.selectRow(r)

    def _selected_jobs(self) -> list[dict[str, Any]]:
        rows = sorted({item.row() for item in self.jobs.selectedItems()})
        return [self.jobs.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _selected_job(self) -> dict[str, Any] | None:
        items = self.jobs.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _on_job_selected(self) -> None:
        job = self._selected_job()
        if job is not None and job["error"]:
            self.message.setText(f"job {job['id']} failed: {job['error']}")
        elif job is not None and job["status"] == "died":
            self.message.setText(f"job {job['id']} died (its process is gone)"
                                 + ("; Resume continues it" if job.get("resumable") else ""))
        self._update_buttons()

    # -- comparing runs ------------------------------------------------------------------------
    def compare_runs(self) -> bool:
        """Read the selected training jobs' run folders; overlay their curves of one measure in
        the metrics plot and list their configs side by side, the differing keys first and
        highlighted."""
        folders = list(dict.fromkeys(job["run_dir"] for job in self._selected_jobs()
                                     if job["kind"] in TRAINING and job["run_dir"]))
        if not folders:
            self._fail("compare: select one or more training jobs that have a run folder")
            return False
        try:
            self.compared = [read_run(Path(folder)) for folder in folders]
        except InputError as e:
            self._fail(f"compare: {e}")
            return False
        current = self.measure.currentText()
        names = measures(self.compared)
        self.measure.blockSignals(True)
        self.measure.clear()
        self.measure.addItems(names)
        self.measure.setCurrentText(current if current in names else
                                    next((n for n in names if n.startswith("val_")),
                                         names[0] if names else ""))
        self.measure.blockSignals(False)
        self._draw_comparison()
        self._fill_configs(self.compared)
        self.outputs.setCurrentWidget(self.configs)
        say(self.message, f"comparing {len(self.compared)} run(s): "
                          + ", ".join(run.name for run in self.compared))
        return True

    def _draw_comparison(self) -> None:
        if not self.compared:
            return
        measure = self.measure.currentText()
        self.metric_plot.clear()
        if self.metric_plot.plotItem.legend is not None:
            self.metric_plot.plotItem.legend.clear()
        self.curves = {k: v for k, v in self.curves.items() if not k.startswith("epoch:")}
        self.metric_plot.setTitle(f"{measure} per epoch, {len(self.compared)} run(s)")
        for k, run in enumerate(self.compared):
            xs, ys = curve(run, measure)
            self.metric_plot.plot(xs, ys, name=run.name, symbol="o", symbolSize=5,
                                  pen=pg.mkPen(_rgb255(person_colour(k)), width=2))

    def _fill_configs(self, runs: list[Run]) -> None:
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

    # -- launching -----------------------------------------------------------------------------
    def launch(self) -> bool:
        kind, values = self.kind.currentText(), self.values()
        try:
            argv = job_command(kind, values)
        except WspError as e:
            self._fail(f"{kind}: {e}")
            return False
        return self._start(kind, argv, run_folder(kind, values), values)

    def resume(self) -> bool:
        job = self._selected_job()
        kind = job["kind"] if job and job["kind"] in TRAINING else self.kind.currentText()
        values = {"out": job["run_dir"]} if job and job["run_dir"] else self.values()
        if kind == "finetune" and self.store is not None:
            values = {**values, "db": str(self.store.path)}
        try:
            argv = job_command(kind, values, resume=True)
        except WspError as e:
            self._fail(f"resume: {e}")
            return False
        return self._start(kind, argv, run_folder(kind, values), values)

    def _start(self, kind: str, argv: list[str], folder: Path | None,
               values: dict[str, str]) -> bool:
        if self.runner is not None and self.runner.running():
            self._fail("a job is running: wait for it or cancel it first")
            return False
        self._clear_watch()
        self.runner = JobRunner(kind, argv, folder, self)
        self.runner.line.connect(self._on_line)
        self.runner.finished.connect(self._on_finished)
        self._record_start(kind, argv, folder, values)
        self.log.appendPlainText("$ wsp-core " + " ".join(argv[3:]))
        say(self.message, f"{kind} running…")
        self.progress_bar.setRange(0, 0)  # busy until the first progress event
        self.runner.start()
        self._update_buttons()
        return True

    def _record_start(self, kind: str, argv: list[str], folder: Path | None,
                      values: dict[str, str]) -> None:
        self._job_row = None
        if self.store is None or kind in SELF_RECORDING:
            return
        place = folder or Path(values.get("ann", ".") or ".").parent
        try:
            self._job_row = start_job(self.store, kind, {"argv": argv[3:]}, place)
        except Exception as e:  # noqa: BLE001 - the job still runs; say why it is not listed
            self.message.setText(f"job not recorded in the store: {e}")

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running():
            self.message.setText("cancelling: the job stops after its current step…")
            self.runner.cancel()

    def open_folder(self) -> None:
        job = self._selected_job()
        folder = job["run_dir"] if job else (self.runner.folder if self.runner else None)
        if folder and Path(folder).is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def running(self) -> bool:
        return self.runner is not None and self.runner.running()

    def shutdown(self) -> None:
        if self.runner is not None:
            self.runner.shutdown()

    # -- watching ------------------------------------------------------------------------------
    def _clear_watch(self) -> None:
        self.compared = []
        self.metric_plot.setTitle("validation metrics (per epoch)")
        self.loss_plot.clear()
        self.metric_plot.clear()
        for plot in (self.loss_plot, self.metric_plot):
            if plot.plotItem.legend is not None:
                plot.plotItem.legend.clear()
        self.curves = {}
        self.result.clear()
        self.eta.setText("")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)

    def _on_line(self, text: str, event: str) -> None:
        self.log.appendPlainText(text)
        progress = self.runner.progress
        if event == "step":
            self._draw_progress(progress)
            self._draw_curves(self.loss_plot, progress.step_curves, "step")
        elif event == "epoch":
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

    def _on_finished(self, status: str, error: str) -> None:
        runner = self.runner
        progress = runner.progress
        self._draw_curves(self.metric_plot, progress.epoch_curves(), "epoch")
        self.progress_bar.setRange(0, 1000)
        if status == "finished":
            self.progress_bar.setValue(1000)
            self.eta.setText("done")
        if progress.result is not None and runner.kind not in TRAINING:
            self.result.setPlainText(format_result(runner.kind, progress.result))
            self.outputs.setCurrentWidget(self.result)
        elapsed = time.monotonic() - runner.started_at
        if status == "failed":
            self._fail(f"{runner.kind} failed: {error}")
        else:
            done = f", {progress.epochs_done} epochs done" if runner.kind in TRAINING else ""
            hint = " (Resume continues it)" if status == "stopped" and runner.kind in TRAINING \
                else ""
            say(self.message, f"{runner.kind} {status} in {elapsed:.0f} s{done}{hint}")
        if self._job_row is not None and self.store is not None:
            metrics = progress.result if isinstance(progress.result, dict) else None
            try:
                finish_job(self.store, self._job_row, status, _plain(metrics),
                           error or None)
            except Exception:  # noqa: BLE001 - the job's own outcome is already shown
                pass
            self._job_row = None
        self.refresh_jobs()
        self._update_buttons()
        self.job_finished.emit(runner.kind, status)

    def _fail(self, text: str) -> None:
        say(self.message, text, error=True)
        self.error.emit(text)

    def _update_buttons(self) -> None:
        running = self.running()
        self.launch_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        job = self._selected_job()
        stopped = (job is not None and job.get("resumable", False)) or \
            (self.runner is not None and not running and self.runner.kind in TRAINING
             and self.runner.status == "stopped")
        self.resume_button.setEnabled(stopped and not running)


def _plain(metrics: dict | None) -> dict | None:
    """A result small enough for the jobs table (large arrays are left in the run folder)."""
    if metrics is None:
        return None
    import json

    text = json.dumps(metrics, default=str)
    return metrics if len(text) < 20000 else {"note": "result too large to keep here"}

