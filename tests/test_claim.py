"""sql/22_claim.sql: claim, leases, heartbeat, release, fail (the error-code table), backoff, reap;
and who may act for a worker (the claiming login role, the lease cap), as the worker role."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from notifications import received
from psycopg import sql
from worker_roles import worker_login  # noqa: F401 (a fixture)


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스');
    """)
    return db




def add_questions(db, count, start=1):
    """`count` explained questions, one statement each, so that the trigger gives question
    n its pending job with the next id (in a fresh database: job id = question id)."""
    for question_id in range(start, start + count):
        db.execute(
            "INSERT INTO study_questions (id, user_id, topic_id, stem, ai_explanation, ai_explanation_generated_at)"
            " VALUES (%s, 1, 1, '문제', '설명', '2026-03-01 09:00+00')",
            (question_id,),
        )


def claim(db, worker="w1", limit=1, lease="10 minutes"):
    rows = db.execute("SELECT id FROM study_card_claim(%s, %s, %s)", (worker, limit, lease)).fetchall()
    return sorted(r[0] for r in rows)


def job(db, job_id):
    return db.execute(
        "SELECT status, attempts, locked_by, error_code FROM study_memo_card_jobs WHERE id = %s", (job_id,)
    ).fetchone()


def expire_lease(db, job_id):
    db.execute("UPDATE study_memo_card_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = %s", (job_id,))


def make_runnable(db, job_id):
    db.execute("UPDATE study_memo_card_jobs SET run_after = now() WHERE id = %s", (job_id,))


# --- claim ---------------------------------------------------------------------------

def test_claim_takes_the_highest_priority_then_the_oldest_runnable_job(host):
    add_questions(host, 4)
    host.execute("UPDATE study_memo_card_jobs SET priority = 5 WHERE id = 3")
    host.execute("UPDATE study_memo_card_jobs SET run_after = now() + interval '1 hour' WHERE id = 1")

    assert claim(host) == [3]
    assert claim(host) == [2]
    assert claim(host, limit=5) == [4]
    assert claim(host) == []


def test_a_claimed_job_carries_the_worker_its_role_its_lease_and_one_attempt_more(host):
    add_questions(host, 1)
    row = host.execute("""
        SELECT status, attempts, locked_by, locked_by_role, lease_expires_at - now(), started_at = now(),
               lease_renewed_at = now(), takeovers
          FROM study_card_claim('w1', 1, '90 seconds')""").fetchone()
    assert row == ("processing", 1, "w1", "postgres", timedelta(seconds=90), True, True, 0)


def test_claim_refuses_bad_arguments(host):
    for worker, limit, lease in [("", 1, "1 minute"), (None, 1, "1 minute"), ("w1", 0, "1 minute"),
                                 ("w1", 1, "0"), ("w1", 1, "-1 minute"), ("w1", None, "1 minute")]:
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            host.execute("SELECT * FROM study_card_claim(%s, %s, %s)", (worker, limit, lease))


def test_a_claim_commits_without_waiting_for_the_wal_flush_unless_its_transaction_wrote_before(host):
    add_questions(host, 2)
    with host.transaction():
        assert claim(host) == [1]
        assert host.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    assert host.execute("SHOW synchronous_commit").fetchone()[0] == "on"  # that transaction's only

    with host.transaction():
        host.execute("UPDATE study_questions SET answer = '②' WHERE id = 1")  # the caller's write first
        assert claim(host) == [2]
        assert host.execute("SHOW synchronous_commit").fetchone()[0] == "on"


def test_claim_closes_jobs_whose_source_is_not_ready_and_still_fills_its_limit(host):
    add_questions(host, 6)
    host.execute("UPDATE study_questions SET deleted_at = now() WHERE id = 1")
    host.execute("UPDATE study_questions SET ai_explanation = '' WHERE id = 2")
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = '2026-03-02 09:00+00' WHERE id = 3")  # job 7

    assert claim(host, limit=3) == [4, 5, 6]

    closed = host.execute("""SELECT id, status, error_code, locked_by, completed_at IS NOT NULL
                               FROM study_memo_card_jobs WHERE id <= 3 ORDER BY id""").fetchall()
    assert closed == [(1, "skipped", "source_deleted", None, True),
                      (2, "skipped", "no_ready_explanation", None, True),
                      (3, "skipped", "stale_version", None, True)]
    assert claim(host, limit=3) == [7]


