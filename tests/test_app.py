"""The curator's desk, driven as a curator drives it: keys on the real window (pytest-qt),
on a store built from the synthetic world and the real samples."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from conftest import ROOT, press, saved  # noqa: E402
from helpers import two_person_coco  # noqa: E402
from wsp_core.store import check_effective_labels, open_store  # noqa: E402
from wsp_core.store.browse import load_queue, pair_rows  # noqa: E402
from wsp_core.verdicts import REASONS  # noqa: E402
from wsp_core.store.predictions import write_predictions  # noqa: E402
from wsp_app.actions import ACTIONS  # noqa: E402
from wsp_app.pair_list import COLUMNS  # noqa: E402


@pytest.fixture
def db(desk_db) -> Path:
    return desk_db


def settled(qtbot, win) -> None:
    """Wait until the filter panel has applied its last change."""
    qtbot.waitUntil(lambda: not win.pairs.filters.is_pending())


def reviews(db: Path) -> list[tuple]:
    with open_store(db) as st, st.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT pair_id, verdict, reason, reviewer FROM reviews ORDER BY id").fetchall()
        return [tuple(r) for r in rows]


def test_keyboard_review_writes_one_review_per_key(qtbot, window, db):
    win = window(db)
    queue = win.pairs.session.queue
    ids = [int(i) for i in queue.ids[:7]]
    press(qtbot, win, Qt.Key.Key_Space, Qt.Key.Key_F, Qt.Key.Key_3)
    press(qtbot, win, Qt.Key.Key_2, modifier=Qt.KeyboardModifier.AltModifier)
    press(qtbot, win, Qt.Key.Key_5, modifier=Qt.KeyboardModifier.ControlModifier)
    press(qtbot, win, Qt.Key.Key_X, Qt.Key.Key_D)
    saved(qtbot, win)
    assert reviews(db) == [
        (ids[0], "accept", None, "tester"), (ids[1], "flip", None, "tester"),
        (ids[2], "ambiguous", REASONS[2], "tester"), (ids[3], "flip", REASONS[1], "tester"),
        (ids[4], "exclude", REASONS[4], "tester"), (ids[5], "exclude", None, "tester")]
    assert win.pairs.session.position == 7  # six verdicts, then D
    press(qtbot, win, Qt.Key.Key_A)
    assert win.pairs.session.current == ids[6]
    assert "reviewed 6 /" in win.status_label.text()
    assert f"position 7 / {len(queue):,}" in win.status_label.text()
    with open_store(db) as st:
        rows = {r["pair_id"]: r for r in pair_rows(st, ids)}
        assert check_effective_labels(st) == []
    assert rows[ids[1]]["label"] == 1 - rows[ids[1]]["auto_label"]
    assert rows[ids[2]]["label"] is None and rows[ids[0]]["status"] == "accept"
    model = win.pairs.model
    assert model.data(model.index(1, COLUMNS.index("status"))) == "flip"  # at once


def test_review_keys_act_only_while_the_pairs_tab_shows_the_pair(qtbot, window, db):
    """On another tab the pair is hidden: no key may write a verdict on it or move the queue."""
    win = window(db)
    first = win.pairs.session.current
    for tab in (win.jobs, win.view3d, win.photo):
        win.tabs.setCurrentWidget(tab)
        press(qtbot, win, Qt.Key.Key_1, Qt.Key.Key_Space, Qt.Key.Key_F, Qt.Key.Key_X,
              Qt.Key.Key_D)
        press(qtbot, win, Qt.Key.Key_2, modifier=Qt.KeyboardModifier.AltModifier)
        assert not win.actions["accept"].isEnabled()
    saved(qtbot, win)
    assert reviews(db) == [] and win.pairs.session.current == first
    win.tabs.setCurrentWidget(win.pairs)
    press(qtbot, win, Qt.Key.Key_1)
    saved(qtbot, win)
    assert reviews(db) == [(first, "ambiguous", REASONS[0], "tester")]
    assert win.actions["help"].isEnabled() and win.actions["open_store"].isEnabled()


def _typed(qtbot, win, *keys) -> None:
    """Keys as the keyboard delivers them: to the widget that has the focus."""
    from PySide6.QtWidgets import QApplication

    for key in keys:
        qtbot.keyClick(QApplication.focusWidget() or win, key)


def _focus(qtbot, win, widget) -> None:
    win.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def test_filter_fields_hand_the_keys_back_to_the_pair(qtbot, window, db):
    """Escape or Return in a filter field, or a click on the image, gives the keys back to the
    pair; PgUp/PgDown in a ΔS box step its value (they do not move to another pair); an emptied
    ΔS box means "any", however it is left; one action resets every filter."""
    win = window(db)
    panel = win.pairs.filters
    _focus(qtbot, win, panel.image)
    qtbot.keyClicks(panel.image, ".jpg")
    _typed(qtbot, win, Qt.Key.Key_Return)
    assert not panel.image.hasFocus() and panel.pair_filter().image == ".jpg"
    first = win.pairs.session.current
    _typed(qtbot, win, Qt.Key.Key_Space)                        # a verdict, not a typed space
    saved(qtbot, win)
    assert reviews(db) == [(first, "accept", None, "tester")] and panel.image.text() == ".jpg"
    panel.ds_max.setValue(0.1)
    _focus(qtbot, win, panel.ds_max)
    panel.ds_max.lineEdit().selectAll()
    _typed(qtbot, win, Qt.Key.Key_Backspace, Qt.Key.Key_Escape)
    assert panel.pair_filter().delta_s_max is None and not panel.ds_max.hasFocus()
    shown = win.pairs.session.current
    panel.ds_min.setValue(1.0)
    _focus(qtbot, win, panel.ds_min)  # PgUp/PgDown step the box, not the pairs
    _typed(qtbot, win, Qt.Key.Key_PageDown, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp)
    assert panel.ds_min.value() == pytest.approx(0.5) and win.pairs.session.current == shown
    panel.ds_min.lineEdit().selectAll()
    _typed(qtbot, win, Qt.Key.Key_Delete)
    qtbot.mouseClick(win.pairs.view.viewport(), Qt.MouseButton.LeftButton)  # left by a click
    assert not panel.ds_min.hasFocus() and panel.pair_filter().delta_s_min is None
    _focus(qtbot, win, panel.image)
    qtbot.mouseClick(win.pairs.view.viewport(), Qt.MouseButton.LeftButton)
    assert not panel.image.hasFocus()
    panel.set_status("auto")
    panel.reason.setCurrentIndex(2)
    press(qtbot, win, Qt.Key.Key_F, modifier=Qt.KeyboardModifier.ControlModifier
          | Qt.KeyboardModifier.ShiftModifier)
    assert panel.pair_filter() == type(panel)().pair_filter()   # as a fresh panel's
    qtbot.waitUntil(lambda: len(win.pairs.session.queue) == len(load_queue_ids(db)))


def load_queue_ids(db: Path) -> list[int]:
    with open_store(db) as st:
        return [int(i) for i in load_queue(st).ids]


def test_undo_and_redo_write_new_reviews_and_move_back(qtbot, window, db):
    win = window(db)
    ids = [int(i) for i in win.pairs.session.queue.ids[:2]]
    press(qtbot, win, Qt.Key.Key_F, Qt.Key.Key_4)
    press(qtbot, win, Qt.Key.Key_Z, modifier=Qt.KeyboardModifier.ControlModifier)
    assert win.pairs.session.current == ids[1]
    press(qtbot, win, Qt.Key.Key_Z, modifier=Qt.KeyboardModifier.ControlModifier)
    assert win.pairs.session.current == ids[0]
    assert win.pairs.info.headline.text() in ("A is closer", "B is closer")
    press(qtbot, win, Qt.Key.Key_Y, modifier=Qt.KeyboardModifier.ControlModifier)
    saved(qtbot, win)
    assert [r[:3] for r in reviews(db)] == [
        (ids[0], "flip", None), (ids[1], "ambiguous", "occlusion"), (ids[1], "reset", None),
        (ids[0], "reset", None), (ids[0], "flip", None)]
    win.pairs.side.setCurrentWidget(win.pairs.history)  # read when shown
    qtbot.waitUntil(lambda: win.pairs.history.rowCount() == 3)
    verdicts = [win.pairs.history.item(r, 1).text() for r in range(3)]
    assert verdicts == ["flip", "reset", "flip"]


def test_undo_refuses_to_overwrite_another_curators_later_verdict(qtbot, window, db):
    """Window and a second curator on one store: the window's undo of a pair the other curator
    reviewed since is refused with their name, and the pair shows their verdict."""
    from wsp_core.curation import ReviewSession

    win = window(db)
    first = win.pairs.session.current
    press(qtbot, win, Qt.Key.Key_Space)
    saved(qtbot, win)
    with open_store(db) as st:
        other = ReviewSession(st, load_queue(st), reviewer="bo")
        other.go_to_pair(first)
        other.review("exclude", "occlusion")
    press(qtbot, win, Qt.Key.Key_Z, modifier=Qt.KeyboardModifier.ControlModifier)
    assert "not undone" in win.status_label.text() and "bo's exclude" in win.status_label.text()
    assert win.pairs.session.current == first
    assert win.pairs.info.values["status"].text() == "excluded (occlusion)"   # live, not stale
    saved(qtbot, win)
    assert reviews(db) == [(first, "accept", None, "tester"),
                           (first, "exclude", "occlusion", "bo")]


def test_filters_and_queues_change_what_the_desk_walks(qtbot, window, db):
    with open_store(db) as st:
        every = load_queue(st)
        ids = [int(i) for i in every.ids]
        labels = {r["pair_id"]: r["label"] for r in pair_rows(st, ids)}
        worst = ids[-3]
        agree = {p: 0.9 if labels[p] == 1 else 0.1 for p in ids}
        probs = [1 - agree[p] + (0.08 if agree[p] < 0.5 else -0.08) if p == worst else agree[p]
                 for p in ids]  # the model disagrees with one pair, with P 0.98 or 0.02
        write_predictions(st, str(db.parent / "run" / "best.pt"), ids, probs)
        # a later model near chance: listed, never ranked by by default
        write_predictions(st, str(db.parent / "weak" / "last.pt"), ids, [0.5] * len(ids))
    for run, auc in (("run", 0.93), ("weak", 0.55)):
        (db.parent / run).mkdir()
        (db.parent / run / "metrics.jsonl").write_text(
            json.dumps({"epoch": 0, "loss": 1.0, "val_auc": auc}) + "\n")
    win = window(db)
    panel = win.pairs.filters
    assert panel.checkpoint_path() == str(db.parent / "run" / "best.pt")  # the good model
    texts = [panel.checkpoint.itemText(k) for k in range(panel.checkpoint.count())]
    assert texts[1].startswith("weak/last.pt · val AUC 0.55 (too weak")
    assert "val AUC 0.93" in texts[2]
    panel.checkpoint.setCurrentIndex(0)  # "no model" stays chosen through a refresh
    press(qtbot, win, Qt.Key.Key_F5)
    assert panel.checkpoint_path() is None
    panel.checkpoint.setCurrentIndex(2)
    settled(qtbot, win)
    press(qtbot, win, Qt.Key.Key_Space, Qt.Key.Key_F)
    saved(qtbot, win)
    panel.set_status("auto")
    qtbot.waitUntil(lambda: len(win.pairs.session.queue) == len(ids) - 2)
    assert set(win.pairs.session.queue.ids) == set(ids[2:])
    panel.source.setCurrentIndex(panel.source.findText("test_crowdpose"))
    qtbot.waitUntil(lambda: len(win.pairs.session.queue) == 1)
    assert win.pairs.model.rowCount() == 1
    assert win.pairs.detail.source == "test_crowdpose"
    panel.source.setCurrentIndex(0)
    panel.set_status("")
    panel.set_queue_kind("suspicious")
    qtbot.waitUntil(lambda: win.pairs.session.queue.kind == "suspicious")
    first = [int(p) for p in win.pairs.session.queue.ids[:3]]
    assert worst in first  # at the top with the strongest cue and size pairs (ties: by id)
    press(qtbot, win, Qt.Key.Key_Home)
    assert win.pairs.detail.pair_id == first[0]
    win.pairs.go(first.index(worst))
    assert win.pairs.detail.pair_id == worst
    assert win.pairs.info.values["model P(A closer)"].text() in ("0.020", "0.980")
    panel.ds_max.setValue(0.1)
    settled(qtbot, win)
    assert 0 < len(win.pairs.session.queue) < len(ids)
    assert (win.pairs.session.queue.delta_s <= 0.1).all()
    panel.ds_max.setValue(panel.ds_max.minimum())
    panel.image.setText("000004")
    settled(qtbot, win)
    assert 0 < len(win.pairs.session.queue) < len(ids)
    assert all("000004" in r["image"] for r in
               pair_rows(win.pairs.store, win.pairs.session.queue.ids))
    panel.image.setText("")
    panel.set_queue_kind("qa")
    qtbot.waitUntil(lambda: win.pairs.session.queue.kind == "qa")
    press(qtbot, win, Qt.Key.Key_Home)
    assert win.pairs.blind  # the QA sample is answered blind: A, B (which is closer)
    press(qtbot, win, Qt.Key.Key_A, Qt.Key.Key_A, Qt.Key.Key_B)
    saved(qtbot, win)
    win.pairs.refresh_stats()
    estimate = win.pairs.stats.last["estimate"]
    assert estimate["sample"] >= 3 and estimate["right"] + estimate["wrong"] >= 3
    assert "Automatic labels right" in win.pairs.stats.qa_label.text()


def test_reopening_shows_the_same_state_and_place(qtbot, window, db, settings):
    win = window(db)
    win.pairs.filters.set_queue_kind("qa")
    qtbot.waitUntil(lambda: win.pairs.session.queue.kind == "qa")
    press(qtbot, win, Qt.Key.Key_B, modifier=Qt.KeyboardModifier.ControlModifier)  # label shown
    press(qtbot, win, Qt.Key.Key_Home, Qt.Key.Key_F, Qt.Key.Key_1, Qt.Key.Key_D)
    place = win.pairs.session.current
    first = int(win.pairs.session.queue.ids[0])
    win.close()
    again = window()
    assert again.recent_stores() == [str(db.resolve())]
    assert again.open_store(db)
    assert again.pairs.session.queue.kind == "qa" and again.pairs.session.current == place
    assert again.pairs.model.row(0)["status"] == "flip"
    assert again.pairs.session.queue.reviewed() == 2
    assert [r[1] for r in reviews(db)] == ["flip", "ambiguous"]
    again.pairs.go(0)
    assert again.pairs.detail.pair_id == first and again.pairs.detail.status == "flip"


def test_missing_and_corrupt_images_show_a_placeholder_and_review_still_works(
        qtbot, window, tmp_path):
    ann, images = two_person_coco(tmp_path)
    db = tmp_path / "small.db"
    from wsp_core.cli import main

    assert main(["import", "--db", str(db), "--format", "coco", "--ann", str(ann),
                 "--images", str(images)]) == 0
    (images / "a.jpg").unlink()
    win = window(db)
    qtbot.waitUntil(lambda: win.pairs.view.placeholder not in (None, "loading image…"))
    assert win.pairs.view.placeholder.startswith("image not found:")
    press(qtbot, win, Qt.Key.Key_Space)
    saved(qtbot, win)
    assert [r[1] for r in reviews(db)] == ["accept"]
    (images / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    win.pairs.loader._cache.clear()
    win.pairs.go(0)
    qtbot.waitUntil(lambda: (win.pairs.view.placeholder or "").startswith("cannot read"))
    press(qtbot, win, Qt.Key.Key_F)
    saved(qtbot, win)
    assert [r[1] for r in reviews(db)] == ["accept", "flip"]


def test_a_bad_store_is_refused_and_the_open_one_stays(qtbot, window, db, tmp_path, errors):
    win = window(db)
    bad = tmp_path / "notes.db"
    bad.write_text("not a database")
    assert not win.open_store(bad)
    assert errors and str(bad) in errors[0] and "not a WSP store" in errors[0]
    assert win.store_path == db.resolve() and win.pairs.session is not None
    press(qtbot, win, Qt.Key.Key_Space)
    saved(qtbot, win)
    assert len(reviews(db)) == 1


def test_a_locked_store_does_not_freeze_the_desk(qtbot, window, db, errors):
    """Another process holds the write lock (as an import does): keys still work at once, the
    reviews wait in the writer and land when the lock is released; nothing says 'locked'."""
    win = window(db)
    ids = [int(i) for i in win.pairs.session.queue.ids[:3]]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "c.execute(\"INSERT INTO wsp_meta VALUES ('lock_test', '1')\")\n"
         "print('locked', flush=True)\n"
         "sys.stdin.readline()\n"
         "c.execute('COMMIT')\n", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        press(qtbot, win, Qt.Key.Key_Space, Qt.Key.Key_F, Qt.Key.Key_D, Qt.Key.Key_X)
        # the keys were handled while the lock is held: nothing could be written yet
        assert win.pairs.session.position == 4
        assert win.pairs.writer.pending == 3
        press(qtbot, win, Qt.Key.Key_A, Qt.Key.Key_A)  # browsing reads the store meanwhile
        assert win.pairs.detail.pair_id == ids[2]
        qtbot.waitUntil(lambda: "waiting for the store" in win.status_label.text(), timeout=5000)
    finally:
        holder.communicate("\n", timeout=30)
    saved(qtbot, win)
    assert [r[:2] for r in reviews(db)] == [(ids[0], "accept"), (ids[1], "flip"),
                                           (int(win.pairs.session.queue.ids[3]), "exclude")]
    assert not errors


def test_a_verdict_is_written_after_the_next_pair_is_painted(qtbot, window, db, monkeypatch):
    """The writer's thread starts on a verdict only once the window has painted the next pair
    (the write's Python work would share the interpreter's lock with that paint); the journal
    has it before, and a flush (undo's, closing's) writes it at once, without a frame."""
    import time

    from PySide6.QtCore import QEvent, QObject

    from wsp_app.writer import ReviewWriter

    starts, paints = [], []
    write = ReviewWriter._write_journaled
    monkeypatch.setattr(ReviewWriter, "_write_journaled",
                        lambda self, reviews: (starts.append(time.perf_counter()),
                                               write(self, reviews)))
    win = window(db)
    tab = win.pairs
    second = int(tab.session.queue.ids[1])

    class Painted(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint and tab.detail.pair_id == second:
                paints.append(time.perf_counter())
            return False

    spy = Painted()
    tab.view.viewport().installEventFilter(spy)
    press(qtbot, win, Qt.Key.Key_Space)
    assert tab.journal.pending_batches()  # on disk before the thread has it
    saved(qtbot, win)
    assert len(starts) == 1 and paints and paints[0] < starts[0]
    assert len(reviews(db)) == 1

    tab.review("flip")  # no event handled between the key and the flush
    assert tab.writer.flush(10) and len(reviews(db)) == 2 and len(starts) == 2


def test_sigkill_after_n_reviews_loses_none(tmp_path, db):
    n = 9
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "app_driver.py"), str(db),
                             str(tmp_path / "s.ini"), str(n)], stdout=subprocess.PIPE,
                            text=True, env=env)
    watchdog = threading.Timer(120, proc.kill)  # a driver that hangs fails the test
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.strip() == f"saved {n}":
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    got = reviews(db)
    assert len(got) == n and {r[3] for r in got} == {"driver"}
    with open_store(db) as st:
        assert check_effective_labels(st) == []
        first = [int(i) for i in load_queue(st).ids[:n]]
    assert [r[0] for r in got] == first
    assert [r[1] for r in got][:4] == ["accept", "flip", "ambiguous", "exclude"]


def test_every_action_has_a_handler_a_shortcut_and_a_help_row(qtbot, window):
    win = window()
    for spec in ACTIONS:
        action = win.actions[spec.name]
        assert action.shortcuts(), spec.name
    win.show_help()
    table = win.help_dialog.findChild(type(win.pairs.history).__mro__[1], "shortcuts")
    assert table.rowCount() == len(ACTIONS)
    keys = {table.item(r, 1).text() for r in range(table.rowCount())}
    assert "Space, Y" in keys and "Alt+1" in keys and "Ctrl+Z" in keys
    for blind in (False, True):  # no key on two actions that can act at the same time
        win.pairs.set_blind(blind)
        shortcuts = [s.toString() for a in win.actions.values() if a.isEnabled()
                     for s in a.shortcuts()]
        assert len(shortcuts) == len(set(shortcuts)), blind


def test_the_list_pages_rows_in_instead_of_loading_the_table(qtbot, window, db):
    win = window(db)
    model = win.pairs.model
    assert model.rowCount() == len(win.pairs.session.queue)
    model.page_size = 5
    model._pages.clear()
    reads = model.page_reads
    last = model.rowCount() - 1
    win.pairs.go(last)
    assert model.data(model.index(last, 1)) == str(win.pairs.session.current)
    assert model.page_reads - reads <= 3  # the pages on screen, not the whole queue


def test_a_verdict_on_a_page_not_read_yet_shows_when_it_is_read(qtbot, window, db):
    """A verdict announced before the writer commits it reads no page; the page read later
    (from the store that does not have the verdict yet) shows it all the same."""
    from wsp_core.desk import PairState

    win = window(db)
    model = win.pairs.model
    model.page_size = 2
    model._pages.clear()
    last = model.rowCount() - 1
    pair_id = int(model.queue.ids[last])
    reads = model.page_reads
    model.update_pairs([PairState(pair_id, "flipped", "hugging", 0)])
    assert model.page_reads == reads                     # nothing read to mend a page
    assert model.data(model.index(last, 2)) == "flipped (hugging)"
    assert model.page_reads == reads + 1                 # read now, the verdict laid over it
    assert win.pairs.store is not None and model.row(last)["label"] == 0


def test_the_list_shows_empty_rows_while_the_store_cannot_be_read(qtbot, window, db,
                                                                   monkeypatch):
    """A page the list cannot read (the server is away) is painted empty, not raised into Qt's
    paint, and read when the store answers again."""
    import wsp_app.pair_list as pair_list
    from wsp_core.errors import StoreError

    win = window(db)
    model = win.pairs.model
    model._pages.clear()
    real = pair_list.pair_rows

    def away(*_args):
        raise StoreError("postgresql://x: cannot reach the server")

    monkeypatch.setattr(pair_list, "pair_rows", away)
    assert model.data(model.index(0, 1)) is None
    win.pairs.table.viewport().repaint()                 # no exception in the paint
    monkeypatch.setattr(pair_list, "pair_rows", real)
    assert model.data(model.index(0, 1)) == str(int(model.queue.ids[0]))


def test_the_labels_panel_is_painted_and_copied_as_text(qtbot, window, db):
    win = window(db)
    info = win.pairs.info
    detail = win.pairs.detail
    text = info.as_text()
    assert f"pair: {detail.pair_id}" in text and f"image: {detail.file_name}" in text
    info.resize(330, 600)
    image = info.grab().toImage()                        # the headline in its colour
    colours = {image.pixelColor(x, y).name() for x in range(10, 300, 2) for y in range(10, 45)}
    assert info.headline.colour.name() in colours
    info.actions()[0].trigger()
    from PySide6.QtWidgets import QApplication
    assert QApplication.clipboard().text() == text


def test_the_pair_drawn_last_is_not_drawn_again(qtbot, window, db):
    """A re-ranked queue shows its pair again: the very same pair and picture keep their
    drawing; another reading of the pair, another picture or the blind mode draw anew."""
    import dataclasses

    win = window(db)
    view, detail = win.pairs.view, win.pairs.detail
    qtbot.waitUntil(lambda: view.placeholder is None)
    loaded = view._loaded
    drawn = list(view._skeletons)
    view.show_pair(detail, loaded)
    assert view._skeletons == drawn
    view.show_pair(dataclasses.replace(detail), loaded)
    assert view._skeletons and view._skeletons[0] is not drawn[0]
    drawn = list(view._skeletons)
    win.pairs.set_blind(True)
    assert view._skeletons[0] is not drawn[0]


def test_garbage_is_collected_on_the_gui_thread_while_a_window_is_open(qtbot, window):
    """A cycle collected by the review writer's or an image read's thread would delete its Qt
    objects off the GUI thread; while a window is open only the GUI thread collects."""
    import gc

    win = window()
    assert not gc.isenabled()
    where: list[str] = []

    class Cyclic:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            where.append(threading.current_thread().name)

    Cyclic()
    worker = threading.Thread(target=lambda: [[] for _ in range(100_000)], name="worker")
    worker.start()
    worker.join()
    assert where == []  # with automatic collection the worker's allocations collect it
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == ["MainThread"]
    win.close()
    assert gc.isenabled()


def test_a_keys_file_remaps_the_review_keys_and_the_help_shows_them(qtbot, window, db, tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('accept = "J"\nnext = ["L", "Right"]\n')
    win = window(db, keys=keys)
    first = win.pairs.session.current
    press(qtbot, win, Qt.Key.Key_Space)  # Space was accept's; the file took it away
    assert win.pairs.session.current == first
    press(qtbot, win, Qt.Key.Key_J)
    saved(qtbot, win)
    assert [(r[0], r[1]) for r in reviews(db)] == [(first, "accept")]
    press(qtbot, win, Qt.Key.Key_L)
    assert win.pairs.session.position == 2
    win.show_help()
    table = win.help_dialog.findChild(type(win.pairs.history).__mro__[1], "shortcuts")
    rows = {table.item(r, 4).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["accept"] == "J" and rows["next"] == "L, Right" and rows["flip"] == "F"
    assert str(keys) in win.help_dialog.findChild(QLabel, "keys_file").text()


@pytest.mark.parametrize("text, problem", [
    ('flip = "Y"', "the key Y is given to both accept (by default) and flip"),
    ('accept = "J"\nflip = "j"', "the key J is given to both accept and flip"),
    ('acept = "J"', "no action named 'acept'"),
    ('accept = "Ctrl+Bogus"', "'Ctrl+Bogus' is not a key Qt can read"),
    ('accept = 3', "a key (\"K\") or a list of keys"),
    ('accept = [', "not a keys file"),
])
def test_a_bad_keys_file_is_refused_whole_with_one_line(qtbot, window, errors, tmp_path, text,
                                                        problem):
    keys = tmp_path / "keys.toml"
    keys.write_text(text + "\n")
    win = window(keys=keys)
    qtbot.waitUntil(lambda: len(errors) == 1)
    assert str(keys) in errors[0] and problem in errors[0]
    assert "the default keys apply" in errors[0] and "\n" not in errors[0]
    assert [s.toString() for s in win.actions["accept"].shortcuts()] == ["Space", "Y"]
    assert [s.toString() for s in win.actions["flip"].shortcuts()] == ["F"]


def _click_person(qtbot, view, person, shift=False) -> None:
    """A click on the middle of a person's box in the pair view (Shift held or not)."""
    from PySide6.QtCore import QPointF

    x, y, w, h = person.bbox
    pos = view.mapFromScene(QPointF(x + w / 2, y + h / 2))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ShiftModifier if shift
                     else Qt.KeyboardModifier.NoModifier, pos)


