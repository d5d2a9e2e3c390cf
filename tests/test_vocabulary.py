"""migrations/0013_study_card_vocabulary.sql: the job statuses, error codes and drop
reasons in their lookup tables; docs/vocabulary.md shows exactly those rows; the job
table's constraints take exactly those values; study_card_fail takes exactly the
worker's codes; commit_cards emits only reasons of the table; only the owner reads them."""

import re
from pathlib import Path

import psycopg
import pytest
from worker_roles import worker_login  # noqa: F401 (a fixture)

from study_cards import schema

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "vocabulary.md"
TABLES = ["study_card_job_statuses", "study_card_error_codes", "study_card_drop_reasons"]


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스');
    """)
    return db


def add_job(db, question_id: int) -> int:
    """An explained question; the trigger gives it a pending job, whose id is returned."""
    db.execute(
        "INSERT INTO study_questions (id, user_id, topic_id, stem, ai_explanation, ai_explanation_generated_at)"
        " VALUES (%s, 1, 1, '문제', '설명', '2026-03-01 09:00+00')",
        (question_id,),
    )
    return db.execute("SELECT id FROM study_memo_card_jobs WHERE source_id = %s", (question_id,)).fetchone()[0]


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped of white space and backticks) of the first table after
    the `## heading` line, without its header and separator rows."""
    lines = text.splitlines()
    start = lines.index(f"## {heading}")
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    assert len(rows) > 2, f"no table under ## {heading}"
    assert set(rows[1]) <= {"---", ":---", "---:", ":---:"}, rows[1]
    return rows[2:]


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# --- the docs ---------------------------------------------------------------------

def test_the_docs_list_exactly_the_job_statuses_in_lifecycle_order(db):
    rows = db.execute("SELECT status, terminal, meaning FROM study_card_job_statuses ORDER BY lifecycle_order").fetchall()
    assert markdown_table(DOCS.read_text(encoding="utf-8"), "Job statuses") == [
        [status, yes_no(terminal), meaning] for status, terminal, meaning in rows]


def test_the_docs_list_exactly_the_error_codes(db):
    rows = db.execute("SELECT code, retryable, closes_with, recorded_by, meaning FROM study_card_error_codes").fetchall()
    documented = markdown_table(DOCS.read_text(encoding="utf-8"), "Error codes")
    assert sorted(documented) == sorted(
        [code, yes_no(retryable), closes_with, recorded_by, meaning]
        for code, retryable, closes_with, recorded_by, meaning in rows)


def test_the_docs_list_exactly_the_drop_reasons_in_guard_order(db):
    rows = db.execute("SELECT guard_order, reason, meaning FROM study_card_drop_reasons ORDER BY guard_order").fetchall()
    assert markdown_table(DOCS.read_text(encoding="utf-8"), "Drop reasons") == [
        [str(order), reason, meaning] for order, reason, meaning in rows]


# --- the tables -------------------------------------------------------------------

def test_the_vocabulary_is_the_design_s(db):
    """DESIGN.md's job lifecycle: five statuses, eight codes; thirteen reasons (DESIGN.md's
    twelve and issue 10's list_answer, after the card's own guards)."""
    assert db.execute("SELECT status, terminal FROM study_card_job_statuses ORDER BY lifecycle_order").fetchall() == [
        ("pending", False), ("processing", False), ("completed", True), ("failed", True), ("skipped", True)]
    assert sorted(db.execute("SELECT code, retryable, closes_with, recorded_by FROM study_card_error_codes")) == sorted([
        ("parse_fail", True, "failed", "worker"),
        ("llm_timeout", True, "failed", "worker"),
        ("unknown", True, "failed", "worker"),
        ("lease_expired", True, "failed", "database"),
        ("all_dropped", False, "completed", "database"),
        ("no_ready_explanation", False, "skipped", "database"),
        ("stale_version", False, "skipped", "database"),
        ("source_deleted", False, "skipped", "database"),
    ])
    assert [r[0] for r in db.execute("SELECT reason FROM study_card_drop_reasons ORDER BY guard_order")] == [
        "invalid_shape", "evidence_missing", "evidence_foreign", "evidence_not_found", "quantity_unsupported",
        "cue_leaks_answer", "cloze_malformed", "cloze_leaks_answer", "list_answer", "duplicate_in_batch",
        "duplicate", "user_deleted", "review_rejected"]


