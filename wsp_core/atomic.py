"""Writing the files a user keeps, without ever destroying an input (docs/adr/0014-outputs.md).

- :func:`check_target` refuses, before any work, an output that is a folder, lies in a missing or
  unwritable folder, is the same file as one of the command's inputs (a store and its
  ``-wal``/``-shm``, a photo, a checkpoint, an annotation file: same path, hard link or symlink),
  or exists as something that is neither a regular file nor a character device or FIFO.
- :func:`atomic_write` writes a regular file atomically: the data goes to an unnamed file in the
  target's folder (Linux ``O_TMPFILE``: a killed process leaves nothing behind, the kernel frees
  it), which is given a temporary name only once complete, synced, and renamed over the target.
  Where ``O_TMPFILE`` is missing, a named temporary ``.NAME.PID.wsp-tmp`` is used, and such files
  left by dead processes are removed by the next write to the same target. A character device or
  a FIFO (``/dev/null``, ``/dev/stdout``, a shell's ``>(…)``) is written in place, never renamed
  over. A failed write (no space, read-only file system, no permission) raises one
  :class:`~wsp_core.errors.InputError` naming the target, and leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import InputError

PathLike = str | os.PathLike[str]
#: The marker in the name of a named temporary file (the fallback without O_TMPFILE).
TEMP_MARK = ".wsp-tmp"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def check_target(path: PathLike, example: str = "out.json",
                 inputs: Iterable[PathLike | None] = ()) -> Path:
    """Refuse, before any work, an output ``atomic_write`` must not write: a folder, a file in
    a missing or unwritable folder, the same file as one of ``inputs``, or something that is
    neither a regular file, a character device nor a FIFO. Raises InputError naming the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, f"is a folder; give a file name like {example}")
    if not path.parent.is_dir():
        raise InputError(path, f"folder {path.parent} does not exist")
    same = same_file_as(path, inputs)
    if same is not None:
        what = f"a file of the input folder {same}" if same.is_dir() else \
            f"the same file as the input {same}"
        raise InputError(path, f"is {what}; refusing to overwrite an input (give another file "
                               f"name, like {example})")
    kind = _existing_kind(path)
    if kind not in (None, "file", "char", "fifo"):
        raise InputError(path, f"exists and is a {kind}, not a file; refusing to write over it")
    if kind is None or kind == "file":
        problem = folder_unwritable(path.parent)
        if problem:
            raise InputError(path, f"cannot write in folder {path.parent} ({problem})")
    return path


def same_file_as(path: PathLike, inputs: Iterable[PathLike | None]) -> Path | None:
    """The first of ``inputs`` that ``path`` would overwrite: the same path once resolved, or
    the same file through a hard or symbolic link; an input that is a folder stands for every
    existing file in it. None when there is none."""
    path = Path(path)
    real = os.path.realpath(path)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    for other in inputs:
        if other is None:
            continue
        other_real = os.path.realpath(other)
        if other_real == real:
            return Path(other)
        if st is not None and os.path.isdir(other_real) \
                and os.path.commonpath([other_real, real]) == other_real:
            return Path(other)
        if st is not None:
            try:
                ot = os.stat(other)
            except OSError:
                continue
            if (ot.st_dev, ot.st_ino) == (st.st_dev, st.st_ino) and stat.S_ISREG(st.st_mode):
                return Path(other)
    return None


def _existing_kind(path: Path) -> str | None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return "file"  # let the write itself say what is wrong
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISCHR, "char"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def folder_unwritable(folder: PathLike) -> str | None:
    """Why no file can be created in ``folder`` ("read-only file system", "permission denied"),
    or None when one can."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


def write_error(path: PathLike, e: OSError) -> InputError:
    """One line for an OSError met while writing ``path`` (no space, read-only, permission…)."""
    reason = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
              errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
              errno.EPERM: "operation not permitted", errno.EFBIG: "file too large",
              errno.EIO: "input/output error"}.get(e.errno, e.strerror or str(e))
    return InputError(path, f"cannot write: {reason}; nothing was changed")


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``path`` for writing (mode "w" or "wb"). A regular file is replaced atomically once
    the block ends without error; a character device or FIFO is written in place."""
    path = Path(path)
    kind = _existing_kind(path)
    if kind in ("char", "fifo"):
        with _in_place(path, mode) as f:
            yield f
        return
    if kind not in (None, "file"):  # callers without check_target: never rename over a device
        raise InputError(path, f"exists and is a {kind}, not a file; refusing to write over it")
    _remove_stale_temps(path)
    try:
        fd, tmp = _open_unnamed(path)
    except OSError as e:
        raise write_error(path, e) from None
    f = os.fdopen(fd, mode, **_text(mode))
    try:
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:
                tmp = _link_unnamed(f.fileno(), path)
            f.close()
            os.replace(tmp, path)
            tmp = None
        except OSError as e:
            if e.filename is None or e.filename == tmp:  # ours, not the caller's other files
                raise write_error(path, e) from None
            raise
    finally:
        if not f.closed:
            with contextlib.suppress(OSError):  # a failed flush: the data goes, the fd closes
                f.close()
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _text(mode: str) -> dict[str, str]:
    return {} if "b" in mode else {"encoding": "utf-8"}


@contextlib.contextmanager
def _in_place(path: Path, mode: str) -> Iterator[IO[Any]]:
    try:
        f = open(path, mode, **_text(mode))
    except OSError as e:
        raise write_error(path, e) from None
    try:
        yield f
        f.close()
    except OSError as e:
        if e.filename is None:
            raise write_error(path, e) from None
        raise
    finally:
        if not f.closed:
            with contextlib.suppress(OSError):
                f.close()


def _open_unnamed(path: Path) -> tuple[int, str | None]:
    """A file descriptor for the new content, and its temporary name (None: not yet named)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir("/proc/self/fd"):
        try:
            return os.open(path.parent, flag | os.O_WRONLY, 0o666), None
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_MARK,
                               dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it owner-only; give it a normal file's mode
    return fd, tmp


def _link_unnamed(fd: int, path: Path) -> str:
    """Give the finished unnamed file a temporary name next to ``path`` (to rename it over)."""
    # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N: os.link uses linkat only with a dir fd
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(100):
            name = f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}{TEMP_MARK}"
            try:
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder, follow_symlinks=True)
                return os.path.join(path.parent, name)
            except FileExistsError:
                continue
            except OSError as e:
                raise write_error(path, e) from None
    finally:
        os.close(folder)
    raise InputError(path, "cannot name the temporary file")


def _remove_stale_temps(path: Path) -> None:
    """Remove named temporaries of ``path`` left by processes of this host that have died."""
    try:
        names = [n for n in os.listdir(path.parent)
                 if n.startswith(f".{path.name}.") and n.endswith(TEMP_MARK)]
    except OSError:
        return
    for name in names:
        pid = name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(path.parent, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
