"""The study card worker: LISTEN study_card_jobs -> study_card_gather -> LLM -> commit_cards.

    python worker.py          run until SIGTERM/SIGINT (under systemd: Type=notify)
    python worker.py --once   drain what is claimable now, then exit 0

I/O only: the SQL functions decide which job runs, which card is kept and whether a
job is retried. The worker maps what happened to the one function that records it:
    a reply with a JSON object        -> commit_cards (the guards decide what is kept)
    no JSON, or not {"cards": [...]}  -> study_card_fail(parse_fail)  (22023 from commit_cards,
                                         or 22P05: a NUL, U+0000, that jsonb cannot hold)
    the LLM call timed out            -> study_card_fail(llm_timeout)
    LLM unreachable, HTTP 5xx or 429  -> study_card_release(delay), claiming paused (no attempt spent)
    anything else                     -> study_card_fail(unknown, message)
    gather returns no source          -> nothing: gather closed the job (source gone or changed)
    SQLSTATE 55000 (another worker took the job over) -> log and move on
With MLX_RESPONSE_FORMAT=on the JSON Schema of the job's result is fetched for each job from
study_card_result_schema(job, WORKER_MAX_CARDS, worker): quotes narrowed to the gathered
sources' sentences, so a server that enforces it (llama.cpp, vLLM) quotes verbatim.
With WORKER_REVIEW=on a second call (study_cards/prompts.py's REVIEW_PROMPT) shows the model
the cards study_card_check_result would keep; its verdicts go to commit_cards untouched,
JSON null when the call failed or its reply held no JSON (commit_cards then keeps the cards).
"""

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from study_cards.prompts import PROMPT, REVIEW_PROMPT, UnparsableReply, format_sources, parse_reply

SETTINGS = [  # (environment variable, default, meaning): read by Config, listed by --help
    ("DATABASE_URL", "", "libpq URL or conninfo of the study database (required)"),
    ("MLX_BASE_URL", "http://127.0.0.1:8080/v1", "OpenAI-compatible API (mlx_lm.server, llama.cpp, vLLM)"),
    ("MLX_MODEL", "default_model", "model sent with each request (mlx_lm.server: the one it loaded)"),
    ("MLX_API_KEY", "", "sent as 'Authorization: Bearer <key>' when set"),
    ("MLX_TIMEOUT", "180", "seconds one chat-completions call may take, then llm_timeout"),
    ("MLX_MAX_TOKENS", "2048", "max_tokens of one answer"),
    ("MLX_RESPONSE_FORMAT", "off", "on: send the job's study_card_result_schema as response_format (llama.cpp, vLLM)"),
    ("WORKER_CONCURRENCY", "1", "jobs in flight at once (one database connection each)"),
    ("WORKER_LEASE", "600", "seconds a claimed job is leased; renewed every lease/3 while it runs"),
    ("WORKER_POLL_INTERVAL", "30", "seconds between safety-net claims and connection checks"),
    ("WORKER_GRACE", "30", "seconds jobs in flight may finish after SIGTERM; the rest are released"),
    ("WORKER_BACKOFF", "5", "first pause (s) when the LLM is unreachable or busy; doubles up to 300"),
    ("WORKER_NAME", "<host>:<pid>", "the name jobs are locked with"),
    ("WORKER_MAX_CARDS", "8", "at most this many cards per source (told to the LLM)"),
    ("WORKER_GATHER_K", "6", "sources gathered per job: S1 (the job's own) + related"),
    ("WORKER_REVIEW", "off", "on: a second LLM call per job reviews the cards that pass the guards (docs/review.md)"),
]
CHANNEL = "study_card_jobs"
TICK = 1.0  # seconds: how often the main loop looks at SIGTERM, heartbeats and the watchdog
BACKOFF_MAX = 300.0
RECONNECT_MAX = 30.0


log = logging.getLogger("study_card_worker")


