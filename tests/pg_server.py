"""A throw-away PostgreSQL server for the tests and the benchmarks: ``initdb`` and ``pg_ctl`` of
Debian's packages in a temporary folder, listening on a free loopback port (and a socket in
that folder), trust authentication for its one superuser, stopped and removed afterwards.

``scripts/ensure_postgres.sh`` (run by ``make test``) installs the packages where they are
missing. As root, the server runs as the ``postgres`` user (``initdb`` refuses root).

    python tests/pg_server.py start FOLDER   # prints the URL; FOLDER/stop.sh stops it
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

SUPERUSER = "wsp"


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_not() -> str | None:
    """Why no server can be started here (None: one can)."""
    if pg_bin() is None:
        return "PostgreSQL is not installed (scripts/ensure_postgres.sh installs it)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server in ``folder`` (created); :meth:`url` of a database, :meth:`new_database`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.data = self.folder / "data"
        self.port = _free_port()
        self.bin = pg_bin()

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> "Server":
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        self.resume()
        (self.folder / "stop.sh").write_text(
            f"#!/bin/sh\n{'runuser -u postgres -- ' if os.geteuid() == 0 else ''}"
            f"{self.bin / 'pg_ctl'} -D {self.data} -m fast stop\n")
        return self

    def resume(self) -> None:
        """Start the (initialised) server, on its port."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.folder} -c fsync=off "
                   "-c max_connections=200 -c shared_buffers=128MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError:
            pass

    def restart(self) -> None:
        """Stop (fast: open connections are cut) and start again on the same port (not
        ``pg_ctl restart``: its server would keep this process's output pipe open)."""
        self.stop()
        self.resume()

    def add_user(self, name: str, password: str, database: str) -> str:
        """A login that must give its password (scram-sha-256 on loopback), owning
        ``database``'s public schema; returns its URL without the password."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} "
                             f"dbname={database}", autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
            conn.execute(f"GRANT ALL ON SCHEMA public TO {name}")
            conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}")
            conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}")
        hba = self.data / "pg_hba.conf"
        rule = f"host all {name} 127.0.0.1/32 scram-sha-256\n"
        if os.geteuid() == 0:
            subprocess.run(["runuser", "-u", "postgres", "--", "sh", "-c",
                            f"printf '{rule}' | cat - {hba} > {hba}.new && mv {hba}.new {hba}"],
                           check=True)
        else:
            hba.write_text(rule + hba.read_text())
        self._run("pg_ctl", "-D", str(self.data), "reload")
        time.sleep(0.3)
        return self.url(database).replace(f"{SUPERUSER}@", f"{name}@")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} "
                             "dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "start":
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    problem = why_not()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    server = Server(Path(argv[1])).start()
    for _ in range(50):
        try:
            print(server.new_database("bench"))
            return 0
        except Exception:  # noqa: BLE001 - the server may take a moment to accept
            time.sleep(0.1)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