def test_a_whole_image_is_ordered_by_depth_with_clicks_and_undone_as_one(qtbot, window,
                                                                          tmp_path):
    """O, then a click on each person from the nearest (Shift: the same depth), Return: every
    pair of the image gets its verdict in one step; Ctrl+Z takes the whole image back."""
    from helpers import crowd_store

    db = crowd_store(tmp_path)
    win = window(db)
    view = win.pairs.view

    def click(person, shift=False):
        _click_person(qtbot, view, person, shift)

    press(qtbot, win, Qt.Key.Key_O)
    assert win.pairs.ordering == {} and not win.actions["accept"].isEnabled()
    press(qtbot, win, Qt.Key.Key_Space)  # review keys rest while ordering
    nearest_first = sorted(win.pairs.desk.image_persons(), key=lambda p: -p.ankle_y)
    click(nearest_first[0])
    click(nearest_first[2])                # a mistake …
    click(nearest_first[2])                # … taken back
    for person in nearest_first[1:3]:
        click(person)
    click(nearest_first[3], shift=True)    # as far as the third
    assert sorted(win.pairs.ordering.values()) == [0, 1, 2, 2]
    win.grab().save(str(os.environ.get("WSP_SHOTS", tmp_path)) + "/order.png")
    press(qtbot, win, Qt.Key.Key_Return)
    saved(qtbot, win)
    got = reviews(db)
    assert len(got) == 6 and sorted(r[1] for r in got) == ["accept"] * 5 + ["ambiguous"]
    assert win.pairs.ordering is None and win.actions["accept"].isEnabled()
    press(qtbot, win, Qt.Key.Key_Z, modifier=Qt.KeyboardModifier.ControlModifier)
    with open_store(db) as st:
        assert {r["status"] for r in pair_rows(st, load_queue(st).ids)} == {"auto"}
    assert len(reviews(db)) == 12