@dataclass(frozen=True)
class Config:
    """The settings of SETTINGS, typed. Config.from_env(os.environ) builds it."""
    database_url: str
    base_url: str
    model: str
    api_key: str
    llm_timeout: float  # seconds
    max_tokens: int
    response_format: bool
    concurrency: int
    lease: timedelta
    poll_interval: float  # seconds, like grace and backoff
    grace: float
    backoff: float
    name: str
    max_cards: int
    gather_k: int
    review: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Config":
        """The settings from `env`, an unset or empty variable taking its default;
        ValueError naming the variable whose value is not of its type."""
        defaults = {name: default for name, default, _ in SETTINGS}
        def switch(value: str) -> bool:  # on/off settings
            return value.lower() in ("on", "1", "true", "yes")

        def read(name: str, convert: Callable = str):
            value = env.get(name) or defaults[name]
            try:
                return convert(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a valid {convert.__name__}") from None

        return cls(
            database_url=read("DATABASE_URL"), base_url=read("MLX_BASE_URL"), model=read("MLX_MODEL"),
            api_key=read("MLX_API_KEY"), llm_timeout=read("MLX_TIMEOUT", float),
            max_tokens=read("MLX_MAX_TOKENS", int),
            response_format=read("MLX_RESPONSE_FORMAT", switch),
            concurrency=read("WORKER_CONCURRENCY", int),
            lease=timedelta(seconds=read("WORKER_LEASE", float)),
            poll_interval=read("WORKER_POLL_INTERVAL", float), grace=read("WORKER_GRACE", float),
            backoff=read("WORKER_BACKOFF", float),
            name=env.get("WORKER_NAME") or f"{socket.gethostname()}:{os.getpid()}",
            max_cards=read("WORKER_MAX_CARDS", int), gather_k=read("WORKER_GATHER_K", int),
            review=read("WORKER_REVIEW", switch))


@dataclass
class LLMCall:
    """What one chat-completions call cost, for the job's log line."""
    seconds: float = 0.0
    usage: dict = field(default_factory=dict)
    error: str = ""  # why a review call gave no verdicts


class LLMBusy(Exception):
    """HTTP 429 or 5xx: the LLM server is overloaded or failing for now."""


def connect(database_url: str) -> psycopg.Connection:
    # Keepalives and a TCP user timeout notice a silently dropped connection
    # (libpq ignores them on Unix sockets, where the kernel reports it anyway).
    return psycopg.connect(database_url, autocommit=True, row_factory=dict_row, connect_timeout=10,
                           keepalives=1, keepalives_idle=30, keepalives_interval=10,
                           keepalives_count=3, tcp_user_timeout=60_000)


def sd_notify(state: str) -> None:
    """Tell systemd READY=1 / WATCHDOG=1 / STOPPING=1; does nothing without $NOTIFY_SOCKET."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(state.encode(), address)


def response_format(schema: dict, name: str = "study_memo_cards") -> dict:
    """OpenAI's structured-output request around a JSON Schema (study_card_result_schema's):
    llama.cpp and vLLM constrain decoding to it; commit_cards still checks everything."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


class Breaker:
    """Pauses all claiming while the LLM is unreachable or busy: each failure in a row
    doubles the pause (from WORKER_BACKOFF up to BACKOFF_MAX); any answer resets it."""

    def __init__(self, first_pause: float):
        self.first_pause, self.failures, self.until = first_pause, 0, 0.0
        self.lock = threading.Lock()

    def trip(self) -> float:
        with self.lock:
            self.failures += 1
            pause = min(self.first_pause * 2 ** (self.failures - 1), BACKOFF_MAX)
            self.until = max(self.until, time.monotonic() + pause)
            return pause

    def reset(self) -> None:
        with self.lock:
            self.failures = 0

    def remaining(self) -> float:
        return max(0.0, self.until - time.monotonic())


