#!/usr/bin/env bash
# Runs a command where the tests can start a throw-away PostgreSQL server (tests/pg_server.py):
# Debian's postgresql packages are installed with apt-get when initdb is missing (as root).
# With them, WSP_REQUIRE_POSTGRES=1 makes a test that cannot start the server fail, not skip.
# Without them (not root, no network) the PostgreSQL variants of the tests skip, and it says so.
set -euo pipefail

have_initdb() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1
}

if ! have_initdb && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with_postgres: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null; }
fi

if have_initdb; then
    export WSP_REQUIRE_POSTGRES=1
else
    echo "with_postgres: no PostgreSQL here; its test variants will skip" >&2
fi
exec "$@"