def test_an_image_of_six_persons_is_decided_by_one_return_as_fifteen_reviews(qtbot, window,
                                                                             tmp_path):
    """Issue 18's case: an image of six persons, numbered by clicks from the nearest (here the
    reverse of what the ankles say, so every label is wrong): one Return writes its 15 pairs'
    verdicts as one step and moves to the next image; one Ctrl+Z takes all 15 back."""
    from wsp_core.cli import main

    from helpers import crowded_coco

    ann, images = crowded_coco(tmp_path, 2)
    db = tmp_path / "six.db"
    assert main(["import", "--db", str(db), "--format", "coco", "--ann", str(ann),
                 "--images", str(images)]) == 0
    win = window(db)
    tab = win.pairs
    image = tab.detail.image_id
    press(qtbot, win, Qt.Key.Key_O)
    persons = tab.desk.image_persons()
    assert len(persons) == 6
    for person in sorted(persons, key=lambda p: p.ankle_y):  # the highest ankles "nearest"
        _click_person(qtbot, tab.view, person)
    assert sorted(tab.ordering.values()) == list(range(6))
    press(qtbot, win, Qt.Key.Key_Return)
    saved(qtbot, win)
    got = reviews(db)
    assert len(got) == 15 and {r[1] for r in got} == {"flip"} and len({r[0] for r in got}) == 15
    assert tab.detail.image_id != image and len(tab.session.undo_stack) == 1
    with open_store(db) as st:
        states = {r["pair_id"]: r["status"] for r in pair_rows(st, load_queue(st).ids)}
    assert list(states.values()).count("flip") == 15
    press(qtbot, win, Qt.Key.Key_Z, modifier=Qt.KeyboardModifier.ControlModifier)
    saved(qtbot, win)
    with open_store(db) as st:
        assert {r["status"] for r in pair_rows(st, load_queue(st).ids)} == {"auto"}
    assert len(reviews(db)) == 30 and tab.detail.image_id == image