class Worker:
    """The main thread LISTENs, renews leases and pings the watchdog; each of the
    WORKER_CONCURRENCY slot threads claims one job at a time and carries it through."""

    def __init__(self, config: Config):
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self.llm = httpx.Client(base_url=config.base_url, headers=headers, timeout=config.llm_timeout)
        self.breaker = Breaker(config.backoff)
        self.stopping = threading.Event()
        self.wake = threading.Condition()
        self.wakeups = 0  # counts wake-ups, so a slot that was busy does not miss one
        self.in_flight: dict[int, dict] = {}  # job id -> job row, for heartbeats and shutdown

    # -- the main thread ---------------------------------------------------------------------
    def run(self, once: bool = False) -> int:
        slots = [threading.Thread(target=self.slot, args=(once,), name=f"slot-{n}", daemon=True)
                 for n in range(self.config.concurrency)]
        for slot in slots:
            slot.start()
        conn, next_check = None, 0.0
        renew_every = min(self.config.poll_interval, self.config.lease.total_seconds() / 3)
        while not self.stopping.is_set() and not (once and not any(s.is_alive() for s in slots)):
            if not once and not all(s.is_alive() for s in slots):
                log.error("a job slot died; exiting so that the service manager restarts the worker")
                return 1
            try:
                if conn is None:
                    conn = self.listen()
                    self.wake_slots()  # claim once for whatever was enqueued while we were away
                    continue
                if any(conn.notifies(timeout=TICK / 20 if once else TICK, stop_after=1)):
                    self.wake_slots()
                if time.monotonic() >= next_check:
                    self.heartbeat(conn)
                    next_check = time.monotonic() + renew_every
                sd_notify("WATCHDOG=1")
            except psycopg.OperationalError as error:
                log.warning("database connection lost (%s); reconnecting", str(error).strip())
                conn = None
        self.shutdown(conn, slots)
        return 0

    def listen(self) -> psycopg.Connection | None:
        """A connection that LISTENs on study_card_jobs, retried with backoff; None on SIGTERM."""
        delay = 0.5
        while True:
            try:
                conn = connect(self.config.database_url)
                conn.execute(f"LISTEN {CHANNEL}")
                log.info("worker %s listening on %s (concurrency %d, LLM %s)", self.config.name,
                         CHANNEL, self.config.concurrency, self.config.base_url)
                sd_notify("READY=1")
                return conn
            except psycopg.OperationalError as error:
                log.warning("database unavailable (%s); retrying in %.1fs", str(error).strip(), delay)
            sd_notify("WATCHDOG=1")
            if self.stopping.wait(delay):
                return None
            delay = min(delay * 2, RECONNECT_MAX)

    def wake_slots(self) -> None:
        with self.wake:
            self.wakeups += 1
            self.wake.notify_all()

    def heartbeat(self, conn: psycopg.Connection) -> None:
        """Check the connection, and renew the lease of every job in flight. The answer is
        true (renewed), false (another worker holds the job now) or NULL (nobody holds it:
        most often this worker's own commit closed it a moment ago); only false is news."""
        conn.execute("SELECT 1")
        for job_id in list(self.in_flight):
            held = conn.execute("SELECT study_card_heartbeat(%s, %s, %s) AS held",
                                (job_id, self.config.name, self.config.lease)).fetchone()["held"]
            if held is False and job_id in self.in_flight:
                log.warning("job=%d: lease lost, another worker took the job over", job_id)

    def shutdown(self, conn: psycopg.Connection | None, slots: list[threading.Thread]) -> None:
        """Stop claiming; let jobs in flight finish within the grace period; release the rest."""
        sd_notify("STOPPING=1")
        self.stopping.set()
        self.wake_slots()
        deadline = time.monotonic() + self.config.grace
        for slot in slots:
            while slot.is_alive() and time.monotonic() < deadline:
                slot.join(min(TICK, deadline - time.monotonic()))
                sd_notify("WATCHDOG=1")
        for job in list(self.in_flight.values()):
            try:
                conn = conn if conn and not conn.closed else connect(self.config.database_url)
                self.release(conn, job, 0.0, "released at shutdown")
            except psycopg.Error as error:  # gone, or just committed by its slot
                log.warning("job=%d not released (%s)", job["id"], str(error).strip())
        log.info("worker %s stopped", self.config.name)

    # -- a slot thread ---------------------------------------------------------------------------
    def slot(self, once: bool) -> None:
        """Claim a job and carry it through, until none is claimable; then wait for a
        wake-up (a notification, a reconnect) or the poll interval, and claim again."""
        conn = None
        while not self.stopping.is_set():
            with self.wake:
                seen = self.wakeups
            try:
                conn = conn if conn and not conn.closed else connect(self.config.database_url)
                job = None if self.breaker.remaining() else conn.execute(
                    "SELECT * FROM study_card_claim(%s, 1, %s)", (self.config.name, self.config.lease)
                ).fetchone()
                if job:
                    self.process(conn, job)
                    continue
            except psycopg.Error as error:
                log.warning("%s: database error (%s); retrying", threading.current_thread().name,
                            str(error).strip())
                conn = None
                if once or self.stopping.wait(2.0):
                    return
                continue
            if once:
                return
            with self.wake:
                self.wake.wait_for(lambda: self.wakeups != seen or self.stopping.is_set(),
                                   timeout=self.breaker.remaining() or self.config.poll_interval)

    def process(self, conn: psycopg.Connection, job: dict) -> None:
        self.in_flight[job["id"]] = job
        try:
            self.carry(conn, job)
        except psycopg.errors.ObjectNotInPrerequisiteState as error:  # 55000 from any function
            log.warning("job=%d: no longer held by this worker, moving on (%s)", job["id"],
                        error.diag.message_primary)
        finally:
            self.in_flight.pop(job["id"], None)

    def carry(self, conn: psycopg.Connection, job: dict) -> None:
        """gather, the LLM, commit_cards; every way it can end goes to its SQL function."""
        call, review_call = LLMCall(), LLMCall() if self.config.review else None
        try:
            sources = conn.execute("SELECT * FROM study_card_gather(%s, %s, p_worker => %s)",
                                   (job["id"], self.config.gather_k, self.config.name)).fetchall()
            if not sources:  # the source is gone or moved on: gather closed the job
                self.outcome(job, "skipped", None, call, note="closed by gather: the source is gone or changed")
                return
            schema = conn.execute("SELECT study_card_result_schema(%s, %s, %s) AS schema",
                                  (job["id"], self.config.max_cards, self.config.name)
                                  ).fetchone()["schema"] if self.config.response_format else None
            result = parse_reply(self.ask_llm(PROMPT.substitute(max_cards=self.config.max_cards),
                                              format_sources(sources), call, schema))
            try:
                review = self.review(conn, job, sources, result, review_call) if review_call else None
                report = conn.execute("SELECT commit_cards(%s, %s, %s, %s) AS report",
                                      (job["id"], self.config.name, Jsonb(result), review)).fetchone()["report"]
            except (psycopg.errors.InvalidParameterValue,  # 22023: not {"cards": [...]}
                    psycopg.errors.UntranslatableCharacter) as error:  # 22P05: \u0000 in the reply
                raise UnparsableReply(error.diag.message_primary) from error
            self.outcome(job, report["status"], report["error_code"], call, report, review=review_call)
        except (httpx.ConnectError, httpx.ConnectTimeout, LLMBusy) as error:
            pause = self.breaker.trip()
            self.release(conn, job, pause, f"LLM unavailable ({error}); pausing {pause:.0f}s", call)
        except httpx.TimeoutException as error:
            message = f"no answer within {self.config.llm_timeout:g}s ({error!r})"
            self.fail(conn, job, "llm_timeout", message, call)
        except UnparsableReply as error:
            self.fail(conn, job, "parse_fail", str(error), call)
        except (psycopg.OperationalError, psycopg.errors.ObjectNotInPrerequisiteState):
            raise  # connection gone (the lease brings the job back) / the job is not ours
        except Exception as error:
            self.fail(conn, job, "unknown", f"{type(error).__name__}: {error}", call)

    def review(self, conn, job: dict, sources: list[dict], result: dict, call: LLMCall) -> Jsonb | None:
        """The review call on the cards the dry run would keep (none: no call, None);
        its parsed reply untouched, or JSON null when the call or the parsing failed."""
        dry = conn.execute("SELECT study_card_check_result(%s, %s, %s) AS dry",
                           (job["id"], self.config.name, Jsonb(result))).fetchone()["dry"]
        if dry["status"] != "completed" or not dry["kept"]:
            return None
        cards = "\n".join(json.dumps({"index": i, **result["cards"][i]}, ensure_ascii=False) for i in dry["kept"])
        schema = conn.execute("SELECT study_card_review_schema(%s) AS schema", (len(dry["kept"]),)
                              ).fetchone()["schema"] if self.config.response_format else None
        try:
            return Jsonb(parse_reply(self.ask_llm(REVIEW_PROMPT, f"{format_sources(sources)}\n\n카드:\n{cards}",
                                                  call, schema, "study_card_review")))
        except (httpx.HTTPError, LLMBusy, UnparsableReply, ValueError, LookupError, TypeError) as error:
            call.error = f"{type(error).__name__}: {error}"
            return Jsonb(None)

    def ask_llm(self, system: str, user: str, call: LLMCall, schema: dict | None = None,
                schema_name: str = "study_memo_cards") -> str:
        """One chat-completions call (constrained to `schema` when given); returns the
        reply's text and fills in `call`."""
        body = {"model": self.config.model, "temperature": 0, "max_tokens": self.config.max_tokens,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
        if schema is not None:
            body["response_format"] = response_format(schema, schema_name)
        started = time.monotonic()
        try:
            response = self.llm.post("chat/completions", json=body)
        finally:
            call.seconds = time.monotonic() - started
        if response.status_code == 429 or response.status_code >= 500:
            raise LLMBusy(f"HTTP {response.status_code}")
        self.breaker.reset()
        response.raise_for_status()
        answer = response.json()
        call.usage = answer.get("usage") or {}
        choice = answer["choices"][0]
        if choice.get("finish_reason") == "length":
            log.warning("a reply was cut off at MLX_MAX_TOKENS=%d", self.config.max_tokens)
        return choice["message"]["content"]

    # -- recording an outcome, each through its SQL function -----------------------------------
    def fail(self, conn, job: dict, error_code: str, message: str, call: LLMCall) -> None:
        status = conn.execute("SELECT study_card_fail(%s, %s, %s, %s) AS status",
                              (job["id"], self.config.name, error_code, message)).fetchone()["status"]
        self.outcome(job, status, error_code, call, note=message)

    def release(self, conn, job: dict, delay: float, note: str, call: LLMCall | None = None) -> None:
        conn.execute("SELECT study_card_release(%s, %s, %s)",
                     (job["id"], self.config.name, timedelta(seconds=delay)))
        self.outcome(job, "pending", None, call or LLMCall(), note=note)

    def outcome(self, job: dict, status: str, error_code: str | None, call: LLMCall,
                report: dict | None = None, note: str = "", review: LLMCall | None = None) -> None:
        """The one log line per job outcome; with the review call's (review=none: no card
        to review; rejected:N: applied; ignored: commit_cards found no verdicts in it)."""
        counts = (f" kept={len(report['kept'])} retired={len(report['retired'])}"
                  f" dropped={len(report['dropped'])}") if report else ""
        reviewed = ""
        if review is not None:
            verdicts = (report or {}).get("review")
            state = ("none" if verdicts is None else
                     f"rejected:{len(verdicts['rejected'])}" if verdicts["applied"] else "ignored")
            reviewed = (f" review={state} review_llm={review.seconds:.2f}s review_tokens="
                        f"{review.usage.get('prompt_tokens', 0)}+{review.usage.get('completion_tokens', 0)}")
            problem = review.error or (verdicts or {}).get("problem")
            note = note or (f"review: {problem}" if problem else "")
        note = f" note={json.dumps(note, ensure_ascii=False)}" if note else ""
        log.info("job=%d source=%s:%d status=%s error=%s%s llm=%.2fs tokens=%s+%s%s%s",
                 job["id"], job["source_kind"], job["source_id"], status, error_code or "-", counts,
                 call.seconds, call.usage.get("prompt_tokens", 0), call.usage.get("completion_tokens", 0),
                 reviewed, note)


def main(argv: list[str] | None = None) -> int:
    settings = "\n".join(f"  {name:<22}{meaning} [{default or 'unset'}]" for name, default, meaning in SETTINGS)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"configuration (environment variables, [default]):\n{settings}")
    parser.add_argument("--once", action="store_true", help="drain what is claimable now, then exit 0")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env(os.environ)
    except ValueError as error:
        parser.error(str(error))
    if not config.database_url:
        parser.error("DATABASE_URL is not set")
    # journald stamps each line itself; elsewhere the time is useful.
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=stamp + "%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its line per request would double ours
    worker = Worker(config)
    # SIGTERM/SIGINT are blocked in every thread and taken by one thread that waits for
    # them (a Python signal handler that touches a lock can deadlock the main thread).
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    threading.Thread(target=lambda: (signal.sigwait(stop_signals), worker.stopping.set()), daemon=True).start()
    return worker.run(once=args.once)


if __name__ == "__main__":
    sys.exit(main())
