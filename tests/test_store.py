import json
import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from conftest import import_samples
from wsp_core.errors import StoreError
from wsp_core.store import (SCHEMA_REVISION, add_review, check_effective_labels, iter_export,
                            open_store, pair_history, stats)
from wsp_core.store.models import Base, Pair, Review
from wsp_core.errors import BadValue


def counts(db):
    with open_store(db, create=False) as store, store.read() as s:
        return {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("sources", "images", "persons", "pairs", "reviews")}


def test_importing_the_real_samples(any_db):
    db = any_db
    import_samples(db, "coco", "crowdpose", "mpii")
    with open_store(db) as store:
        result = stats(store)
    by_name = {s["name"]: s for s in result["sources"]}
    assert set(by_name) == {"test_coco", "test_crowdpose"}          # MPII stored nothing
    assert by_name["test_coco"]["pairs"] == 12 and by_name["test_coco"]["images"] == 2
    assert by_name["test_coco"]["persons"] == 10                      # all persons of MCPC images
    assert by_name["test_coco"]["mcpc_persons"] == 8
    assert by_name["test_crowdpose"]["pairs"] == 1
    with open_store(db) as store, store.read() as s:
        per_image = dict(s.execute(text(
            "SELECT i.key, count(*) FROM pairs p JOIN images i ON i.id = p.image_id "
            "GROUP BY i.key")).all())
    assert per_image == {"196141": 6, "197388": 6, "103319": 1}


def test_reimport_duplicates_nothing_and_keeps_reviews(any_db):
    db = any_db
    import_samples(db, "coco")
    with open_store(db) as store:
        add_review(store, 1, "flip", "stairs")
    before = counts(db)
    import_samples(db, "coco")
    assert counts(db) == before
    with open_store(db) as store, store.read() as s:
        assert s.get(Pair, 1).status == "flip"


def test_review_semantics_and_effective_label(any_db):
    db = any_db
    import_samples(db, "crowdpose")
    with open_store(db) as store:
        with store.read() as s:
            auto = s.get(Pair, 1).auto_label
        steps = [("accept", None, "accept", auto), ("flip", "hugging", "flip", 1 - auto),
                 ("ambiguous", "sitting", "ambiguous", None), ("exclude", None, "exclude", None),
                 ("reset", None, "auto", auto), ("flip", "annotation-error", "flip", 1 - auto)]
        for verdict, reason, status, label in steps:
            r = add_review(store, 1, verdict, reason, reviewer="ana")
            assert (r["status"], r["label"]) == (status, label)
            with store.read() as s:
                pair = s.get(Pair, 1)
                assert (pair.status, pair.label) == (status, label)
        history = pair_history(store, 1)
        assert [h["verdict"] for h in history] == [v for v, *_ in steps]
        assert history[-1]["reason"] == "annotation_error" and history[0]["reviewer"] == "ana"
        assert check_effective_labels(store) == []


def test_reviews_are_append_only_and_validated(any_db):
    db = any_db
    import_samples(db, "crowdpose")
    with open_store(db) as store:
        with pytest.raises(BadValue, match="verdict: unknown verdict"):
            add_review(store, 1, "maybe")
        with pytest.raises(BadValue, match="reason: unknown reason"):
            add_review(store, 1, "flip", "sleepy")
        with pytest.raises(StoreError, match="pair 999 does not exist"):
            add_review(store, 999, "flip")
        with store.read() as s:
            assert s.scalar(select(func.count()).select_from(Review)) == 0


def test_database_constraints_hold(any_db):
    """The database itself refuses an unknown verdict and a review of no pair (written past
    wsp_core, as another tool would)."""
    import_samples(any_db, "crowdpose")
    with open_store(any_db, create=False) as store:
        for values in ("(1, 'maybe', 'x', '2026-01-01')", "(12345, 'flip', 'x', '2026-01-01')"):
            with pytest.raises(IntegrityError):
                with store.write() as s:
                    s.execute(text("INSERT INTO reviews (pair_id, verdict, reviewer, created_at) "
                                   f"VALUES {values}"))


