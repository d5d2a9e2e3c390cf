"""Live install: `schema apply` onto a busy study server, and an upgrade, under a writer.

Workload: a study server as it exists before the project (the host tables with columns
of their own, no project objects) holding 100,000 document chunks (5,000 with --quick)
of 40 words with random 1024-d unit embeddings, 2,000 questions and 500 subject notes. A
writer process (the host application) runs 50 single-row transactions a second over a
Unix socket, in turn: insert a chunk with its embedding, update a chunk's content,
update a question's answer, give a question a new explanation version
(ai_explanation_generated_at = now(), which the project's trigger enqueues once
installed), insert a question. While it writes:

  baseline  the writer alone for 10 s (5 s with --quick): the server's own noise;
  install   `schema apply` from nothing: every migration (0010 builds the HNSW and
            trigram indexes on document_chunks and study_subject_notes CONCURRENTLY),
            then sql/ in one transaction, triggers on study_questions included;
  upgrade   `schema apply` again, 10 times, 1 s apart: no migration pending, the INVALID-index
            check, sql/ re-applied (CREATE OR REPLACE of every function, view and trigger).

Then, for comparison, the HNSW index on document_chunks is dropped and built again
the way migration 0010's first release built it (a plain CREATE INDEX) under the same
writer: the stall the issue set out to remove.

Measured: every writer transaction's latency (statement + commit, client side). The
writer's worst stall in a phase is the longest transaction that overlapped it. Targets
(issue 14): at most 1 s during the install, at most 200 ms during an upgrade; the ratio
printed is the stall over that bound (<= 1 meets it). Also printed: the install's time,
the writer's p50 and p99 per phase, and its transactions that failed (must be none).
apply gets --maintenance-work-mem 512MB, as its own advice says for 100,000 1024-d
embeddings (the server's default 64MB would make the HNSW build several times slower,
without blocking any more writes).
"""

import multiprocessing
import queue
import random
import statistics
import time
from dataclasses import dataclass, field

import psycopg

from bench.harness import Bench, Row, percentile, stdout_to_stderr
from study_cards import schema

# The host as it might already exist (the shape of migration 0001's tables, with a few
# columns and an index of the host's own), before the project is installed.
HOST = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE users (id bigserial PRIMARY KEY, email text, display_name text,
    created_at timestamptz NOT NULL DEFAULT now(), plan text DEFAULT 'free');
CREATE TABLE study_topics (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id),
    name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), color text);
CREATE TABLE study_questions (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id),
    topic_id bigint REFERENCES study_topics(id), stem text NOT NULL, choices jsonb, answer text,
    ai_explanation text, ai_explanation_generated_at timestamptz, embedding vector(1024),
    created_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz, difficulty smallint);
CREATE INDEX study_questions_user_idx ON study_questions (user_id);
CREATE TABLE study_subject_notes (id bigserial PRIMARY KEY, user_id bigint NOT NULL, topic_id bigint,
    title text NOT NULL DEFAULT '', body text NOT NULL DEFAULT '', updated_at timestamptz NOT NULL DEFAULT now(),
    embedding vector(1024), deleted_at timestamptz);
CREATE TABLE documents (id bigserial PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz);
CREATE TABLE document_chunks (id bigserial PRIMARY KEY, document_id bigint NOT NULL REFERENCES documents(id),
    ord integer NOT NULL DEFAULT 0, content text NOT NULL, embedding vector(1024), token_count int);
CREATE INDEX document_chunks_document_idx ON document_chunks (document_id, ord);
"""

WORDS = ("트랜잭션 원자성 일관성 고립성 지속성 정규화 함수 종속 기본키 외래키 인덱스 조인 뷰 트리거 "
         "광합성 엽록체 세포 호흡 효소 단백질 조선 고려 세종 훈민정음 헌법 기본권 전류 전압 저항").split()
RANDOM_TEXT = ("(SELECT string_agg((%(words)s::text[])[1 + floor(random() * cardinality(%(words)s::text[]))::int], ' ')"
               " FROM generate_series(1, {words}) WHERE {row} > 0)")
UPGRADES = 10

RANDOM_UNIT_VECTOR = "l2_normalize(array(SELECT random() - 0.5 + 0 * {row} FROM generate_series(1, 1024))::vector)"


def load_host(url: str, chunks: int, questions: int = 2_000, notes: int = 500) -> None:
    """The host tables and their rows: one user, 10 documents sharing `chunks` chunks
    with embeddings, `questions` questions (half with an explanation), `notes` notes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(HOST)
        conn.execute("INSERT INTO users (email) VALUES ('host@example.com')")
        conn.execute("INSERT INTO study_topics (user_id, name) VALUES (1, '데이터베이스')")
        conn.execute("INSERT INTO documents (user_id, title) SELECT 1, '교재 ' || i FROM generate_series(1, 10) i")
        for first in range(1, chunks + 1, 10_000):
            last = min(first + 9_999, chunks)
            conn.execute(
                f"""INSERT INTO document_chunks (document_id, ord, content, embedding, token_count)
                    SELECT 1 + i %% 10, i, {RANDOM_TEXT.format(words=40, row='i')}, {RANDOM_UNIT_VECTOR.format(row='i')}, 40
                      FROM generate_series(%(first)s::int, %(last)s::int) i""",
                {"first": first, "last": last, "words": WORDS})
        conn.execute(
            f"""INSERT INTO study_questions (user_id, topic_id, stem, answer, ai_explanation, ai_explanation_generated_at)
                SELECT 1, 1, {RANDOM_TEXT.format(words=8, row='i')} || '?', '③',
                       CASE WHEN i %% 2 = 0 THEN {RANDOM_TEXT.format(words=30, row='i')} END,
                       CASE WHEN i %% 2 = 0 THEN now() END
                  FROM generate_series(1, %(n)s::int) i""",
            {"n": questions, "words": WORDS})
        conn.execute(
            f"""INSERT INTO study_subject_notes (user_id, topic_id, title, body, embedding)
                SELECT 1, 1, '노트 ' || i, {RANDOM_TEXT.format(words=60, row='i')}, {RANDOM_UNIT_VECTOR.format(row='i')}
                  FROM generate_series(1, %(n)s::int) i""",
            {"n": notes, "words": WORDS})
        conn.execute("VACUUM ANALYZE")