def test_claim_skips_a_job_locked_by_another_transaction_instead_of_waiting(host, db_url):
    add_questions(host, 2)
    with psycopg.connect(db_url) as other:
        other.execute("SELECT FROM study_memo_card_jobs WHERE id = 1 FOR UPDATE")
        host.execute("SET lock_timeout = '2s'")
        assert claim(host, limit=2) == [2]


def test_two_connections_claiming_at_once_never_get_the_same_job(host, db_url):
    rounds, jobs_per_round = 8, 60
    for round_number in range(rounds):
        add_questions(host, jobs_per_round, start=round_number * jobs_per_round + 1)
        start = threading.Barrier(2)
        claimed = {"a": [], "b": []}

        def worker(name, limit):
            with psycopg.connect(db_url, autocommit=True) as conn:
                start.wait()
                while ids := claim(conn, worker=name, limit=limit):
                    claimed[name].extend(ids)

        threads = [threading.Thread(target=worker, args=("a", 1)), threading.Thread(target=worker, args=("b", 3))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)

        everything = claimed["a"] + claimed["b"]
        assert len(everything) == len(set(everything)) == jobs_per_round
        holders = dict(host.execute(
            "SELECT id, locked_by FROM study_memo_card_jobs WHERE status = 'processing' AND id = ANY(%s)",
            (everything,)).fetchall())
        assert holders == {**{i: "a" for i in claimed["a"]}, **{i: "b" for i in claimed["b"]}}


# --- leases --------------------------------------------------------------------------

def test_an_expired_lease_is_taken_over_by_the_next_claim_and_the_vanished_worker_is_refused(host):
    add_questions(host, 1)
    assert claim(host, worker="vanished") == [1]
    expire_lease(host, 1)

    assert claim(host, worker="w2") == [1]
    assert job(host, 1) == ("processing", 2, "w2", "lease_expired")
    assert host.execute("SELECT study_card_heartbeat(1, 'vanished')").fetchone()[0] is False
    for call in ["SELECT study_card_fail(1, 'vanished', 'llm_timeout', 'late')",
                 "SELECT study_card_release(1, 'vanished')",
                 """SELECT commit_cards(1, 'vanished', '{"cards": []}')"""]:
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            host.execute(call)
    assert job(host, 1) == ("processing", 2, "w2", "lease_expired")
    assert host.execute("SELECT study_card_heartbeat(1, 'w2')").fetchone()[0] is True


def test_an_expired_lease_nobody_took_over_still_belongs_to_its_worker(host):
    add_questions(host, 2)
    assert claim(host, worker="slow") == [1]
    expire_lease(host, 1)

    assert host.execute("SELECT study_card_heartbeat(1, 'slow', '5 minutes')").fetchone()[0] is True
    assert claim(host, worker="w2") == [2]  # the renewed lease is not taken over
    assert host.execute("SELECT study_card_fail(1, 'slow', 'parse_fail', 'not json')").fetchone()[0] == "pending"


def test_claim_takes_over_expired_leases_before_pending_jobs(host):
    add_questions(host, 2)
    host.execute("UPDATE study_memo_card_jobs SET priority = 10 WHERE id = 2")
    assert claim(host, worker="w1") == [2]
    expire_lease(host, 2)
    host.execute("UPDATE study_memo_card_jobs SET priority = 0")

    assert claim(host, worker="w2") == [2]


def test_an_expired_lease_with_no_attempt_left_fails(host):
    add_questions(host, 1)
    host.execute("UPDATE study_memo_card_jobs SET attempts = 1")  # one attempt already spent
    assert claim(host, worker="w1") == [1]
    expire_lease(host, 1)

    assert claim(host, worker="w2") == []
    status, attempts, locked_by, error_code = job(host, 1)
    assert (status, attempts, locked_by, error_code) == ("failed", 2, None, "lease_expired")


