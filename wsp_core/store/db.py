"""Opening a label store: checks, connection settings, migrations, short sessions.

Every connection gets ``PRAGMA foreign_keys=ON``, WAL, ``synchronous=FULL`` (a committed review
survives a power cut, not only a killed process) and a busy timeout. Write sessions start with
``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of one failing with
"database is locked" when it upgrades a read lock (see docs/adr/0003-sqlite-concurrency.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..errors import StoreError
#: The Alembic revision this code expects (a test checks it is the migrations' head).
SCHEMA_REVISION = "0002"
APP_MARK = "wsp-studio"
BUSY_TIMEOUT_S = 60.0
_MIGRATIONS = Path(__file__).with_name("migrations")


class Store:
    """A label store: an engine and the two kinds of session the code uses."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self._write_engine = engine.execution_options(wsp_write=True)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session on one consistent snapshot (WAL readers never block writers)."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction (BEGIN IMMEDIATE), committed on success, else rolled back."""
        with Session(self._write_engine, expire_on_commit=False) as session:
            with _locked_errors(self.path):
                with session.begin():
                    yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _locked_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except OperationalError as e:
        if "locked" in str(e.orig) or "busy" in str(e.orig):
            raise StoreError(path, f"the store stayed busy for {BUSY_TIMEOUT_S:.0f} s "
                                   "(another process holds a long write)") from None
        raise


def open_store(path: str | os.PathLike[str], create: bool = True) -> Store:
    """Open (and with ``create``, create) the store at ``path``, migrating it to this schema.

    Raises StoreError, and changes nothing, when the file is not an SQLite database, is another
    application's database, or holds a newer schema than this code knows. The checks read the
    file through a read-only connection, so a foreign database is not even switched to WAL.
    """
    path = Path(path)
    revision = None if _check_file(path, create) else _inspect(path)
    if revision != SCHEMA_REVISION:
        _check_known_revision(path, revision)
    engine = _make_engine(path)
    if revision != SCHEMA_REVISION:
        try:
            migrate(engine)
        except Exception:
            engine.dispose()
            raise
    return Store(path, engine)


def _check_file(path: Path, create: bool) -> bool:
    """True when the store must be created. Refuses a folder, or a missing store without create."""
    if path.is_dir():
        raise StoreError(path, "is a folder, not a store file")
    if not path.exists() or path.stat().st_size == 0:
        if not create:
            raise StoreError(path, "no such store (create one with 'wsp-core import')")
        if not path.parent.is_dir():
            raise StoreError(path, f"folder {path.parent} does not exist")
        return True
    # The file's header is read by SQLite (in _inspect), never with open(): closing any other
    # descriptor of a database file drops every POSIX lock this process holds on it, and
    # another process may then delete the WAL under this process's open connections
    # (sqlite.org/howtocorrupt.html §2.2). tests/test_store.py checks it.
    return False


def _inspect(path: Path) -> str | None:
    """The schema revision of an existing store (None: an empty database, to be created)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_S)
        try:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                return None
            if "wsp_meta" not in tables:
                shown = ", ".join(sorted(tables)[:4])
                raise StoreError(path, "not a WSP store (an SQLite database with other tables: "
                                       f"{shown})")
            row = conn.execute("SELECT value FROM wsp_meta WHERE key = 'app'").fetchone()
            if row is None or row[0] != APP_MARK:
                raise StoreError(path, f"not a WSP store (wsp_meta says app={row and row[0]!r})")
            if "alembic_version" not in tables:
                raise StoreError(path, "damaged WSP store: no schema version")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e):
            raise StoreError(path, "not a WSP store (not an SQLite database)") from None
        raise StoreError(path, f"not a WSP store ({e})") from None


def _check_known_revision(path: Path, revision: str | None) -> None:
    if revision is None:
        return
    known = {s.revision for s in _script_directory().walk_revisions()}
    if revision not in known:
        raise StoreError(path, f"store schema {revision} is newer than this wsp-core knows "
                               f"({SCHEMA_REVISION}); update WSP Studio")


def _script_directory():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema to ``revision`` with the Alembic migrations (batch mode)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.execution_options(wsp_write=True).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get("wsp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
