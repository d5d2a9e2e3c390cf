"""schema apply on a live study server (issue 14): concurrent index builds, bounded lock
waits with a message naming the blocker, repair of an interrupted build, and a writer
that hardly notices an install or an upgrade (bench/live_install.py at small sizes)."""

import threading
import time

import psycopg
import pytest

from bench.live_install import install_and_upgrade, load_host
from study_cards import schema

HNSW = ["study_card_document_chunks_embedding_idx", "study_card_subject_notes_embedding_idx"]


def quick(messages: list[str] | None = None, **overrides) -> schema.Settings:
    """Settings for a test: short lock waits and pauses, progress into `messages`."""
    values = {"lock_timeout": 0.5, "attempts": 2, "backoff": 0.1, "progress_every": 0.3,
              "say": messages.append if messages is not None else None}
    return schema.Settings(**(values | overrides))


def indexes(url: str) -> dict[str, tuple[int, bool]]:
    """The project's indexes on the host's chunks and notes (those the migrations build
    concurrently): name -> (oid, valid)."""
    with psycopg.connect(url) as conn:
        return {name: (oid, valid) for name, oid, valid in conn.execute(
            "SELECT c.relname, c.oid::int, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid IN ('document_chunks'::regclass, 'study_subject_notes'::regclass)"
            "   AND c.relname LIKE 'study\\_card\\_%'").fetchall()}


def project_objects(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relname ~ '^(study_card_|study_memo_)'"
            " UNION ALL SELECT proname FROM pg_proc WHERE proname ~ '^(study_card_|commit_cards|tg_study)'"
            " UNION ALL SELECT tgname FROM pg_trigger WHERE tgname LIKE 'study\\_card\\_%'"
            " UNION ALL SELECT attname FROM pg_attribute WHERE attname IN ('focused_at', 'needs_review')"
            "   AND NOT attisdropped").fetchall()]


