"""Where WSP Studio writes its log: one rotating file in the user's log folder.

``wsp-core`` and ``wsp-app`` call :func:`setup_logging` once at start; every module logs through
``logging.getLogger(__name__)`` (the ``wsp_core``/``wsp_app`` loggers), so the file holds what
each command did, every refused input and every uncaught exception with its traceback, while the
terminal and the window keep showing their one-line messages. The folder is platformdirs' user
log folder (``~/.local/state/wsp-studio/log`` on Linux) unless ``WSP_LOG_DIR`` names another; a
folder that cannot be written leaves logging off rather than stopping the program.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

APP = "wsp-studio"
LOG_FILE = "wsp-studio.log"
#: One file of at most this size, then wsp-studio.log.1 … .5.
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
LOGGERS = ("wsp_core", "wsp_app")
_PASSWORD = re.compile(r"(://[^/:@\s]+):[^@/\s]+@")


def redact(text: str) -> str:
    """A command line or message fit for the log: a password in a URL
    (``postgresql://ana:secret@host``) becomes ``***``."""
    return _PASSWORD.sub(r"\1:***@", text)


def log_dir() -> Path:
    """The folder the log file goes to (``WSP_LOG_DIR``, else the user's log folder)."""
    override = os.environ.get("WSP_LOG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP, appauthor=False))


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send the package loggers to the rotating file; returns its path (None when the folder
    cannot be written: the program runs on without a log). Calling it again changes nothing."""
    folder = log_dir()
    path = folder / LOG_FILE
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if any(getattr(h, "wsp_log", None) == str(path) for h in logger.handlers):
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                           backupCount=BACKUPS, encoding="utf-8",
                                                           delay=True)
        except OSError:
            return None
        handler.wsp_log = str(path)  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    return path
