"""A store on a PostgreSQL server, as a lab uses it: URLs, refusals in one line, two processes
at once. The store, desk, curation and CLI tests also run on both back ends (``any_db``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from conftest import ROOT, run_cli, sample
from helpers import snapshot
from wsp_core.errors import StoreError
from wsp_core.store import open_store, stats
from wsp_core.store.server import engine_url


def one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_password_in_the_url_is_refused_and_never_printed(pg_server):
    url = pg_server.new_database().replace("wsp@", "wsp:s3cret@")
    line = one_line_error(run_cli("stats", "--db", url, check=False))
    assert "PGPASSWORD" in line and "s3cret" not in line


def test_an_unreachable_server_and_a_foreign_database_are_one_line(pg_server):
    dead = pg_server.url("nothing").replace(f":{pg_server.port}/", ":1/")
    line = one_line_error(run_cli("stats", "--db", dead, check=False))
    assert "cannot reach the server" in line and "127.0.0.1:1/nothing" in line
    url = pg_server.new_database()
    engine = create_engine(engine_url(url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id integer)"))
    engine.dispose()
    before = snapshot(url)
    line = one_line_error(run_cli("import", "--db", url, "--format", "coco", "--ann",
                                  sample("coco", "test_coco.json"), "--images", sample("coco"),
                                  check=False))
    assert "not a WSP store" in line and "invoices" in line
    assert snapshot(url) == before
    with pytest.raises(StoreError, match="no store in this database"):
        open_store(pg_server.new_database(), create=False)
    line = one_line_error(run_cli("stats", "--db", "mysql://x@localhost/db", check=False))
    assert "an SQLite file or a PostgreSQL database" in line


def test_two_imports_into_a_new_database_at_once_make_one_store(pg_server):
    """Both find the database empty; the writers' lock lets one create the tables, and the
    other then finds them made and its rows already there."""
    url = pg_server.new_database()
    args = [sys.executable, "-m", "wsp_core.cli", "import", "--db", url, "--format", "coco",
            "--ann", str(sample("coco", "test_coco.json")), "--images", str(sample("coco")),
            "--name", "coco", "--json"]
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    with open_store(url, create=False) as store:
        result = stats(store)
    assert [(s["name"], s["pairs"]) for s in result["sources"]] == [("coco", 12)]


def test_the_desk_reviews_a_server_store_and_asks_for_its_password(qtbot, window, pg_server,
                                                                   monkeypatch, errors):
    """File → Open server store…: a URL without a password; the server asks for one, the app
    asks the curator once (kept in this process's PGPASSWORD), the keys write verdicts into
    the server, and the store reopens at the same place from the recent list."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    from conftest import import_samples, press, saved

    url = pg_server.new_database()
    import_samples(url, "coco", "crowdpose")
    user_url = pg_server.add_user("ana", "pw-of-ana", url.rsplit("/", 1)[1])
    monkeypatch.delenv("PGPASSWORD", raising=False)
    asked = []

    def get_text(_parent, title, label, *args, **kwargs):
        asked.append((title, args[0] if args else kwargs.get("echo")))
        if title == "Server password":
            return "pw-of-ana", True
        return user_url, True

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    win = window()
    win.actions["open_server"].trigger()
    assert [t for t, _ in asked] == ["Open a server store", "Server password"], errors
    assert asked[1][1] == QLineEdit.EchoMode.Password
    assert win.pairs.store is not None and win.pairs.store.path == user_url
    assert "pw-of-ana" not in win.windowTitle() and win.recent_stores() == [user_url]
    ids = [int(i) for i in win.pairs.session.queue.ids[:2]]
    press(qtbot, win, Qt.Key.Key_F, Qt.Key.Key_Space)
    saved(qtbot, win)
    with open_store(url, create=False) as store, store.read() as s:
        rows = s.execute(text("SELECT pair_id, verdict, reviewer FROM reviews ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(ids[0], "flip", "tester"), (ids[1], "accept", "tester")]
    place = win.pairs.session.current
    win.close()
    again = window()
    assert again.open_store(again.recent_stores()[0])      # PGPASSWORD of this process
    assert again.pairs.session.current == place
    assert again.pairs.model.row(0)["status"] == "flip"


def natural(store, pair_id):
    """A pair's (source, image key, persons' keys): the same pair in every store."""
    with store.read() as s:
        return tuple(s.execute(text(
            "SELECT s.name, i.key, pa.ann_key, pb.ann_key FROM pairs p JOIN sources s ON "
            "s.id = p.source_id JOIN images i ON i.id = p.image_id JOIN persons pa ON "
            "pa.id = p.person_a JOIN persons pb ON pb.id = p.person_b WHERE p.id = :i"),
            {"i": pair_id}).one())


def test_merge_reviews_brings_offline_verdicts_once(any_db, tmp_path):
    """Two curators worked offline on SQLite copies (imported in other orders, so their pair
    ids differ); their reviews merge into the team's store, the latest arrival stands, and a
    second merge adds nothing."""
    from conftest import import_samples
    from wsp_core.store import add_review, check_effective_labels, pair_history

    kim, lee = tmp_path / "kim.db", tmp_path / "lee.db"
    import_samples(any_db, "coco", "crowdpose")
    import_samples(kim, "coco", "crowdpose")
    import_samples(lee, "crowdpose", "coco")                  # other pair ids
    with open_store(any_db) as team, open_store(kim) as k, open_store(lee) as le:
        by_key = {natural(le, pid): pid for pid in range(1, 14)}
        add_review(team, 1, "accept", reviewer="ana")
        add_review(k, 1, "flip", "stairs", note="on a step", reviewer="kim")
        add_review(k, 2, "note", note="blurred face", reviewer="kim")
        add_review(le, by_key[natural(team, 3)], "exclude", "annotation_error", reviewer="lee")
        add_review(le, by_key[natural(team, 1)], "ambiguous", "hugging", reviewer="lee")
    out = json.loads(run_cli("merge-reviews", "--db", any_db, kim, lee, "--json").stdout)
    assert [(m["added"], m["present"], m["pairs"]) for m in out["merged"]] == \
        [(2, 0, 1), (2, 0, 2)]
    with open_store(any_db, create=False) as team:
        assert [(h["verdict"], h["reviewer"]) for h in pair_history(team, 1)] == \
            [("accept", "ana"), ("flip", "kim"), ("ambiguous", "lee")]
        assert pair_history(team, 1)[1]["note"] == "on a step"
        assert [(h["verdict"], h["note"]) for h in pair_history(team, 2)] == \
            [("note", "blurred face")]
        rows = {r["pair_id"]: r for r in iter_rows(team)}
        assert (rows[1]["status"], rows[1]["reason"]) == ("ambiguous", "hugging")
        assert rows[3]["status"] == "exclude" and rows[2]["status"] == "auto"
        assert check_effective_labels(team) == []
    before = snapshot(any_db)
    again = run_cli("merge-reviews", "--db", any_db, kim, lee).stdout
    assert "0 reviews added" in again and "2 already here" in again
    after = snapshot(any_db)
    assert len(after.pop("jobs")) == len(before.pop("jobs")) + 1   # the command's own job row
    assert after == before


def test_merge_reviews_counts_pairs_this_store_does_not_have(tmp_path):
    from conftest import import_samples
    from wsp_core.store import add_review

    team, other = tmp_path / "team.db", tmp_path / "other.db"
    import_samples(team, "coco")
    import_samples(other, "crowdpose")
    with open_store(other) as o:
        add_review(o, 1, "flip", reviewer="kim")
    line = run_cli("merge-reviews", "--db", team, other).stdout
    assert "0 reviews added" in line and "1 of pairs not in this store (first: test_crowdpose " \
        "image 103319" in line


def iter_rows(store):
    from wsp_core.store import iter_export

    return list(iter_export(store))


def count_reviews(url) -> list[tuple]:
    with open_store(url, create=False) as store, store.read() as s:
        return [tuple(r) for r in s.execute(text(
            "SELECT pair_id, verdict, reviewer, client_key FROM reviews ORDER BY id")).all()]


def test_a_desk_keeps_verdicts_in_its_journal_while_the_server_is_away(own_pg_server, tmp_path):
    """The server stops mid-session: verdicts go on into the journal on disk; the desk is then
    killed (nothing flushed); when the server is back the journal is replayed, each review once,
    also one that had reached the store before its journal said so."""
    from conftest import import_samples
    from wsp_core.desk import Desk, JournaledWriter
    from wsp_core.journal import Journal, replay, write_journaled

    url = own_pg_server.new_database()
    import_samples(url, "coco")
    store = open_store(url, create=False)
    journal = Journal(tmp_path / "ana.jsonl")
    writer = JournaledWriter(store, "ana", journal)
    desk = Desk("ana", claims=True)
    messages = []
    desk.subscribe(lambda e, p: messages.append(p) if e == "message" else None)
    desk.open(store, writer=writer)
    desk.review("accept")
    desk.review("flip", "stairs")
    assert len(count_reviews(url)) == 2 and writer.pending == 0
    left = [p for p in desk.claimed if desk.session.own_state(p) is None]
    assert len(left) >= 3
    own_pg_server.stop()
    desk.review("exclude", "occlusion")
    desk.review("accept")
    assert writer.pending == 2 and "cannot reach the server" in writer.offline_reason
    assert desk.offline and any("claimed pairs left to review" in m for m in messages)
    for _ in range(Desk.READ_AHEAD):                   # the claimed pairs, then no further
        desk.review("accept")
    assert writer.pending == len(left)                 # all the claimed ones, nothing more
    assert "not claimed by this desk" in messages[-1]
    del desk, writer                                   # killed: nothing more is written
    store.engine.dispose()
    own_pg_server.resume()
    again = Journal(tmp_path / "ana.jsonl")
    assert [r["verdict"] for r in again.pending()] == ["exclude"] + ["accept"] * (len(left) - 1)
    assert [r["pair_id"] for r in again.pending()] == left
    early = again.add([{"pair_id": 5, "verdict": "flip", "reason": None, "note": None,
                        "reviewer": "ana"}])
    write_journaled(store, early)                      # in the store; "done" never written
    assert replay(store, again) == len(left) + 1
    rows = count_reviews(url)
    assert [v for _, v, _, _ in rows] == \
        ["accept", "flip", "flip", "exclude"] + ["accept"] * (len(left) - 1)
    assert len({k for *_, k in rows}) == len(rows) == len(left) + 3   # each once
    assert replay(store, Journal(tmp_path / "ana.jsonl")) == 0
    assert len(count_reviews(url)) == len(left) + 3
    store.close()


def test_the_app_says_the_server_is_away_and_writes_its_journal_when_back(
        qtbot, window, own_pg_server):
    from PySide6.QtCore import Qt

    from conftest import import_samples, press, saved

    url = own_pg_server.new_database()
    import_samples(url, "coco")
    win = window(url)
    first = win.pairs.session.current
    press(qtbot, win, Qt.Key.Key_Space)
    saved(qtbot, win)
    own_pg_server.stop()
    press(qtbot, win, Qt.Key.Key_F, Qt.Key.Key_Space)   # accepted while the server is away
    qtbot.waitUntil(lambda: "journal on disk" in win.status_label.text(), timeout=20000)
    assert win.pairs.writer.pending == 2
    assert win.pairs.close_store(timeout=1.0)          # closing keeps them in the journal
    own_pg_server.resume()
    again = window(url)                                # the next opening writes them
    qtbot.waitUntil(lambda: again.pairs.writer.pending == 0, timeout=20000)
    rows = count_reviews(url)
    assert [(v, who) for _, v, who, _ in rows] == [("accept", "tester"), ("flip", "tester"),
                                                   ("accept", "tester")]
    assert rows[0][0] == first


def test_eight_curators_three_killed_and_a_server_restart_lose_nothing(own_pg_server, tmp_path):
    """Eight desks (separate processes) review one store at once, 500 verdicts each, with 10 %
    blind double review; three are killed with SIGKILL at random moments and started again,
    and the server restarts once. Afterwards every verdict is there once, no curator judged a
    pair twice, no pair was judged by two curators outside the double-review share, and every
    journal is empty (the killed desks' were replayed)."""
    import os
    import random
    import signal
    import time

    from helpers import crowded_coco
    from wsp_core.journal import Journal
    from wsp_core.store.team import in_double_review

    url = own_pg_server.new_database()
    ann, images = crowded_coco(tmp_path, 320)                # 4,800 pairs
    run_cli("import", "--db", url, "--format", "coco", "--ann", ann, "--images", images)
    run_cli("team", "--db", url, "--double-review", "0.1")
    env = {**os.environ, "WSP_JOURNAL_DIR": str(tmp_path / "journals")}
    names, per = [f"curator{k}" for k in range(8)], 500

    def start(k: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(ROOT / "tests" / "curator_sim.py"), url,
                                 names[k], str(per), str(k)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    rng = random.Random(11)
    procs = {k: start(k) for k in range(8)}
    events = sorted([(rng.uniform(4, 30), "kill", k) for k in rng.sample(range(8), 3)]
                    + [(rng.uniform(8, 25), "restart", None)])
    t0 = time.monotonic()
    for at, what, k in events:
        time.sleep(max(0.0, at - (time.monotonic() - t0)))
        if what == "kill":
            procs[k].send_signal(signal.SIGKILL)
            procs[k].wait()
            procs[k] = start(k)                               # the curator starts again
        else:
            own_pg_server.restart()
    outs = {k: p.communicate(timeout=600) for k, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), {k: e[-2000:] for k, (_, e)
                                                              in outs.items()}
    with open_store(url, create=False) as store, store.read() as s:
        rows = s.execute(text("SELECT pair_id, reviewer, client_key FROM reviews")).all()
        for name in names:
            assert Journal.of(store, name, tmp_path / "journals").pending() == []
    by_reviewer = {n: sum(r[1] == n for r in rows) for n in names}
    assert by_reviewer == {n: per for n in names}             # every verdict, once
    assert len({r[2] for r in rows}) == len(rows) == 8 * per
    judged: dict[int, list[str]] = {}
    for pid, who, _ in rows:
        judged.setdefault(pid, []).append(who)
    assert all(len(set(w)) == len(w) for w in judged.values())  # nobody judged a pair twice
    twice = {p for p, w in judged.items() if len(w) > 1}
    assert all(in_double_review(p, 0.1) and len(judged[p]) == 2 for p in twice)
    assert twice                                               # the share was reviewed


def test_the_desk_hears_another_curators_verdict_at_once(qtbot, window, pg_server, monkeypatch):
    """On a server store the desk LISTENs: a verdict another curator commits shows in the
    list without waiting for the poll (set here to ten minutes)."""
    from conftest import import_samples
    from wsp_app.pairs_tab import PairsTab
    from wsp_core.store import add_review

    monkeypatch.setattr(PairsTab, "POLL_MS", 600_000)
    url = pg_server.new_database()
    import_samples(url, "coco")
    win = window(url)
    assert win.pairs.listener is not None
    target = int(win.pairs.session.queue.ids[6])
    with open_store(url, create=False) as other:
        add_review(other, target, "exclude", "occlusion", reviewer="bo")
    k = win.pairs.session.queue.index_of(target)
    qtbot.waitUntil(lambda: win.pairs.session.queue.status[k] == 4, timeout=5000)
    assert win.pairs.model.row(k)["status"] == "exclude"


def test_the_curators_name_is_a_setting(qtbot, pg_server, settings, tmp_path):
    """File → Your name…: kept in the settings, used when no --reviewer is given; the open
    store is opened again under the new name (claims and journal are a curator's)."""
    from PySide6.QtCore import Qt

    from conftest import import_samples, press, saved
    from wsp_app.window import MainWindow

    url = pg_server.new_database()
    import_samples(url, "coco")
    win = MainWindow(settings)
    try:
        win.show()
        with qtbot.waitActive(win):
            win.activateWindow()
        assert win.open_store(url)
        win.set_reviewer("kim")
        assert settings.value("reviewer") == "kim"
        press(qtbot, win, Qt.Key.Key_F)
        saved(qtbot, win)
        assert [who for _, _, who, _ in count_reviews(url)] == ["kim"]
    finally:
        win.pairs.close_store()
        win.close()
    again = MainWindow(settings)
    try:
        assert again.pairs.reviewer == "kim"
    finally:
        again.close()
