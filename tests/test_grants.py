"""sql/90_grants.sql and the role rules: the worker's role may execute the worker's
functions and nothing else; no project function is executable by PUBLIC; a login in
that role cannot touch the card tables yet can commit cards through the functions."""

import itertools
import os

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from card_sources import add_question, add_user, commit, hold_job, qa, sqlstate_of

WORKER_FUNCTIONS = {"study_card_claim", "study_card_heartbeat", "study_card_release", "study_card_fail",
                    "study_card_enqueue", "study_card_reap", "study_card_gather", "commit_cards",
                    "study_card_check_result", "study_card_result_schema", "study_card_review_schema"}
PROJECT_FUNCTIONS = ("SELECT p.oid, p.proname, p.oid::regprocedure::text AS signature FROM pg_proc p"
                     " WHERE p.pronamespace = 'public'::regnamespace AND (p.proname = 'commit_cards'"
                     "  OR p.proname LIKE 'study\\_card\\_%' OR p.proname LIKE 'tg\\_%\\_\\_study\\_card\\_%')")


def test_the_worker_role_may_execute_the_worker_functions_and_no_other(db):
    functions = db.execute(
        f"SELECT f.proname, f.signature, has_function_privilege('study_card_worker', f.oid, 'EXECUTE')"
        f"  FROM ({PROJECT_FUNCTIONS}) AS f").fetchall()
    executable = {signature for _, signature, allowed in functions if allowed}
    expected = {signature for name, signature, _ in functions if name in WORKER_FUNCTIONS}
    assert executable == expected
    assert "study_card_result_schema(bigint,integer,text)" in executable, "the per-job result schema"
    assert {"study_card_gather(bigint,integer,vector,text)", "commit_cards(bigint,text,jsonb,jsonb)",
            "study_card_check_result(bigint,text,jsonb)", "study_card_review_schema(integer)"} <= executable


def test_no_project_function_is_executable_by_public(db):
    assert db.execute(
        f"SELECT f.signature FROM ({PROJECT_FUNCTIONS}) AS f JOIN pg_proc p ON p.oid = f.oid"
        "  WHERE p.proacl IS NULL"  # NULL is the default ACL, which lets PUBLIC execute
        "     OR EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')"
    ).fetchall() == []


def test_every_security_definer_function_fixes_its_search_path(db):
    definers = db.execute(
        f"SELECT f.signature, p.proconfig FROM ({PROJECT_FUNCTIONS}) AS f JOIN pg_proc p ON p.oid = f.oid"
        "  WHERE p.prosecdef").fetchall()
    assert {"study_card_gather(bigint,integer,vector,text)", "commit_cards(bigint,text,jsonb,jsonb)",
            "study_card_check_result(bigint,text,jsonb)", "study_card_review_schema(integer)",
            "study_card_delete(bigint)"} <= {signature for signature, _ in definers}
    assert [signature for signature, config in definers
            if "search_path=public, pg_temp" not in (config or [])] == []


_logins = itertools.count()


@pytest.fixture
def worker_login(db, db_url):
    """The conninfo of a new LOGIN role that is a member of study_card_worker (roles are
    cluster-wide: a unique name, dropped afterwards)."""
    name = f"study_card_test_login_{os.getpid()}_{next(_logins)}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE study_card_worker").format(sql.Identifier(name)))
    try:
        yield make_conninfo(db_url, user=name)
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_a_worker_login_cannot_write_the_card_tables_but_commits_through_the_functions(db, worker_login):
    add_user(db, 1)
    question = add_question(db, 1)
    card = qa("TCP가 속한 계층은?", "전송 계층", "TCP는 전송 계층 프로토콜이고")
    claim = db.execute("SELECT to_regprocedure('study_card_claim(text, integer, interval)')").fetchone()[0]
    if claim is None:  # until the queue is installed: what a claim leaves behind
        hold_job(db, "question", question, worker="w1")
    else:
        db.execute("INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind)"
                   " SELECT 1, 'question', id, ai_explanation_generated_at, 'card_extract' FROM study_questions"
                   " ON CONFLICT DO NOTHING")

    with psycopg.connect(worker_login, autocommit=True) as worker:
        refused = {
            statement: sqlstate_of(worker, statement)
            for statement in [
                "INSERT INTO study_memo_cards (user_id, source_kind, source_id, card_type, cue, answer)"
                " VALUES (1, 'question', 1, 'qa', '가짜 카드', '가짜 답')",
                "UPDATE study_memo_cards SET deleted_at = now()",
                "DELETE FROM study_memo_card_evidence",
                "SELECT * FROM study_memo_cards",
                "UPDATE study_memo_card_jobs SET status = 'completed'",
                "UPDATE study_questions SET needs_review = true",
                "SELECT study_card_delete(1)",
                "SELECT study_card_source_text('question', 1)",
                "SELECT study_card_check('{}', '{}')",
            ]}
        assert refused == dict.fromkeys(refused, "42501")

        job_id = (worker.execute("SELECT id FROM study_card_claim('w1', 1, '10 minutes')").fetchone()[0]
                  if claim else db.execute("SELECT id FROM study_memo_card_jobs").fetchone()[0])
        assert [row[0] for row in worker.execute("SELECT * FROM study_card_gather(%s, 0, NULL, 'w1')",
                                                 (job_id,))] == ["S1"]
        report = commit(worker, job_id, [card])

    assert (report["status"], len(report["kept"])) == ("completed", 1)
    assert db.execute("SELECT cue, answer FROM study_memo_cards").fetchall() == [("TCP가 속한 계층은?", "전송 계층")]
