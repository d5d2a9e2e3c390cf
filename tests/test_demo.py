"""study_cards/dev/demo.py: `python -m study_cards.dev.demo` run as a user runs it (a subprocess
with its own var directory and its own embedded PostgreSQL), the fake LLM standing in
for the model. With --all it drains the queue through the real worker and prints a
summary that agrees with the database; a second run regenerates and carries the cards
forward; an MLX_BASE_URL that does not answer stops it before anything is enqueued. By
default it runs a first look (a question of every topic, a note, a document) and shows
dropped cards as the model wrote them; --replay replays the quality corpus in seconds."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from bench import quality
from study_cards.dev.fake_llm import FakeLLM, closed_port_url, sources_of

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = 42  # sample_data/study_set.sql: 40 for 김민지, 2 for 박준호
NOTES_AND_DOCUMENTS = 7  # 3 subject notes and 4 documents, which the demo requests


def stem_card_and_a_foreign_one(request: dict) -> dict:
    """Two cards per question: cue = the stem, answer = the correct choice quoted from S1
    (kept, unless the stem holds a number the quote lacks), and one citing S9, a handle
    gather never recorded (always dropped as evidence_foreign)."""
    _title, body = sources_of(request)["S1"]
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    cue, answer = lines[0], lines[-2 if len(lines) > 1 else 0]  # a question: stem, choices…, answer, explanation
    return {"cards": [
        {"type": "qa", "cue": cue, "answer": answer, "evidence": [{"source": "S1", "quote": answer}]},
        {"type": "qa", "cue": "어디에도 없는 자료", "answer": "출처 없음", "evidence": [{"source": "S9", "quote": answer}]},
    ], "needs_review": None}


def run_demo(var: Path, base_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MLX_", "WORKER_"))}
    env.update(MLX_BASE_URL=base_url, STUDY_CARDS_VAR=str(var))
    return subprocess.run([sys.executable, "-m", "study_cards.dev.demo", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def database_url(result: subprocess.CompletedProcess) -> str:
    return re.search(r"^DATABASE_URL=(\S+)$", result.stdout, re.MULTILINE).group(1)


def jobs_of(url: str, kinds: tuple = ("question",)) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id, status, error_code, payload->'report' FROM study_memo_card_jobs"
                            " WHERE source_kind = ANY(%s) ORDER BY id", (list(kinds),)).fetchall()


def active_cards(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT c.id, c.cue, c.answer, e.quote FROM study_memo_cards c"
                            " JOIN study_memo_card_evidence e ON e.card_id = c.id"
                            " WHERE c.deleted_at IS NULL ORDER BY c.id").fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's first run in a fresh var directory; its PostgreSQL is stopped (with
    the demo's own --stop) when the module is done."""
    var = tmp_path_factory.mktemp("demo-var")
    with FakeLLM(responder=stem_card_and_a_foreign_one) as llm:
        first = run_demo(var, llm.base_url, "--all")
        yield var, llm, first
    stopped = run_demo(var, "http://127.0.0.1:9/v1", "--stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not (var / "pgdata" / "postmaster.pid").exists()


def test_first_run_drains_the_queue_through_the_real_worker(demo):
    var, llm, first = demo
    assert first.returncode == 0, first.stdout + first.stderr
    assert (var / "pgdata" / "PG_VERSION").exists()
    jobs = jobs_of(database_url(first))
    assert len(jobs) == QUESTIONS
    assert {status for _, status, _, _ in jobs} == {"completed"}
    assert len(llm.requests) == QUESTIONS + NOTES_AND_DOCUMENTS
    with psycopg.connect(database_url(first)) as conn:
        statuses = conn.execute("SELECT source_kind, status, count(*) FROM study_memo_card_jobs"
                                " GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert statuses == [("document", "completed", 4), ("question", "completed", QUESTIONS),
                        ("subject_note", "completed", 3)]
    # The worker's own log line for every job, passed through while it ran.
    assert len(re.findall(r"job=\d+ source=question:\d+ status=completed", first.stderr)) == QUESTIONS


def test_summary_agrees_with_the_database(demo):
    _var, _llm, first = demo
    out, url = first.stdout, database_url(first)
    jobs = jobs_of(url, ("question", "subject_note", "document"))
    kept = sum(len(report["kept"]) for _, _, _, report in jobs)
    dropped = [d["reason"] for _, _, _, report in jobs for d in report["dropped"]]
    cards = active_cards(url)
    assert 0 < kept == len(cards)
    assert dropped.count("evidence_foreign") == QUESTIONS + NOTES_AND_DOCUMENTS
    with psycopg.connect(url) as conn:
        by_status = conn.execute("SELECT status, coalesce(error_code, '-'), count(*) FROM study_memo_card_jobs"
                                 " GROUP BY 1, 2").fetchall()
    for status, error_code, count in by_status:
        assert re.search(rf"^  {status}\s+{error_code}\s+{count}$", out, re.MULTILINE), (status, error_code)
    assert re.search(rf"kept {kept} .*dropped {len(dropped)} by the guards", out), out
    for reason in set(dropped):
        assert re.search(rf"^  {reason}\s+{dropped.count(reason)}\s", out, re.MULTILINE), reason
    examples = re.findall(r"^  #(\d+) \[qa\] from (?:question|subject_note|document) ", out, re.MULTILINE)
    assert len(examples) == 8 and {int(card_id) for card_id in examples} <= {card[0] for card in cards}
    assert len(set(re.findall(r"^  #\d+ \[qa\] from (\w+ \d+)", out, re.MULTILINE))) == 8, "from 8 sources"
    assert len(re.findall(r"^      evidence \(\w+ \d+\): \"", out, re.MULTILINE)) == 8
    assert f"the cards kept (8 of {kept})" in out
    for card_id, _cue, answer, quote in cards:
        assert answer == quote, "each kept card quotes its answer verbatim"


def test_summary_ends_with_psql_and_three_queries(demo):
    _var, _llm, first = demo
    out = first.stdout
    psql = re.search(r"^  (\S+/pginstall/bin/psql) '(\S+)'$", out, re.MULTILINE)
    assert psql and Path(psql.group(1)).exists() and psql.group(2) == database_url(first)
    queries = re.findall(r"^  (SELECT [^;]*;)$", out, re.MULTILINE)
    assert len(queries) == 3
    with psycopg.connect(database_url(first)) as conn:
        for query in queries:
            conn.execute(query.replace("\n", " ")).fetchall()


def test_second_run_regenerates_and_carries_the_cards_forward(demo):
    var, llm, first = demo
    before = active_cards(database_url(first))
    second = run_demo(var, llm.base_url, "--all")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "migrations applied: none pending" in second.stdout
    assert re.search(r"^2 users, 6 topics, 42 questions, 3 notes, 4 documents, 10 chunks$", second.stdout, re.MULTILINE)
    jobs = jobs_of(database_url(second))
    assert len(jobs) == 2 * QUESTIONS and {status for _, status, _, _ in jobs} == {"completed"}
    assert active_cards(database_url(second)) == before, "reproduced cards keep their ids"
    assert re.search(r"retired 0 \(older versions\)", second.stdout)


def test_an_mlx_server_that_does_not_answer_stops_the_demo_before_enqueueing(demo):
    var, _llm, first = demo
    jobs_before = jobs_of(database_url(first))
    result = run_demo(var, closed_port_url())
    assert result.returncode != 0
    assert "does not answer" in result.stderr and "unset MLX_BASE_URL" in result.stderr
    assert jobs_of(database_url(first)) == jobs_before


def test_the_default_is_a_first_look_with_dropped_cards_as_the_model_wrote_them(tmp_path):
    """One question of every topic (6), a subject note and a document: 8 jobs; the summary
    shows a dropped card as the model wrote it, with the guard's reason and detail."""
    with FakeLLM(responder=stem_card_and_a_foreign_one) as llm:
        result = run_demo(tmp_path, llm.base_url)
    try:
        check_first_look(result, llm)
    finally:
        run_demo(tmp_path, closed_port_url(), "--stop")


def check_first_look(result: subprocess.CompletedProcess, llm: FakeLLM) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert len(llm.requests) == 8
    with psycopg.connect(database_url(result)) as conn:
        kinds = conn.execute("SELECT j.source_kind, count(*), count(DISTINCT q.topic_id) FROM study_memo_card_jobs j"
                             " LEFT JOIN study_questions q ON j.source_kind = 'question' AND q.id = j.source_id"
                             " WHERE j.status = 'completed' GROUP BY 1 ORDER BY 1").fetchall()
        topics = conn.execute("SELECT count(*) FROM study_topics").fetchone()[0]
    assert kinds == [("document", 1, 0), ("question", topics, topics), ("subject_note", 1, 0)]
    assert "a first look; --all for every source" in out
    dropped = out[out.index("== what the guards dropped"):out.index("== the cards kept")]
    assert re.search(r"^  job \d+, \w+ \d+ \".+\", card 1:$", dropped, re.MULTILINE), dropped
    assert "[qa] Q: 어디에도 없는 자료" in dropped and "A: 출처 없음" in dropped and "evidence S9: " in dropped
    assert re.search(r"-> dropped: evidence_foreign: evidence 0 cites \"S9\"", dropped), dropped


def test_replay_runs_the_corpus_through_the_real_worker_in_seconds(tmp_path):
    """--replay: the quality corpus's replies for the sample set, each job answered with
    the reply recorded for its source, through the real worker and commit_cards."""
    corpus = quality.load_corpora()["sample"]
    started = time.monotonic()
    result = run_demo(tmp_path, closed_port_url(), "--replay")  # MLX_BASE_URL is not used
    seconds = time.monotonic() - started
    try:
        check_replay(result, seconds, corpus)
    finally:
        run_demo(tmp_path, closed_port_url(), "--stop")


def check_replay(result: subprocess.CompletedProcess, seconds: float, corpus: dict) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert seconds < 60, f"{seconds:.0f}s (target 30 s)"
    assert out.count("REPLAYED REPLIES, NOT A LIVE MODEL") == 2, "said before the run and after the summary"
    assert "replay:" not in out, "every request matched a recorded reply, every cited note was gathered"
    url = database_url(result)
    assert "/study_cards_replay?" in url, "a database of its own"
    with psycopg.connect(url) as conn:
        jobs = conn.execute("SELECT status, count(*), sum(jsonb_array_length(payload->'report'->'kept')"
                            "  + jsonb_array_length(payload->'report'->'dropped')) FROM study_memo_card_jobs"
                            " WHERE payload ? 'report' GROUP BY 1").fetchall()
        drops = dict(conn.execute("SELECT d->>'reason', count(*) FROM study_memo_card_jobs j,"
                                  " jsonb_array_elements(j.payload->'report'->'dropped') d GROUP BY 1").fetchall())
    cards = sum(len(job["reply"]["cards"]) for job in corpus["jobs"])
    assert jobs == [("completed", len(corpus["jobs"]), cards)], "every recorded card judged"
    assert {"quantity_unsupported", "evidence_foreign", "duplicate_in_batch"} <= set(drops)  # how well: bench quality
    assert len(re.findall(r"^      -> dropped: \w+: ", out, re.MULTILINE)) == 3
    assert re.search(r"^the demo took (\d+m)?\d+s \(30 LLM calls", out, re.MULTILINE)


@pytest.mark.parametrize("job_id", ["q19-ipv6", "q41-junho-fin"])
def test_replayed_evidence_cites_notes_and_chunks_by_the_handle_the_request_gave_them(job_id):
    """q19 cites a document chunk by title and position, q41 a note by its title (and S9,
    a handle never gathered, sent as written)."""
    from study_cards.dev.demo import Replayer

    sets, corpus = quality.load_sets(), quality.load_corpora()["sample"]
    job = next(j for j in corpus["jobs"] if j["id"] == job_id)
    row = quality.find_source(sets, job["source"])
    blocks = [f"[S1] {row['topic']}\n문제: {row['stem']}\n해설: {row['explanation']}",
              "[S2] 무관한 노트\n관련 없는 내용이다."]
    blocks += [f"[S3] {n['title']}\n{n['body']}" for n in sets["sample"]["notes"] if n["email"] == row["email"]][:1]
    blocks += [f"[S{4 + k}] {c['document']}\n{c['content']}" for k, c in enumerate(sets["sample"]["chunks"])
               if c["email"] == row["email"]]
    handles = {f"S{4 + k}": (c["document"], c["ord"]) for k, c in enumerate(sets["sample"]["chunks"])}
    request = {"messages": [{"role": "user", "content": "\n\n".join(blocks)}]}
    replayer = Replayer(corpus, sets)
    reply = replayer(request)
    assert (replayer.unmatched, replayer.unresolved) == (0, 0)
    for recorded, replayed in zip(job["reply"]["cards"], reply["cards"]):
        for was, item in zip(recorded["evidence"], replayed["evidence"]):
            assert item["quote"] == was["quote"]
            if isinstance(was["source"], str):
                assert item["source"] == was["source"], "S1 and raw handles as written"
            elif "note" in was["source"]:
                assert item["source"] == "S3" and blocks[2].startswith(f"[S3] {was['source']['note']}\n")
            else:
                assert handles[item["source"]] == (was["source"]["document"], was["source"]["ord"])
