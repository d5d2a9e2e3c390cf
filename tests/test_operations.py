"""sql/24_operations.sql: retry, retry_failed, prune and the views study_card_job_stats and
study_card_drop_stats."""

from datetime import timedelta

import psycopg
import pytest
from notifications import received

V1 = "2026-03-01 09:00+00"
V2 = "2026-03-02 09:00+00"


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스');
    """)
    return db




def add_question(db, question_id, version=V1):
    """An explained question; the trigger gives it a pending job."""
    db.execute(
        "INSERT INTO study_questions (id, user_id, topic_id, stem, ai_explanation, ai_explanation_generated_at)"
        " VALUES (%s, 1, 1, '문제', '설명', %s)",
        (question_id, version),
    )
    return db.execute("SELECT max(id) FROM study_memo_card_jobs").fetchone()[0]


def finish(db, job_id, status, error_code=None, age="0"):
    """Close a job as a worker run would have, `age` ago."""
    db.execute(
        """UPDATE study_memo_card_jobs
              SET status = %s, error_code = %s, attempts = 2, started_at = now() - %s::interval - interval '20 seconds',
                  completed_at = now() - %s::interval
            WHERE id = %s""",
        (status, error_code, age, age, job_id),
    )


def status(db, job_id):
    return db.execute("SELECT status, attempts, error_code FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()


def test_retry_puts_a_failed_job_back_with_its_attempts_reset(host, listener):
    failed = add_question(host, 1)
    completed = add_question(host, 2)
    finish(host, failed, "failed", "llm_timeout")
    finish(host, completed, "completed")
    received(listener)

    assert host.execute("SELECT study_card_retry(%s)", (failed,)).fetchone()[0] is True
    assert host.execute("SELECT study_card_retry(%s)", (completed,)).fetchone()[0] is False
    assert host.execute("SELECT study_card_retry(99)").fetchone()[0] is False

    assert status(host, failed) == ("pending", 0, "llm_timeout")
    assert status(host, completed) == ("completed", 2, None)
    assert received(listener) == [{"count": 1}]
    assert [r[0] for r in host.execute("SELECT id FROM study_card_claim('w1', 5)")] == [failed]


def test_retry_failed_puts_back_every_failed_job_or_those_of_one_error_code(host, listener):
    jobs = [add_question(host, n) for n in range(1, 5)]
    finish(host, jobs[0], "failed", "parse_fail")
    finish(host, jobs[1], "failed", "parse_fail")
    finish(host, jobs[2], "failed", "lease_expired")
    finish(host, jobs[3], "skipped", "stale_version")
    received(listener)

    assert host.execute("SELECT study_card_retry_failed('parse_fail')").fetchone()[0] == 2
    assert [status(host, j)[0] for j in jobs] == ["pending", "pending", "failed", "skipped"]
    assert host.execute("SELECT study_card_retry_failed()").fetchone()[0] == 1
    assert [status(host, j)[0] for j in jobs] == ["pending", "pending", "pending", "skipped"]
    assert host.execute("SELECT study_card_retry_failed()").fetchone()[0] == 0
    assert received(listener) == [{"count": 2}, {"count": 1}]


def test_retry_failed_refuses_a_code_the_vocabulary_does_not_know(host):
    finish(host, add_question(host, 1), "failed", "parse_fail")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown error code 'parse_failed'") as error:
        host.execute("SELECT study_card_retry_failed('parse_failed')")
    assert error.value.diag.message_hint.startswith("one of: all_dropped, lease_expired, llm_timeout, ")
    assert status(host, 1)[0] == "failed"


def test_prune_deletes_old_finished_jobs_but_keeps_each_current_versions_job(host):
    old_version = add_question(host, 1)
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = 1", (V2,))
    current_version = host.execute("SELECT max(id) FROM study_memo_card_jobs").fetchone()[0]
    recent = add_question(host, 2)
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = 2", (V2,))
    pending = add_question(host, 3)
    deleted_source = add_question(host, 4)
    host.execute("UPDATE study_questions SET deleted_at = now() WHERE id = 4")
    finish(host, old_version, "skipped", "stale_version", age="40 days")
    finish(host, current_version, "completed", age="40 days")
    finish(host, recent, "failed", "parse_fail", age="1 day")
    finish(host, deleted_source, "completed", age="40 days")
    host.execute("UPDATE study_memo_card_jobs SET created_at = now() - interval '40 days' WHERE id = %s", (pending,))
    host.execute("""INSERT INTO study_memo_cards (user_id, source_kind, source_id, source_version, job_id, card_type, cue, answer)
                    VALUES (1, 'question', 1, %s, %s, 'qa', '2NF의 조건은?', '부분 함수 종속 제거')""", (V1, old_version))

    assert host.execute("SELECT study_card_prune('30 days')").fetchone()[0] == 2

    remaining = [r[0] for r in host.execute("SELECT id FROM study_memo_card_jobs ORDER BY id")]
    assert remaining == sorted([current_version, recent, pending,
                                host.execute("SELECT max(id) FROM study_memo_card_jobs WHERE source_id = 2").fetchone()[0]])
    assert host.execute("SELECT job_id FROM study_memo_cards").fetchone()[0] is None
    assert host.execute("SELECT study_card_prune('0')").fetchone()[0] == 1  # the recent one, of an old version
    for bad in (None, "-1 day"):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            host.execute("SELECT study_card_prune(%s)", (bad,))


def test_after_a_prune_the_sweep_does_not_extract_a_current_version_again(host):
    job_id = add_question(host, 1)
    finish(host, job_id, "completed", age="90 days")

    host.execute("SELECT study_card_prune('1 day')")

    assert host.execute("SELECT study_card_enqueue()").fetchone()[0] == 0


def test_job_stats_count_by_status_and_error_code_with_ages_and_durations(host):
    jobs = [add_question(host, n) for n in range(1, 8)]
    host.execute("UPDATE study_memo_card_jobs SET created_at = now() - interval '2 hours' WHERE id = %s", (jobs[0],))
    host.execute("UPDATE study_memo_card_jobs SET run_after = now() + interval '1 hour' WHERE id = %s", (jobs[1],))
    host.execute("SELECT study_card_claim('w1', 1)")  # jobs[0]: the oldest
    host.execute("UPDATE study_memo_card_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (jobs[0],))
    for job_id, seconds in zip(jobs[2:5], (10, 20, 60)):
        host.execute("""UPDATE study_memo_card_jobs SET status = 'completed', started_at = now() - %s * interval '1 second',
                        completed_at = now() WHERE id = %s""", (seconds, job_id))
    finish(host, jobs[5], "completed", "all_dropped", age="3 days")
    finish(host, jobs[6], "failed", "parse_fail")

    rows = host.execute("""
        SELECT status, terminal, error_code, retryable, jobs, runnable, expired_leases, oldest_age IS NOT NULL,
               finished_last_day, median_duration, p95_duration
          FROM study_card_job_stats""").fetchall()

    assert rows == [
        ("pending", False, None, None, 1, 0, 0, True, 0, None, None),
        ("processing", False, None, None, 1, 0, 1, True, 0, None, None),
        ("completed", True, None, None, 3, 0, 0, False, 3, timedelta(seconds=20), timedelta(seconds=56)),
        ("completed", True, "all_dropped", False, 1, 0, 0, False, 0, None, None),
        ("failed", True, "parse_fail", True, 1, 0, 0, False, 1, timedelta(seconds=20), timedelta(seconds=20)),
    ]
    oldest, = host.execute("SELECT oldest_age FROM study_card_job_stats WHERE status = 'processing'").fetchone()
    assert timedelta(hours=2) <= oldest < timedelta(hours=2, minutes=1)


def test_job_stats_keep_the_takeovers_of_jobs_that_finished_later(host):
    """error_code lease_expired records only the last attempt: a job that completes after
    a takeover no longer says it. The takeovers column and the stats view still do."""
    jobs = [add_question(host, n) for n in (1, 2, 3)]
    host.execute("UPDATE study_memo_card_jobs SET max_attempts = 3")
    assert len(host.execute("SELECT * FROM study_card_claim('w1', 3)").fetchall()) == 3
    expire = "UPDATE study_memo_card_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = ANY(%s)"
    host.execute(expire, (jobs[:2],))
    assert len(host.execute("SELECT * FROM study_card_claim('w2', 2)").fetchall()) == 2  # both taken over
    host.execute("""SELECT commit_cards(%s, 'w2', '{"cards": []}')""", (jobs[0],))
    host.execute(expire, (jobs[1:2],))
    assert host.execute("SELECT study_card_reap()").fetchone()[0] == 1

    rows = host.execute("SELECT status, error_code, retryable, jobs, taken_over, takeovers FROM study_card_job_stats").fetchall()
    assert rows == [
        ("pending", "lease_expired", True, 1, 1, 2),
        ("processing", None, None, 1, 0, 0),
        ("completed", "all_dropped", False, 1, 1, 1),
    ]


def test_drop_stats_count_the_dropped_cards_and_jobs_of_every_reason_in_guard_order(host):
    """Every reason of the vocabulary appears, 0 when no report has it (review_rejected
    among them, before the review pass exists); the counts come from the jobs' reports."""
    jobs = [add_question(host, n) for n in (1, 2, 3, 4)]
    host.execute("SELECT study_card_claim('w1', 1)")
    host.execute("""SELECT commit_cards(%s, 'w1', '{"cards": [{"type": "qa"}, {"type": "cloze"}]}')""", (jobs[0],))
    report = """UPDATE study_memo_card_jobs SET status = 'completed', completed_at = now(),
                       payload = jsonb_build_object('report', jsonb_build_object('dropped', %s::jsonb)) WHERE id = %s"""
    host.execute(report, ('[{"index": 0, "reason": "duplicate", "detail": "card 7"},'
                          ' {"index": 2, "reason": "invalid_shape", "detail": "no cue"}]', jobs[1]))
    host.execute(report, ('[{"index": 1, "reason": "duplicate", "detail": "card 8"},'
                          ' {"index": 3, "reason": "duplicate", "detail": "card 9"}]', jobs[2]))
    host.execute(report, ("[]", jobs[3]))

    rows = host.execute("SELECT reason, guard_order, dropped_cards, jobs FROM study_card_drop_stats").fetchall()

    reasons = host.execute("SELECT reason, guard_order FROM study_card_drop_reasons ORDER BY guard_order").fetchall()
    counts = {"invalid_shape": (3, 2), "duplicate": (3, 2)}
    assert rows == [(reason, order, *counts.get(reason, (0, 0))) for reason, order in reasons]
    assert rows[-1][:3] == ("review_rejected", 13, 0)