def test_practice_mode_tells_the_truth_after_each_blind_answer(qtbot, window, tmp_path):
    """Ctrl+P on a source with 3D truth: after each answer the window says which person was
    closer and the curator's own accuracy so far; Ctrl+P again ends it with the score, which
    the next session on the store goes on from."""
    from helpers import synth_store
    from wsp_core.store.browse import pair_truth

    db = synth_store(tmp_path, 6, 3)
    win = window(db)
    tab = win.pairs
    press(qtbot, win, Qt.Key.Key_P, modifier=Qt.KeyboardModifier.ControlModifier)
    press(qtbot, win, Qt.Key.Key_B, modifier=Qt.KeyboardModifier.ControlModifier)  # blind
    assert tab.desk.practice and tab.view.blind
    answered = []
    for key in (Qt.Key.Key_A, Qt.Key.Key_B):
        answered.append((tab.session.current, 1 if key == Qt.Key.Key_A else 0))
        press(qtbot, win, key)
        pair, said = answered[-1]
        with open_store(db) as st:
            truth = pair_truth(st, pair)
        shown = win.status_label.text()
        assert f"{'A' if truth == 1 else 'B'} was closer (3D truth)" in shown
        assert f"you: {'right' if said == truth else 'wrong'}" in shown
    with open_store(db) as st:
        right = sum(pair_truth(st, pair) == said for pair, said in answered)
    assert f"{right} of 2 right" in win.status_label.text()
    press(qtbot, win, Qt.Key.Key_P, modifier=Qt.KeyboardModifier.ControlModifier)
    assert not tab.desk.practice and f"{right} of 2 right" in win.status_label.text()
    win.close()                                    # the score is kept for the next session
    again = window(db).pairs.desk
    assert (again.practice_right, again.practice_judged) == (right, 2)


