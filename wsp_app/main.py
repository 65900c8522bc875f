"""Entry point of ``wsp-app``: the desktop application.

``wsp-app [--db STORE]`` opens the store (or, without ``--db``, the last one used). A store that
cannot be opened is refused with its reason, and the window opens empty.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("wsp_app.main")  # also when run as __main__ (python -m)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wsp-app", description="WSP Studio: review the "
                                     "automatic relative-depth labels of a store")
    parser.add_argument("--db", help="the store to open: a file, or a server's URL "
                                     "(postgresql://user@host/database; default: the last one)")
    parser.add_argument("--reviewer", help="the name written with each review "
                                           "(default: the login name)")
    parser.add_argument("--keys", type=Path,
                        help="a keys file that remaps the shortcuts (default: keys.toml in the "
                             "user's configuration folder; see docs/CURATION.md)")
    parser.add_argument("--settings", type=Path,
                        help="an INI file for the window's settings (default: the user's)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from wsp_core.logs import setup_logging
    from wsp_core.store.db import is_server

    from .crash import ExceptionReporter
    from .keymap import keys_file
    from .window import MainWindow, default_settings

    log_file = setup_logging()
    log.info("wsp-app started (log: %s)", log_file)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("WSP Studio")
    settings = (QSettings(str(args.settings), QSettings.Format.IniFormat) if args.settings
                else default_settings())
    window = MainWindow(settings, reviewer=args.reviewer, keys=args.keys or keys_file())
    reporter = ExceptionReporter(window, log_file,
                                 lambda text: window.statusBar().showMessage(text, 15000))
    reporter.install()
    window.show()
    path = args.db or settings.value("last_store")
    if path and (args.db or is_server(path) or Path(path).exists()):
        window.open_store(path)
    try:
        return app.exec()
    finally:
        reporter.uninstall()
        log.info("wsp-app ended")


if __name__ == "__main__":
    sys.exit(main())
