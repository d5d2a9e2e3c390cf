"""Wake latency: from a committing update of a question to a listening claimer's claim.

Workload: 500 single-row updates (100 with --quick), one at a time, 20 ms apart, each
setting a new `ai_explanation_generated_at` on a question that has an explanation
(autocommit: the trigger enqueues the job and NOTIFYs study_card_jobs at commit). The
claimer is another process that LISTENs, and on each notification calls
study_card_claim until it is empty and completes each job with commit_cards (an
empty card list: the fake LLM answering instantly). The latency runs from just before
the UPDATE is sent to just after study_card_claim returned the job (one monotonic
clock shared by both processes).

The real worker.py, the same 500 updates: it LISTENs in its main thread and wakes a
job slot that claims, gathers, asks the fake LLM (answering at once) and commits. Its
latency is read on the database clock: the job's started_at (the claim's transaction
start) minus the version the UPDATE wrote (clock_timestamp() during the UPDATE).

procrastinate, measured the same way in the same run: a job deferred (one committing
INSERT, which NOTIFYs) to its no-op task starting in a listening worker process
(concurrency 1).
"""

import time

import psycopg
from psycopg.types.json import Jsonb

from bench import peers
from bench.harness import Bench, Row, percentile, processes, worker_process
from study_cards.dev.fake_llm import FakeLLM

PAUSE = 0.02
CLAIMER = "bench-listener"


def our_listener(url: str, pickups, ready, stop) -> None:
    """Claim on every notification; report (source id, monotonic_ns) per claimed job."""
    empty = Jsonb({"cards": []})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN study_card_jobs")
        ready.put(True)
        while not stop.is_set():
            if not list(conn.notifies(timeout=0.5, stop_after=1)):
                continue
            while jobs := conn.execute("SELECT id, source_id FROM study_card_claim(%s)", (CLAIMER,),
                                       prepare=True).fetchall():
                claimed = time.monotonic_ns()
                for job_id, source_id in jobs:
                    pickups.put((source_id, claimed))
                    conn.execute("SELECT commit_cards(%s, %s, %s)", (job_id, CLAIMER, empty), prepare=True)


def questions_without_version(conn: psycopg.Connection, count: int) -> list[int]:
    """`count` questions with an explanation but no version yet (so no job)."""
    user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
    questions = [qid for (qid,) in conn.execute(
        """INSERT INTO study_questions (user_id, stem, answer, ai_explanation)
           SELECT %s, '문항 ' || i, '③', E'해설:\\n정답 ' || i || '번은 ③이다.'
             FROM generate_series(1, %s) AS i RETURNING id""", (user, count)).fetchall()]
    conn.execute("VACUUM ANALYZE")
    return questions


def new_version(conn: psycopg.Connection, question: int) -> None:
    conn.execute("UPDATE study_questions SET ai_explanation_generated_at = clock_timestamp() WHERE id = %s",
                 (question,), prepare=True)


def our_pickup_latencies(url: str, count: int) -> list[float]:
    with psycopg.connect(url, autocommit=True) as conn:
        questions = questions_without_version(conn, count)
        pickups, ready, stop = processes.Queue(), processes.Queue(), processes.Event()
        listener = processes.Process(target=our_listener, args=(url, pickups, ready, stop), daemon=True)
        listener.start()
        ready.get(timeout=60)
        latencies = []
        try:
            for question in questions:
                sent = time.monotonic_ns()
                new_version(conn, question)
                source_id, claimed = pickups.get(timeout=10)
                if source_id != question:
                    raise RuntimeError(f"claimed the job of question {source_id}, expected {question}")
                latencies.append((claimed - sent) / 1e6)
                time.sleep(PAUSE)
        finally:
            stop.set()
            listener.join(timeout=30)
    return latencies


def worker_pickup_latencies(bench: Bench, url: str, count: int) -> list[float]:
    """The same updates picked up by the real worker.py (concurrency 1, the fake LLM
    answering at once), measured on the database clock: the job's started_at (the
    claim's transaction start) minus the version (clock_timestamp() in the UPDATE)."""
    with psycopg.connect(url, autocommit=True) as conn, FakeLLM() as llm:
        questions = questions_without_version(conn, count)
        with worker_process(bench, url, llm.base_url, 1):
            for done, question in enumerate(questions, 1):
                new_version(conn, question)
                llm.wait_for_requests(done, timeout=10)  # claimed and gathered: the LLM is asked
                while conn.execute("SELECT status <> 'completed' FROM study_memo_card_jobs WHERE source_id = %s",
                                   (question,), prepare=True).fetchone()[0]:
                    time.sleep(0.005)  # the slot is free again once the job is committed
                time.sleep(PAUSE)
        return [ms for (ms,) in conn.execute(
            """SELECT extract(epoch FROM started_at - source_version)::float8 * 1000
                 FROM study_memo_card_jobs WHERE status = 'completed'""").fetchall()]


def run(bench: Bench) -> list[Row]:
    count = 100 if bench.quick else 500
    bench.say(f"workload: {count} single committed updates, {PAUSE * 1000:.0f} ms apart, one listening claimer")
    ours = our_pickup_latencies(bench.database("bench_wake", with_schema=True), count)
    worker = worker_pickup_latencies(bench, bench.database("bench_wake_worker", with_schema=True), count)
    url = bench.database("bench_wake_procrastinate")
    peers.procrastinate_prepare(url, 0)
    theirs = peers.procrastinate_pickup_latencies(url, count, PAUSE)
    if len(worker) != count:
        raise RuntimeError(f"worker.py completed {len(worker)} of {count} jobs")
    their_p99 = percentile(theirs, 99)
    rows = []
    for name, latencies, baseline in (("procrastinate", theirs, ""),
                                      ("ours, minimal claimer", ours, "procrastinate p99"),
                                      ("ours, worker.py", worker, "procrastinate p99")):
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        bench.say(f"  {name:<22} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(latencies):6.2f} ms")
        rows.append(Row("wake_latency", f"{name} p50", f"{p50:.2f} ms"))
        rows.append(Row("wake_latency", f"{name} p99", f"{p99:.2f} ms", p99 / their_p99 if baseline else None,
                        baseline, "<= 1" if baseline else ""))
    for name in ("bench_wake", "bench_wake_worker", "bench_wake_procrastinate"):
        bench.drop(name)
    return rows