def test_the_blind_mode_hides_the_label_and_derives_the_verdict(qtbot, window, tmp_path):
    """The QA queue opens blind: the label, status and scores hidden, the list's label columns
    too; A, B or S answer which person is closer and the desk writes accept, flip or same
    depth. Ctrl+B shows the label again, and A goes back to being "previous"."""
    from helpers import crowd_store

    db = crowd_store(tmp_path)
    win = window(db)
    tab = win.pairs
    assert not tab.blind and win.actions["accept"].isEnabled()
    tab.filters.set_queue_kind("qa")
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: tab.desk.queue.kind == "qa")
    assert tab.blind and not win.actions["accept"].isEnabled()
    assert tab.info.headline.text() == "Which is closer?"
    assert tab.info.values["automatic label"].text() == "hidden"
    assert tab.table.isColumnHidden(COLUMNS.index("label"))
    first = tab.desk.detail
    nearer_is_a = first.a.ankle_y > first.b.ankle_y
    press(qtbot, win, Qt.Key.Key_A if nearer_is_a else Qt.Key.Key_B)   # right: accept
    second = tab.desk.detail
    press(qtbot, win, Qt.Key.Key_B if second.a.ankle_y > second.b.ankle_y else Qt.Key.Key_A)
    press(qtbot, win, Qt.Key.Key_S)
    saved(qtbot, win)
    got = {r[0]: r[1:] for r in reviews(db)}
    assert got[first.pair_id][0] == "accept" and got[second.pair_id][0] == "flip"
    assert len(got) == 3 and sorted(v[0] for v in got.values()) == ["accept", "ambiguous", "flip"]
    press(qtbot, win, Qt.Key.Key_B, modifier=Qt.KeyboardModifier.ControlModifier)
    assert not tab.blind and not tab.table.isColumnHidden(COLUMNS.index("label"))
    position = tab.desk.position
    press(qtbot, win, Qt.Key.Key_A)                                    # previous, again
    assert tab.desk.position == position - 1 and len(reviews(db)) == 3


