"""Python's cyclic garbage collector, run on the GUI thread only while a window is open.

The collector runs in whichever thread allocates when a generation's threshold is crossed: in
this app that can be the review writer or an image read in the pool. A reference cycle that
holds a Qt object (a closed window, a tab's model, a lambda connected to a signal) collected
there deletes that object off the GUI thread, which Qt does not allow: a crash or a deadlock
between a Qt lock and the GIL, at random, more often on a loaded machine. So while a window is
open automatic collection is off, and a timer on the GUI thread collects what the thresholds
ask for (the way pyqtgraph's GarbageCollector does). See docs/adr/0010-gc-on-the-gui-thread.md.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """While started: automatic collection off, a GUI-thread timer collects instead."""

    _started = 0  # collectors started and not stopped (windows open), process-wide

    def __init__(self, parent: QObject | None = None, interval_ms: int = 1000) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self._running = False
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.collect)

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        GuiThreadCollector._started += 1
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect once more, and give collection back to Python when no window is open."""
        if not self._running:
            return
        self._running = False
        self._timer.stop()
        GuiThreadCollector._started -= 1
        gc.collect()
        if GuiThreadCollector._started == 0:
            gc.enable()

    def collect(self) -> int:
        """Collect the oldest generation whose count passed its threshold (as Python would)."""
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] > self.thresholds[g]:
                generation = g
        return gc.collect(generation) if generation >= 0 else 0