# -- The writer: the host application, in a process of its own ------------------------

@dataclass
class Sample:
    began: float      # time.monotonic() (one clock for every process of the machine)
    latency: float    # seconds, statement + commit
    kind: str
    error: str = ""


def writer(url: str, rate: float, seed: int, ready, stop, results) -> None:
    """Run single-row transactions at `rate` a second until `stop` is set; put the
    samples on `results`."""
    rng = random.Random(seed)
    vectors = []
    for _ in range(20):
        values = [rng.uniform(-0.5, 0.5) for _ in range(1024)]
        norm = sum(v * v for v in values) ** 0.5
        vectors.append("[" + ",".join(f"{v / norm:.6f}" for v in values) + "]")
    statements = [
        ("insert chunk", "INSERT INTO document_chunks (document_id, ord, content, embedding)"
                         " VALUES (1 + %(n)s %% 10, %(n)s, %(text)s, %(vector)s::vector)"),
        ("update chunk", "UPDATE document_chunks SET content = %(text)s WHERE id = %(chunk)s"),
        ("update answer", "UPDATE study_questions SET answer = %(text)s WHERE id = %(question)s"),
        ("new version", "UPDATE study_questions SET ai_explanation = %(text)s,"
                        " ai_explanation_generated_at = clock_timestamp() WHERE id = %(question)s"),
        ("insert question", "INSERT INTO study_questions (user_id, topic_id, stem, answer)"
                            " VALUES (1, 1, %(text)s, '②')"),
    ]
    samples: list[Sample] = []
    with psycopg.connect(url, autocommit=True, application_name="host-writer") as conn:
        chunks, questions = conn.execute("SELECT (SELECT max(id) FROM document_chunks),"
                                         " (SELECT max(id) FROM study_questions)").fetchone()
        ready.put(True)
        interval = 1 / rate
        due = time.monotonic()
        n = 0
        while not stop.is_set():
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            due = max(due + interval, time.monotonic() - interval)  # no burst to catch up
            kind, statement = statements[n % len(statements)]
            params = {"n": n, "text": " ".join(rng.choices(WORDS, k=12)), "vector": vectors[n % len(vectors)],
                      "chunk": rng.randint(1, chunks), "question": rng.randint(1, questions)}
            began = time.monotonic()
            try:
                conn.execute(statement, params)
                samples.append(Sample(began, time.monotonic() - began, kind))
            except psycopg.Error as error:
                samples.append(Sample(began, time.monotonic() - began, kind, str(error).splitlines()[0]))
            n += 1
    results.put(samples)


class LiveWriter:
    """`with LiveWriter(url) as w:` a writer process runs meanwhile; w.samples after."""

    def __init__(self, url: str, rate: float = 50, seed: int = 1):
        self.url, self.rate, self.seed = url, rate, seed
        self.samples: list[Sample] = []

    def __enter__(self) -> "LiveWriter":
        context = multiprocessing.get_context("spawn")
        self.ready, self.results, self.stop = context.Queue(), context.Queue(), context.Event()
        self.process = context.Process(target=writer, args=(self.url, self.rate, self.seed, self.ready,
                                                            self.stop, self.results), daemon=True)
        self.process.start()
        self.ready.get(timeout=120)
        return self

    def __exit__(self, *_):
        self.stop.set()
        try:
            self.samples = self.results.get(timeout=60)
        except queue.Empty:
            self.samples = []
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


@dataclass
class Phase:
    name: str
    began: float
    ended: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.ended - self.began

    @property
    def worst(self) -> Sample:
        return max(self.samples, key=lambda s: s.latency)

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    def summary(self) -> str:
        latencies = [s.latency * 1000 for s in self.samples]
        worst = self.worst
        return (f"{self.name}: {self.seconds:.1f} s, {len(latencies)} writer transactions, "
                f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                f"worst {worst.latency * 1000:.0f} ms ({worst.kind}, {worst.began - self.began:+.1f} s into it)"
                + (f", {len(self.errors)} failed: {self.errors[0].error}" if self.errors else ""))