def test_heartbeat_extends_the_lease_of_its_holder_only(host):
    add_questions(host, 1)
    claim(host, worker="w1", lease="1 minute")

    assert host.execute("SELECT study_card_heartbeat(1, 'w1', '20 minutes')").fetchone()[0] is True
    left, = host.execute("SELECT lease_expires_at - now() FROM study_memo_card_jobs WHERE id = 1").fetchone()
    assert timedelta(minutes=19) < left <= timedelta(minutes=20)
    assert host.execute("SELECT study_card_heartbeat(1, 'w2')").fetchone()[0] is False  # w1 holds it
    assert host.execute("SELECT study_card_heartbeat(99, 'w1')").fetchone()[0] is None  # nobody holds it
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        host.execute("SELECT study_card_heartbeat(1, 'w1', '0')")


def test_heartbeat_says_null_when_nobody_holds_the_job_and_false_only_for_another_holder(host):
    """Three answers, so that a worker warns about a lost lease only when another worker
    really holds the job, not when its own commit closed it a moment ago."""
    add_questions(host, 1)
    claim(host, worker="w1")
    host.execute("""SELECT commit_cards(1, 'w1', '{"cards": []}')""")
    assert host.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is None  # closed by w1 itself
    host.execute("SELECT study_card_request('question', 1)")
    assert host.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is None  # back in the queue
    claim(host, worker="w2")
    assert host.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is False  # w2 holds it


def test_reap_returns_expired_leases_to_pending_or_failed(host, listener):
    add_questions(host, 3)
    host.execute("UPDATE study_memo_card_jobs SET attempts = 1 WHERE id = 2")
    assert claim(host, worker="w1", limit=3) == [1, 2, 3]
    expire_lease(host, 1)
    expire_lease(host, 2)
    received(listener)

    assert host.execute("SELECT study_card_reap()").fetchone()[0] == 2

    assert job(host, 1) == ("pending", 1, None, "lease_expired")
    assert job(host, 2) == ("failed", 2, None, "lease_expired")
    assert job(host, 3) == ("processing", 1, "w1", None)
    assert received(listener) == [{"count": 1}]
    assert host.execute("SELECT study_card_reap()").fetchone()[0] == 0


# --- release -------------------------------------------------------------------------

def test_release_gives_the_job_back_without_spending_an_attempt(host, listener):
    add_questions(host, 1)
    received(listener)
    claim(host)
    host.execute("SELECT study_card_release(1, 'w1')")

    assert job(host, 1) == ("pending", 0, None, None)
    assert received(listener) == [{"count": 1}]
    assert claim(host) == [1]
    assert job(host, 1) == ("processing", 1, "w1", None)


def test_release_with_a_delay_waits_and_wakes_nobody(host, listener):
    add_questions(host, 1)
    received(listener)
    claim(host)
    host.execute("SELECT study_card_release(1, 'w1', '30 seconds')")

    wait, = host.execute("SELECT run_after - now() FROM study_memo_card_jobs").fetchone()
    assert timedelta(seconds=29) < wait <= timedelta(seconds=30)
    assert claim(host) == []
    assert received(listener) == []


def test_release_refuses_whoever_does_not_hold_the_job(host):
    add_questions(host, 1)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        host.execute("SELECT study_card_release(1, 'w1')")  # pending: nobody holds it
    claim(host)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        host.execute("SELECT study_card_release(1, 'w2')")
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        host.execute("SELECT study_card_release(1, 'w1', '-1 second')")
    assert job(host, 1) == ("processing", 1, "w1", None)


# --- fail ----------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["parse_fail", "llm_timeout", "unknown"])
def test_a_retryable_error_is_retried_once_then_the_job_fails(host, code):
    add_questions(host, 1)
    assert host.execute("SELECT max_attempts FROM study_memo_card_jobs").fetchone()[0] == 2  # the seed's default

    claim(host)
    assert host.execute("SELECT study_card_fail(1, 'w1', %s, 'first')", (code,)).fetchone()[0] == "pending"
    assert job(host, 1) == ("pending", 1, None, code)
    assert claim(host) == []  # backing off
    make_runnable(host, 1)
    assert claim(host) == [1]
    assert host.execute("SELECT study_card_fail(1, 'w1', %s, 'second')", (code,)).fetchone()[0] == "failed"

    row = host.execute("SELECT status, attempts, error_code, error_message, locked_by, completed_at IS NOT NULL"
                       " FROM study_memo_card_jobs").fetchone()
    assert row == ("failed", 2, code, "second", None, True)