def applied_migrations(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('_yoyo_migrations')").fetchone()[0] is None:
            return []
        return [r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migrations ORDER BY 1")]


def test_install_and_upgrade_under_a_writer_stall_it_little(empty_database):
    load_host(empty_database, chunks=2_000, questions=300, notes=100)
    messages: list[str] = []

    phases = install_and_upgrade(empty_database, quick(messages), baseline=1, upgrades=3, say=messages.append)

    baseline, install, upgrades = phases[0], phases[1], phases[2:]
    print("\n".join(phase.summary() for phase in phases))
    assert all(phase.samples and not phase.errors for phase in phases), [p.summary() for p in phases]
    assert install.worst.latency <= 1.0, install.summary()
    assert max(phase.worst.latency for phase in upgrades) <= 0.2, [p.summary() for p in upgrades]
    # The HNSW build was watched: what, its phase, how far.
    progress = [m for m in messages if "building index study_card_document_chunks_embedding_idx on document_chunks" in m]
    assert progress and "CREATE INDEX CONCURRENTLY" in progress[0] and "blocks" in " ".join(progress), messages
    built = indexes(empty_database)
    assert set(HNSW) <= set(built) and {valid for _, valid in built.values()} == {True}, built
    with psycopg.connect(empty_database) as conn:
        # The writer's new versions after the install were enqueued by the installed trigger.
        assert conn.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0] > 0


def test_a_long_transaction_holding_a_host_table_makes_a_fresh_install_give_up_cleanly(empty_database):
    load_host(empty_database, chunks=20, questions=5, notes=5)
    with psycopg.connect(empty_database, application_name="host-app") as blocker:
        blocker.execute("UPDATE study_questions SET answer = answer WHERE id = 1")  # and stays idle in transaction
        pid = blocker.info.backend_pid
        messages: list[str] = []
        began = time.monotonic()
        with pytest.raises(schema.SchemaError) as raised:
            schema.apply(empty_database, settings=quick(messages))
        took = time.monotonic() - began

        message = str(raised.value)
        assert "migration 0001_host_baseline: could not lock study_questions within 0.5 s, 2 times" in message
        assert f"pid {pid} (application 'host-app'" in message and "idle in transaction" in message
        assert "UPDATE study_questions SET answer = answer WHERE id = 1" in message
        assert f"pg_terminate_backend({pid})" in message and "run `./run schema` again" in message
        assert "0001_host_baseline was rolled back as a whole: this run changed nothing" in message
        assert any("try 1 of 2" in m and f"pid {pid}" in m for m in messages), messages
        assert took < 5, took  # two waits of 0.5 s and a pause, not forever
        # Nothing half-installed: no migration recorded, no object, no column, no trigger.
        assert applied_migrations(empty_database) == []
        assert project_objects(empty_database) == []

    done = schema.apply(empty_database, settings=quick())  # the blocker is gone
    assert done["migrations"][0] == "0001_host_baseline" and len(done["sql"]) > 10


def test_a_blocked_upgrade_rolls_sql_back_as_a_whole_and_stalls_writers_at_most_a_lock_timeout(db_url):
    def triggers(conn) -> list[str]:
        return [r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'study_questions'::regclass"
                                           " AND tgname LIKE 'study\\_card\\_%' ORDER BY 1")]

    with psycopg.connect(db_url, autocommit=True) as conn:
        triggers_before = triggers(conn)
        assert triggers_before
        # A definition from a file before the host adapter: were sql/ not one
        # transaction, the failed apply would have put it back.
        conn.execute("CREATE OR REPLACE FUNCTION study_card_choice_label(p_n integer) RETURNS text"
                     " LANGUAGE sql IMMUTABLE RETURN 'marker'")
    stalls: list[float] = []
    stop = threading.Event()

    def write():  # another host session inserting questions meanwhile
        with psycopg.connect(db_url, autocommit=True) as conn:
            user = conn.execute("INSERT INTO users (email) VALUES ('w@example.com') RETURNING id").fetchone()[0]
            while not stop.is_set():
                began = time.monotonic()
                conn.execute("INSERT INTO study_questions (user_id, stem) VALUES (%s, 'q')", (user,))
                stalls.append(time.monotonic() - began)
                time.sleep(0.02)

    with psycopg.connect(db_url, application_name="host-app") as blocker:
        blocker.execute("LOCK TABLE study_questions IN ROW EXCLUSIVE MODE")
        writer = threading.Thread(target=write)
        writer.start()
        try:
            with pytest.raises(schema.SchemaError) as raised:
                schema.apply(db_url, settings=quick())
        finally:
            stop.set()
            writer.join()
        message = str(raised.value)
        assert "sql/: could not lock study_questions" in message and "It stopped in its first statement, LOCK TABLE study_questions, study_subject_notes, study_topics" in message
        assert "The sql/ transaction was rolled back" in message and f"pid {blocker.info.backend_pid}" in message
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT study_card_choice_label(1)").fetchone()[0] == "marker"
            assert triggers(conn) == triggers_before
    # Behind the waiting CREATE TRIGGER, the writer's inserts queued at most one lock
    # timeout (0.5 s) each, not as long as the blocker lived.
    assert stalls and max(stalls) < 0.5 + 0.3, max(stalls)

    schema.apply(db_url, settings=quick())
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT study_card_choice_label(1)").fetchone()[0] == "①."