def test_overlays_marks_tags_zoom_and_picture_keys(qtbot, window, tmp_path):
    """H shows, dims and hides the overlays; joint marks and tags keep their size on screen at
    any zoom, and A's and B's tags never cover each other; each pair starts fitted unless K
    keeps the zoom; Z zooms to both boxes; ] and ' change the picture, Ctrl+0 restores it."""

    from helpers import crowd_store

    db = crowd_store(tmp_path)
    win = window(db)
    view = win.pairs.view
    qtbot.waitUntil(lambda: view.placeholder is None)

    from wsp_app.pair_view import Skeleton

    def marks():  # each joint mark and ankle ring as painted on the screen, and its colour
        out = []
        for item in view._overlay:
            if isinstance(item, Skeleton):
                out += [(rect.width(), ring, item._colour.name())
                        for rect, ring in item.marks(item.deviceTransform(
                            view.viewportTransform()))]
        return out

    def painted(colour):  # the view's pixels of one person's colour
        image = view.viewport().grab().toImage()
        return sum(image.pixelColor(x, y).name() == colour
                   for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))

    dots = marks()
    assert any(ring for _, ring, _ in dots) and any(not ring for _, ring, _ in dots)
    a_colour = view._skeletons[-2]._colour.name()
    before = painted(a_colour)
    press(qtbot, win, Qt.Key.Key_Plus, Qt.Key.Key_Plus, Qt.Key.Key_Plus)
    assert marks() == dots                                          # no growing
    assert before > 0 and painted(a_colour) > 0
    tags = [t for t, _ in view._tags]
    assert len(tags) == 2
    a, b = (t.deviceTransform(view.viewportTransform()).mapRect(t.boundingRect()) for t in tags)
    assert a.width() == tags[0].rect().width() and not a.intersects(b)
    import dataclasses                                   # two boxes at almost one corner
    detail = win.pairs.detail
    x, y, w, h = detail.a.bbox
    close = dataclasses.replace(detail, b=dataclasses.replace(detail.b, bbox=(x + 4, y + 3, w, h)))
    view.show_pair(close, view._loaded)
    a, b = (t.deviceTransform(view.viewportTransform()).mapRect(t.boundingRect())
            for t, _ in view._tags)
    assert not a.intersects(b)
    win.pairs.show_current()
    press(qtbot, win, Qt.Key.Key_H)
    assert {round(i.opacity(), 2) for i in view._overlay} == {0.3}
    press(qtbot, win, Qt.Key.Key_H)
    assert not any(i.isVisible() for i in view._overlay)
    press(qtbot, win, Qt.Key.Key_H)
    assert all(i.isVisible() and i.opacity() == 1.0 for i in view._overlay)
    zoomed = view.transform().m11()
    press(qtbot, win, Qt.Key.Key_D)                      # a new pair starts fitted
    fitted = view.transform().m11()
    assert fitted < zoomed
    press(qtbot, win, Qt.Key.Key_Z)                      # both boxes fill the view
    detail = win.pairs.detail
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    for x, y, w, h in (detail.a.bbox, detail.b.bbox):
        assert shown.contains(QRectF(x, y, w, h))
    assert view.transform().m11() > fitted
    press(qtbot, win, Qt.Key.Key_K)                      # keep the zoom
    kept = view.transform().m11()
    press(qtbot, win, Qt.Key.Key_D)
    assert view.transform().m11() == pytest.approx(kept)
    before = view._pixmap.pixmap().toImage().pixelColor(5, 5).lightness()
    press(qtbot, win, Qt.Key.Key_BracketRight, Qt.Key.Key_BracketRight)
    assert view._pixmap.pixmap().toImage().pixelColor(5, 5).lightness() > before
    press(qtbot, win, Qt.Key.Key_0, modifier=Qt.KeyboardModifier.ControlModifier)
    assert view._pixmap.pixmap().toImage().pixelColor(5, 5).lightness() == before