@pytest.mark.parametrize("code", ["stale_version", "source_deleted", "no_ready_explanation", "all_dropped",
                                  "lease_expired"])
def test_a_worker_cannot_record_the_databases_codes_through_fail(host, worker_login, code):
    """As the worker role, on a job it holds: a code that ends a job for good would keep
    the sweep from ever extracting that (current) version; only the database records them
    (study_card_error_codes.recorded_by, tests/test_vocabulary.py)."""
    add_questions(host, 1)
    with psycopg.connect(worker_login("alice"), autocommit=True) as alice:
        claim(alice)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="recorded by the database only") as error:
            alice.execute("SELECT study_card_fail(1, 'w1', %s, 'why')", (code,))
    assert error.value.diag.message_hint == "a worker records one of: llm_timeout, parse_fail, unknown"
    assert error.value.diag.message_detail  # the code's meaning
    assert job(host, 1) == ("processing", 1, "w1", None)


@pytest.mark.parametrize("code", ["bogus", "", None])
def test_fail_refuses_codes_it_does_not_know(host, code):
    add_questions(host, 1)
    claim(host)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown error code") as error:
        host.execute("SELECT study_card_fail(1, 'w1', %s, 'x')", (code,))
    assert error.value.diag.message_hint == "a worker records one of: llm_timeout, parse_fail, unknown"
    assert job(host, 1) == ("processing", 1, "w1", None)


def test_fail_refuses_whoever_does_not_hold_the_job_and_keeps_the_message_short(host):
    add_questions(host, 1)
    claim(host)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        host.execute("SELECT study_card_fail(1, 'w2', 'unknown', 'x')")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        host.execute("SELECT study_card_fail(99, 'w1', 'unknown', 'x')")

    host.execute("SELECT study_card_fail(1, 'w1', 'unknown', %s)", ("가" * 5000,))
    assert host.execute("SELECT length(error_message) FROM study_memo_card_jobs").fetchone()[0] == 2000


def test_backoff_doubles_per_attempt_up_to_an_hour(host):
    add_questions(host, 1)
    host.execute("UPDATE study_memo_card_jobs SET max_attempts = 10")
    waits = []
    for _ in range(8):
        make_runnable(host, 1)
        claim(host)
        host.execute("SELECT study_card_fail(1, 'w1', 'llm_timeout', 'slow')")
        waits.append(host.execute("SELECT run_after - now() FROM study_memo_card_jobs").fetchone()[0])

    expected = [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    for wait, want in zip(waits, expected):
        assert want - timedelta(seconds=1) < wait <= want


def test_the_backoff_base_is_a_setting(host):
    host.execute("SET study_card.retry_delay = '10 seconds'")
    assert host.execute("SELECT study_card_retry_delay(1), study_card_retry_delay(3)").fetchone() == (
        timedelta(seconds=10), timedelta(seconds=40))
    host.execute("SET study_card.retry_delay = 'later'")
    assert host.execute("SELECT study_card_retry_delay(1)").fetchone()[0] == timedelta(minutes=1)


def test_a_requested_document_that_changed_is_carried_to_its_current_version(host):
    host.execute("""
        INSERT INTO documents (id, user_id, title, updated_at) VALUES (1, 1, '교재', '2026-01-01 00:00+00');
        INSERT INTO document_chunks (document_id, ord, content) VALUES (1, 0, 'RAID 5는 최소 3개의 디스크가 필요하다.');
    """)
    first = host.execute("SELECT study_card_request('document', 1)").fetchone()[0]
    host.execute("UPDATE documents SET updated_at = '2026-02-01 00:00+00' WHERE id = 1")

    claimed = claim(host)

    status, _, _, error_code = job(host, first)
    assert (status, error_code) == ("skipped", "stale_version")
    carried = host.execute(
        "SELECT id, source_version FROM study_memo_card_jobs WHERE source_kind = 'document' AND id <> %s", (first,)
    ).fetchall()
    assert [(row[1].isoformat()) for row in carried] == ["2026-02-01T00:00:00+00:00"]
    assert claimed == [carried[0][0]]


def test_a_question_that_changed_is_not_carried_by_claim(host):
    add_questions(host, 1)
    host.execute("UPDATE study_questions SET ai_explanation_generated_at = ai_explanation_generated_at + interval '1 day'")
    before = host.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0]
    while claim(host):
        pass
    assert host.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0] == before == 2