def test_every_code_closes_a_job_with_a_terminal_status(db):
    assert db.execute("""SELECT e.code FROM study_card_error_codes e
                          JOIN study_card_job_statuses s ON s.status = e.closes_with
                         WHERE NOT s.terminal""").fetchall() == []


def test_a_code_the_worker_may_record_must_be_retryable(db):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO study_card_error_codes VALUES ('gave_up', false, 'failed', 'worker', 'x')")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO study_card_error_codes VALUES ('other', true, 'failed', 'someone', 'x')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("INSERT INTO study_card_error_codes VALUES ('other', true, 'lost', 'database', 'x')")


@pytest.mark.parametrize("code", ["parse_fail", "lease_expired", "all_dropped", "stale_version"])
def test_next_status_retries_a_retryable_code_while_attempts_are_left_else_closes(db, code):
    retryable, closes_with = db.execute(
        "SELECT retryable, closes_with FROM study_card_error_codes WHERE code = %s", (code,)).fetchone()
    outcomes = [db.execute("SELECT study_card_next_status(%s, %s, 2)", (code, attempts)).fetchone()[0]
                for attempts in (1, 2, 3)]
    assert outcomes == ([("pending" if retryable else closes_with), closes_with, closes_with])
    assert db.execute("SELECT study_card_next_status('bogus', 1, 2)").fetchone()[0] is None


def test_only_the_owner_has_a_privilege_on_the_tables(db, worker_login):
    for table in TABLES:
        grantees = db.execute(
            """SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                WHERE c.oid = %s::regclass""", (table,)).fetchall()
        owner = db.execute("SELECT relowner FROM pg_class WHERE oid = %s::regclass", (table,)).fetchone()
        assert grantees == [owner], table
    with psycopg.connect(worker_login("alice"), autocommit=True) as alice:
        for table in TABLES:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                alice.execute(f"SELECT * FROM {table}")


# --- the job table's constraints ------------------------------------------------------

def constraint_values(db, name: str) -> set[str]:
    definition = db.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                            (name,)).fetchone()[0]
    return set(re.findall(r"'([^']*)'::", definition))


def test_the_constraints_take_exactly_the_rows_of_the_tables(db):
    """The CHECKs are generated from the rows: a row added without regenerating them shows here."""
    statuses = {r[0] for r in db.execute("SELECT status FROM study_card_job_statuses")}
    codes = {r[0] for r in db.execute("SELECT code FROM study_card_error_codes")}
    assert constraint_values(db, "study_memo_card_jobs_status_check") == statuses
    assert constraint_values(db, "study_memo_card_jobs_error_code_check") == codes


@pytest.mark.parametrize("column, constraint", [("status", "study_memo_card_jobs_status_check"),
                                                ("error_code", "study_memo_card_jobs_error_code_check")])
def test_a_job_cannot_take_a_value_outside_the_vocabulary(host, column, constraint):
    job_id = add_job(host, 1)
    with pytest.raises(psycopg.errors.CheckViolation) as error:
        host.execute(f"UPDATE study_memo_card_jobs SET {column} = 'bogus' WHERE id = %s", (job_id,))
    assert error.value.diag.constraint_name == constraint
    with pytest.raises(psycopg.errors.CheckViolation) as error:
        host.execute(f"""INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, {column})
                         VALUES (1, 'question', 2, now(), 'card_extract', 'bogus')""")
    assert error.value.diag.constraint_name == constraint
    host.execute("UPDATE study_memo_card_jobs SET error_code = NULL WHERE id = %s", (job_id,))  # no error: NULL


# --- study_card_fail ------------------------------------------------------------------

