"""A ``wsp-core`` command in its own process (QProcess): its output lines, read as they come
into a JobProgress, and a cancel that escalates (STOP file, SIGTERM, SIGKILL).

The app runs every training job and every inference this way: the GUI process never imports
torch. Besides keeping the window responsive, this avoids a crash: PyTorch's triton and Mesa's
llvmpipe (the OpenGL of the vispy views under Xvfb or without a GPU) each bring their own LLVM,
and loading triton after an OpenGL context exists segfaults (docs/adr/0009-*.md).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from wsp_core.launch import TRAINING, JobProgress

#: Cancel: a STOP file first (training stops after its step and saves a checkpoint), then
#: SIGTERM after this many seconds, then SIGKILL after as many again.
GRACE_S = 20.0


class JobRunner(QObject):
    """One job's process: its output lines go to a JobProgress; cancel escalates."""

    line = Signal(str, str)  # the line, and its event ("step", "epoch"…; "" for a log line)
    finished = Signal(str, str)  # status (finished, stopped, failed), error text

    def __init__(self, kind: str, argv: list[str], folder: Path | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind, self.argv, self.folder = kind, argv, folder
        self.progress = JobProgress()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._stderr: list[str] = []
        self._buffer = b""
        self.started_at = time.monotonic()
        self.cancelling = False
        self.status: str | None = None

    def start(self) -> None:
        env = QProcessEnvironment.systemEnvironment()  # the app's own, plus:
        env.insert("PYTHONUNBUFFERED", "1")
        self.process.setProcessEnvironment(env)
        self.process.start(self.argv[0], self.argv[1:])

    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        return int(self.process.processId())

    def cancel(self) -> None:
        """Stop gracefully (STOP file), then terminate, then kill, until it is gone."""
        if not self.running():
            return
        self.cancelling = True
        if self._request_stop():
            QTimer.singleShot(int(GRACE_S * 1000), self._terminate)
        else:
            self._terminate()

    def _request_stop(self) -> bool:
        """Ask a training run to stop after its step (its STOP file); False for other jobs."""
        if self.kind in TRAINING and self.folder is not None and self.folder.is_dir():
            (self.folder / "STOP").touch()
            return True
        return False

    def _terminate(self) -> None:
        if self.running():
            self.process.terminate()
            QTimer.singleShot(int(GRACE_S * 1000), self._kill)

    def _kill(self) -> None:
        if self.running():
            self.process.kill()

    def shutdown(self, grace_s: float = GRACE_S) -> None:
        """Stop the job now and wait for it (closing the app): nothing is left behind."""
        if not self.running():
            return
        self.cancelling = True
        if self._request_stop():
            if self.process.waitForFinished(int(grace_s * 1000)):
                return
        self.process.terminate()
        if not self.process.waitForFinished(int(grace_s * 1000)):
            self.process.kill()
            self.process.waitForFinished(5000)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace")
            event = self.progress.feed(text)
            self.line.emit(text, str(event.get("event", "")) if event else "")

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        for part in text.replace("\r", "\n").splitlines():
            if part.strip():
                self._stderr.append(part)
                self.line.emit(part, "")

    def error_text(self) -> str:
        errors = [s for s in self._stderr if "error" in s.lower()]
        return (errors or self._stderr or [""])[-1].strip()

    def _on_finished(self, code: int, exit_status) -> None:
        if self._buffer:
            self.progress.feed(self._buffer.decode("utf-8", "replace"))
            self._buffer = b""
        if self.progress.status == "stopped" or (self.cancelling and code != 0):
            status = "stopped"
        elif code == 0 and exit_status == QProcess.ExitStatus.NormalExit:
            status = "finished"
        else:
            status = "failed"
        self.status = status
        error = "" if status != "failed" else (self.error_text() or f"exit code {code}")
        self.finished.emit(status, error)

    def _on_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.status = "failed"
            self.finished.emit("failed", f"cannot start {self.argv[0]}: "
                                         f"{self.process.errorString()}")


def run_core(parent: QObject, kind: str, argv: list[str], on_result, on_error) -> JobRunner:
    """Run a ``wsp-core … --json`` command off the GUI thread (in its own process); its JSON
    result goes to ``on_result``, a failure's one-line error to ``on_error``."""
    runner = JobRunner(kind, argv, None, parent)

    def done(status: str, error: str) -> None:
        if status == "finished" and runner.progress.result is not None:
            on_result(runner.progress.result)
        else:
            on_error(error or f"{kind} ended: {status}")

    runner.finished.connect(done)
    runner.start()
    return runner