# --- who acts for a worker: the claiming login role, the lease cap (as the worker role) ---

def lease_left(db, job_id):
    return db.execute("SELECT lease_expires_at - now() FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()[0]


def job_row(db, job_id):
    return db.execute("SELECT to_jsonb(j) FROM study_memo_card_jobs j WHERE id = %s", (job_id,)).fetchone()[0]


def test_a_login_role_cannot_act_for_another_roles_worker_by_its_name(host, worker_login):
    add_questions(host, 1)
    with (psycopg.connect(worker_login("alice"), autocommit=True) as alice,
          psycopg.connect(worker_login("bob"), autocommit=True) as bob):
        alice_role = alice.execute("SELECT session_user").fetchone()[0]
        assert claim(alice, worker="w1") == [1]
        before = job_row(host, 1)
        assert before["locked_by_role"] == alice_role

        for other in (bob, host):  # another worker login, and even a superuser, naming w1
            assert other.execute("SELECT study_card_heartbeat(1, 'w1', '1 hour')").fetchone()[0] is False
            for call in ["SELECT study_card_release(1, 'w1')",
                         "SELECT study_card_fail(1, 'w1', 'unknown', 'x')",
                         """SELECT commit_cards(1, 'w1', '{"cards": []}')""",
                         "SELECT * FROM study_card_gather(1, 0, NULL, 'w1')"]:
                with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState,
                                   match=f"claimed by login role {alice_role}, not by this session's role"):
                    other.execute(call)
        assert job_row(host, 1) == before  # not even the lease moved

        assert alice.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is True
        assert [r[0] for r in alice.execute("SELECT * FROM study_card_gather(1, 0, NULL, 'w1')")] == ["S1"]
        report = alice.execute("""SELECT commit_cards(1, 'w1', '{"cards": []}')""").fetchone()[0]
    assert (report["status"], report["error_code"]) == ("completed", "all_dropped")


def test_a_lease_beyond_the_cap_is_capped_at_claim_and_heartbeat(host, worker_login):
    add_questions(host, 2)
    alice_url = worker_login("alice")
    with psycopg.connect(alice_url, autocommit=True) as alice:
        granted = alice.execute("SELECT lease_expires_at - now() FROM study_card_claim('w1', 1, '100 years')")
        assert granted.fetchone()[0] == timedelta(hours=1)  # the default cap
        assert alice.execute("SELECT study_card_heartbeat(1, 'w1', '100 years')").fetchone()[0] is True
        assert timedelta(minutes=59) < lease_left(host, 1) <= timedelta(hours=1)

        # the worker cannot raise the cap for itself: its session's settings do not count
        alice.execute("SET study_card.max_lease = '100 years'")
        assert alice.execute("SELECT study_card_heartbeat(1, 'w1', '100 years')").fetchone()[0] is True
        assert timedelta(minutes=59) < lease_left(host, 1) <= timedelta(hours=1)
    with psycopg.connect(alice_url, autocommit=True, options="-c study_card.max_lease=100years") as alice:
        assert alice.execute("SHOW study_card.max_lease").fetchone()[0] == "100years"
        assert alice.execute("SELECT study_card_heartbeat(1, 'w1', '100 years')").fetchone()[0] is True
        assert timedelta(minutes=59) < lease_left(host, 1) <= timedelta(hours=1)

        # the database's setting is the cap, at once
        host.execute(sql.SQL("ALTER DATABASE {} SET study_card.max_lease = '5 minutes'").format(
            sql.Identifier(host.info.dbname)))
        assert alice.execute("SELECT study_card_heartbeat(1, 'w1', '100 years')").fetchone()[0] is True
        assert timedelta(minutes=4) < lease_left(host, 1) <= timedelta(minutes=5)
        granted = alice.execute("SELECT lease_expires_at - now() FROM study_card_claim('w2', 1, '1 day')")
        assert granted.fetchone()[0] == timedelta(minutes=5)
        # a shorter lease than the cap is granted as asked
        assert alice.execute("SELECT study_card_heartbeat(2, 'w2', '30 seconds')").fetchone()[0] is True
        assert timedelta(seconds=29) < lease_left(host, 2) <= timedelta(seconds=30)


