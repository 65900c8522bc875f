"""Opening a label store: checks, connection settings, migrations, short sessions.

Every connection gets ``PRAGMA foreign_keys=ON``, WAL, ``synchronous=FULL`` (a committed review
survives a power cut, not only a killed process) and a busy timeout. Write sessions start with
``BEGIN IMMEDIATE``, so two writers queue on the busy timeout instead of one failing with
"database is locked" when it upgrades a read lock (see docs/adr/0003-sqlite-concurrency.md).

A store that cannot be written here (read-only mount, unwritable folder or file) opens for
reading through SQLite's read-only or immutable URI mode; a damaged store is reported as such,
and the first write of a Store runs ``PRAGMA quick_check`` so that nothing is written into a
damaged file (docs/adr/0015-damaged-and-read-only-stores.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ..atomic import folder_unwritable
from ..errors import StoreError

#: The Alembic revision this code expects (a test checks it is the migrations' head).
SCHEMA_REVISION = "0007"
APP_MARK = "wsp-studio"
BUSY_TIMEOUT_S = 60.0
_MIGRATIONS = Path(__file__).with_name("migrations")


class Store:
    """A label store: an engine and the two kinds of session the code uses.

    ``path`` is the store file, or for a store on a database server its URL as shown to a user
    (never with a password); ``server`` says which."""

    def __init__(self, path: Path | str, engine: Engine, read_only: str | None = None) -> None:
        self.path = path
        self.server = engine.dialect.name != "sqlite"
        self.engine = engine
        #: why this store cannot be written here ("read-only file system"…), None when it can
        self.read_only = read_only
        self._write_engine = engine.execution_options(wsp_write=True)
        self._checked = False

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session on one consistent snapshot (WAL readers never block writers)."""
        with _store_errors(self.path, self.server):
            with Session(self.engine, expire_on_commit=False) as session:
                try:
                    yield session
                finally:
                    session.rollback()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction (BEGIN IMMEDIATE), committed on success, else rolled back.

        Refused on a store opened read-only; the first write of this Store checks the file
        (``PRAGMA quick_check``) and refuses a damaged one before anything is written."""
        if self.read_only:
            raise StoreError(self.path, f"the store is read-only here ({self.read_only}); "
                                        "nothing was written (copy it to a writable folder)")
        if not self._checked:
            if not self.server:
                quick_check(self.path, self.engine)
            self._checked = True
        with _store_errors(self.path, self.server):
            with Session(self._write_engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_files(path: str | os.PathLike[str]) -> list[Path]:
    """The store file and the files SQLite keeps next to it (an output must be none of them);
    none for a store on a server."""
    if is_server(path):
        return []
    return [Path(path)] + [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal")]


def store_problem(path: Path, error: BaseException) -> StoreError | None:
    """The one-line StoreError for an SQLite error, or None when it is not a store problem."""
    text = str(getattr(error, "orig", None) or error)
    low = text.lower()
    if "locked" in low or "busy" in low or "lock timeout" in low:
        # "busy" is what the desk's ReviewWriter retries on (wsp_app/writer.py)
        return StoreError(path, f"the store stayed busy: locked by another process for "
                                f"{BUSY_TIMEOUT_S:g} s; nothing was written")
    if "disk is full" in low or "disk full" in low or ("i/o" in low and _disk_full(path)):
        return StoreError(path, "disk full: SQLite cannot write the store or its -wal/-shm "
                                "files; nothing was written and nothing stored was lost (free "
                                "some space)")
    if "readonly" in low or "read-only" in low:
        return StoreError(path, "the store is read-only here; nothing was written")
    if "disk i/o" in low:
        return StoreError(path, f"{text} reading or writing the store (a failing disk or a "
                                "damaged file); nothing was written")
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return StoreError(path, f"damaged store: {text} (restore a backup, or try "
                                "'sqlite3 STORE .recover')")
    return None


def _disk_full(path: Path) -> bool:
    """True when the store's file system has (almost) no space left: SQLite reports a -shm or
    -wal file it cannot extend as a "disk I/O error"."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def retryable(error: BaseException) -> bool:
    """Whether a write refused with ``error`` may succeed later as it is: the store was busy
    (another writer), or its server could not be reached (a lost connection, a restart)."""
    problem = getattr(error, "problem", "") or ""
    return "busy" in problem or problem.startswith(UNREACHABLE)


#: How a StoreError of a server store that cannot be reached begins.
UNREACHABLE = "cannot reach the server"


@contextlib.contextmanager
def _store_errors(path: Path | str, server: bool = False) -> Iterator[None]:
    """Database errors as one-line StoreErrors: a server's (:func:`.server.server_problem`),
    or SQLite's (:func:`store_problem`); other errors pass."""
    try:
        yield
    except DBAPIError as e:
        if not server:
            _raise_sqlite_problem(path, e)
        if not isinstance(e, (OperationalError, InterfaceError)):
            raise  # a constraint, a bug: as it is
        from .server import server_problem

        raise server_problem(str(path), e) from None
    except sqlite3.DatabaseError as e:
        _raise_sqlite_problem(path, e)


def _raise_sqlite_problem(path, error: BaseException) -> None:
    problem = store_problem(path, error)
    if problem is None:
        raise error
    raise problem from None


