"""A label store on a PostgreSQL server: the same tables and migrations as the SQLite file, for a
team that outgrows one machine (docs/adr/0022-postgresql-team-store.md).

Writers are serialised as SQLite's ``BEGIN IMMEDIATE`` serialises them: every write transaction
first takes one transaction-scoped advisory lock of the store (released at commit or rollback,
also when a client dies), waiting at most the busy timeout. So a review written "on condition
that the pair's latest review is X" sees the same rule on both back ends, and two processes
that create the same store at once migrate it once. Readers never wait.

Passwords never travel in a URL given on a command line (it would show in the process list):
libpq reads ``PGPASSWORD`` or ``~/.pgpass``; the URL shown to a user never carries one.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ..errors import StoreError
from .db import (APP_MARK, BUSY_TIMEOUT_S, SCHEMA_REVISION, UNREACHABLE, Store,
                 check_known_revision, migrate)

#: The advisory lock key of a store's writers (any constant; one store per database).
WRITE_LOCK_KEY = 0x575350  # "WSP"
#: The channel a review is announced on (NOTIFY at its commit; desks LISTEN).
REVIEWS_CHANNEL = "wsp_reviews"
DRIVERS = {"postgresql": "postgresql+psycopg"}


def shown_url(url: str) -> str:
    """The URL as a user may see it: the driver's name and no password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except ArgumentError:
        return False


def open_server_store(url: str, create: bool = True) -> Store:
    """Open (with ``create``, create) the store in the database at ``url``, migrating it."""
    shown = shown_url(url)
    engine = _make_engine(url, shown)
    try:
        revision, new = _inspect(engine, shown)
        if new and not create:
            raise StoreError(shown, "no store in this database (create one with "
                                    "'wsp-core import --db URL')")
        if revision != SCHEMA_REVISION:
            check_known_revision(shown, revision)
            try:
                migrate(engine)
            except DBAPIError as e:
                raise server_problem(shown, e) from None
    except Exception:
        engine.dispose()
        raise
    return Store(shown, engine)


def server_problem(shown: str, error: BaseException) -> StoreError:
    """The one-line StoreError for a server's error (the server's own first line)."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    low = first.lower()
    if "lock timeout" in low:
        return StoreError(shown, f"the store stayed busy: another writer held it for "
                                 f"{BUSY_TIMEOUT_S:g} s; nothing was written")
    if "connection" in low or "server closed" in low or "terminat" in low:
        return StoreError(shown, f"{UNREACHABLE}: {first}")
    return StoreError(shown, first)


def engine_url(url: str, shown: str | None = None) -> URL:
    """The URL with the driver this package uses (``postgresql://`` → psycopg 3)."""
    shown = shown or shown_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(shown, "not a database URL (postgresql://user@host/database) nor a "
                                "store file") from None
    driver = DRIVERS.get(parsed.drivername, parsed.drivername)
    if not driver.startswith("postgresql"):
        raise StoreError(shown, f"{parsed.drivername}: a store is an SQLite file or a "
                                "PostgreSQL database (postgresql://user@host/database)")
    return parsed.set(drivername=driver)


def _make_engine(url: str, shown: str) -> Engine:
    try:
        engine = create_engine(engine_url(url, shown), pool_pre_ping=True,
                               connect_args={"connect_timeout": 10,
                                             "application_name": "wsp-studio"})
    except ImportError:
        raise StoreError(shown, "psycopg is not installed here (pip install "
                                "'wsp-studio[postgres]')") from None
    except ArgumentError as e:
        raise StoreError(shown, f"cannot use this URL: {e}") from None

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get("wsp_write", False):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine


def _inspect(engine: Engine, shown: str) -> tuple[str | None, bool]:
    """(schema revision, True when the database is empty and the store must be created)."""
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if not tables:
                return None, True
            if "wsp_meta" not in tables:
                raise StoreError(shown, "not a WSP store (a database with other tables: "
                                        f"{', '.join(sorted(tables)[:4])})")
            app = conn.exec_driver_sql(
                "SELECT value FROM wsp_meta WHERE key = 'app'").scalar()
            if app != APP_MARK:
                raise StoreError(shown, f"not a WSP store (wsp_meta says app={app!r})")
            if "alembic_version" not in tables:
                raise StoreError(shown, "damaged WSP store: no schema version")
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar(), False
    except DBAPIError as e:
        raise server_problem(shown, e) from None


def notify_reviews(session) -> None:
    """Announce, at this transaction's commit, that reviews were written (PostgreSQL folds
    the identical notifications of one transaction into one)."""
    session.execute(text(f"SELECT pg_notify('{REVIEWS_CHANNEL}', '')"))


class ReviewListener:
    """A desk's ear on a server store: its own connection LISTENs for the reviews others
    write, so the desk reads them the moment they are committed rather than at its next poll.
    :meth:`fileno` is the socket to watch (the app hands it to a QSocketNotifier);
    :meth:`heard` drains what arrived without waiting."""

    def __init__(self, store: Store) -> None:
        import psycopg

        url = store.engine.url.set(drivername="postgresql")
        try:
            self.conn = psycopg.connect(url.render_as_string(hide_password=False),
                                        autocommit=True, connect_timeout=10)
            self.conn.execute(f"LISTEN {REVIEWS_CHANNEL}")
        except psycopg.Error as e:
            raise server_problem(store.path, e) from None

    def fileno(self) -> int:
        return self.conn.fileno()

    def heard(self) -> int:
        """How many announcements arrived since the last call (0 without waiting)."""
        return sum(1 for _ in self.conn.notifies(timeout=0.0))

    def close(self) -> None:
        self.conn.close()
