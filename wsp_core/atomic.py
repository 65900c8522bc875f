"""Atomic file writes: a temporary file in the same folder, synced, then renamed over the target.
A failed write leaves the old file (if any) as it was and no temporary file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def check_target(path: str | os.PathLike[str], example: str = "out.json") -> Path:
    """Refuse, before any work, an output path ``atomic_write`` could not replace: its folder
    is missing, or it is a folder. Raises InputError naming the path."""
    from .errors import InputError

    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a folder; give a file name like {example}")
    if not path.parent.is_dir():
        raise InputError(path, f"folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for ``path`` (mode "w" or "wb"); on success it replaces ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it owner-only; give it a normal file's mode
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
