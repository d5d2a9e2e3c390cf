"""study_cards/dev/demo.py: `python -m study_cards.dev.demo` run as a user runs it (a subprocess
with its own var directory and its own embedded PostgreSQL), the fake LLM standing in
for the model. It drains the queue through the real worker and prints a summary that
agrees with the database; a second run regenerates and carries the cards forward; an
MLX_BASE_URL that does not answer stops it before anything is enqueued."""

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

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
        first = run_demo(var, llm.base_url)
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
    assert len(examples) == 5 and {int(card_id) for card_id in examples} <= {card[0] for card in cards}
    assert len(re.findall(r"^      evidence \(\w+ \d+\): \"", out, re.MULTILINE)) == 5
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
    second = run_demo(var, llm.base_url)
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