def test_drop_stats_list_a_reason_the_vocabulary_does_not_know_last(host):
    job_id = add_question(host, 1)
    host.execute("""UPDATE study_memo_card_jobs SET payload = '{"report": {"dropped": [{"index": 0, "reason": "retired_guard"}]}}'
                     WHERE id = %s""", (job_id,))
    rows = host.execute("SELECT reason, guard_order, dropped_cards, jobs FROM study_card_drop_stats").fetchall()
    assert rows[-1] == ("retired_guard", None, 1, 1)
    assert len(rows) == host.execute("SELECT count(*) FROM study_card_drop_reasons").fetchone()[0] + 1


def test_a_version_moved_back_to_one_already_extracted_makes_no_job_until_requested(host):
    """The version is the timestamp (README, "Where jobs come from"): a question whose
    ai_explanation_generated_at goes back to a value whose job already ran, even with a
    new explanation, is that version again, and its job stays as it ended; nothing
    enqueues it, the sweep included. study_card_request extracts it again."""
    first = add_question(host, 1, V1)
    finish(host, first, "completed")
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = 1", (V2,))
    second = host.execute("SELECT max(id) FROM study_memo_card_jobs").fetchone()[0]
    finish(host, second, "completed")

    host.execute("UPDATE study_questions SET ai_explanation = '새로 생성한 설명', ai_explanation_generated_at = %s"
                 " WHERE id = 1", (V1,))
    assert host.execute("SELECT study_card_enqueue()").fetchone()[0] == 0
    assert host.execute("SELECT id, status FROM study_memo_card_jobs ORDER BY id").fetchall() == [
        (first, "completed"), (second, "completed")]
    assert host.execute("SELECT * FROM study_card_claim('w1')").fetchall() == []

    assert host.execute("SELECT study_card_request('question', 1)").fetchone()[0] == first
    assert status(host, first) == ("pending", 0, None)
    assert [r[0] for r in host.execute("SELECT id FROM study_card_claim('w1')")] == [first]