def test_the_list_shows_status_and_label_and_keeps_the_pair_in_view(qtbot, window, db):
    win = window(db)
    table = win.pairs.table
    width = table.viewport().width()
    for name in ("pair", "status", "label"):      # at the default width, without scrolling
        column = COLUMNS.index(name)
        assert table.columnViewportPosition(column) + table.columnWidth(column) <= width, name
    win.pairs.go(len(win.pairs.desk.queue) - 1)
    win.resize(win.width(), 520)
    qtbot.waitUntil(lambda: table.viewport().rect().intersects(
        table.visualRect(table.currentIndex())))
    win.resize(win.width(), 900)
    qtbot.waitUntil(lambda: table.viewport().rect().contains(
        table.visualRect(table.currentIndex())))


def test_a_note_is_saved_with_ctrl_return_as_a_note(qtbot, window, db):
    win = window(db)
    pair = win.pairs.desk.current
    press(qtbot, win, Qt.Key.Key_N)
    dialog = win.pairs.note_dialog
    qtbot.waitUntil(dialog.isVisible)
    qtbot.keyClicks(dialog.text, "the taller one stands on a step")
    qtbot.keyClick(dialog.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    saved(qtbot, win)
    assert reviews(db) == [(pair, "note", None, "tester")]
    assert win.pairs.desk.current == pair and win.pairs.detail.status == "auto"
    history = win.pairs.history
    win.pairs.side.setCurrentWidget(history)
    assert history.item(0, 1).text() == "note"
    assert history.item(0, 4).toolTip() == "the taller one stands on a step"


def test_a_moved_image_folder_is_relinked_and_a_cut_image_is_flagged(qtbot, window, errors,
                                                                      tmp_path):
    from helpers import crowd_store

    db = crowd_store(tmp_path)
    images = tmp_path / "images"
    (images / "crowd.jpg").write_bytes((images / "crowd.jpg").read_bytes()[:-400])  # cut short
    moved = tmp_path / "moved"
    images.rename(moved)
    win = window(db)
    view = win.pairs.view
    qtbot.waitUntil(lambda: view.placeholder is not None and "not found" in view.placeholder)
    assert not win.relink_images("crowd", tmp_path)          # not the images' folder
    assert "does not hold the images of source 'crowd': 0 of 1" in errors[-1]
    assert win.relink_images("crowd", moved)
    qtbot.waitUntil(lambda: view.placeholder is None)
    assert win.pairs.detail.image == str(moved / "crowd.jpg")
    assert view.warning and "cut short" in view.warning      # shown, with a warning
    press(qtbot, win, Qt.Key.Key_H, Qt.Key.Key_H)            # overlays hidden: the warning stays
    assert any("cut short" in item.text() for item in view.scene().items()
               if hasattr(item, "text") and item.isVisible())


def test_the_strip_shows_a_and_b_cropped_side_by_side(qtbot, window, tmp_path):
    from helpers import crowd_store

    win = window(crowd_store(tmp_path))
    tab = win.pairs
    qtbot.waitUntil(lambda: tab.view.placeholder is None)
    assert not tab.strip.isVisible()
    press(qtbot, win, Qt.Key.Key_V)
    assert tab.strip.isVisible()
    for key in ("a", "b"):
        bbox = getattr(tab.detail, key).bbox           # 60 × 175, well inside the picture
        crop = tab.strip.crop(tab.loader.get(tab.detail.image), bbox)
        assert (crop.width(), crop.height()) == (96, 211)  # the box and a tenth of 175 around
        pixmap = tab.strip.crops[key].pixmap()
        assert pixmap.height() == tab.strip.HEIGHT
    press(qtbot, win, Qt.Key.Key_D)
    assert tab.strip.crops["a"].toolTip().startswith("A: ")


def test_the_strip_of_a_shrunk_picture_shows_the_files_full_resolution(qtbot, window,
                                                                        tmp_path):
    """A picture shrunk for the view (large photos): the strip shows the shrunk crops at once,
    then A and B read from the file at its full resolution, off the GUI thread."""
    from helpers import crowd_store

    db = crowd_store(tmp_path)
    win = window()
    tab = win.pairs
    tab.loader.max_side = 320                      # the 640 × 480 picture is shrunk by 2
    assert win.open_store(db)
    qtbot.waitUntil(lambda: tab.view.placeholder is None)
    assert tab.loader.get(tab.detail.image).scale == 2.0
    press(qtbot, win, Qt.Key.Key_V)
    for key in ("a", "b"):
        qtbot.waitUntil(lambda k=key: "full resolution" in tab.strip.crops[k].toolTip())
        assert tab.strip.crops[key].toolTip().startswith(f"{key.upper()}: 96×211 file pixels")
    press(qtbot, win, Qt.Key.Key_D)                # the next pair: shrunk first, then full
    qtbot.waitUntil(lambda: "full resolution" in tab.strip.crops["a"].toolTip())


def test_a_region_is_read_at_the_files_full_resolution(tmp_path):
    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QRect

    from wsp_app.images import read_region

    pixels = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "noise.png")
    region = read_region(str(tmp_path / "noise.png"), QRect(100, 50, 96, 211))
    region = region.convertToFormat(region.Format.Format_RGB888)
    got = np.frombuffer(region.constBits(), np.uint8).reshape(211, region.bytesPerLine())
    assert (got[:, :96 * 3].reshape(211, 96, 3) == pixels[50:261, 100:196]).all()
    assert read_region(str(tmp_path / "missing.png"), QRect(0, 0, 8, 8)) is None


