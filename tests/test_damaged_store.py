"""Bad-input corpus, stores (issue 19, class 3): a damaged, read-only, full or locked store.

Reads of a damaged store end in one line ("damaged store: …") and writes refuse to touch it; a
valid store that cannot be written here opens for reading; a full disk and a lock held elsewhere
get their own messages; a valid store is never called "not a WSP store".
"""

import shutil
import sqlite3

import pytest

from conftest import run_cli
from helpers import two_person_coco
from test_cli import assert_one_line_error, snapshot, store_with_coco  # noqa: F401 - fixture
from test_outputs import ROOT, digest, mounted_tmpfs, read_only
from wsp_core.errors import StoreError
from wsp_core.store import add_review, open_store

READS = (["stats"], ["export", "--out", "{tmp}/pairs.jsonl"])
WRITES = (["review", "--pair", "1", "--verdict", "flip"],)


def cli(args, db, tmp_path):
    return run_cli(args[0], "--db", db, *[a.format(tmp=tmp_path) for a in args[1:]],
                   check=False)


def page_of(db, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                           (table,)).fetchone()[0]
    finally:
        con.close()


def overwrite_page(db, page: int, pages: int = 1) -> None:
    with open(db, "r+b") as f:
        f.seek(4096 * (page - 1))
        f.write(b"\xff" * 4096 * pages)


def test_a_damaged_store_is_named_so_and_never_written(store_with_coco, tmp_path):
    db = store_with_coco
    overwrite_page(db, page_of(db, "pairs"))
    before = digest(db)
    for args in READS + WRITES:
        assert_one_line_error(cli(args, db, tmp_path), f"{db}: damaged store: ")
    assert digest(db) == before
    assert not (tmp_path / "pairs.jsonl").exists()


def test_a_truncated_store_is_damaged_not_foreign(store_with_coco, tmp_path):
    db = store_with_coco
    with open(db, "r+b") as f:
        f.truncate(40_000)
    for args in READS + WRITES:
        proc = cli(args, db, tmp_path)
        assert_one_line_error(proc, "damaged store")


def test_writes_check_the_whole_file_first(store_with_coco, tmp_path):
    """Damage where a review never reads (the predictions table): reads that do not touch it
    still work, and a review is refused by the quick check before anything is written."""
    db = store_with_coco
    overwrite_page(db, page_of(db, "predictions"))
    before = digest(db)
    assert "pairs usable for training: 12" in run_cli("stats", "--db", db).stdout
    assert_one_line_error(cli(WRITES[0], db, tmp_path), f"{db}: damaged store: ",
                          "nothing was written")
    assert digest(db) == before


def test_a_store_on_a_read_only_folder_opens_for_reading(store_with_coco, tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    db = shutil.copy(store_with_coco, folder / "store.db")
    before = snapshot(db)
    with read_only(folder):
        assert "pairs usable for training: 12" in run_cli("stats", "--db", db).stdout
        run_cli("export", "--db", db, "--out", tmp_path / "pairs.jsonl")
        assert len((tmp_path / "pairs.jsonl").read_text().splitlines()) == 12
        proc = cli(WRITES[0], db, tmp_path)
        assert_one_line_error(proc, f"{db}: the store is read-only here", "nothing was written")
        assert "not a WSP store" not in proc.stderr
        ann, images = two_person_coco(tmp_path)
        proc = run_cli("import", "--db", folder / "new.db", "--format", "coco", "--ann", ann,
                       "--images", images, check=False)
        assert_one_line_error(proc, "new.db: cannot create the store here")
        assert sorted(p.name for p in folder.iterdir()) == ["store.db"]
    assert snapshot(db) == before


@pytest.mark.skipif(not ROOT, reason="needs a small tmpfs (mount, as root)")
def test_a_full_disk_has_its_own_message(store_with_coco, tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=1m") as small:
        db = shutil.copy(store_with_coco, small / "store.db")
        before = snapshot(db)
        filler = small / "filler"
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass
        for args in READS[:1] + WRITES:
            proc = cli(args, db, tmp_path)
            assert_one_line_error(proc, f"{db}: disk full", "nothing stored was lost")
        filler.unlink()
        assert snapshot(db) == before


def test_a_lock_held_elsewhere_has_its_own_message(store_with_coco, monkeypatch):
    from wsp_core.store import db as store_db

    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(store_with_coco, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with open_store(store_with_coco) as store:
            with pytest.raises(StoreError, match="stayed busy: locked by another process"):
                add_review(store, 1, "flip")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with open_store(store_with_coco) as store:
        assert add_review(store, 1, "flip")["status"] == "flip"


LEAVE_WAL = r"""
import os, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA wal_autocheckpoint=0")
con.execute("INSERT INTO reviews (pair_id, verdict, label, reviewer, created_at) "
            "VALUES (1, 'flip', 0, 'left-in-wal', '2026-12-02 09:00:00')")
os._exit(0)   # no checkpoint: the commit stays in the -wal
"""


def test_a_read_only_store_with_commits_in_its_wal(store_with_coco, tmp_path):
    """A store left with commits in its -wal: read with them (never the stale main file), and
    without its -shm, which cannot be created here, one line says what to do."""
    import subprocess
    import sys

    folder = tmp_path / "archive"
    folder.mkdir()
    db = shutil.copy(store_with_coco, folder / "store.db")
    subprocess.run([sys.executable, "-c", LEAVE_WAL, str(db)], check=True)
    assert (folder / "store.db-wal").stat().st_size > 0
    with read_only(folder):
        assert "reviews: 1 (flip 1)" in run_cli("stats", "--db", db).stdout
    (folder / "store.db-shm").unlink()
    with read_only(folder):
        assert_one_line_error(cli(READS[0], db, tmp_path), f"{db}: cannot read the store here",
                              "-wal")
