"""Overhead around the LLM: the real `python worker.py` against a fake LLM that answers
every request after exactly 300 ms, at concurrency 1 and 4.

Workload: 200 questions (40 with --quick) whose explanations get a version in one
UPDATE (the trigger enqueues 200 jobs and sends one NOTIFY) while the worker, already
started and LISTENing, waits. Each job goes LISTEN -> claim -> study_card_gather -> LLM
(300 ms; the fake's default answer, one qa card quoting the explanation's last line,
unique per question) -> commit_cards. Wall time is read from the job table: the last
`completed_at` minus the jobs' `created_at` (the enqueueing transaction). The ideal is
jobs x 300 ms / concurrency; the ratio is wall / ideal, so everything that is not the
LLM's own 300 ms is overhead. The overhead is split in two on the database clock: a
job's `started_at` (its claim) to its `completed_at` (its commit) beyond 300 ms, i.e.
gather, HTTP and commit_cards; and the rest of each slot's time, i.e. claiming and
waiting between jobs.
"""

import psycopg

from bench.harness import Bench, Row, wait_for, worker_process
from study_cards.dev.fake_llm import FakeLLM, Reply

LLM_SECONDS = 0.3
CONCURRENCIES = (1, 4)


def measure(bench: Bench, jobs: int, concurrency: int) -> tuple[float, float, int]:
    """Wall seconds for `jobs` jobs through worker.py, the mean seconds from a job's claim
    to its commit (the LLM's 300 ms included), and the cards kept."""
    url = bench.database("bench_llm", with_schema=True)
    with psycopg.connect(url, autocommit=True) as conn, FakeLLM() as llm:
        user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
        conn.execute(
            """INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation)
               SELECT %s, '문항 ' || i || ': 훈민정음을 창제한 왕은?', '["① 태조", "② 세종", "③ 세조"]', '②',
                      E'해설:\\n집현전 학자 ' || i || '명이 훈민정음 창제를 도왔다.'
                 FROM generate_series(1, %s) AS i""",
            (user, jobs),
        )
        llm.script(*(Reply(delay=LLM_SECONDS) for _ in range(jobs)))  # each: its default card, after 300 ms
        with worker_process(bench, url, llm.base_url, concurrency):
            conn.execute("UPDATE study_questions SET ai_explanation_generated_at = now()")
            wait_for(conn, "SELECT count(*) FROM study_memo_card_jobs"
                           " WHERE status IN ('completed', 'failed', 'skipped')",
                     jobs, 3 * jobs * LLM_SECONDS / concurrency + 60, f"{jobs} finished jobs")
        completed, wall, in_job, cards = conn.execute(
            """SELECT count(*) FILTER (WHERE status = 'completed'),
                      extract(epoch FROM max(completed_at) - min(created_at))::float8,
                      extract(epoch FROM avg(completed_at - started_at))::float8,
                      (SELECT count(*) FROM study_memo_cards WHERE deleted_at IS NULL)
                 FROM study_memo_card_jobs""").fetchone()
        if completed != jobs:
            raise RuntimeError(f"only {completed} of {jobs} jobs completed: "
                               + str(conn.execute("SELECT status, error_code, count(*) FROM study_memo_card_jobs"
                                                  " GROUP BY 1, 2").fetchall()))
    bench.drop("bench_llm")
    return wall, in_job, cards


def run(bench: Bench) -> list[Row]:
    jobs = 40 if bench.quick else 200
    bench.say(f"workload: {jobs} jobs through worker.py, fake LLM answering after {LLM_SECONDS * 1000:.0f} ms")
    rows = []
    for concurrency in CONCURRENCIES:
        wall, in_job, cards = measure(bench, jobs, concurrency)
        ideal = jobs * LLM_SECONDS / concurrency
        between = wall * concurrency / jobs - in_job
        breakdown = (f"per job: {(in_job - LLM_SECONDS) * 1000:.1f} ms from claim to commit besides the LLM's "
                     f"{LLM_SECONDS * 1000:.0f} ms, {between * 1000:.1f} ms outside a job (per slot)")
        bench.say(f"  concurrency {concurrency}: {wall:.2f} s for {jobs} jobs ({cards} cards kept), "
                  f"ideal {ideal:.2f} s; {breakdown}")
        rows.append(Row("llm_overhead", f"{jobs} jobs, concurrency {concurrency}",
                        f"{wall:.2f} s vs {ideal:.2f} s", wall / ideal, "jobs x 300 ms / concurrency", "<= 1.05",
                        note=breakdown))
    return rows
