"""The main window: tabs, menus built from the named actions, recent stores, saved state."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QFileDialog, QInputDialog, QLabel, QLineEdit, QMainWindow,
                               QMessageBox, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout)

from wsp_core.errors import WspError
from wsp_core.logs import redact
from wsp_core.store.queries import default_reviewer, relink_images
from wsp_core.store.db import is_server, open_store, store_target
from wsp_core.store.server import has_password, shown_url
from wsp_core.verdicts import WITH_REASON

from .actions import (ACTIONS, BLIND_ACTIONS, LABEL_VERDICTS, ORDER_ACTIONS, PAIR_GROUPS,
                      build_actions, help_rows)
from .keymap import default_keymap, load_keymap, portable
from .gui_gc import GuiThreadCollector
from .jobs_tab import JobsTab
from .pairs_tab import PairsTab
from .photo_tab import PhotoTab
from .view3d_tab import View3DTab
from .widgets import readonly_table

log = logging.getLogger(__name__)

MAX_RECENT = 8
STORE_FILTER = "WSP stores (*.db *.sqlite);;All files (*)"


def default_settings() -> QSettings:
    return QSettings("WSP Studio", "wsp-app")


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, reviewer: str | None = None,
                 keys: Path | None = None) -> None:
        """``keys``: a keys file (wsp_app/keymap.py); None keeps the default keys."""
        super().__init__()
        self.collector = GuiThreadCollector(self)
        self.collector.start()
        self.settings = settings or default_settings()
        self.setWindowTitle("WSP Studio")
        self.store_path: Path | None = None
        self.tabs = QTabWidget()
        # --reviewer for this run, else the name chosen in File → Your name…
        self.pairs = PairsTab(self, reviewer=reviewer or self.settings.value("reviewer") or None)
        self.jobs = JobsTab(self)
        self.view3d = View3DTab(lambda: self.pairs.detail, self)
        self.photo = PhotoTab(self)
        self.tabs.addTab(self.pairs, "Pairs")
        self.tabs.addTab(self.jobs, "Jobs")
        self.tabs.addTab(self.view3d, "3D")
        self.tabs.addTab(self.photo, "Photo")
        self.setCentralWidget(self.tabs)
        self.jobs.job_finished.connect(self._on_job_finished)
        self.status_label = QLabel("no store open")
        self.statusBar().addPermanentWidget(self.status_label, 1)
        self.pairs.status_changed.connect(self.status_label.setText)
        self.pairs.error.connect(self._show_error)
        self.jobs.error.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.keys_file = keys
        self._keys_blind = False  # the blind mode's keys are in place
        self.keys, self.keys_problem = self._load_keys(keys)
        self.actions = build_actions(self, self._handlers(), self.keys)
        self._build_menus()
        self.tabs.currentChanged.connect(self._enable_pair_actions)
        self.pairs.ordering_changed.connect(self._enable_pair_actions)
        self.actions["blind_mode"].setCheckable(True)
        self._enable_pair_actions()
        self.resize(1400, 860)
        self._restore_window()

    # -- actions -----------------------------------------------------------------------------
    def _handlers(self) -> dict:
        p = self.pairs
        handlers = {
            "open_store": self.choose_store, "open_server": self.choose_server,
            "set_reviewer": self.choose_reviewer,
            "refresh": p.refresh, "quit": self.close,
            "relink_images": self.choose_relink,
            "accept": lambda: p.review("accept"), "flip": lambda: p.review("flip"),
            "exclude": lambda: p.review("exclude"), "reset": lambda: p.review("reset"),
            "note": p.note, "undo": p.undo, "redo": p.redo, "next": p.next,
            "order_image": p.start_order, "order_done": p.finish_order,
            "order_cancel": p.cancel_order, "blind_mode": p.toggle_blind,
            "answer_a": lambda: p.answer("a"), "answer_b": lambda: p.answer("b"),
            "answer_same": lambda: p.answer("same"),
            "previous": p.previous, "next_unreviewed": p.next_unreviewed, "first": p.first,
            "focus_filters": lambda: p.filters.queue.setFocus(),
            "reset_filters": p.reset_filters,
            "zoom_in": lambda: p.view.zoom(1.25), "zoom_out": lambda: p.view.zoom(0.8),
            "zoom_fit": p.view.zoom_fit, "help": self.show_help,
            "zoom_pair": p.view.zoom_pair, "keep_zoom": p.toggle_keep_zoom,
            "overlays": p.cycle_overlays, "strip": p.toggle_strip,
            "practice": p.toggle_practice,
            "brighter": lambda: p.adjust_picture(brightness=20),
            "darker": lambda: p.adjust_picture(brightness=-20),
            "more_contrast": lambda: p.adjust_picture(contrast=1.25),
            "less_contrast": lambda: p.adjust_picture(contrast=0.8),
            "picture_reset": lambda: p.status_changed.emit(p.view.reset_adjust()),
        }
        for spec in ACTIONS:
            verdict, _, reason = spec.name.partition("_")
            if reason and verdict in WITH_REASON:
                handlers[spec.name] = lambda v=verdict, r=reason: p.review(v, r)
        return handlers

    def _load_keys(self, path: Path | None) -> tuple[dict, str | None]:
        """The keys file's keys; a refused file leaves the defaults and says why (shown in the
        status bar and once in a dialog when the window opens)."""
        try:
            return load_keymap(path), None
        except WspError as e:
            problem = str(e)
            log.warning("keys file refused: %s", problem)
            QTimer.singleShot(0, lambda: self._show_error(f"{problem}; the default keys apply"))
            return default_keymap(), problem

    def _enable_pair_actions(self, _index: int = 0) -> None:
        """Review, navigation and zoom act only while the Pairs tab shows the pair; in the
        depth-order mode only its own keys (and zoom) act; in the blind mode the answers act
        on their keys (taken from the other pair actions) and accept and flip rest."""
        shown = self.tabs.currentWidget() is self.pairs
        ordering = self.pairs.ordering is not None
        blind = self.pairs.blind
        if blind != self._keys_blind:  # the keys change with the mode only
            self._keys_blind = blind
            taken = {portable(k) for n in BLIND_ACTIONS for k in self.keys[n]} if blind else set()
            for spec in ACTIONS:
                if spec.group in PAIR_GROUPS and spec.name not in BLIND_ACTIONS + ORDER_ACTIONS:
                    self.actions[spec.name].setShortcuts(
                        [QKeySequence(k) for k in self.keys[spec.name] if portable(k) not in taken])
        for spec in ACTIONS:
            name, action = spec.name, self.actions[spec.name]
            if name in ORDER_ACTIONS:
                action.setEnabled(shown and ordering)
            elif name in BLIND_ACTIONS:
                action.setEnabled(shown and blind and not ordering)
            elif spec.group in PAIR_GROUPS:
                action.setEnabled(shown and (spec.group == "View" or not ordering)
                                  and not (blind and name in LABEL_VERDICTS))
        self.actions["blind_mode"].setChecked(blind)

    def _build_menus(self) -> None:
        menus = {}
        for spec in ACTIONS:
            if spec.group not in menus:
                menus[spec.group] = self.menuBar().addMenu(f"&{spec.group}")
            menu = menus[spec.group]
            if spec.name == "quit":
                self.recent_menu = menus["File"].addMenu("Open &recent")
                menu.addSeparator()
            menu.addAction(self.actions[spec.name])
        self._fill_recent()

    def show_help(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        rows = help_rows(self.keys)
        table = readonly_table(QTableWidget(len(rows), 5),
                               ("group", "keys", "action", "what it does", "name in keys.toml"))
        table.setObjectName("shortcuts")
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                table.setItem(r, c, QTableWidgetItem(value))
        layout = QVBoxLayout(dialog)
        where = QLabel(self._keys_text())
        where.setWordWrap(True)
        where.setObjectName("keys_file")
        layout.addWidget(where)
        layout.addWidget(table)
        dialog.resize(760, 640)
        self.help_dialog = dialog
        dialog.show()

    # -- stores ------------------------------------------------------------------------------
    def choose_store(self) -> None:
        start = str(self.store_path.parent) if isinstance(self.store_path, Path) \
            else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a WSP store", start, STORE_FILTER)
        if path:
            self.open_store(path)

    def choose_relink(self) -> None:
        """File → Relink images…: a source, then the folder its images moved to."""
        sources = self.pairs.desk.sources()
        if not sources:
            self._show_error("open a store first: relinking points one of its sources at the "
                             "folder its images moved to")
            return
        source, ok = QInputDialog.getItem(self, "Relink images", "The source whose images moved:",
                                          sources, 0, False)
        if not ok:
            return
        folder = QFileDialog.getExistingDirectory(self, f"The folder of {source}'s images now",
                                                  str(Path.home()))
        if folder:
            self.relink_images(source, folder)

    def relink_images(self, source: str, folder: str | Path) -> bool:
        """Point ``source`` at ``folder`` (checked: it must hold the source's images); the
        desk reads its pairs again. False (with the reason shown) when refused."""
        store = self.pairs.store
        if store is None:
            return False
        try:
            result = relink_images(store, source, folder)
        except WspError as e:
            self._show_error(str(e))
            return False
        log.info("relinked %s: %s -> %s", source, result["old"], result["new"])
        self.pairs.loader.forget()
        self.pairs.refresh()
        self.statusBar().showMessage(f"{source}: images now read from {result['new']} "
                                     f"({result['found']} of {result['checked']} checked files "
                                     "found)", 15000)
        return True

    def choose_server(self) -> None:
        """File → Open server store…: the URL of a team's store (no password in it: one is
        asked for when the server wants it, and kept in this process only)."""
        last = next((p for p in self.recent_stores() if is_server(p)), "postgresql://")
        url, ok = QInputDialog.getText(self, "Open a server store",
                                       "Database URL (postgresql://user@host:port/database):",
                                       text=last)
        if ok and url.strip():
            self.open_store(url.strip())

    def choose_reviewer(self) -> None:
        """File → Your name…: the name written with each verdict (kept in the settings)."""
        name, ok = QInputDialog.getText(self, "Your name", "The name written with each of "
                                        "your verdicts:",
                                        text=self.pairs.reviewer or default_reviewer())
        if ok and name.strip():
            self.set_reviewer(name.strip())

    def set_reviewer(self, name: str) -> None:
        """From now on verdicts carry ``name``; an open store is opened again under it (the
        desk's claims and journal are a curator's)."""
        self.settings.setValue("reviewer", name)
        self.pairs.reviewer = self.pairs.desk.reviewer = name
        if self.store_path is not None:
            self.open_store(self.store_path)
        self.statusBar().showMessage(f"verdicts are now written as {name}", 10000)

    def _ask_password(self, shown: str) -> bool:
        """The server refused without a password: ask for it once, for this process (libpq
        reads PGPASSWORD, which the jobs this app starts inherit; never a command line)."""
        password, ok = QInputDialog.getText(self, "Server password", f"Password for {shown}:",
                                            QLineEdit.EchoMode.Password)
        if not ok:
            return False
        os.environ["PGPASSWORD"] = password
        return True

    def open_store(self, path: str | Path) -> bool:
        """Open a store (a file, or a server's URL); a bad one is refused with its reason and
        the current store stays."""
        path = store_target(str(path))
        if isinstance(path, Path):
            path = path.resolve()
        elif has_password(path):
            self._show_error(f"{shown_url(path)}: give the URL without its password (it is "
                             "asked for when the server wants one)")
            return False
        try:
            store = self._open(path)
        except WspError as e:
            self._show_error(str(e))
            return False
        if store is None:
            return False
        if self.store_path is not None:
            self._remember_place()
            if not self._close_current():
                store.close()
                return False
        self.store_path = path
        key = _store_key(path)
        pair = self.settings.value(f"stores/{key}/pair")
        self.pairs.open(store, self.settings.value(f"stores/{key}/queue"),
                        int(pair) if pair not in (None, "") else None)
        desk = self.pairs.desk  # the practice score goes on from the last session
        desk.practice_right, desk.practice_judged = _tally(
            self.settings.value(self._practice_key(key)))
        self.jobs.set_store(store)
        self.setWindowTitle(f"WSP Studio: {path.name if isinstance(path, Path) else store.path}")
        self._add_recent(path)
        log.info("opened store %s", path)
        return True

    def _open(self, path: Path | str):
        """The store at ``path``; None when a password was asked for and not given."""
        try:
            return open_store(path, create=False)
        except WspError as e:
            if not (is_server(path) and "password" in str(e) and self._ask_password(str(e))):
                raise
        return open_store(path, create=False)

    def _on_job_finished(self, kind: str, status: str) -> None:
        """An import or a scoring job changed the store: show its pairs and predictions."""
        log.info("job %s %s", kind, status)
        if status == "finished" and kind in ("import", "score") and self.pairs.store is not None:
            self.pairs.refresh()

    def _close_current(self) -> bool:
        store = self.pairs.store
        while not self.pairs.close_store(timeout=10.0):
            if not self.pairs.ask_to_wait():
                return False
        if store is not None:
            store.close()
        return True

    def _remember_place(self) -> None:
        session = self.pairs.session
        if self.store_path is None or session is None:
            return
        key = _store_key(self.store_path)
        self.settings.setValue(f"stores/{key}/queue", session.queue.kind)
        self.settings.setValue(f"stores/{key}/pair", session.current or "")
        desk = self.pairs.desk
        self.settings.setValue(self._practice_key(key),
                               f"{desk.practice_right},{desk.practice_judged}")

    def _practice_key(self, store_key: str) -> str:
        """Where a curator's practice score on a store is kept (per store and name)."""
        name = hashlib.sha1(str(self.pairs.reviewer or "").encode()).hexdigest()[:12]
        return f"stores/{store_key}/practice/{name}"

    def recent_stores(self) -> list[str]:
        value = self.settings.value("recent_stores") or []
        return [value] if isinstance(value, str) else list(value)

    def _add_recent(self, path: Path | str) -> None:
        recent = [str(path)] + [p for p in self.recent_stores() if p != str(path)]
        self.settings.setValue("recent_stores", recent[:MAX_RECENT])
        self.settings.setValue("last_store", str(path))
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_stores():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_store(p))
        self.recent_menu.setEnabled(bool(self.recent_stores()))

    def _show_error(self, message: str) -> None:
        log.warning("shown: %s", redact(message))
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, "WSP Studio", message)

    def _keys_text(self) -> str:
        if self.keys_problem:
            return f"Default keys: {self.keys_problem}"
        if self.keys_file is None:
            return "Default keys."
        state = "read from" if self.keys_file.exists() else "change them in"
        return (f"Keys {state} {self.keys_file} (one line per action: name = \"key\" or "
                "[\"key\", …]; docs/CURATION.md).")

    # -- window state ------------------------------------------------------------------------
    def _restore_window(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.value("window/pairs_splitter")
        if splitter is not None:
            self.pairs.splitter.restoreState(splitter)

    def _stop_jobs(self) -> bool:
        """Closing while a job runs asks first; the job is stopped, never left behind."""
        if not self.jobs.running():
            return True
        answer = QMessageBox.question(
            self, "A job is running",
            f"{self.jobs.runner.kind} is still running. Stop it and quit? A training run "
            "stops after its current step and can be resumed later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.jobs.shutdown()
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._stop_jobs():
            event.ignore()
            return
        self._remember_place()
        if not self._close_current():
            event.ignore()
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/pairs_splitter", self.pairs.splitter.saveState())
        self.settings.sync()
        self.collector.stop()
        event.accept()


def _tally(value) -> tuple[int, int]:
    """A kept practice score ("right,judged"); none, or one not in that form: 0 of 0."""
    try:
        right, judged = (int(v) for v in str(value).split(","))
    except ValueError:
        return 0, 0
    return (right, judged) if 0 <= right <= judged else (0, 0)


def _store_key(path: Path | str) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:16]