def test_connection_settings(db):
    with open_store(db) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_indexes_on_what_the_gui_filters(db):
    with open_store(db) as store, store.engine.connect() as conn:
        cols = {tuple(r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info('{name}')"))
                for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='pairs'")}
    for needed in [("source_id", "status"), ("delta_s",), ("suspicion",), ("image_id",),
                   ("status",)]:
        assert needed in cols


def test_migrations_match_the_models(any_db):
    db = any_db
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with open_store(db) as store, store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() \
            == SCHEMA_REVISION


def test_schema_revision_is_the_migrations_head():
    from wsp_core.store.db import _script_directory

    assert _script_directory().get_current_head() == SCHEMA_REVISION


def test_not_a_store_is_refused_and_left_unchanged(tmp_path):
    text_file = tmp_path / "notes.db"
    text_file.write_text("hello")
    with pytest.raises(StoreError, match="not an SQLite database"):
        open_store(text_file)
    assert text_file.read_text() == "hello"

    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('x')")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a WSP store .*customers"):
        open_store(foreign)
    assert foreign.read_bytes() == before

    with pytest.raises(StoreError, match="no such store"):
        open_store(tmp_path / "absent.db", create=False)


def test_newer_schema_is_refused(db):
    open_store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema 9999 is newer"):
        open_store(db)


def test_export_rows_follow_the_interface(any_db, tmp_path):
    db = any_db
    import_samples(db, "crowdpose")
    with open_store(db) as store:
        add_review(store, 1, "ambiguous", "hugging", note="arms around", reviewer="ana")
        add_review(store, 1, "note", note="her left foot is hidden", reviewer="bo")
        rows = list(iter_export(store))
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {"pair_id", "source", "image", "width", "height", "a", "b", "delta_s",
                        "auto_label", "label", "status", "reason", "notes"}
    assert [(n["note"], n["reviewer"]) for n in row["notes"]] == \
        [("arms around", "ana"), ("her left foot is hidden", "bo")]
    assert row["notes"][0]["time"].endswith("Z")
    assert row["image"].endswith("crowdpose/103319.jpg") and (row["width"], row["height"]) == (640, 480)
    assert set(row["a"]) == {"person_id", "bbox", "keypoints", "scale"}
    assert len(row["a"]["keypoints"]) == 14 and row["a"]["keypoints"][12] == [351, 163, 1]
    assert (row["auto_label"], row["label"], row["status"], row["reason"]) == \
        (1, None, "ambiguous", "hugging")
    json.dumps(row)


def test_opening_a_store_twice_in_one_process_keeps_the_first_ones_locks(db, samples):
    """Opening a store must not drop the POSIX locks an open store of the same process holds
    (it once read the header with open()/close()): another process then deleted the WAL
    under it and the next read failed with "disk I/O error"."""
    from conftest import import_samples, run_cli
    from wsp_core.store.jobs import finish_job, list_jobs, start_job

    import_samples(db, "coco")
    with open_store(db) as app:
        list_jobs(app)
        with open_store(db, create=False) as other:
            list_jobs(other)
        job = start_job(app, "stats", {}, db.parent)
        run_cli("stats", "--db", db)  # another process opens and closes the store
        with open_store(db, create=False) as other:
            list_jobs(other)
        finish_job(app, job, "finished", None)
        with open_store(db, create=False) as other:
            assert [j["status"] for j in list_jobs(other) if j["id"] == job] == ["finished"]
        assert list_jobs(app)[0]["status"] == "finished"


def _downgrade(db, revision: str) -> None:
    """The store made one of an earlier schema, by the migrations' downgrades."""
    from alembic import command

    from wsp_core.store.db import _alembic_config

    with open_store(db) as store:
        cfg = _alembic_config()
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)


def test_upgrading_to_0005_computes_raised_ground_as_an_import_does(desk_db):
    with open_store(desk_db) as store, store.engine.connect() as conn:
        imported = dict(conn.exec_driver_sql("SELECT id, raised_ground FROM pairs").all())
    assert sum(v > 0 for v in imported.values()) >= 3         # the world has raised persons
    _downgrade(desk_db, "0004")                               # a store of the previous schema
    with sqlite3.connect(desk_db) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(pairs)")]
        assert "raised_ground" not in columns
    with open_store(desk_db) as store, store.engine.connect() as conn:   # opening upgrades it
        upgraded = dict(conn.exec_driver_sql("SELECT id, raised_ground FROM pairs").all())
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == SCHEMA_REVISION
    assert upgraded.keys() == imported.keys()
    assert all(upgraded[k] == pytest.approx(imported[k], abs=1e-12) for k in imported)