def test_max_lease_ignores_a_setting_that_is_not_a_positive_interval(host):
    database = sql.Identifier(host.info.dbname)
    for value, cap in [("later", timedelta(hours=1)), ("-5 minutes", timedelta(hours=1)),
                       ("90 seconds", timedelta(seconds=90))]:
        host.execute(sql.SQL("ALTER DATABASE {} SET study_card.max_lease = {}").format(database, sql.Literal(value)))
        assert host.execute("SELECT study_card_max_lease()").fetchone()[0] == cap


def test_reap_and_claim_see_through_a_lease_stored_beyond_the_cap(host):
    """A 100-year lease already in the table (written before the cap, or under a larger
    cap since lowered) is over one cap after its last renewal."""
    add_questions(host, 4)
    assert claim(host, worker="w1", limit=4) == [1, 2, 3, 4]
    host.execute("""UPDATE study_memo_card_jobs SET lease_expires_at = now() + interval '100 years',
                           lease_renewed_at = now() - interval '61 minutes' WHERE id IN (1, 2)""")
    host.execute("""UPDATE study_memo_card_jobs SET lease_expires_at = now() + interval '100 years',
                           lease_renewed_at = now() - interval '59 minutes' WHERE id = 3""")
    stats = host.execute("SELECT expired_leases FROM study_card_job_stats WHERE status = 'processing'")
    assert stats.fetchone()[0] == 2

    assert claim(host, worker="w2") == [1]  # taken over
    assert job(host, 1) == ("processing", 2, "w2", "lease_expired")
    assert host.execute("SELECT study_card_reap()").fetchone()[0] == 1
    assert job(host, 2) == ("pending", 1, None, "lease_expired")
    assert job(host, 3) == ("processing", 1, "w1", None)  # renewed within the cap: still running
    assert job(host, 4) == ("processing", 1, "w1", None)
    assert host.execute("SELECT error_message FROM study_memo_card_jobs WHERE id = 1").fetchone()[0].startswith(
        "lease of w1 (postgres) expired at ")


def test_each_lost_lease_is_counted_on_the_job_and_survives_its_completion(host):
    add_questions(host, 1)
    host.execute("UPDATE study_memo_card_jobs SET max_attempts = 3")
    claim(host, worker="w1")
    expire_lease(host, 1)
    assert claim(host, worker="w2") == [1]  # a takeover
    expire_lease(host, 1)
    assert host.execute("SELECT study_card_reap()").fetchone()[0] == 1  # a reap
    assert claim(host, worker="w3") == [1]
    host.execute("""SELECT commit_cards(1, 'w3', '{"cards": []}')""")
    assert host.execute("SELECT status, error_code, takeovers FROM study_memo_card_jobs").fetchone() == (
        "completed", "all_dropped", 2)


def test_a_heartbeat_does_not_wait_for_a_commit_in_progress(host, worker_login):
    """commit_cards holds the job row (FOR UPDATE) for its whole transaction, which can
    be long; the worker's heartbeat on another connection answers at once."""
    add_questions(host, 1)
    alice_url = worker_login("alice")
    with (psycopg.connect(alice_url) as committing,
          psycopg.connect(alice_url, autocommit=True) as beating,
          psycopg.connect(worker_login("bob"), autocommit=True) as bob):
        assert claim(beating, worker="w1") == [1]
        before = job_row(host, 1)
        committing.execute("""SELECT commit_cards(1, 'w1', '{"cards": []}')""")  # its transaction stays open
        for conn in (beating, bob):
            conn.execute("SET statement_timeout = '3s'")
        started = time.monotonic()
        assert beating.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is True
        assert bob.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is False
        assert bob.execute("SELECT study_card_heartbeat(1, 'w2')").fetchone()[0] is False
        assert time.monotonic() - started < 1.5
        assert job_row(host, 1) == before  # nothing written: the commit in progress closes the job

        committing.commit()
        assert beating.execute("SELECT study_card_heartbeat(1, 'w1')").fetchone()[0] is None
    assert job(host, 1) == ("completed", 1, None, "all_dropped")
