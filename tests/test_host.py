"""sql/10_host.sql, the host adapter: it is the only place that names a host table or
column, and swapping it is all it takes to run on a study server shaped otherwise
(tests/hosts/other_host.sql with tests/hosts/other_adapter.sql): the queue, gather,
commit_cards and the review flag work there as on the baseline host."""

import re
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from study_cards import schema

ROOT = Path(__file__).resolve().parent.parent
HOSTS = Path(__file__).with_name("hosts")
# The baseline host's tables, and those of its columns that no table or API of this
# project shares a name with (user_id, title, body, answer, … are words of our own).
HOST_NAMES = ["users", "study_topics", "study_questions", "study_subject_notes", "documents", "document_chunks",
              "stem", "ai_explanation", "ai_explanation_generated_at", "focused_at", "needs_review_reason",
              "needs_review_at", "document_id"]
V1 = datetime(2026, 5, 1, tzinfo=timezone.utc)
V2 = datetime(2026, 5, 2, tzinfo=timezone.utc)


def code_of(path: Path) -> str:
    """The file without its comments (-- to the end of the line)."""
    return re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))


def test_no_host_table_or_column_is_named_outside_the_adapter():
    pattern = re.compile(r"\b(" + "|".join(HOST_NAMES) + r")\b")
    files = [p for p in sorted((ROOT / "sql").glob("*.sql")) if p.name != schema.HOST_ADAPTER]
    found = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files + [ROOT / "worker.py"]
             for m in pattern.finditer(code_of(p) if p.suffix == ".sql" else p.read_text(encoding="utf-8"))]
    assert found == []
    assert pattern.search(code_of(ROOT / "sql" / schema.HOST_ADAPTER))  # the adapter does name them


