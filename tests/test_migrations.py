"""migrations/ and study_cards/schema.py: apply, re-apply, additive install, rollback, dump."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from study_cards import schema

SCHEMA_DUMP = Path(__file__).with_name("schema.sql")
MIGRATION_IDS = sorted(p.stem for p in schema.MIGRATIONS.glob("*.sql") if not p.stem.endswith(".rollback"))

# A study server as it might already exist: the host tables with columns of their
# own, an index of their own, and rows.
EXISTING_HOST = """
CREATE EXTENSION vector;
CREATE EXTENSION pg_trgm;
CREATE TABLE users (id bigserial PRIMARY KEY, email text, display_name text,
    created_at timestamptz NOT NULL DEFAULT now(), plan text DEFAULT 'free');
CREATE TABLE study_topics (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id),
    name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), color text);
CREATE TABLE study_questions (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id),
    topic_id bigint REFERENCES study_topics(id), stem text NOT NULL, choices jsonb, answer text,
    ai_explanation text, ai_explanation_generated_at timestamptz, embedding vector(1024),
    created_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz, difficulty smallint);
CREATE INDEX study_questions_difficulty_idx ON study_questions (difficulty);
CREATE TABLE study_subject_notes (id bigserial PRIMARY KEY, user_id bigint NOT NULL, topic_id bigint,
    title text NOT NULL DEFAULT '', body text NOT NULL DEFAULT '', updated_at timestamptz NOT NULL DEFAULT now(),
    embedding vector(1024), deleted_at timestamptz, pinned boolean DEFAULT false);
CREATE TABLE documents (id bigserial PRIMARY KEY, user_id bigint NOT NULL, title text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz, mime_type text);
CREATE TABLE document_chunks (id bigserial PRIMARY KEY, document_id bigint NOT NULL REFERENCES documents(id),
    ord integer NOT NULL DEFAULT 0, content text NOT NULL, embedding vector(1024), token_count int);
INSERT INTO users (email, plan) VALUES ('a@example.com', 'pro'), ('b@example.com', 'free');
INSERT INTO study_topics (user_id, name, color) VALUES (1, '데이터베이스', 'blue');
INSERT INTO study_questions (user_id, topic_id, stem, answer, ai_explanation, difficulty)
    VALUES (1, 1, '제2정규형의 조건은?', '부분 함수 종속 제거', '2NF는 부분 함수 종속을 제거한다.', 3);
INSERT INTO study_subject_notes (user_id, title, body, pinned) VALUES (1, '정규화', '1NF, 2NF, 3NF', true);
INSERT INTO documents (user_id, title, mime_type) VALUES (1, '교재', 'application/pdf');
INSERT INTO document_chunks (document_id, ord, content, token_count) VALUES (1, 0, '트랜잭션의 ACID 성질', 12);
"""
HOST_TABLES = ["users", "study_topics", "study_questions", "study_subject_notes", "documents", "document_chunks"]


def host_snapshot(url: str) -> dict:
    """Every host table's columns (name, type) and rows."""
    snapshot = {}
    with psycopg.connect(url) as conn:
        for table in HOST_TABLES:
            columns = conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
            names = [c[0] for c in columns if c[0] not in ("focused_at", "needs_review", "needs_review_reason", "needs_review_at")]
            rows = conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY id").format(
                    sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(table)
                )
            ).fetchall()
            snapshot[table] = {"columns": columns, "rows": rows}
    return snapshot


def test_all_migrations_apply_to_an_empty_database_and_again_change_nothing(empty_database):
    first = schema.apply(empty_database)
    assert first["migrations"] == MIGRATION_IDS
    dump_after_first = schema.dump(empty_database)

    second = schema.apply(empty_database)

    assert second["migrations"] == []
    assert second["sql"] == first["sql"]
    assert schema.dump(empty_database) == dump_after_first


