"""Images read off the GUI thread, kept in a small LRU cache, prefetched ahead of the cursor.

A missing or unreadable file is cached too, as its reason, so the pair view shows a
placeholder that says why and the review goes on.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRect, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageIOHandler, QImageReader

from wsp_core.formats.base import truncation


@dataclass(frozen=True)
class Loaded:
    """An image as read: the picture (None when it could not be read), the reason it could
    not, and the factor from the picture's pixels to the file's (large images are shrunk)."""

    image: QImage | None
    error: str | None = None
    scale: float = 1.0
    #: the picture is shown but not whole (a file cut short)
    warning: str | None = None


def read_image(path: str, max_side: int = 2048) -> Loaded:
    """Read one image file (any thread); large images are shrunk to ``max_side``."""
    if not os.path.exists(path):
        return Loaded(None, f"image not found: {path}")
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    scale = 1.0
    if size.isValid() and max(size.width(), size.height()) > max_side:
        scale = max(size.width(), size.height()) / max_side
        reader.setScaledSize(size / scale)
    image = reader.read()
    if image.isNull():
        return Loaded(None, f"cannot read image {os.path.basename(path)}: {reader.errorString()}")
    return Loaded(image, None, scale, truncation(path))


def read_region(path: str, rect: QRect) -> QImage | None:
    """The pixels of ``rect`` (the file's pixels) read at the file's full resolution (any
    thread); None when the file cannot give them: unreadable, or stored turned (an EXIF
    orientation, whose clip would be in the unturned pixels)."""
    reader = QImageReader(path)
    if reader.transformation() != QImageIOHandler.Transformation.TransformationNone:
        return None
    reader.setClipRect(rect)
    image = reader.read()
    return None if image.isNull() else image


class _Signals(QObject):
    done = Signal(str, object)
    region = Signal(object, object)


class _ReadTask(QRunnable):
    def __init__(self, path: str, signals: _Signals, max_side: int) -> None:
        super().__init__()
        self.path, self.signals, self.max_side = path, signals, max_side

    def run(self) -> None:
        self.signals.done.emit(self.path, read_image(self.path, self.max_side))


class _RegionTask(QRunnable):
    def __init__(self, key, path: str, rect: QRect, signals: _Signals) -> None:
        super().__init__()
        self.key, self.path, self.rect, self.signals = key, path, QRect(rect), signals

    def run(self) -> None:
        self.signals.region.emit(self.key, read_region(self.path, self.rect))


class ImageLoader(QObject):
    """``get`` answers from the cache; ``request`` reads in the pool and emits ``loaded``."""

    loaded = Signal(str)
    #: a region asked for by :meth:`request_region` (its key, the QImage or None)
    region_loaded = Signal(object, object)

    def __init__(self, capacity: int = 48, max_side: int = 2048, threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.capacity = capacity
        self.max_side = max_side
        self._cache: OrderedDict[str, Loaded] = OrderedDict()
        self._in_flight: set[str] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._signals = _Signals(self)  # after the pool: deleted after its reads end
        self._signals.done.connect(self._on_done)
        self._signals.region.connect(self.region_loaded)

    def get(self, path: str) -> Loaded | None:
        loaded = self._cache.get(path)
        if loaded is not None:
            self._cache.move_to_end(path)
        return loaded

    def request(self, path: str) -> None:
        if path in self._cache or path in self._in_flight:
            return
        self._in_flight.add(path)
        self._pool.start(_ReadTask(path, self._signals, self.max_side))

    def request_region(self, key, path: str, rect: QRect) -> None:
        """Read ``rect`` of ``path`` at full resolution in the pool; ``region_loaded(key,
        image)`` follows (not cached: a shrunk picture's detail, asked for when shown)."""
        self._pool.start(_RegionTask(key, path, rect, self._signals))

    def prefetch(self, paths) -> None:
        for path in paths:
            self.request(path)

    def forget(self) -> None:
        """Drop every cached picture (the images moved: they are read again)."""
        self.wait(2000)
        self._cache.clear()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for reads in flight (tests, benchmarks, shutdown)."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, path: str, loaded: Loaded) -> None:
        self._in_flight.discard(path)
        self._cache[path] = loaded
        self._cache.move_to_end(path)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        self.loaded.emit(path)
