"""Uncaught exceptions in the window: logged with their traceback, shown once, never lost.

An exception escaping a slot (a key press, a timer, a finished job) or a worker thread would
otherwise be printed to a terminal the curator does not have. :class:`ExceptionReporter`
replaces ``sys.excepthook`` and ``threading.excepthook``: every exception goes to the log file
(wsp_core/logs.py) with its traceback; the first of each kind (type and the line that raised it)
is shown in a dialog that names the log file; a repeat (the same error at every repaint) only
reaches the log and the status bar, so the window stays usable.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def _key(exc_type: type[BaseException], tb: TracebackType | None) -> str:
    """An error's kind: its type and the innermost line that raised it."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{exc_type.__name__}@{where}"


class ExceptionReporter(QObject):
    """Install with :meth:`install`; ``status`` shows a line in the window's status bar."""

    _report = Signal(str, str)  # kind, one-line text: to the GUI thread from any thread

    def __init__(self, parent: QWidget | None = None, log_file: Path | None = None,
                 status: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self.window = parent
        self.log_file = log_file
        self.status = status
        self.shown: set[str] = set()
        self.count = 0
        self._report.connect(self._show)
        self._previous: tuple | None = None

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def excepthook(self, exc_type: type[BaseException], exc: BaseException,
                   tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.count += 1
        log.error("uncaught exception", exc_info=(exc_type, exc, tb))
        self._report.emit(_key(exc_type, tb), f"{exc_type.__name__}: {exc}")

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def _show(self, kind: str, text: str) -> None:
        where = f" (details: {self.log_file})" if self.log_file else ""
        if self.status is not None:
            self.status(f"unexpected error: {text}{where}")
        if kind in self.shown:
            return
        self.shown.add(kind)
        QMessageBox.warning(self.window, "WSP Studio: unexpected error",
                            f"Something went wrong that WSP Studio did not expect:\n\n{text}\n\n"
                            f"Your reviews are saved as you make them. The full report is in "
                            f"the log{where}; please send it with a bug report.")
