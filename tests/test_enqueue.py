"""sql/20_enqueue.sql: the triggers, the note debounce, focus priority, the sweep and study_card_request."""

from datetime import timedelta

import psycopg
import pytest
from notifications import received

V1 = "2026-03-01 09:00+00"
V2 = "2026-03-02 09:00+00"


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1), (2);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스'), (2, 1, '네트워크'), (3, 2, '운영체제');
    """)
    return db




def add_question(db, question_id, explanation="2NF는 부분 함수 종속을 제거한다.", version=V1, topic_id=1, user_id=1):
    db.execute(
        "INSERT INTO study_questions (id, user_id, topic_id, stem, ai_explanation, ai_explanation_generated_at)"
        " VALUES (%s, %s, %s, '제2정규형의 조건은?', %s, %s)",
        (question_id, user_id, topic_id, explanation, version),
    )


def jobs(db, kind=None):
    return db.execute(
        "SELECT source_kind, source_id, source_version::text, status, error_code, priority"
        " FROM study_memo_card_jobs WHERE %(kind)s::text IS NULL OR source_kind = %(kind)s ORDER BY id",
        {"kind": kind},
    ).fetchall()


def claim(db, worker="w1", limit=10):
    return db.execute("SELECT id, source_kind, source_id FROM study_card_claim(%s, %s)", (worker, limit)).fetchall()


# --- questions -----------------------------------------------------------------------

def test_an_explained_question_gets_one_job_for_its_version(host, listener):
    add_question(host, 1)

    assert jobs(host) == [("question", 1, "2026-03-01 09:00:00+00", "pending", None, 0)]
    assert received(listener) == [{"count": 1}]


def test_no_job_without_a_timestamp_or_with_a_blank_explanation_or_for_a_deleted_question(host, listener):
    add_question(host, 1, version=None)
    add_question(host, 2, explanation=None)
    add_question(host, 3, explanation="")
    add_question(host, 4, explanation=" \n\t\u3000 ")
    host.execute("INSERT INTO study_questions (id, user_id, stem, ai_explanation, ai_explanation_generated_at, deleted_at)"
                 " VALUES (5, 1, '삭제됨', '설명', %s, now())", (V1,))
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id <> 1", (V2,))
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = NULL")

    assert jobs(host) == []
    assert received(listener) == []


@pytest.mark.parametrize("invisible", ["\u2003", "\u200b", "\u3164", "\ufeff", "\u115f\u1160", "\uffa0 \u00ad\n"],
                         ids=lambda text: "+".join(f"U+{ord(c):04X}" for c in text))
def test_an_explanation_of_invisible_characters_is_blank_by_trigger_and_sweep(host, listener, invisible):
    add_question(host, 1, explanation=invisible * 3)
    add_question(host, 2, explanation=invisible + "2NF" + invisible)  # one visible word: a job
    host.execute("ALTER TABLE study_questions DISABLE TRIGGER USER")
    add_question(host, 3, explanation=invisible)
    host.execute("ALTER TABLE study_questions ENABLE TRIGGER USER")
    host.execute("SELECT study_card_enqueue()")

    assert [j[1] for j in jobs(host)] == [2]


def test_the_same_version_never_gets_a_second_job(host, listener):
    add_question(host, 1)
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = ai_explanation_generated_at")
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s", (V2,))
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s", (V1,))  # back to v1: its job exists

    assert [(j[2], j[3]) for j in jobs(host)] == [("2026-03-01 09:00:00+00", "pending"), ("2026-03-02 09:00:00+00", "pending")]
    assert received(listener) == [{"count": 1}, {"count": 1}]


def test_a_new_version_makes_a_new_job_and_the_older_pending_one_ends_stale_at_claim(host):
    add_question(host, 1)
    host.execute("UPDATE study_questions SET ai_explanation = '새 설명', ai_explanation_generated_at = %s", (V2,))

    claimed = claim(host, limit=1)

    assert [c[1:] for c in claimed] == [("question", 1)]
    assert [(j[2], j[3], j[4]) for j in jobs(host)] == [
        ("2026-03-01 09:00:00+00", "skipped", "stale_version"),
        ("2026-03-02 09:00:00+00", "processing", None),
    ]


def test_an_update_of_other_columns_enqueues_nothing_and_notifies_nobody(host, listener):
    add_question(host, 1)
    received(listener)
    host.execute("UPDATE study_questions SET stem = '바뀐 문제', ai_explanation = '바뀐 설명', needs_review = true")

    assert len(jobs(host)) == 1
    assert received(listener) == []


def test_a_bulk_update_of_10000_questions_makes_10000_jobs_and_one_notification(host, listener):
    host.execute("""
        INSERT INTO study_questions (user_id, topic_id, stem, ai_explanation)
        SELECT 1, 1, '문제 ' || g, '설명 ' || g FROM generate_series(1, 10000) g
    """)
    assert jobs(host) == []

    host.execute("UPDATE study_questions SET ai_explanation_generated_at = now()")

    count, versions = host.execute(
        "SELECT count(*), count(DISTINCT (source_id, source_version)) FROM study_memo_card_jobs"
        " WHERE source_kind = 'question' AND status = 'pending'").fetchone()
    assert (count, versions) == (10000, 10000)
    assert received(listener, timeout=1.0) == [{"count": 10000}]


def test_the_job_belongs_to_the_transaction_that_changed_the_question(host, db_url, listener):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO study_questions (id, user_id, stem, ai_explanation, ai_explanation_generated_at)"
                     " VALUES (1, 1, '문제', '설명', now())")
        assert jobs(host) == []  # not visible before commit
        assert conn.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0] == 1
        conn.rollback()

    assert jobs(host) == []
    assert received(listener) == []


def test_a_host_role_without_rights_on_the_job_table_still_enqueues(host, db_url):
    role = f"study_card_test_host_{host.info.backend_pid}"
    host.execute(f"CREATE ROLE {role}")
    try:
        host.execute(f"GRANT SELECT, UPDATE ON study_questions TO {role}")
        add_question(host, 1, version=None)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"SET ROLE {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM study_memo_card_jobs")
            conn.execute("UPDATE study_questions SET ai_explanation_generated_at = now()")
        assert len(jobs(host)) == 1
    finally:
        host.execute(f"DROP OWNED BY {role}")
        host.execute(f"DROP ROLE {role}")


def trigger_calls(db, statement):
    """How many times each enqueue trigger function of study_questions ran for
    `statement`, by name (call counts taken before and after it, in one transaction)."""
    count = ("SELECT p.proname, coalesce(pg_stat_get_xact_function_calls(p.oid), 0) FROM pg_proc p"
             " WHERE p.proname LIKE 'tg\\_study\\_questions\\_\\_study\\_card\\_enqueue%'")
    with db.transaction():
        db.execute("SET LOCAL track_functions = 'pl'")
        before = dict(db.execute(count).fetchall())
        db.execute(statement)
        return {name: calls - before[name] for name, calls in db.execute(count).fetchall()}


def test_an_update_of_other_columns_calls_nothing_per_row(host):
    host.execute("INSERT INTO study_questions (user_id, stem, ai_explanation, ai_explanation_generated_at)"
                 " SELECT 1, '문제 ' || g, '설명', %s FROM generate_series(1, 500) g", (V1,))

    other = trigger_calls(host, "UPDATE study_questions SET answer = '③', needs_review = false")
    version = trigger_calls(host, f"UPDATE study_questions SET ai_explanation_generated_at = '{V2}' WHERE id % 2 = 0")

    # the row-level function is not called (its WHEN fails); the statement-level one once
    assert other == {"tg_study_questions__study_card_enqueue": 0, "tg_study_questions__study_card_enqueued": 1}
    assert version == {"tg_study_questions__study_card_enqueue": 250, "tg_study_questions__study_card_enqueued": 1}
    assert host.execute("SELECT count(*) FROM study_memo_card_jobs WHERE source_version = %s", (V2,)).fetchone()[0] == 250


def test_a_version_set_by_a_before_trigger_of_the_host_is_enqueued(host, listener):
    # the version is not in the SET list: the statement trigger must fire all the same
    host.execute("""
        CREATE FUNCTION host_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.ai_explanation_generated_at := %L; RETURN NEW; END $$;
        CREATE TRIGGER host_stamp BEFORE UPDATE OF ai_explanation ON study_questions
            FOR EACH ROW EXECUTE FUNCTION host_stamp();""".replace("%L", f"'{V2}'"))
    add_question(host, 1)
    received(listener)

    host.execute("UPDATE study_questions SET ai_explanation = '새 설명' WHERE id = 1")

    assert [(j[2], j[3]) for j in jobs(host)] == [("2026-03-01 09:00:00+00", "pending"), ("2026-03-02 09:00:00+00", "pending")]
    assert received(listener) == [{"count": 1}]


def test_a_bulk_statement_with_several_batches_is_one_pass(host, listener):
    # ids of 1 to 5 digits: a few hundred per batch, so 3,000 rows take several
    host.execute("INSERT INTO study_questions (id, user_id, stem, ai_explanation)"
                 " SELECT g * 7, 1, '문제', '설명' FROM generate_series(1, 3000) g")
    host.execute("INSERT INTO study_questions (id, user_id, stem, ai_explanation) VALUES (99991, 1, '문제', ' ')")

    host.execute("UPDATE study_questions SET ai_explanation_generated_at = now()")

    assert host.execute("SELECT count(*), count(DISTINCT source_id), min(source_id), max(source_id)"
                        " FROM study_memo_card_jobs").fetchone() == (3000, 3000, 7, 21000)
    leftover = host.execute("SELECT current_setting('study_card.pending_question', true),"
                            " current_setting('study_card.runnable', true)").fetchone()
    assert not any(leftover)  # nothing outlives the transaction
    assert received(listener) == [{"count": 3000}]


def test_a_statement_rolled_back_to_a_savepoint_leaves_no_ids_behind(host, db_url, listener):
    add_question(host, 1, version=None)
    add_question(host, 2, version=None)
    host.execute("""
        CREATE FUNCTION host_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.id = 2 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NULL; END $$;
        CREATE TRIGGER zz_host_refuse AFTER UPDATE ON study_questions
            FOR EACH ROW EXECUTE FUNCTION host_refuse();""")
    with psycopg.connect(db_url) as conn:
        conn.execute("SAVEPOINT before")
        with pytest.raises(psycopg.errors.RaiseException):  # question 1's id was collected, then 2 failed
            conn.execute("UPDATE study_questions SET ai_explanation_generated_at = %s", (V1,))
        conn.execute("ROLLBACK TO SAVEPOINT before")
        conn.execute("INSERT INTO study_subject_notes (id, user_id, title, body, updated_at)"
                     " VALUES (1, 1, '정규화', '1NF', %s)", (V1,))
        conn.commit()

    assert [(j[0], j[1]) for j in jobs(host)] == [("subject_note", 1)]
    assert received(listener) == []  # the note's job waits for its debounce


# --- subject notes -------------------------------------------------------------------

def add_note(db, note_id, body="1NF → 2NF → 3NF", updated_at=V1, topic_id=1):
    db.execute(
        "INSERT INTO study_subject_notes (id, user_id, topic_id, title, body, updated_at) VALUES (%s, 1, %s, '정규화', %s, %s)",
        (note_id, topic_id, body, updated_at),
    )


def test_a_new_note_is_enqueued_after_the_debounce_and_wakes_nobody(host, listener):
    add_note(host, 1)

    wait, = host.execute("SELECT run_after - created_at FROM study_memo_card_jobs").fetchone()
    assert jobs(host) == [("subject_note", 1, "2026-03-01 09:00:00+00", "pending", None, 0)]
    assert wait == timedelta(minutes=3)
    assert claim(host) == []
    assert received(listener) == []


def test_editing_a_note_supersedes_its_older_pending_job_at_once(host):
    add_note(host, 1, body="")  # a blank note: no job
    host.execute("UPDATE study_subject_notes SET body = '초안', updated_at = %s", (V1,))
    host.execute("UPDATE study_subject_notes SET body = '초안 수정', updated_at = %s", (V2,))

    assert [(j[2], j[3], j[4]) for j in jobs(host)] == [
        ("2026-03-01 09:00:00+00", "skipped", "stale_version"),
        ("2026-03-02 09:00:00+00", "pending", None),
    ]


def test_a_note_is_enqueued_when_its_title_or_body_changes_only(host):
    add_note(host, 1)
    host.execute("UPDATE study_subject_notes SET updated_at = %s, embedding = NULL", (V2,))
    assert len(jobs(host)) == 1
    host.execute("UPDATE study_subject_notes SET title = '정규형', updated_at = %s", (V2,))
    assert [(j[2], j[3]) for j in jobs(host)] == [
        ("2026-03-01 09:00:00+00", "skipped"), ("2026-03-02 09:00:00+00", "pending")]


def test_the_note_debounce_is_a_setting(host, listener):
    host.execute("SET study_card.note_debounce = '0'")
    add_note(host, 1)
    assert [c[1:] for c in claim(host)] == [("subject_note", 1)]
    assert received(listener) == [{"count": 1}]

    host.execute("SET study_card.note_debounce = '10 minutes'")
    assert host.execute("SELECT study_card_note_debounce()").fetchone()[0] == timedelta(minutes=10)
    for invalid in ("soon", "-5 minutes", ""):
        host.execute("SELECT set_config('study_card.note_debounce', %s, false)", (invalid,))
        assert host.execute("SELECT study_card_note_debounce()").fetchone()[0] == timedelta(minutes=3)


# --- focus ---------------------------------------------------------------------------

def test_focusing_a_topic_raises_its_pending_jobs_and_unfocusing_lowers_them(host):
    add_question(host, 1, topic_id=1)
    add_question(host, 2, topic_id=2)
    add_note(host, 1, topic_id=1)
    add_question(host, 3, topic_id=1, version=None)
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = 3", (V1,))
    host.execute("UPDATE study_memo_card_jobs SET status = 'completed' WHERE source_kind = 'question' AND source_id = 3")

    host.execute("UPDATE study_topics SET focused_at = now() WHERE id = 1")
    assert [(j[0], j[1], j[5]) for j in jobs(host)] == [
        ("question", 1, 10), ("question", 2, 0), ("subject_note", 1, 10), ("question", 3, 0)]

    host.execute("UPDATE study_topics SET focused_at = now() + interval '1 minute' WHERE id = 1")  # still focused
    assert [j[5] for j in jobs(host)] == [10, 0, 10, 0]

    host.execute("UPDATE study_topics SET focused_at = NULL WHERE id = 1")
    assert [j[5] for j in jobs(host)] == [0, 0, 0, 0]


def test_jobs_enqueued_while_the_topic_is_focused_start_high_and_are_claimed_first(host):
    add_question(host, 1, topic_id=2)
    host.execute("UPDATE study_topics SET focused_at = now() WHERE id = 1")
    add_question(host, 2, topic_id=1)
    add_question(host, 3, topic_id=None)

    assert [(j[1], j[5]) for j in jobs(host)] == [(1, 0), (2, 10), (3, 0)]
    assert [c[2] for c in claim(host, limit=1)] == [2]
    assert sorted(c[2] for c in claim(host, limit=2)) == [1, 3]


# --- the sweep -----------------------------------------------------------------------

def test_the_sweep_drains_a_backlog_in_bounded_bites_oldest_first(host, listener):
    host.execute("SET session_replication_role = replica")  # rows written with the triggers off
    host.execute("""
        INSERT INTO study_questions (id, user_id, topic_id, stem, ai_explanation, ai_explanation_generated_at)
        SELECT g, 1, 1, '문제', '설명', timestamptz '2026-01-01' + (250 - g) * interval '1 hour'
          FROM generate_series(1, 250) g
    """)
    host.execute("RESET session_replication_role")

    assert [host.execute("SELECT study_card_enqueue(100)").fetchone()[0] for _ in range(4)] == [100, 100, 50, 0]
    first_bite = host.execute("SELECT source_id FROM study_memo_card_jobs ORDER BY id LIMIT 100").fetchall()
    assert sorted(r[0] for r in first_bite) == list(range(151, 251))  # the oldest versions first
    assert host.execute("SELECT count(DISTINCT source_id) FROM study_memo_card_jobs").fetchone()[0] == 250
    assert received(listener) == [{"count": 100}, {"count": 100}, {"count": 50}]


def test_the_sweep_skips_what_is_not_ready_and_what_has_its_job(host):
    add_question(host, 1)  # has its job already
    host.execute("SET session_replication_role = replica")
    add_question(host, 2, version=None)
    add_question(host, 3, explanation="  ")
    add_question(host, 4)
    host.execute("UPDATE study_questions SET deleted_at = now() WHERE id = 4")
    add_question(host, 5)
    add_note(host, 1)
    add_note(host, 2, body=" ")
    host.execute("INSERT INTO documents (id, user_id, title) VALUES (1, 1, '교재')")
    host.execute("INSERT INTO document_chunks (document_id, content) VALUES (1, '트랜잭션의 ACID 성질')")
    host.execute("RESET session_replication_role")

    assert host.execute("SELECT study_card_enqueue()").fetchone()[0] == 2
    assert sorted((j[0], j[1]) for j in jobs(host)) == [("question", 1), ("question", 5), ("subject_note", 1)]
    wait, = host.execute("SELECT run_after - created_at FROM study_memo_card_jobs WHERE source_kind = 'subject_note'").fetchone()
    assert wait == timedelta(minutes=3)
    assert host.execute("SELECT study_card_enqueue()").fetchone()[0] == 0


def test_the_sweep_refuses_a_limit_below_one(host):
    for limit in (0, -1, None):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            host.execute("SELECT study_card_enqueue(%s)", (limit,))


# --- study_card_request --------------------------------------------------------------

def test_a_document_is_extracted_on_request_only(host, listener):
    host.execute("INSERT INTO documents (id, user_id, title, updated_at) VALUES (1, 1, '교재', %s)", (V1,))
    host.execute("INSERT INTO document_chunks (document_id, content) VALUES (1, '트랜잭션의 ACID 성질')")
    assert jobs(host) == []

    job_id = host.execute("SELECT study_card_request('document', 1)").fetchone()[0]

    assert host.execute("SELECT id FROM study_memo_card_jobs").fetchone()[0] == job_id
    assert jobs(host) == [("document", 1, "2026-03-01 09:00:00+00", "pending", None, 0)]
    assert received(listener) == [{"count": 1}]


def test_request_leaves_a_pending_or_running_job_alone(host, listener):
    add_question(host, 1)
    job_id = host.execute("SELECT id FROM study_memo_card_jobs").fetchone()[0]
    received(listener)

    assert host.execute("SELECT study_card_request('question', 1)").fetchone()[0] == job_id
    claim(host)
    assert host.execute("SELECT study_card_request('question', 1)").fetchone()[0] == job_id

    assert host.execute("SELECT status, attempts, locked_by FROM study_memo_card_jobs").fetchall() == [("processing", 1, "w1")]
    assert received(listener) == []


def test_request_re_extracts_a_finished_version_with_attempts_reset(host, listener):
    add_question(host, 1)
    host.execute("""UPDATE study_memo_card_jobs SET status = 'completed', attempts = 2, error_code = 'all_dropped',
                    completed_at = now()""")
    received(listener)

    job_id = host.execute("SELECT study_card_request('question', 1)").fetchone()[0]

    assert host.execute("SELECT id, status, attempts, error_code, completed_at FROM study_memo_card_jobs").fetchall() == [
        (job_id, "pending", 0, None, None)]
    assert received(listener) == [{"count": 1}]


def test_request_brings_a_debounced_job_forward_and_closes_older_versions(host):
    add_note(host, 1)
    host.execute("UPDATE study_subject_notes SET body = '수정', updated_at = %s", (V2,))
    host.execute("UPDATE study_memo_card_jobs SET status = 'pending', error_code = NULL, completed_at = NULL"
                 " WHERE source_version = %s", (V1,))  # as if the older one were still pending

    host.execute("SELECT study_card_request('subject_note', 1)")

    assert [(j[2], j[3]) for j in jobs(host)] == [("2026-03-01 09:00:00+00", "skipped"), ("2026-03-02 09:00:00+00", "pending")]
    assert [c[1:] for c in claim(host)] == [("subject_note", 1)]


def test_request_refuses_what_it_cannot_extract(host):
    add_question(host, 1, explanation=" ")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        host.execute("SELECT study_card_request('document_chunk', 1)")
    with pytest.raises(psycopg.errors.NoDataFound):
        host.execute("SELECT study_card_request('question', 99)")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        host.execute("SELECT study_card_request('question', 1)")
    assert jobs(host) == []
