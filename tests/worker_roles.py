"""Login roles in study_card_worker, for tests that call the worker's functions the way a
worker does: as a LOGIN role that is a member of study_card_worker, connected as itself
(the embedded server trusts local connections)."""

import itertools
import os

import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

_names = itertools.count()


@pytest.fixture
def worker_login(db, db_url):
    """`worker_login("alice")` creates a LOGIN role w_alice_<pid>_<n> IN ROLE
    study_card_worker and returns the conninfo of this test's database as that role.
    Roles are cluster-wide: unique names, dropped after the test."""
    created = []

    def login(label: str) -> str:
        name = f"w_{label}_{os.getpid()}_{next(_names)}"
        db.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE study_card_worker").format(sql.Identifier(name)))
        created.append(name)
        return make_conninfo(db_url, user=name)

    yield login
    for name in created:
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
