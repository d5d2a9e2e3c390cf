"""The established Postgres queues, driven the way their own docs drive them, so our
queue has a baseline measured on the same server in the same run.

- procrastinate: one transaction to fetch a job, one to finish it (like ours);
  its worker with `wait=False` returns once the queue is drained.
- pgqueuer: batched fetch (`batch_size`) and batched completion (its status-log
  buffer); `mode=drain` returns once the queue is drained.

Both run an `async` no-op task, the cheapest kind each library offers. Each worker
process puts (finish time, jobs it ran) on the results queue; see harness.run_together.
"""

import asyncio
import contextlib
import time

import procrastinate
import psycopg
from pgqueuer import QueueManager, Queries
from pgqueuer.db import PsycopgDriver
from pgqueuer.types import QueueExecutionMode

from bench.harness import processes

NOOP = "bench_noop"
ENQUEUE_CHUNK = 1_000

# The jobs a procrastinate worker process ran, and where its wake-latency task reports.
procrastinate_jobs_run = 0
procrastinate_pickups = None


def procrastinate_app(url: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name=NOOP)
    async def bench_noop() -> None:
        global procrastinate_jobs_run
        procrastinate_jobs_run += 1

    @app.task(name="bench_pickup")
    async def bench_pickup(sent: int) -> None:
        procrastinate_pickups.put((sent, time.monotonic_ns()))

    return app


def procrastinate_prepare(url: str, jobs: int) -> None:
    """procrastinate's schema and `jobs` no-op jobs, deferred in batches."""

    async def prepare() -> None:
        app = procrastinate_app(url)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for start in range(0, jobs, ENQUEUE_CHUNK):
                count = min(ENQUEUE_CHUNK, jobs - start)
                await app.configure_task(NOOP).batch_defer_async(*({} for _ in range(count)))

    asyncio.run(prepare())


def procrastinate_worker(url: str, ready, go, results) -> None:
    """One procrastinate worker process (concurrency 1) that drains the queue."""

    async def work() -> float:
        app = procrastinate_app(url)
        async with app.open_async():
            ready.put(True)
            await asyncio.to_thread(go.wait)
            await app.run_worker_async(
                wait=False, concurrency=1, listen_notify=False, install_signal_handlers=False
            )
            return time.monotonic()

    finished = asyncio.run(work())
    results.put((finished, procrastinate_jobs_run))


def procrastinate_done(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'").fetchone()[0]


def procrastinate_listener(url: str, pickups, ready, stop) -> None:
    """A waiting procrastinate worker (LISTEN/NOTIFY on) whose task reports when it
    started: (the deferrer's monotonic_ns, the task's monotonic_ns)."""
    global procrastinate_pickups
    procrastinate_pickups = pickups

    async def listen() -> None:
        app = procrastinate_app(url)
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(concurrency=1, install_signal_handlers=False))
            await asyncio.sleep(1)  # let it register and LISTEN
            ready.put(True)
            await asyncio.to_thread(stop.wait)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    asyncio.run(listen())


def procrastinate_pickup_latencies(url: str, count: int, pause: float) -> list[float]:
    """Milliseconds from deferring a job (one committing INSERT) to its task starting
    in a listening worker, `count` times, one job at a time, `pause` seconds apart."""
    pickups, ready, stop = processes.Queue(), processes.Queue(), processes.Event()
    listener = processes.Process(target=procrastinate_listener, args=(url, pickups, ready, stop), daemon=True)
    listener.start()
    ready.get(timeout=60)

    async def defer_all() -> list[float]:
        latencies = []
        app = procrastinate_app(url)
        async with app.open_async():
            task = app.configure_task("bench_pickup")
            for _ in range(count):
                sent = time.monotonic_ns()
                await task.defer_async(sent=sent)
                echoed, started = pickups.get(timeout=10)
                assert echoed == sent
                latencies.append((started - sent) / 1e6)
                await asyncio.sleep(pause)
        return latencies

    try:
        return asyncio.run(defer_all())
    finally:
        stop.set()
        listener.join(timeout=30)


def pgqueuer_prepare(url: str, jobs: int) -> None:
    """pgqueuer's schema and `jobs` no-op jobs, enqueued in batches."""

    async def prepare() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            queries = Queries(PsycopgDriver(conn))
            await queries.install()
            for start in range(0, jobs, ENQUEUE_CHUNK):
                count = min(ENQUEUE_CHUNK, jobs - start)
                await queries.enqueue([NOOP] * count, [None] * count, [0] * count)

    asyncio.run(prepare())


def pgqueuer_worker(url: str, batch_size: int, ready, go, results) -> None:
    """One pgqueuer worker process that drains the queue, `batch_size` jobs a fetch.
    Its finish time is when its last job ran: in drain mode `run()` returns about 4 s
    after the queue is empty (its background tasks wind down), while the completions
    are logged within milliseconds of the jobs (pgqueuer_log); that tail is not its
    throughput."""

    async def work() -> tuple[float, int]:
        ran, last_ran = 0, 0.0
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            manager = QueueManager(Queries(PsycopgDriver(conn)))

            @manager.entrypoint(NOOP)
            async def bench_noop(job) -> None:
                nonlocal ran, last_ran
                ran += 1
                last_ran = time.monotonic()

            ready.put(True)
            await asyncio.to_thread(go.wait)
            started = time.monotonic()
            await manager.run(batch_size=batch_size, mode=QueueExecutionMode.drain)
            return max(last_ran, started), ran

    results.put(asyncio.run(work()))


def pgqueuer_left(url: str) -> int:
    """Jobs still in pgqueuer's queue table (a finished job is deleted from it)."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM pgqueuer").fetchone()[0]