def test_upgrading_to_0007_computes_pose_hints_as_an_import_does_and_keeps_every_review(desk_db):
    hints = "knee_angle, hip_angle, torso_tilt, leg_drop, labelled_share"
    with open_store(desk_db) as store:
        with store.engine.connect() as conn:
            imported = {r[0]: r[1:] for r in conn.exec_driver_sql(
                f"SELECT id, {hints} FROM persons").all()}
            pair_id = conn.exec_driver_sql("SELECT min(id) FROM pairs").scalar()
        add_review(store, pair_id, "flip", reviewer="ana")
    known = [v for row in imported.values() for v in row if v is not None]
    assert len(known) > 4 * len(imported)                      # most persons have every hint
    _downgrade(desk_db, "0004")                                # a store of the previous schema
    with sqlite3.connect(desk_db) as con:
        assert "knee_angle" not in [r[1] for r in con.execute("PRAGMA table_info(persons)")]
        assert con.execute("SELECT count(*) FROM reviews WHERE reviewer = 'ana'").fetchone()[0] == 1
    with open_store(desk_db) as store, store.engine.connect() as conn:   # opening upgrades it
        upgraded = {r[0]: r[1:] for r in conn.exec_driver_sql(
            f"SELECT id, {hints} FROM persons").all()}
        status = conn.exec_driver_sql(f"SELECT status FROM pairs WHERE id = {pair_id}").scalar()
    assert upgraded.keys() == imported.keys() and status == "flip"
    for k, row in imported.items():
        assert [None if v is None else pytest.approx(v, abs=1e-9) for v in row] == list(upgraded[k])


def test_upgrading_to_0007_on_each_back_end_fills_the_hints_of_real_samples(any_db):
    hints = "knee_angle, hip_angle, torso_tilt, leg_drop, labelled_share"
    import_samples(any_db, "coco", "crowdpose", "mpii")

    def read():
        with open_store(any_db) as store, store.engine.connect() as conn:
            return {r[0]: r[1:] for r in conn.exec_driver_sql(
                f"SELECT id, {hints} FROM persons").all()}

    imported = read()
    assert sum(v is not None for row in imported.values() for v in row) > 3 * len(imported)
    _downgrade(any_db, "0006")
    assert read_columns(any_db, "persons").isdisjoint(hints.split(", "))
    upgraded = read()                                          # opening upgrades it
    assert upgraded.keys() == imported.keys()
    for k, row in imported.items():
        assert [None if v is None else pytest.approx(v, abs=1e-9) for v in row] == list(upgraded[k])


def read_columns(db, table: str) -> set[str]:
    """The column names of ``table`` as the database has them (without migrating it)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db if isinstance(db, str) else f"sqlite:///{db}")
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_queue_index_of_finds_every_position_and_only_queued_pairs():
    import numpy as np

    from wsp_core.store.browse import Queue

    ids = np.random.default_rng(4).permutation(np.arange(1, 5001) * 3).astype(np.int64)
    queue = Queue(ids, np.zeros(len(ids), np.int8), np.zeros(len(ids)), np.zeros(len(ids)))
    assert all(queue.index_of(int(p)) == k for k, p in enumerate(ids))
    assert queue.index_of(4) is None and queue.index_of(0) is None and queue.index_of(10**9) is None
    assert Queue.empty().index_of(3) is None
    order = np.random.default_rng(5).permutation(len(ids))
    moved = queue.permuted(order)                 # the lookup carried over, not rebuilt
    assert (moved.ids == ids[order]).all()
    assert all(moved.index_of(int(p)) == k for k, p in enumerate(moved.ids))
    every = np.arange(0, 20000, dtype=np.int64)   # values for a superset of the ids, ascending
    assert (queue.values_of(every, every * 2.0) == ids * 2.0).all()
