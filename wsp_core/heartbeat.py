"""A training run's heartbeat: who runs it (pid, host) and when it last showed life.

The runner writes ``RUN/heartbeat.json`` atomically when training starts and every
``INTERVAL_S`` seconds from a thread (so a long validation still beats). A SIGKILLed or
OOM-killed process leaves its job ``running`` in the store; :func:`run_is_dead` recognises it:
on the same host its pid is gone, on any host its heartbeat is older than ``STALE_S``.
Qt-free and torch-free: the Jobs tab reads it through ``store.jobs.list_jobs``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write

FILE = "heartbeat.json"
INTERVAL_S = 20.0
STALE_S = 120.0


class Heartbeat:
    """Beats into ``run_dir/heartbeat.json`` until :meth:`stop`."""

    def __init__(self, run_dir: Path, interval_s: float = INTERVAL_S) -> None:
        self.path = Path(run_dir) / FILE
        self.interval_s = interval_s
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wsp-heartbeat", daemon=True)

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def beat(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": self.started,
                "time": time.time()}
        try:
            with atomic_write(self.path) as f:
                f.write(json.dumps(info))
        except OSError:  # a full disk must not end the training; the run may look stale
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def read_heartbeat(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The run's last heartbeat, or None when it has none (or an unreadable one)."""
    try:
        info = json.loads((Path(run_dir) / FILE).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(info, dict) and isinstance(info.get("pid"), int) \
        and isinstance(info.get("time"), (int, float))
    return info if ok else None


def run_is_dead(info: dict[str, Any], now: float | None = None) -> bool:
    """Whether the process of a heartbeat is gone: its pid no longer exists on this host, or
    it has not beaten for ``STALE_S`` seconds (another host, a reused pid, a hung process)."""
    now = time.time() if now is None else now
    if now - float(info["time"]) > STALE_S:
        return True
    if info.get("host") == socket.gethostname():
        try:
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
    return False