@pytest.fixture
def other_host(empty_database) -> psycopg.Connection:
    """An empty database holding the other host's tables and one user with a topic, with
    the project installed through tests/hosts/other_adapter.sql and nothing else changed."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute((HOSTS / "other_host.sql").read_text(encoding="utf-8"))
    schema.apply(empty_database, host_adapter=str(HOSTS / "other_adapter.sql"))
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id, login) VALUES (1, 'minji'); "
                     "INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스')")
        yield conn


def add_question(db, explanation=None, version=V1) -> int:
    question = db.execute(
        "INSERT INTO study_questions (user_id, topic_id, question_text, options, correct_answer)"
        " VALUES (1, 1, '제2정규형의 조건으로 옳은 것은?', %s, '1') RETURNING id",
        (Jsonb(["부분 함수 종속 제거", "이행 함수 종속 제거"]),)).fetchone()[0]
    if explanation:
        explain(db, question, explanation, version)
    return question


def explain(db, question: int, body: str, version) -> None:
    db.execute("INSERT INTO study_question_explanations (question_id, body, generated_at) VALUES (%s, %s, %s)",
               (question, body, version))


def jobs(db):
    return db.execute("SELECT source_kind, source_id, source_version, status, error_code, priority"
                      " FROM study_memo_card_jobs ORDER BY id").fetchall()


def claim_and_gather(db, k=2):
    job = db.execute("SELECT id FROM study_card_claim('w1', 1)").fetchone()[0]
    return job, db.execute("SELECT * FROM study_card_gather(%s, %s, p_worker => 'w1')", (job, k)).fetchall()


def commit(db, job: int, cards: list) -> dict:
    return db.execute("SELECT commit_cards(%s, 'w1', %s)", (job, Jsonb({"cards": cards, "needs_review": None}))
                      ).fetchone()[0]


def qa(cue, answer, quote):
    return {"type": "qa", "cue": cue, "answer": answer, "evidence": [{"source": "S1", "quote": quote}]}


def test_a_new_explanation_is_a_new_version_and_nothing_else_is(other_host):
    db = other_host
    question = add_question(db)
    assert jobs(db) == []  # no explanation yet
    explain(db, question, "2NF는 부분 함수 종속을 제거한 릴레이션이다.", V1)
    db.execute("UPDATE study_questions SET question_text = question_text || ' (개정)' WHERE id = %s", (question,))
    explain(db, question, "   ", V2)  # a blank explanation is not ready
    assert jobs(db) == [("question", question, V1, "pending", None, 0)]
    explain(db, question, "제2정규형은 부분 함수 종속을 제거한다.", V2)
    assert [j[2] for j in jobs(db)] == [V1, V2]


def test_the_sweep_finds_explanations_written_with_the_triggers_off(other_host):
    db = other_host
    db.execute("ALTER TABLE study_question_explanations DISABLE TRIGGER USER")
    question = add_question(db, "2NF는 부분 함수 종속을 제거한다.")
    db.execute("ALTER TABLE study_question_explanations ENABLE TRIGGER USER")
    assert jobs(db) == []
    assert db.execute("SELECT study_card_enqueue()").fetchone()[0] == 1
    assert jobs(db) == [("question", question, V1, "pending", None, 0)]


def test_gather_and_commit_read_the_other_shape(other_host):
    db = other_host
    explanation = "제2정규형은 부분 함수 종속을 제거한 릴레이션이다. 관계형 모델은 1970년에 제안되었다."
    question = add_question(db, explanation)
    document = db.execute("INSERT INTO documents (user_id, title) VALUES (1, '정규화 교재') RETURNING id").fetchone()[0]
    db.execute("INSERT INTO document_chunks (document_id, ord, content) VALUES (%s, 0, %s)",
               (document, "부분 함수 종속을 제거하면 제2정규형이 된다."))
    job, sources = claim_and_gather(db)
    assert [(s[0], s[1], s[3]) for s in sources] == [("S1", "question", "데이터베이스"),
                                                    ("S2", "document_chunk", "정규화 교재")]
    assert sources[0][4] == ("문제: 제2정규형의 조건으로 옳은 것은?\n보기:\n①. 부분 함수 종속 제거\n②. 이행 함수 종속 제거\n"
                             "정답: ①. 부분 함수 종속 제거\n해설: " + explanation)
    report = commit(db, job, [qa("부분 함수 종속을 제거한 정규형은?", "제2정규형", "제2정규형은 부분 함수 종속을 제거한"),
                              qa("관계형 모델이 제안된 해는?", "1972년", "관계형 모델은 1970년에 제안되었다")])
    assert (len(report["kept"]), [d["reason"] for d in report["dropped"]]) == (1, ["quantity_unsupported"])


def test_all_dropped_flags_the_question_in_the_hosts_own_column(other_host):
    db = other_host
    question = add_question(db, "2NF는 부분 함수 종속을 제거한다.")
    job, _ = claim_and_gather(db, k=0)
    assert commit(db, job, [qa("2NF가 제거하는 것은?", "이행 함수 종속", "2NF는 이행 함수 종속을 제거한다")]
                  )["error_code"] == "all_dropped"
    assert db.execute("SELECT review_note FROM study_questions WHERE id = %s", (question,)).fetchone() == ("all_dropped",)
    assert db.execute("SELECT question_id, needs_review_reason FROM study_card_review_queue").fetchall() == [
        (question, "all_dropped")]


def test_a_newer_explanation_makes_the_held_job_stale(other_host):
    db = other_host
    question = add_question(db, "2NF는 부분 함수 종속을 제거한다.")
    job, _ = claim_and_gather(db, k=0)
    explain(db, question, "2NF는 부분 함수 종속을 없앤다.", V2)
    report = commit(db, job, [qa("2NF가 제거하는 것은?", "부분 함수 종속", "2NF는 부분 함수 종속을 제거한다")])
    assert (report["status"], report["error_code"]) == ("skipped", "stale_version")


def test_notes_and_focus_on_the_other_shape(other_host):
    db = other_host
    db.execute("SET study_card.note_debounce = '0'")
    note = db.execute("INSERT INTO study_notes (owner_id, topic_id, heading, content) VALUES (1, 1, '정규화', %s)"
                      " RETURNING id", ("제3정규형은 이행 함수 종속을 제거한다.",)).fetchone()[0]
    db.execute("UPDATE study_notes SET edited_at = edited_at WHERE id = %s", (note,))  # no change of text: no job
    db.execute("UPDATE study_topics SET focused_at = now() WHERE id = 1")
    assert [(j[0], j[1], j[5]) for j in jobs(db)] == [("subject_note", note, 10)]
    job, sources = claim_and_gather(db, k=0)
    assert sources[0][4] == "정규화\n제3정규형은 이행 함수 종속을 제거한다."
    db.execute("UPDATE study_notes SET removed_at = now() WHERE id = %s", (note,))
    report = commit(db, job, [qa("이행 함수 종속을 제거하는 정규형은?", "제3정규형", "제3정규형은 이행 함수 종속을 제거한다")])
    assert (report["status"], report["error_code"]) == ("skipped", "source_deleted")
