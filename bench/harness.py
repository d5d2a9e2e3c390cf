"""What every benchmark shares: one embedded server per run, fresh databases on it,
worker processes started together, percentiles, and the rows of the result table."""

import atexit
import contextlib
import math
import multiprocessing
import os
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from study_cards import schema
from study_cards.dev import local_pg

ROOT = Path(__file__).resolve().parent.parent

# Worker processes are spawned, not forked: a forked child would inherit the parent's
# open connections and the embedded server's exit handlers.
processes = multiprocessing.get_context("spawn")


@dataclass
class Row:
    """One line of the final table: a measured value and, when there is one, its ratio
    to a baseline measured in the same run, checked against the issue's target."""

    benchmark: str
    measure: str
    value: str
    ratio: float | None = None
    baseline: str = ""
    target: str = ""  # "<= 2" or ">= 0.8": the ratio must satisfy it
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.ratio is None or not self.target:
            return None
        op, bound = self.target.split()
        return self.ratio <= float(bound) if op == "<=" else self.ratio >= float(bound)


@contextlib.contextmanager
def stdout_to_stderr():
    """Send what is printed to stdout (also by subprocesses) to stderr meanwhile: yoyo
    prints the rows a migration's SELECT returns, and stdout is kept for the table."""
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)


class Bench:
    """The run: the embedded server, the size mode, and progress output on stderr."""

    def __init__(self, quick: bool):
        self.quick = quick
        workdir = Path(tempfile.mkdtemp(prefix="study-cards-bench-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # runs after the server's own cleanup
        with stdout_to_stderr():
            self.server = local_pg.start(workdir / "pgdata", keep=False)
        info = self.server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)
        self.port = info.port or 5432

    def say(self, text: str = "") -> None:
        print(text, file=sys.stderr, flush=True)

    def database(self, name: str, *, template: str | None = None, with_schema: bool = False) -> str:
        """A new empty database (or a copy of `template`), dropped first if it exists."""
        with psycopg.connect(local_pg.url(self.server), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if template:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)))
        url = local_pg.create_database(self.server, name)
        if with_schema:
            with stdout_to_stderr():
                schema.apply(url)
        return url

    def drop(self, name: str) -> None:
        with psycopg.connect(local_pg.url(self.server), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_together(target, argument_lists: list[tuple]) -> tuple[float, list]:
    """Start one process per argument tuple; each calls `target(*args, ready, go, results)`,
    prepares, puts anything on `ready`, waits for `go`, works, and puts
    (finish_time_monotonic, its result) on `results`. Returns the time from the common
    start signal to the last finish, and the results."""
    ready, results, go = processes.Queue(), processes.Queue(), processes.Event()
    workers = [processes.Process(target=target, args=(*args, ready, go, results), daemon=True)
               for args in argument_lists]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    start = time.monotonic()
    go.set()
    finished = []
    while len(finished) < len(workers):
        try:
            finished.append(results.get(timeout=1))
        except queue.Empty:
            if any(worker.exitcode not in (None, 0) for worker in workers):
                raise RuntimeError("a benchmark worker process failed (its traceback is above)") from None
    for worker in workers:
        worker.join(timeout=60)
    return max(finish for finish, _ in finished) - start, [result for _, result in finished]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


VECTOR_LITERAL = re.compile(r"'\[[-+0-9.e,]{200,}\]'")


def indent(text: str, by: str = "    ") -> str:
    """`text` indented, with long vector literals shortened."""
    text = VECTOR_LITERAL.sub("'[...]'", text)
    return "\n".join(by + line for line in text.splitlines())


def nested_plans(conn: psycopg.Connection, statement: str, params=()) -> list[str]:
    """The plans of the queries that `statement` runs, including those inside PL/pgSQL
    functions, as auto_explain reports them (EXPLAIN ANALYZE with timing, sent to this
    client as notices): the first plan of each distinct query, with its duration."""
    plans: list[str] = []
    conn.add_notice_handler(lambda notice: plans.append(notice.message_primary))
    conn.execute("LOAD 'auto_explain'")
    for setting, value in (("log_min_duration", "0"), ("log_nested_statements", "on"),
                           ("log_analyze", "on"), ("log_timing", "on"), ("log_level", "notice")):
        conn.execute(f"SET auto_explain.{setting} = {value}")
    try:
        conn.execute(statement, params)
    finally:
        conn.execute("SET auto_explain.log_min_duration = -1")
    distinct = {}
    for plan in plans:
        if plan.startswith("duration:") and "\n" in plan:
            query_line = plan.split("\n", 2)[1]
            distinct.setdefault(query_line, plan)
    return list(distinct.values())


def wait_for(conn: psycopg.Connection, query: str, expected, timeout: float, what: str) -> None:
    """Poll `query` every 50 ms until it returns `expected`; RuntimeError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while conn.execute(query).fetchone()[0] != expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def worker_process(bench: Bench, url: str, llm_base_url: str, concurrency: int):
    """The real `python worker.py` on `url`, started and LISTENing when the block begins,
    stopped with SIGTERM when it ends; its log is shown if the block fails."""
    env = os.environ | {"DATABASE_URL": url, "MLX_BASE_URL": llm_base_url,
                        "WORKER_CONCURRENCY": str(concurrency), "WORKER_NAME": "bench-worker"}
    with tempfile.NamedTemporaryFile("w+", prefix="bench-worker-", suffix=".log") as log, \
            psycopg.connect(url, autocommit=True) as conn:
        worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_for(conn, "SELECT count(*) > 0 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%study_card_jobs%'",
                     True, 30, "worker.py to LISTEN")
            yield worker
        except Exception:
            log.seek(0)
            bench.say(log.read()[-3000:])
            raise
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