def assign(phases: list[Phase], samples: list[Sample]) -> None:
    """Each phase gets the writer transactions that overlapped it."""
    for phase in phases:
        phase.samples = [s for s in samples if s.began <= phase.ended and s.began + s.latency >= phase.began]


def install_and_upgrade(url: str, settings: schema.Settings, baseline: float, upgrades: int,
                        rate: float = 50, say=print) -> list[Phase]:
    """The writer runs throughout: alone for `baseline` seconds, then an install, then
    `upgrades` upgrades (1 s apart). Returns the phases with their writer samples."""
    phases = []
    with LiveWriter(url, rate) as live:
        began = time.monotonic()
        time.sleep(baseline)
        phases.append(Phase("baseline", began, time.monotonic()))
        began = time.monotonic()
        done = schema.apply(url, settings=settings)
        phases.append(Phase("install", began, time.monotonic()))
        say(f"  install: {len(done['migrations'])} migrations, {len(done['sql'])} sql files "
            f"in {phases[-1].seconds:.1f} s")
        for number in range(1, upgrades + 1):
            time.sleep(1)
            began = time.monotonic()
            done = schema.apply(url, settings=settings)
            assert done["migrations"] == [], done
            phases.append(Phase(f"upgrade {number}", began, time.monotonic()))
        time.sleep(0.5)
    assign(phases, live.samples)
    return phases


def plain_build(url: str, maintenance_work_mem: str, rate: float = 50) -> Phase:
    """The HNSW index on document_chunks dropped (concurrently) and built again the way
    migration 0010's first release built it, with a plain CREATE INDEX, under the writer."""
    with psycopg.connect(url, autocommit=True) as conn, LiveWriter(url, rate, seed=2) as live:
        conn.execute("DROP INDEX CONCURRENTLY study_card_document_chunks_embedding_idx")
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (maintenance_work_mem,))
        time.sleep(1)
        began = time.monotonic()
        conn.execute("CREATE INDEX study_card_document_chunks_embedding_idx"
                     " ON document_chunks USING hnsw (embedding vector_cosine_ops)")
        phase = Phase("plain CREATE INDEX (HNSW on document_chunks)", began, time.monotonic())
        time.sleep(0.5)
    assign([phase], live.samples)
    return phase


def run(bench: Bench) -> list[Row]:
    chunks = 5_000 if bench.quick else 100_000
    baseline = 5 if bench.quick else 10
    url = bench.database("bench_live_install")
    bench.say(f"workload: a host with {chunks:,} document chunks (1024-d embeddings), 2,000 questions, 500 notes;"
              f" a writer at 50 single-row transactions a second; install, then {UPGRADES} upgrades")
    began = time.monotonic()
    load_host(url, chunks)
    bench.say(f"  host loaded in {time.monotonic() - began:.0f} s")
    settings = schema.Settings(maintenance_work_mem="512MB", progress_every=10,
                               say=lambda text: bench.say(f"  apply: {text}"))
    with stdout_to_stderr():
        phases = install_and_upgrade(url, settings, baseline, upgrades=UPGRADES, say=bench.say)
    for phase in phases:
        bench.say(f"  {phase.summary()}")
    before = plain_build(url, settings.maintenance_work_mem)
    phases.append(before)
    bench.say(f"  {before.summary()}")
    with psycopg.connect(url) as conn:
        invalid = conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0]
        jobs = conn.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0]
    bench.say(f"  after: {invalid} invalid indexes; {jobs} jobs enqueued (by the triggers for the writer's new versions,"
              " and none for the versions written before the install: the sweep's job)")
    bench.drop("bench_live_install")

    base, install, upgrades = phases[0], phases[1], phases[2:-1]
    worst_upgrade = max(upgrades, key=lambda phase: phase.worst.latency)
    failed = sum(len(phase.errors) for phase in phases)
    note = (f"writer alone: worst {base.worst.latency * 1000:.0f} ms, p99 "
            f"{percentile([s.latency * 1000 for s in base.samples], 99):.1f} ms")
    return [
        Row("live_install", f"install time ({chunks:,} chunks)", f"{install.seconds:.0f} s"),
        Row("live_install", "writer's worst stall, install", f"{install.worst.latency * 1000:.0f} ms",
            install.worst.latency / 1.0, "1 s", "<= 1", note=note),
        Row("live_install", "writer's worst stall, upgrade", f"{worst_upgrade.worst.latency * 1000:.0f} ms",
            worst_upgrade.worst.latency / 0.2, "200 ms", "<= 1",
            note=f"the worst of {len(upgrades)} upgrades; each took "
                 + ", ".join(f"{phase.seconds:.2f} s" for phase in upgrades)),
        Row("live_install", "writer transactions failed", str(failed), None, "", ""),
        Row("live_install", "worst stall, plain CREATE INDEX (before)", f"{before.worst.latency:.1f} s", None, "", "",
            note=f"0010's first release: the HNSW build alone ({before.seconds:.0f} s) under the same writer"),
    ]