def quick_check(path: Path, engine: Engine) -> None:
    """Refuse a damaged store (``PRAGMA quick_check``) before anything is written into it."""
    try:
        with engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").fetchall()]
            conn.rollback()
    except (DatabaseError, sqlite3.DatabaseError) as e:
        problem = store_problem(path, e)
        if problem is None or "damaged store" not in problem.problem:
            raise problem or e from None
        rows = [str(getattr(e, "orig", None) or e)]
    if rows != ["ok"]:
        shown = "; ".join(rows[:2]) + (f" (+{len(rows) - 2} more)" if len(rows) > 2 else "")
        raise StoreError(path, f"damaged store: {shown}; nothing was written (restore a backup, "
                               "or try 'sqlite3 STORE .recover')")


def open_store(path: str | os.PathLike[str], create: bool = True) -> Store:
    """Open (and with ``create``, create) the store at ``path``, migrating it to this schema.

    ``path`` is a file (SQLite, the embedded default) or a SQLAlchemy URL of a database on a
    server (``postgresql+psycopg://user@host/db``; see :mod:`wsp_core.store.server`).

    Raises StoreError, and changes nothing, when the file is not an SQLite database, is another
    application's database, or holds a newer schema than this code knows. The checks read the
    file through a read-only connection, so a foreign database is not even switched to WAL.
    """
    if is_server(path):
        from .server import open_server_store

        return open_server_store(str(path), create)
    path = Path(path)
    new = _check_file(path, create)
    read_only = _read_only_reason(path)
    if new and read_only:
        raise StoreError(path, f"cannot create the store here ({read_only})")
    uri = _read_only_uri(path) if read_only else None
    revision = None if new else _inspect(path, uri)
    if revision != SCHEMA_REVISION:
        check_known_revision(path, revision)
        if read_only:
            raise StoreError(path, f"store schema {revision or '(none: an empty database)'} "
                                   f"needs an upgrade to {SCHEMA_REVISION}, but the store is "
                                   f"read-only here ({read_only})")
    engine = _make_engine(path, uri)
    if revision != SCHEMA_REVISION:
        try:
            if not new:
                quick_check(path, engine)
            with _store_errors(path):
                migrate(engine)
        except Exception:
            engine.dispose()
            raise
    return Store(path, engine, read_only)


def param_marker(session: Session) -> str:
    """The driver's positional parameter marker, for SQL sent straight through the driver's
    executemany (bulk writes): ``?`` for SQLite, ``%s`` for psycopg."""
    return "?" if session.get_bind().dialect.name == "sqlite" else "%s"


def is_server(target: object) -> bool:
    """True for a SQLAlchemy URL (``dialect[+driver]://…``), False for a file path."""
    return isinstance(target, str) and "://" in target


def store_target(text: str) -> Path | str:
    """A ``--db`` value: a URL as it is (a Path would fold its ``//``), else a file Path."""
    return text if is_server(text) else Path(text)


def store_key(target: str | os.PathLike[str]) -> str:
    """One spelling per store, to tell whether two names are the same store: a server's URL as
    it is, a file's absolute path."""
    return str(target) if is_server(target) else str(Path(target).resolve())


def _read_only_reason(path: Path) -> str | None:
    """Why the store at ``path`` cannot be written here, or None. SQLite needs to write the
    file and to create its -wal and -shm files next to it."""
    folder = folder_unwritable(path.parent)
    if folder:
        return f"folder {path.parent}: {folder}"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    return None


def _read_only_uri(path: Path) -> str:
    """SQLite URI to read a store that cannot be written: ``mode=ro`` when its -wal holds
    something (a reader uses it and the -shm), else ``immutable=1`` (no WAL to miss; SQLite
    takes no lock and creates no file)."""
    uri = path.resolve().as_uri()
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:  # commits may wait there: never skip them
        return f"{uri}?mode=ro"
    return f"{uri}?immutable=1"


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


def _inspect(path: Path, uri: str | None = None) -> str | None:
    """The schema revision of an existing store (None: an empty database, to be created)."""
    try:
        conn = sqlite3.connect(uri or f"{path.resolve().as_uri()}?mode=ro", uri=True,
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
        if "not a database" in str(e) and not _sqlite_header(path):
            raise StoreError(path, "not a WSP store (not an SQLite database)") from None
        problem = store_problem(path, e)
        if problem is not None:
            raise problem from None
        if uri and "unable to open" in str(e):
            raise StoreError(path, "cannot read the store here: its -wal holds commits that "
                                   "SQLite cannot read without creating its -shm, and this "
                                   "folder is read-only (copy the store with its -wal to a "
                                   "writable folder)") from None
        raise StoreError(path, f"cannot open the store: {e}") from None


def _sqlite_header(path: Path) -> bool:
    """True when the file starts with SQLite's magic string. Read only after SQLite refused the
    file, when this process holds no connection (and so no lock) on it (see _check_file)."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def check_known_revision(path: Path | str, revision: str | None) -> None:
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


def _make_engine(path: Path, read_only_uri: str | None = None) -> Engine:
    if read_only_uri is None:
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S})
    else:
        engine = create_engine(f"sqlite:///{path}", creator=lambda: sqlite3.connect(
            read_only_uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if read_only_uri is None:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
        else:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get("wsp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
