"""Shared fixtures: the real samples, fresh stores, and the CLI run in-process or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # GUI tests; `make test` runs them under Xvfb

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("WSP_SAMPLES", ROOT.parent / "shared" / "real-samples"))


def pytest_configure(config) -> None:
    """The log and the desks' journals go to folders of the test run, not the user's
    (inherited by the processes the tests start).

    PyTorch loads triton (and its own LLVM) lazily, at a first forward pass; loaded after an
    OpenGL context on Mesa's llvmpipe (the GUI tests' vispy views) it segfaults on LLVM's
    symbols. Loaded first, both work. The app itself never imports torch (ADR 0009)."""
    if "WSP_LOG_DIR" not in os.environ:
        os.environ["WSP_LOG_DIR"] = tempfile.mkdtemp(prefix="wsp-test-logs-")
    if "WSP_JOURNAL_DIR" not in os.environ:  # the desks' journals, not the user's
        os.environ["WSP_JOURNAL_DIR"] = tempfile.mkdtemp(prefix="wsp-test-journals-")
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - no triton, no clash
        pass


def sample(*parts: str) -> Path:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real sample {path} is not here")
    return path


@pytest.fixture
def samples() -> Path:
    return sample()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL server for the session (tests/pg_server.py). Skipped where none
    can start, unless WSP_REQUIRE_POSTGRES=1 (``make test`` sets it): then that fails."""
    import shutil

    from pg_server import Server, why_not

    problem = why_not()
    if problem:
        if os.environ.get("WSP_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"no PostgreSQL server for the tests: {problem}")
        pytest.skip(problem)
    folder = Path(tempfile.mkdtemp(prefix="wsp-pg-"))  # not under pytest's root-only folder
    server = Server(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_pg_server(pg_server):
    """A server of this test's own, to stop and restart (the session's is shared)."""
    import shutil

    from pg_server import Server

    folder = Path(tempfile.mkdtemp(prefix="wsp-pg-"))
    server = Server(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path: Path) -> Path | str:
    """A new store on each back end: an SQLite file's path, or a fresh PostgreSQL database's
    URL."""
    if request.param == "sqlite":
        return tmp_path / "store.db"
    return request.getfixturevalue("pg_server").new_database()


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``wsp-core`` as a user would, in its own process."""
    proc = subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"wsp-core {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def import_samples(db: Path, *which: str) -> None:
    """Import real samples into ``db`` in-process (fast): which ⊂ coco, crowdpose, mpii."""
    from wsp_core.cli import main

    files = {"coco": "test_coco.json", "crowdpose": "test_crowdpose.json", "mpii": "test_mpii.json"}
    for fmt in which:
        assert main(["import", "--db", str(db), "--format", fmt, "--ann",
                     str(sample(fmt, files[fmt])), "--images", str(sample(fmt))]) == 0


# -- the desktop app (pytest-qt); Qt is imported only by the tests that use these -----------------
@pytest.fixture(scope="session")
def desk_store(tmp_path_factory) -> Path:
    """Synthetic world (12 images) + the COCO and CrowdPose samples, built once per session.
    Tests work on copies (``desk_db``)."""
    from wsp_core.cli import main
    from wsp_core.synth.world import generate_world

    folder = tmp_path_factory.mktemp("desk")
    generate_world(folder / "world", 12, seed=3, workers=1)
    db = folder / "store.db"
    assert main(["import", "--db", str(db), "--format", "synth", "--ann",
                 str(folder / "world" / "scenes.json"), "--images", str(folder / "world"),
                 "--name", "synth-world"]) == 0
    import_samples(db, "coco", "crowdpose")
    return db


@pytest.fixture
def desk_db(desk_store, tmp_path) -> Path:
    """A fresh copy of the desk's store for one test."""
    import shutil

    path = tmp_path / "store.db"
    shutil.copy(desk_store, path)
    return path


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """Every warning the window shows (instead of a modal dialog)."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a: shown.append(text))
    return shown


@pytest.fixture
def questions(monkeypatch) -> list[str]:
    """Modal dialogs never block a test. A modal dialog runs Qt's own event loop, where
    pytest-timeout's alarm never reaches Python: the test would hang, not fail. So a question is
    recorded here and answered Yes (wait for the store, stop the job), and any other modal
    dialog fails the test at once."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    asked: list[str] = []

    def question(_parent, _title, text, *a, **k):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    def refuse(name: str):
        def modal(*a, **k):
            raise AssertionError(f"the test opened a modal dialog: {name}")
        return modal

    monkeypatch.setattr(QMessageBox, "question", question)
    for cls, names in ((QFileDialog, ("getOpenFileName", "getSaveFileName",
                                      "getExistingDirectory")),
                       (QInputDialog, ("getText", "getMultiLineText", "getItem", "getInt"))):
        for name in names:
            monkeypatch.setattr(cls, name, refuse(f"{cls.__name__}.{name}"))
    return asked


@pytest.fixture
def window(qtbot, settings, errors, questions):
    """``window(db=None, keys=None)`` makes the real main window (active, so its shortcuts
    work), optionally with a store open and a keys file. Every window made is closed and
    deleted after the test, on this (the GUI) thread, and its garbage collected here too (see
    wsp_app/gui_gc.py)."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    from wsp_app.window import MainWindow

    made = []

    def make(db: Path | None = None, keys: Path | None = None):
        win = MainWindow(settings, reviewer="tester", keys=keys)
        made.append(win)
        win.show()
        with qtbot.waitActive(win):  # window shortcuts need the active window
            win.activateWindow()
        if db is not None:
            assert win.open_store(db)
        return win

    yield make
    for win in made:
        win.close()
        win.deleteLater()
    made.clear()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def press(qtbot, win, *keys, modifier=None) -> None:
    from PySide6.QtCore import Qt

    for key in keys:
        qtbot.keyClick(win, key, modifier or Qt.KeyboardModifier.NoModifier)


def saved(qtbot, win) -> None:
    """Wait until the review writer has committed every review handed to it."""
    qtbot.waitUntil(lambda: win.pairs.writer.pending == 0, timeout=10000)