def test_time_ticks_fit_the_width_and_name_the_day_once():
    from wsp_app.panels import TICK_PX, time_ticks

    hours = [f"2026-12-0{1 + h // 24} {h % 24:02d}:00" for h in range(30)]
    ticks = time_ticks(hours, 450)
    assert len(ticks) <= 450 // TICK_PX
    assert ticks == [(0, "12-01 00:00"), (6, "06:00"), (12, "12:00"), (18, "18:00"),
                     (24, "12-02 00:00")]
    assert time_ticks(["2026-11-28", "2026-11-29"], 600) == [(0, "11-28"), (1, "11-29")]


def test_choosing_the_learned_queue_reads_its_features_off_the_gui_thread(
        qtbot, window, desk_db, monkeypatch):
    """The learned queue shows at once in the order before any verdict (from the snapshot's
    columns); every pair's signals are read by its first ranking on the worker thread, whose
    order then follows the pair shown; the features are read once."""
    import threading

    import numpy as np

    import wsp_core.desk as desk_module
    from wsp_core.suspect import suspicion_before_verdicts

    made = []
    real = desk_module.StoreRanker

    def recording(*args, **kwargs):
        made.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(desk_module, "StoreRanker", recording)
    win = window(desk_db)
    tab = win.pairs
    tab.filters.set_queue_kind("learned")
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: tab.desk.queue.kind == "learned")
    shown = tab.desk.queue.ids.copy()
    index = tab.desk.index
    before = suspicion_before_verdicts(index.size_conflict, np.full(len(index.ids), np.nan))
    assert shown.tolist() == index.ids[np.lexsort((index.ids, -before))].tolist()
    with qtbot.waitSignal(tab.status_changed, timeout=10000,
                          check_params_cb=lambda text: "ranked from" in text):
        pass
    assert made == [False]                                   # read once, on the worker
    assert tab.desk._ranker is not None and not tab.desk.rerank_due
    assert sorted(tab.desk.queue.ids.tolist()) == sorted(shown.tolist())
    tab.filters.set_queue_kind("suspicious")                 # and back: read no more
    tab.filters.apply_now()
    tab.filters.set_queue_kind("learned")
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: tab.desk.queue.kind == "learned")
    assert made == [False] and not tab.desk.rerank_due


def test_the_learned_queue_is_ranked_again_after_verdicts_without_moving_the_pair(
        qtbot, window, desk_db):
    """The "learned suspicion" queue: after RERANK_EVERY verdicts by keys the desk ranks the
    rest of the queue again (fitted on the app's worker thread after the next pair is painted),
    the pair shown stays, and the list follows the new order."""
    from wsp_core.suspect import RERANK_EVERY

    win = window(desk_db)
    tab = win.pairs
    tab.filters.set_queue_kind("learned")
    tab.filters.apply_now()
    qtbot.waitUntil(lambda: tab.desk.queue.kind == "learned")
    qtbot.waitUntil(lambda: tab.desk._ranker is not None)     # its first ranking, read off
    tab.desk._ranker[1].model.min_each = 3                     # the GUI thread
    for k in range(RERANK_EVERY):
        press(qtbot, win, Qt.Key.Key_F if k % 2 else Qt.Key.Key_Space)   # flip / accept
    before, current = tab.desk.queue.ids.copy(), tab.desk.current
    assert tab.desk.rerank_due
    with qtbot.waitSignal(tab.status_changed, timeout=5000,   # the fit on the worker thread,
                          check_params_cb=lambda text: "ranked from" in text):  # then shown
        pass
    assert not tab.desk.rerank_due and tab.desk.current == current
    assert tab.desk._ranker[1].model.fitted
    after = tab.desk.queue.ids
    assert (after[:RERANK_EVERY + 1] == before[:RERANK_EVERY + 1]).all()
    assert sorted(after.tolist()) == sorted(before.tolist())
    model = tab.model
    assert model.data(model.index(RERANK_EVERY + 1, COLUMNS.index("pair"))) == str(
        after[RERANK_EVERY + 1])
    saved(qtbot, win)
    assert len(reviews(desk_db)) == RERANK_EVERY
