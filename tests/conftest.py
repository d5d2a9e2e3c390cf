"""Test harness: one embedded PostgreSQL 18 per test session, one template database
built by the same `schema.apply` that users run, and a fresh clone for every test
(pytest-postgresql's `postgresql_noproc` + `postgresql` factories)."""

import itertools
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pytest_postgresql import factories

from study_cards import schema
from study_cards.dev import local_pg

SERVER = local_pg.start(Path(tempfile.mkdtemp(prefix="study-cards-test-")) / "pgdata", keep=False)
SERVER_INFO = SERVER.get_postmaster_info()
SOCKET_DIR = str(SERVER_INFO.socket_dir)
PORT = SERVER_INFO.port or 5432


def load_schema(host, port, user, dbname, password=None, **_):
    """pytest-postgresql loader: the template gets the schema users get."""
    schema.apply(make_conninfo(host=host, port=port, user=user, dbname=dbname, password=password))


postgresql_embedded = factories.postgresql_noproc(
    host=SOCKET_DIR, port=PORT, user="postgres", dbname="study_cards_test", load=[load_schema]
)
postgresql = factories.postgresql("postgresql_embedded")


@pytest.fixture
def db(postgresql) -> psycopg.Connection:
    """A connection to this test's own migrated database, in autocommit mode."""
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def db_url(postgresql) -> str:
    """The URL of this test's database, for extra connections and subprocesses."""
    return postgresql.info.dsn


_names = itertools.count()


@pytest.fixture
def empty_database():
    """A URL to a brand-new empty UTF-8 database (no schema), dropped afterwards."""
    name = f"study_cards_empty_{next(_names)}"
    admin = make_conninfo(host=SOCKET_DIR, port=PORT, user="postgres", dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'"
                " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            ).format(sql.Identifier(name))
        )
    yield make_conninfo(admin, dbname=name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server():
    """The session's embedded PostgreSQL server (for tests that restart it)."""
    return SERVER


@pytest.fixture
def listener(db_url):
    """A second connection LISTENing on study_card_jobs (read it with notifications.received)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN study_card_jobs")
        yield conn