def test_install_onto_an_existing_host_keeps_every_row_and_column(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(EXISTING_HOST)
    before = host_snapshot(empty_database)

    schema.apply(empty_database)

    after = host_snapshot(empty_database)
    for table in HOST_TABLES:
        assert after[table]["rows"] == before[table]["rows"], table
        added = [c for c in after[table]["columns"] if c not in before[table]["columns"]]
        assert [c for c in before[table]["columns"] if c not in after[table]["columns"]] == [], table
        assert {name for name, _ in added} <= {"focused_at", "needs_review", "needs_review_reason", "needs_review_at"}
    with psycopg.connect(empty_database) as conn:
        index = conn.execute("SELECT to_regclass('study_questions_difficulty_idx')").fetchone()[0]
    assert index is not None


def test_rolling_every_migration_back_leaves_the_host_as_it_was(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(EXISTING_HOST)
    dump_before = schema.dump(empty_database)
    rows_before = host_snapshot(empty_database)

    schema.apply(empty_database)
    rolled_back = schema.rollback(empty_database)

    assert sorted(rolled_back) == MIGRATION_IDS
    assert schema.dump(empty_database) == dump_before
    assert host_snapshot(empty_database) == rows_before


def test_rollback_on_an_empty_database_keeps_the_baseline_host_tables(empty_database):
    schema.apply(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO users (email) VALUES ('kept@example.com')")

    schema.rollback(empty_database)

    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("kept@example.com",)]
        leftovers = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'study\\_memo\\_%' OR relname LIKE 'study\\_card\\_%'"
            " UNION ALL SELECT proname FROM pg_proc WHERE proname = 'commit_cards' OR proname LIKE 'study\\_card\\_%'"
        ).fetchall()
    assert leftovers == []


def test_a_database_whose_ctype_does_not_know_hangul_is_refused(empty_database):
    params = conninfo_to_dict(empty_database)
    name = params["dbname"] + "_c"
    with psycopg.connect(make_conninfo(empty_database, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_CTYPE 'C' LC_COLLATE 'C'").format(sql.Identifier(name)))
    try:
        with pytest.raises(schema.SchemaError, match="Hangul is not a letter"):
            schema.apply(make_conninfo(empty_database, dbname=name))
        # the command line says so on stderr, with status 1 and no traceback
        done = subprocess.run([sys.executable, "-m", "study_cards.schema", "apply", make_conninfo(empty_database, dbname=name)],
                              cwd=schema.ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "Hangul is not a letter" in done.stderr and "Traceback" not in done.stderr
    finally:
        with psycopg.connect(make_conninfo(empty_database, dbname="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


def test_the_committed_schema_dump_matches_a_fresh_one(db_url):
    """Every schema change shows up in review as a diff of tests/schema.sql.
    Regenerate it with: UPDATE_SCHEMA_DUMP=1 ./run test tests/test_migrations.py"""
    fresh = schema.dump(db_url)
    if os.environ.get("UPDATE_SCHEMA_DUMP") == "1":
        SCHEMA_DUMP.write_text(fresh, encoding="utf-8")
    assert SCHEMA_DUMP.read_text(encoding="utf-8") == fresh


def test_yoyo_uri_carries_a_unix_socket_and_credentials():
    assert schema.yoyo_uri("postgresql://study:s%40cret@db.local:5433/cards?sslmode=require") == (
        "postgresql+psycopg://study:s%40cret@db.local:5433/cards?sslmode=require"
    )
    assert schema.yoyo_uri("host=/run/pg port=5432 user=postgres dbname=x") == (
        "postgresql+psycopg://postgres@/x?host=%2Frun%2Fpg&port=5432"
    )


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


def test_migration_0011_rebuilds_the_keys_of_cards_made_before_it(empty_database):
    # Cards written under migration 0002's normaliser: two that differ only by a Hangul
    # filler (one key then, one key now), a symbol answer (no answer then), a cloze card.
    migrate(empty_database, up_to="0010_study_card_gather_indexes")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute("INSERT INTO users (id) VALUES (1)")
        ids = [conn.execute(
            "INSERT INTO study_memo_cards (user_id, source_kind, source_id, card_type, cue, answer, cloze_text)"
            " VALUES (1, 'question', %s, %s, %s, %s, %s) RETURNING id", card).fetchone()[0] for card in [
                (1, "qa", "전부 실행되거나 전혀 실행되지 않는 성질은?", "원자성", None),
                (2, "qa", "전부 실행되거나 전혀 실행되지 않는 성질은?", "원\u1160자성", None),
                (3, "qa", "Oracle에서 문자열을 잇는 연산자는?", "||", None),
                (4, "cloze", None, None, "{{c1::TCP}}는 {{c2::전송 계층}} 프로토콜이다"),
            ]]
        before = dict(conn.execute("SELECT id, norm_key FROM study_memo_cards").fetchall())
    assert before[ids[0]] != before[ids[1]]  # the filler split them under 0002
    assert before[ids[2]].endswith("|")      # '||' normalised to nothing

    migrate(empty_database, up_to="9999")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT id, norm_key, answer_key, deleted_at IS NULL, retired_reason FROM study_memo_cards")}
        assert rows[ids[0]] == ("qa:전부실행되거나전혀실행되지않는성질은|원자성", "원자성", True, None)
        assert rows[ids[1]] == (rows[ids[0]][0], "원자성", False, "duplicate")  # the older card stays
        assert rows[ids[2]][:3] == ("qa:oracle에서문자열을잇는연산자는|||", "||", True)
        assert rows[ids[3]][1:3] == ("tcp|전송계층", True)
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'study_memo_cards'")}
        assert {"study_memo_cards_active_norm_key_uniq", "study_memo_cards_active_answer_key_idx"} <= indexes
        # The rebuilt unique index holds: the filler variant cannot come back.
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO study_memo_cards (user_id, source_kind, source_id, card_type, cue, answer)"
                         " VALUES (1, 'question', 9, 'qa', '전부 실행되거나 전혀 실행되지 않는 성질은?', '원\u3164자성')")

    migrate(empty_database, down_to="0010_study_card_gather_indexes")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'study_memo_cards'::regclass AND NOT attisdropped")}
        assert "answer_key" not in columns
        assert conn.execute("SELECT study_card_norm('원\u1160자성')").fetchone()[0] == "원\u1160자성"
        active = conn.execute("SELECT id FROM study_memo_cards WHERE deleted_at IS NULL ORDER BY id").fetchall()
        assert [r[0] for r in active] == [ids[0], ids[2], ids[3]]
