"""sql/10_sources.sql: source text, source state, and the job-holding check."""

import psycopg
import pytest


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스');
        INSERT INTO study_questions (id, user_id, topic_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at)
        VALUES (1, 1, 1, '2NF의 조건은?', '["부분 함수 종속 제거", "이행 함수 종속 제거"]', '1',
                '2NF는 부분 함수 종속을 제거한 릴레이션이다.', '2026-01-01 00:00+00'),
               (2, 1, 1, '설명 없는 문제', NULL, NULL, NULL, NULL),
               (3, 1, 1, '공백 설명', '{"a": "가", "b": "나"}', NULL, '   ', '2026-01-01 00:00+00');
        INSERT INTO study_subject_notes (id, user_id, title, body, updated_at) VALUES (1, 1, '정규화', '1NF → 2NF → 3NF', '2026-01-02 00:00+00');
        INSERT INTO documents (id, user_id, title, updated_at) VALUES (1, 1, '교재', '2026-01-03 00:00+00');
        INSERT INTO document_chunks (id, document_id, ord, content) VALUES (1, 1, 1, '둘째 조각'), (2, 1, 0, '첫째 조각');
    """)
    return db


def text(db, kind, source_id):
    return db.execute("SELECT study_card_source_text(%s, %s)", (kind, source_id)).fetchone()[0]


def problem(db, kind, source_id, version):
    return db.execute("SELECT study_card_source_problem(%s, %s, %s)", (kind, source_id, version)).fetchone()[0]


def test_source_text_of_each_kind(host):
    assert text(host, "question", 1) == (
        "2NF의 조건은?\n부분 함수 종속 제거\n이행 함수 종속 제거\n1\n2NF는 부분 함수 종속을 제거한 릴레이션이다.")
    assert text(host, "question", 3) == "공백 설명\na. 가\nb. 나\n   "
    assert text(host, "subject_note", 1) == "정규화\n1NF → 2NF → 3NF"
    assert text(host, "document_chunk", 1) == "둘째 조각"
    assert text(host, "document", 1) == "첫째 조각\n둘째 조각"


def test_source_text_is_null_for_deleted_or_missing_rows(host):
    host.execute("UPDATE study_questions SET deleted_at = now() WHERE id = 1")
    host.execute("UPDATE documents SET deleted_at = now() WHERE id = 1")
    assert text(host, "question", 1) is None
    assert text(host, "document_chunk", 1) is None
    assert text(host, "question", 99) is None
    assert text(host, "no_such_kind", 1) is None


def test_source_problem(host):
    assert problem(host, "question", 1, "2026-01-01 00:00+00") is None
    assert problem(host, "question", 1, "2025-12-31 00:00+00") == "stale_version"
    assert problem(host, "question", 2, None) == "no_ready_explanation"
    assert problem(host, "question", 3, "2026-01-01 00:00+00") == "no_ready_explanation"
    host.execute("UPDATE study_questions SET ai_explanation = E'\\t\\n\\u3000' WHERE id = 1")
    assert problem(host, "question", 1, "2026-01-01 00:00+00") == "no_ready_explanation"
    assert problem(host, "question", 99, None) == "source_deleted"
    assert problem(host, "subject_note", 1, "2026-01-02 00:00+00") is None
    assert problem(host, "document", 1, "2026-01-03 00:00+00") is None
    host.execute("DELETE FROM document_chunks")
    assert problem(host, "document", 1, "2026-01-03 00:00+00") == "no_ready_explanation"
    host.execute("UPDATE study_subject_notes SET deleted_at = now()")
    assert problem(host, "subject_note", 1, "2026-01-02 00:00+00") == "source_deleted"


def test_held_job_refuses_whoever_does_not_hold_it(host):
    held, pending = (row[0] for row in host.execute("""
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                          status, locked_by, lease_expires_at)
        VALUES (1, 'subject_note', 1, '2026-01-02 00:00+00', 'held_job_test', 'processing', 'w1', now() - interval '1 hour'),
               (1, 'subject_note', 1, '2026-01-02 00:00+00', 'held_job_test_2', 'pending', NULL, NULL)
        RETURNING id
    """).fetchall())
    # an expired lease nobody took over still counts as held
    assert host.execute("SELECT (study_card_held_job(%s, 'w1')).id", (held,)).fetchone()[0] == held
    for job_id, worker in [(held, "w2"), (pending, "w1"), (-1, "w1")]:
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            host.execute("SELECT study_card_held_job(%s, %s)", (job_id, worker))
