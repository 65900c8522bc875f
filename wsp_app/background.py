"""Work off the GUI thread that is not a ``wsp-core`` process: a person detector, an ONNX
Runtime prediction, a video frame's decoding. One worker thread, so calls run in order; each
call's answer comes back on the GUI thread, and an answer to a call that a newer one replaced is
dropped (the user moved on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Signals(QObject):
    done = Signal(int, object, object)   # ticket, result, error text (None when it worked)


class _Task(QRunnable):
    def __init__(self, ticket: int, work: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.ticket, self.work, self.signals = ticket, work, signals

    def run(self) -> None:
        from wsp_core.errors import WspError

        try:
            result, error = self.work(), None
        except WspError as e:
            result, error = None, str(e)
        except Exception as e:  # noqa: BLE001 - shown to the user, logged by the caller
            result, error = None, f"{type(e).__name__}: {e}"
        self.signals.done.emit(self.ticket, result, error)


class Background(QObject):
    """``run(work, on_done, on_error)``: ``work()`` in the worker thread, then ``on_done(result)``
    or ``on_error(text)`` on the GUI thread, unless a later ``run`` of the same ``channel``
    superseded it."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._on_done)
        self._tickets = 0
        self._latest: dict[str, int] = {}
        self._calls: dict[int, tuple[str, Callable, Callable]] = {}

    def run(self, work: Callable[[], Any], on_done: Callable[[Any], None],
            on_error: Callable[[str], None], channel: str = "") -> None:
        self._tickets += 1
        self._latest[channel] = self._tickets
        self._calls[self._tickets] = (channel, on_done, on_error)
        self._pool.start(_Task(self._tickets, work, self._signals))

    def busy(self) -> bool:
        return bool(self._calls)

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for the work in flight (tests, shutdown)."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, ticket: int, result: Any, error: str | None) -> None:
        channel, on_done, on_error = self._calls.pop(ticket)
        if self._latest.get(channel) != ticket:
            return
        if error is None:
            on_done(result)
        else:
            on_error(error)