def test_an_interrupted_concurrent_build_is_repaired_by_the_next_apply(empty_database):
    load_host(empty_database, chunks=300, questions=5, notes=5)
    backend = schema.get_backend(schema.yoyo_uri(empty_database))  # the migrations before 0010 first
    with backend.lock():
        backend.apply_migrations(backend.to_apply(schema.read_migrations(str(schema.MIGRATIONS)).filter(
            lambda m: m.id < "0010")))
    backend.connection.close()
    messages: list[str] = []
    failure: list[BaseException] = []

    def run_apply():
        try:
            schema.apply(empty_database, settings=quick(messages, maintenance_work_mem="1MB"))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failure.append(error)

    with psycopg.connect(empty_database, application_name="host-app") as writer, \
            psycopg.connect(empty_database, autocommit=True) as admin:
        # A host transaction that wrote a note and stays open: the concurrent build on
        # study_subject_notes waits for it (blocking nobody), so it can be cancelled there.
        writer.execute("UPDATE study_subject_notes SET title = title WHERE id = 1")
        thread = threading.Thread(target=run_apply)
        thread.start()
        deadline = time.monotonic() + 60
        build = None
        while build is None and time.monotonic() < deadline and thread.is_alive():
            build = admin.execute(
                "SELECT p.pid FROM pg_stat_progress_create_index p JOIN pg_stat_activity a ON a.pid = p.pid"
                " WHERE p.relid = 'study_subject_notes'::regclass AND p.phase LIKE 'waiting for writers%'"
                "   AND clock_timestamp() - a.query_start > '1.5 s'").fetchone()
            time.sleep(0.1)
        assert build, (failure, messages)
        admin.execute("SELECT pg_cancel_backend(%s)", (build[0],))
        thread.join(timeout=60)
        writer.rollback()

    assert failure and isinstance(failure[0], schema.SchemaError), failure
    assert "migration 0010_study_card_gather_indexes was interrupted: canceling statement" in str(failure[0])
    assert "left INVALID" in str(failure[0])
    # The wait was explained while it lasted, and the memory advice given.
    assert any("waiting" in m and "study_card_subject_notes_embedding_idx" in m and "host-app" in m for m in messages), "\n".join(messages)
    assert any("--maintenance-work-mem 2MB" in m and "document_chunks" in m for m in messages), messages
    before = indexes(empty_database)
    assert before["study_card_document_chunks_embedding_idx"][1] is True  # finished before: kept
    assert before["study_card_subject_notes_embedding_idx"][1] is False   # interrupted: INVALID
    assert "study_card_document_chunks_content_trgm_idx" not in before    # not begun
    assert "0010_study_card_gather_indexes" not in applied_migrations(empty_database)

    messages.clear()
    done = schema.apply(empty_database, settings=quick(messages))

    assert done["repaired"] == ["study_card_subject_notes_embedding_idx"]
    assert done["migrations"][0] == "0010_study_card_gather_indexes"
    assert any("study_card_subject_notes_embedding_idx on study_subject_notes is INVALID" in m for m in messages)
    after = indexes(empty_database)
    assert set(HNSW) <= set(after) and {valid for _, valid in after.values()} == {True}, after
    # The index that was already built was not built again.
    assert after["study_card_document_chunks_embedding_idx"][0] == before["study_card_document_chunks_embedding_idx"][0]


def test_two_appliers_queue_on_the_schema_lock(db_url):
    messages: list[str] = []
    with psycopg.connect(db_url, autocommit=True, application_name="other applier") as other:
        other.execute("SELECT pg_advisory_lock(%s)", (schema.SCHEMA_LOCK_KEY,))
        thread = threading.Thread(target=schema.apply, args=(db_url,), kwargs={"settings": quick(messages)})
        thread.start()
        time.sleep(1.5)
        assert thread.is_alive()  # waiting, not failing: a lock_timeout does not apply here
        other.execute("SELECT pg_advisory_unlock(%s)", (schema.SCHEMA_LOCK_KEY,))
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert messages[0].startswith("another schema apply is running; waiting for it to finish: pid ")
    assert "'other applier'" in messages[0]


def test_an_upgrade_leaves_existing_indexes_alone(db_url):
    before = indexes(db_url)
    assert set(HNSW) <= set(before)

    done = schema.apply(db_url, settings=quick())

    assert done["migrations"] == [] and done["repaired"] == []
    assert indexes(db_url) == before


def test_migration_0010_builds_concurrently_outside_a_transaction_and_yoyo_knows_it_by_its_id_only():
    migration = next(m for m in schema.read_migrations(str(schema.MIGRATIONS)) if m.id.startswith("0010"))
    migration.load()
    assert migration.use_transactions is False
    statements = [step.step._apply for step in migration.steps if step.step._apply]
    assert len(statements) == 4 and all("CREATE INDEX CONCURRENTLY IF NOT EXISTS" in s for s in statements)
    # An install that applied the earlier text (plain CREATE INDEX) is not asked to run
    # this one again: the applied-migration hash is the id's.
    import hashlib
    assert migration.hash == hashlib.sha256(migration.id.encode()).hexdigest()
