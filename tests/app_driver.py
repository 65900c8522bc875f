"""Runs the real window in its own process and reviews N pairs by key presses.

Used by test_app.py's SIGKILL test: prints ``saved K`` each time the review writer has
committed a review, and ``pressed N`` when the keys are all pressed; then idles until killed.

Usage: python tests/app_driver.py STORE SETTINGS.ini N
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str]) -> int:
    db, settings_path, n = argv[0], argv[1], int(argv[2])
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from wsp_app.window import MainWindow

    app = QApplication([])
    window = MainWindow(QSettings(settings_path, QSettings.Format.IniFormat), reviewer="driver")
    window.show()
    window.activateWindow()
    QTest.qWaitForWindowActive(window)  # window shortcuts need the active window
    if not window.open_store(db):
        return 1
    saved = [0]

    def on_saved(_review: dict) -> None:
        saved[0] += 1
        print(f"saved {saved[0]}", flush=True)

    window.pairs.writer.saved.connect(on_saved)
    keys = [Qt.Key.Key_Space, Qt.Key.Key_F, Qt.Key.Key_3, Qt.Key.Key_X]

    def press() -> None:
        for k in range(n):
            QTest.keyClick(window, keys[k % len(keys)])
        print(f"pressed {n}", flush=True)

    QTimer.singleShot(0, press)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