def test_fail_takes_exactly_the_codes_the_worker_may_record(host, worker_login):
    """Every code of the table, each on a job the worker role holds: accepted (with the
    status study_card_next_status gives) when recorded_by = 'worker', refused otherwise."""
    codes = host.execute("SELECT code, recorded_by FROM study_card_error_codes ORDER BY code").fetchall()
    with psycopg.connect(worker_login("alice"), autocommit=True) as alice:
        for n, (code, recorded_by) in enumerate(codes, start=1):
            job_id = add_job(host, n)
            assert [r[0] for r in alice.execute("SELECT id FROM study_card_claim('w1')")] == [job_id]
            if recorded_by == "worker":
                status = alice.execute("SELECT study_card_fail(%s, 'w1', %s, 'x')", (job_id, code)).fetchone()[0]
                assert status == host.execute("SELECT study_card_next_status(%s, 1, 2)", (code,)).fetchone()[0]
                assert host.execute("SELECT status, error_code FROM study_memo_card_jobs WHERE id = %s",
                                    (job_id,)).fetchone() == (status, code)
            else:
                with pytest.raises(psycopg.errors.InvalidParameterValue, match="recorded by the database only"):
                    alice.execute("SELECT study_card_fail(%s, 'w1', %s, 'x')", (job_id, code))
                assert host.execute("SELECT status FROM study_memo_card_jobs WHERE id = %s",
                                    (job_id,)).fetchone() == ("processing",)
    worker_codes = ", ".join(code for code, recorded_by in codes if recorded_by == "worker")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown error code") as error:
        host.execute("SELECT study_card_fail(1, 'w1', 'bogus', 'x')")
    assert error.value.diag.message_hint == f"a worker records one of: {worker_codes}"


# --- drop reasons -----------------------------------------------------------------------

EMITTED = [re.compile(r"reason\s*:=\s*'([a-z_]+)'"), re.compile(r"'reason',\s*'([a-z_]+)'")]


def test_every_drop_reason_the_sql_can_emit_is_in_the_table(db):
    """The reasons written as literals in sql/ (`reason := '…'`, `'reason', '…'`): every
    one is in study_card_drop_reasons, and every row but the coming review pass's is
    emitted somewhere."""
    emitted = {match for path in sorted((ROOT / "sql").glob("*.sql"))
               for pattern in EMITTED for match in pattern.findall(path.read_text(encoding="utf-8"))}
    reasons = {r[0] for r in db.execute("SELECT reason FROM study_card_drop_reasons")}
    assert emitted, "no reason literal found in sql/"
    assert emitted - reasons == set()
    assert reasons - emitted <= {"review_rejected"}


# --- the migration itself -------------------------------------------------------------

def migrate(url: str, up_to: str | None = None, down_to: str | None = None) -> None:
    """yoyo: apply the migrations up to and including `up_to`, or roll back those after `down_to`."""
    backend = schema.get_backend(schema.yoyo_uri(url))
    migrations = schema.read_migrations(str(schema.MIGRATIONS))
    with backend.lock():
        if up_to:
            backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id <= up_to)))
        if down_to:
            backend.rollback_migrations(backend.to_rollback(migrations.filter(lambda m: m.id > down_to)))
    backend.connection.close()


def test_the_migration_maps_codes_outside_the_vocabulary_to_unknown_and_rolls_back(empty_database):
    """A job table that existed before (the seed's codes were only recommended) may hold
    other codes: they become unknown, the old code kept in front of the message."""
    migrate(empty_database, up_to="0012_study_card_job_holder")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id) VALUES (1)")
        conn.execute("""INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                                          status, error_code, error_message)
                        VALUES (1, 'question', 1, now(), 'card_extract', 'failed', 'gather_fail', 'no rows'),
                               (1, 'question', 2, now(), 'card_extract', 'failed', 'llm_timeout', 'slow'),
                               (1, 'question', 3, now(), 'card_extract', 'pending', NULL, NULL)""")
    migrate(empty_database, up_to="0013_study_card_vocabulary")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert conn.execute("SELECT source_id, error_code, error_message FROM study_memo_card_jobs ORDER BY 1").fetchall() == [
            (1, "unknown", "[gather_fail] no rows"), (2, "llm_timeout", "slow"), (3, None, None)]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE study_memo_card_jobs SET error_code = 'gather_fail'")

    migrate(empty_database, down_to="0012_study_card_job_holder")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('study_card_error_codes')").fetchone()[0] is None
        constraints = dict(conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'study_memo_card_jobs'::regclass"
            " AND contype = 'c'").fetchall())
        assert "study_memo_card_jobs_error_code_check" not in constraints
        assert "'skipped'" in constraints["study_memo_card_jobs_status_check"]
        conn.execute("UPDATE study_memo_card_jobs SET error_code = 'gather_fail'")  # no error-code check any more
