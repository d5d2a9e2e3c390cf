"""Queue throughput: claim -> complete of trivial jobs from N worker processes, beside
procrastinate and pgqueuer doing the equivalent and pgbench's one-row transactions.

Workload: 20,000 pending jobs (2,000 with --quick), prepared before the clock starts;
N = 1, 2, 4 worker processes start on a common signal; the time runs to the last
completion. Every system gets its own copy of a prepared template database, so each
run starts from the same state. Our worker is the minimal loop the real worker runs
around the LLM call, with the SQL functions called directly (no HTTP):

  ours        study_card_claim(worker, 1) then commit_cards(job, worker, '{"cards": []}'):
              two transactions per job, like procrastinate's fetch + finish. This is
              what worker.py does.
  batched     study_card_claim(worker, 10), then the 10 commit_cards calls in ONE
              transaction, pipelined: 1 + 1 transactions per 10 jobs, the way pgqueuer
              batches its fetch and its completions. (A failing commit_cards would roll
              back its batch-mates, so a real worker would retry them one by one.)
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from bench import peers, pgbench
from bench.harness import Bench, Row, run_together

WORKER_COUNTS = (1, 2, 4)
OUR_MODES = ("ours", "batched")
BATCH = 10
CLAIM = "SELECT id FROM study_card_claim(%s, %s)"
COMMIT = "SELECT commit_cards(%s, %s, %s)"
EMPTY = Jsonb({"cards": []})


def our_worker(url: str, name: str, mode: str, ready, go, results) -> None:
    """Claim and complete jobs until a claim comes back empty (mode: see above)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ready.put(True)
        go.wait()
        done, batch = 0, BATCH if mode == "batched" else 1
        jobs = conn.execute(CLAIM, (name, batch), prepare=True).fetchall()
        while jobs:
            if mode == "ours":
                conn.execute(COMMIT, (jobs[0][0], name, EMPTY), prepare=True)
            else:
                with conn.pipeline(), conn.transaction():
                    for (job_id,) in jobs:
                        conn.execute(COMMIT, (job_id, name, EMPTY), prepare=True)
            done += len(jobs)
            jobs = conn.execute(CLAIM, (name, batch), prepare=True).fetchall()
        results.put((time.monotonic(), done))


def prepare_ours(url: str, jobs: int) -> None:
    """One user, `jobs` questions with a fresh explanation, and their pending jobs."""
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute("INSERT INTO users (email) VALUES ('bench@example.com') RETURNING id").fetchone()[0]
        conn.execute(
            """INSERT INTO study_questions (user_id, stem, answer, ai_explanation, ai_explanation_generated_at)
               SELECT %s, '문항 ' || i || ': 다음 중 옳은 것은?', '③', '해설 ' || i || ': 정답은 ③이다.', now()
                 FROM generate_series(1, %s) AS i""",
            (user, jobs),
        )
        conn.execute("SELECT study_card_enqueue(%s)", (jobs,))  # a no-op when the insert trigger enqueued them
        pending = conn.execute("SELECT count(*) FROM study_memo_card_jobs WHERE status = 'pending'").fetchone()[0]
        if pending != jobs:
            raise RuntimeError(f"expected {jobs} pending jobs, found {pending}")
        conn.execute("VACUUM ANALYZE")


def completed(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM study_memo_card_jobs WHERE status = 'completed'").fetchone()[0]


def label(mode: str) -> str:
    return mode if mode == "ours" else f"ours {mode}"


def our_arguments(mode: str) -> Callable[[str, int], list[tuple]]:
    return lambda url, n: [(url, f"bench-{i}", mode) for i in range(n)]


@dataclass
class System:
    """A queue under test: its worker process, the template database holding its jobs,
    each worker's arguments, and how many jobs the database says it finished."""

    worker: Callable
    template: str
    arguments: Callable[[str, int], list[tuple]]
    finished: Callable[[str], int]


def run(bench: Bench) -> list[Row]:
    jobs = 2_000 if bench.quick else 20_000
    bench.say(f"workload: {jobs:,} trivial jobs, N = {', '.join(map(str, WORKER_COUNTS))} worker processes")
    bench.say("preparing template databases ...")
    prepare_ours(bench.database("tpl_ours", with_schema=True), jobs)
    peers.procrastinate_prepare(bench.database("tpl_procrastinate"), jobs)
    peers.pgqueuer_prepare(bench.database("tpl_pgqueuer"), jobs)
    systems = {label(mode): System(our_worker, "tpl_ours", our_arguments(mode), completed) for mode in OUR_MODES}
    systems |= {
        "procrastinate": System(peers.procrastinate_worker, "tpl_procrastinate", lambda url, n: [(url,)] * n,
                                peers.procrastinate_done),
        "pgqueuer": System(peers.pgqueuer_worker, "tpl_pgqueuer", lambda url, n: [(url, BATCH)] * n,
                           lambda url: jobs - peers.pgqueuer_left(url)),
    }

    rate: dict[tuple[str, int], float] = {}
    for n in WORKER_COUNTS:
        for name, system in systems.items():
            url = bench.database("bench_run", template=system.template)
            elapsed, counts = run_together(system.worker, system.arguments(url, n))
            done = system.finished(url)
            if done != jobs or sum(counts) != jobs:
                raise RuntimeError(f"{name} N={n}: {done} jobs finished in the database, "
                                   f"{sum(counts)} reported by the workers, {jobs} expected")
            rate[name, n] = jobs / elapsed
            bench.say(f"  N={n} {name:<14} {elapsed:6.2f} s  {rate[name, n]:8,.0f} jobs/s")
    for name in ("bench_run", "tpl_ours", "tpl_procrastinate", "tpl_pgqueuer"):
        bench.drop(name)

    seconds = 5 if bench.quick else 10
    pgbench_tps = pgbench.tps(bench, clients=2, seconds=seconds)
    bench.say(f"  pgbench -N -c 2 -j 2 -T {seconds}: {pgbench_tps:,.0f} tps")

    rows = [Row("queue_throughput", "pgbench -N -c 2", f"{pgbench_tps:,.0f} tps")]
    for n in WORKER_COUNTS:
        for peer in ("procrastinate", "pgqueuer"):
            rows.append(Row("queue_throughput", f"{peer} N={n}", f"{rate[peer, n]:,.0f} jobs/s"))
        for ours in map(label, OUR_MODES):
            measure, value = f"{ours} N={n}", f"{rate[ours, n]:,.0f} jobs/s"
            rows.append(Row("queue_throughput", measure, value, rate[ours, n] / rate["procrastinate", n],
                            "procrastinate", ">= 2" if ours == "ours" else ""))
            rows.append(Row("queue_throughput", measure, value, rate[ours, n] / rate["pgqueuer", n], "pgqueuer"))
            rows.append(Row("queue_throughput", measure, value, rate[ours, n] / pgbench_tps, "pgbench tps",
                            ">= 0.8" if ours == "ours" and n == 4 else ""))
    return rows
