"""The Jobs tab: launch a ``wsp-core`` job from a form, watch it, cancel or resume it.

Three parts: the form (wsp_app/job_form.py, built from the CLI's own parser), the run view
(wsp_app/run_view.py: progress, curves, log, result) and the job list (wsp_app/job_list.py);
this tab wires them to the buttons and to the job's process. The job runs in its own process
(QProcess), the very command a terminal would run (wsp_core.launch builds it); the GUI never
trains in its own process. One job runs at a time. Training jobs print ``--progress jsonl``
events (progress, ETA, curves); the others print their result as JSON at the end (evaluation
tables are shown formatted). Every command given a store records its own job there
(wsp_core.store.jobs), whoever started it, so jobs started from a terminal are listed too.
"Compare runs" reads the selected training jobs' run folders (wsp_core.runs): their curves of
one measure overlaid, their configs side by side.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from wsp_core.errors import InputError, WspError
from wsp_core.launch import TRAINING, job_command, run_folder
from wsp_core.runs import Run, measures, metrics_rows, read_run
from wsp_core.store.db import Store

from .job_form import JobForm
from .job_list import JobList
from .process import JobRunner
from .run_view import RunView
from .widgets import say


class JobsTab(QWidget):
    """Form and buttons on the left, the run view on the right, the job list below the form."""

    error = Signal(str)
    job_finished = Signal(str, str)  # kind, status

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Store | None = None
        self.runner: JobRunner | None = None
        self.form = JobForm()
        self.view = RunView()
        self.jobs = JobList()
        self.jobs.itemSelectionChanged.connect(self._on_job_selected)
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
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._build()
        self._poll = QTimer(self, interval=2000)  # jobs started elsewhere (the CLI) appear
        self._poll.timeout.connect(lambda: self.isVisible() and self.refresh_jobs())
        self._poll.start()
        self._update_buttons()

    def _build(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self.form)
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
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.view)
        splitter.setSizes([420, 980])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    # -- the parts, as tests and screenshots reach them -----------------------------------------
    @property
    def curves(self) -> dict:
        return self.view.curves

    @property
    def progress_bar(self):
        return self.view.progress_bar

    @property
    def result(self):
        return self.view.result

    @property
    def metric_plot(self):
        return self.view.metric_plot

    @property
    def configs(self):
        return self.view.configs

    def values(self) -> dict[str, str]:
        return self.form.values()

    def set_values(self, kind: str, values: dict[str, str]) -> None:
        self.form.set_values(kind, values)

    # -- the store -----------------------------------------------------------------------------
    def set_store(self, store: Store | None) -> None:
        self.store = store
        if store is not None:
            self.form.set_store(str(store.path))
        self.refresh_jobs()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh_jobs()

    def refresh_jobs(self) -> None:
        self.jobs.refresh(self.store)

    def _on_job_selected(self) -> None:
        job = self.jobs.selected_job()
        if job is not None and not self.running() and len(self.jobs.selected_jobs()) == 1:
            self._show_past(job)
        if job is not None and job["error"]:
            self.message.setText(f"job {job['id']} failed: {job['error']}")
        elif job is not None and job["status"] == "died":
            self.message.setText(f"job {job['id']} died (its process is gone)"
                                 + ("; Resume continues it" if job.get("resumable") else ""))
        self._update_buttons()

    def _show_past(self, job: dict[str, Any]) -> None:
        """A past job: its curves from its run folder, its result from the store."""
        folder = Path(job["run_dir"]) if job.get("run_dir") else None
        epochs = metrics_rows(folder / "metrics.jsonl") if folder is not None else []
        result = job.get("metrics") if job["kind"] not in TRAINING else None
        self.compared = []
        self.view.show_past(job["kind"], epochs, result, job["status"])

    # -- comparing runs ------------------------------------------------------------------------
    def compare_runs(self) -> bool:
        """Read the selected training jobs' run folders; overlay their curves of one measure in
        the metrics plot and list their configs side by side, the differing keys first and
        highlighted."""
        folders = list(dict.fromkeys(job["run_dir"] for job in self.jobs.selected_jobs()
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
        self.view.show_configs(self.compared)
        say(self.message, f"comparing {len(self.compared)} run(s): "
                          + ", ".join(run.name for run in self.compared))
        return True

    def _draw_comparison(self) -> None:
        if self.compared:
            self.view.compare(self.compared, self.measure.currentText())

    # -- launching -----------------------------------------------------------------------------
    def launch(self) -> bool:
        kind, values = self.form.current_kind(), self.form.values()
        try:
            argv = job_command(kind, values)
        except WspError as e:
            self._fail(f"{kind}: {e}")
            return False
        return self._start(kind, argv, run_folder(kind, values))

    def resume(self) -> bool:
        job = self.jobs.selected_job()
        kind = job["kind"] if job and job["kind"] in TRAINING else self.form.current_kind()
        values = {"out": job["run_dir"]} if job and job["run_dir"] else self.form.values()
        if kind == "finetune" and self.store is not None:
            values = {**values, "db": str(self.store.path)}
        try:
            argv = job_command(kind, values, resume=True)
        except WspError as e:
            self._fail(f"resume: {e}")
            return False
        folder = run_folder(kind, values)
        if not self._start(kind, argv, folder):
            return False
        if folder is not None:  # the curves go on from the epochs already done
            self.runner.progress.epoch_rows = metrics_rows(folder / "metrics.jsonl")
            self.view.finished_epochs(self.runner.progress)
        return True

    def _start(self, kind: str, argv: list[str], folder: Path | None) -> bool:
        if self.runner is not None and self.runner.running():
            self._fail("a job is running: wait for it or cancel it first")
            return False
        self.compared = []
        self.runner = JobRunner(kind, argv, folder, self)
        self.runner.line.connect(self._on_line)
        self.runner.finished.connect(self._on_finished)
        self.view.started("wsp-core " + " ".join(argv[3:]))
        say(self.message, f"{kind} running…")
        self.runner.start()
        self._update_buttons()
        return True

    def cancel(self) -> None:
        if self.runner is not None and self.runner.running():
            self.message.setText("cancelling: the job stops after its current step…")
            self.runner.cancel()

    def open_folder(self) -> None:
        job = self.jobs.selected_job()
        folder = job["run_dir"] if job else (self.runner.folder if self.runner else None)
        if folder and Path(folder).is_dir():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def running(self) -> bool:
        return self.runner is not None and self.runner.running()

    def shutdown(self) -> None:
        if self.runner is not None:
            self.runner.shutdown()

    # -- watching ------------------------------------------------------------------------------
    def _on_line(self, text: str, event: str) -> None:
        self.view.line(text, event, self.runner.progress)

    def _on_finished(self, status: str, error: str) -> None:
        runner = self.runner
        progress = runner.progress
        self.view.finished(runner.kind, status, progress)
        if runner.kind in TRAINING and runner.folder is not None:
            last = str(Path(runner.folder) / "last.pt")
            self.form.remember("ckpt", last)
            if runner.kind == "pretrain":  # a fine-tuning starts from the pre-trained network
                self.form.remember("init", last)
        elapsed = time.monotonic() - runner.started_at
        if status == "failed":
            self._fail(f"{runner.kind} failed: {error}")
        else:
            done = f", {progress.epochs_done} epochs done" if runner.kind in TRAINING else ""
            hint = " (Resume continues it)" if status == "stopped" and runner.kind in TRAINING \
                else ""
            say(self.message, f"{runner.kind} {status} in {elapsed:.0f} s{done}{hint}")
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
        job = self.jobs.selected_job()
        stopped = (job is not None and job.get("resumable", False)) or \
            (self.runner is not None and not running and self.runner.kind in TRAINING
             and self.runner.status == "stopped")
        self.resume_button.setEnabled(stopped and not running)
