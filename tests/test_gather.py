"""sql/30_gather.sql: what study_card_gather returns and records, whose rows it may
return, and (with 10,000 chunks) that its searches use the HNSW and trigram indexes."""

import time

import pytest
from psycopg.types.json import Jsonb

from card_sources import (add_document, add_note, add_question, add_user, embedding, gather, hold_job,
                          sqlstate_of)

STEM = "트랜잭션 교착상태의 발생 조건은?"


@pytest.fixture
def library(db):
    """User 1's question (S1) with an embedding, and around it rows that gather must or
    must not return. Returns (db, job id, {name: (kind, id)})."""
    add_user(db, 1)
    add_user(db, 2)
    topic = db.execute("INSERT INTO study_topics (user_id, name) VALUES (1, '운영체제') RETURNING id").fetchone()[0]
    question = add_question(db, 1, stem=STEM, explanation="교착상태는 상호 배제, 점유 대기, 비선점, 순환 대기가 모두 성립할 때 생긴다.",
                            choices=["상호 배제", "선점"], topic_id=topic, embedding_literal=embedding(1))
    rows = {"question": ("question", question)}
    rows["near note"] = ("subject_note", add_note(db, 1, "교착상태 정리", "교착상태의 네 가지 발생 조건: 상호 배제, 점유 대기",
                                                  embedding(11, near=1)))
    rows["far note"] = ("subject_note", add_note(db, 1, "요리", "김치찌개 끓이는 법", embedding(12)))
    document, chunks = add_document(db, 1, "운영체제 교재", ["교착상태 발생 조건과 회피 기법을 설명한다.", "페이지 교체 알고리즘"],
                                    [embedding(13, near=1), embedding(14)])
    rows["near chunk"], rows["far chunk"] = ("document_chunk", chunks[0]), ("document_chunk", chunks[1])
    # never returned: another user's rows (same text, same embedding), deleted ones
    rows["other user's note"] = ("subject_note", add_note(db, 2, "교착상태 정리", "교착상태의 네 가지 발생 조건: 상호 배제, 점유 대기",
                                                          embedding(11, near=1)))
    _, other_chunks = add_document(db, 2, "운영체제 교재", ["교착상태 발생 조건과 회피 기법을 설명한다."], [embedding(13, near=1)])
    rows["other user's chunk"] = ("document_chunk", other_chunks[0])
    deleted_note = add_note(db, 1, "교착상태 (삭제됨)", "교착상태의 발생 조건", embedding(15, near=1))
    db.execute("UPDATE study_subject_notes SET deleted_at = now() WHERE id = %s", (deleted_note,))
    rows["deleted note"] = ("subject_note", deleted_note)
    deleted_document, deleted_chunks = add_document(db, 1, "삭제된 교재", ["교착상태 발생 조건 요약"], [embedding(16, near=1)])
    db.execute("UPDATE documents SET deleted_at = now() WHERE id = %s", (deleted_document,))
    rows["deleted document's chunk"] = ("document_chunk", deleted_chunks[0])
    return db, hold_job(db, "question", question), rows


def returned(rows) -> list[tuple]:
    return [(kind, source_id) for _, kind, source_id, *_ in rows]


def test_s1_is_the_question_and_the_handles_are_recorded(library):
    db, job_id, rows = library
    result = gather(db, job_id)

    assert [r[0] for r in result] == [f"S{n}" for n in range(1, len(result) + 1)]
    handle, kind, source_id, title, body, score = result[0]
    assert (handle, kind, source_id, title, score) == ("S1", "question", rows["question"][1], "운영체제", None)
    assert body == db.execute("SELECT study_card_source_text('question', %s)", (source_id,)).fetchone()[0]
    for _, kind, source_id, title, body, _ in result:
        assert body == db.execute("SELECT study_card_source_text(%s, %s)", (kind, source_id)).fetchone()[0]
    scores = [r[5] for r in result[1:]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    payload = db.execute("SELECT payload FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()[0]
    assert payload == {"handles": {h: {"kind": k, "id": i} for h, k, i, *_ in result}}


def test_only_the_owners_live_rows_and_never_the_source_twice(library):
    db, job_id, rows = library
    got = returned(gather(db, job_id, k=50))
    assert sorted(got) == sorted(rows[name] for name in ("question", "near note", "far note", "near chunk", "far chunk"))
    assert got[0] == rows["question"]


def test_the_nearest_and_best_matching_rows_come_first(library):
    db, job_id, rows = library
    got = returned(gather(db, job_id, k=2))
    assert got[0] == rows["question"] and set(got[1:]) == {rows["near chunk"], rows["near note"]}


def test_a_query_embedding_replaces_the_sources_own(library):
    db, job_id, rows = library
    db.execute("UPDATE study_questions SET stem = '무관한 질문'")  # rank by vectors alone
    assert returned(gather(db, job_id, k=2)) == [rows["question"]] + sorted(
        [rows["near note"], rows["near chunk"]], key=returned(gather(db, job_id, k=2)).index)
    assert returned(gather(db, job_id, k=1, query_embedding=embedding(12))) == [rows["question"], rows["far note"]]
    assert returned(gather(db, job_id, k=1, query_embedding=embedding(14))) == [rows["question"], rows["far chunk"]]


def test_without_embeddings_trigram_similarity_still_finds_related_rows(library):
    db, job_id, rows = library
    db.execute("UPDATE study_questions SET embedding = NULL")
    got = returned(gather(db, job_id, k=50))
    assert set(got) == {rows["question"], rows["near note"], rows["near chunk"]}


def test_k_zero_gives_s1_alone_and_a_k_out_of_range_is_refused(library):
    db, job_id, rows = library
    assert returned(gather(db, job_id, k=0)) == [rows["question"]]
    for k in (-1, 51, None):
        assert sqlstate_of(db, "SELECT * FROM study_card_gather(%s, %s)", (job_id, k)) == "22023"


def test_a_note_job_does_not_gather_its_own_note(library):
    db, _, rows = library
    job_id = hold_job(db, "subject_note", rows["near note"][1])
    got = returned(gather(db, job_id, k=50))
    assert got[0] == rows["near note"] and got.count(rows["near note"]) == 1


def test_a_document_job_is_s1_as_a_whole_and_gathers_none_of_its_own_chunks(db):
    add_user(db, 1)
    document, own_chunks = add_document(db, 1, "운영체제 교재", ["1장 교착상태", "2장 교착상태 회피"],
                                        [embedding(21, near=20), embedding(22, near=20)])
    _, other_chunks = add_document(db, 1, "다른 교재", ["교착상태 예방", "요리법"], [embedding(23, near=20), embedding(24)])
    result = gather(db, hold_job(db, "document", document), k=1)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in result] == [
        ("S1", "document", document, "운영체제 교재", "1장 교착상태\n2장 교착상태 회피"),
        ("S2", "document_chunk", other_chunks[0], "다른 교재", "교착상태 예방")]
    assert not set(own_chunks) & {r[2] for r in result[1:]}


def test_gathering_again_replaces_the_handles_and_keeps_the_rest_of_the_payload(library):
    db, job_id, rows = library
    db.execute("UPDATE study_memo_card_jobs SET payload = %s WHERE id = %s", (Jsonb({"requested_by": "psql"}), job_id))
    gather(db, job_id, k=3)
    gather(db, job_id, k=0)
    payload = db.execute("SELECT payload FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()[0]
    assert payload == {"requested_by": "psql", "handles": {"S1": {"kind": "question", "id": rows["question"][1]}}}


@pytest.mark.parametrize("state", ["pending", "completed", "missing", "source deleted"])
def test_only_a_job_in_processing_with_a_live_source_is_gathered(library, state):
    db, job_id, rows = library
    if state == "missing":
        db.execute("DELETE FROM study_memo_card_jobs WHERE id = %s", (job_id,))
    elif state == "source deleted":
        db.execute("UPDATE study_questions SET deleted_at = now() WHERE id = %s", (rows["question"][1],))
    else:
        db.execute("UPDATE study_memo_card_jobs SET status = %s, locked_by = NULL, lease_expires_at = NULL"
                   " WHERE id = %s", (state, job_id))
    assert sqlstate_of(db, "SELECT * FROM study_card_gather(%s)", (job_id,)) == "55000"
    assert db.execute("SELECT payload FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone() in (None, (None,))


def test_a_worker_whose_job_was_taken_over_cannot_replace_the_handles(library):
    """A worker names itself: it must hold the job. Its lease ran out and w2 took the
    job over and gathered; a late gather by w1 is refused and w2's handles stay."""
    db, job_id, rows = library
    db.execute("UPDATE study_memo_card_jobs SET locked_by = 'w2' WHERE id = %s", (job_id,))
    held = db.execute("SELECT * FROM study_card_gather(%s, 2, p_worker => 'w2')", (job_id,)).fetchall()
    handles = db.execute("SELECT payload -> 'handles' FROM study_memo_card_jobs WHERE id = %s", (job_id,)).fetchone()[0]
    assert handles == {h: {"kind": k, "id": i} for h, k, i, *_ in held} and len(handles) == 3

    for worker in ("w1", ""):
        assert sqlstate_of(db, "SELECT * FROM study_card_gather(%s, 0, NULL, %s)", (job_id, worker)) == "55000"
    assert db.execute("SELECT payload -> 'handles' FROM study_memo_card_jobs WHERE id = %s",
                      (job_id,)).fetchone()[0] == handles


def test_the_three_argument_gather_is_gone(db):
    assert db.execute("SELECT array_agg(oid::regprocedure::text) FROM pg_proc WHERE proname = 'study_card_gather'"
                      ).fetchone()[0] == ["study_card_gather(bigint,integer,vector,text)"]


def rebuild_indexes_after(db, table: str, load_sql: str) -> None:
    """Run a bulk load with the table's study_card_* indexes dropped and then rebuilt
    from their own definitions (a bulk HNSW build is several times faster than
    inserting 10,000 rows into it one by one); then ANALYZE."""
    definitions = [row[0] for row in db.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname LIKE 'study\\_card\\_%%'", (table,))]
    assert len(definitions) == 2
    for name in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE 'study\\_card\\_%%'",
                           (table,)).fetchall():
        db.execute(f"DROP INDEX {name[0]}")
    db.execute(load_sql)
    db.execute("SET maintenance_work_mem = '256MB'")
    for definition in definitions:
        db.execute(definition)
    db.execute(f"ANALYZE {table}")


def test_with_10000_chunks_the_searches_use_the_hnsw_and_trigram_indexes(db):
    """A personal server: 10,000 chunks, 9,000 of them the question owner's and 1,000 a
    second account's, of random-syllable text (so that words are selective, as in real
    text) with random embeddings, 30 of them on the question's subject. EXPLAIN of the
    two searches gather runs (inlined, with its parameters), and gather's own time
    (printed with pytest -s)."""
    add_user(db, 1)
    add_user(db, 2)
    db.execute("INSERT INTO documents (user_id, title) SELECT CASE WHEN d < 90 THEN 1 ELSE 2 END, '교재 ' || d"
               "  FROM generate_series(0, 99) d")
    rebuild_indexes_after(db, "document_chunks", """
        INSERT INTO document_chunks (document_id, ord, content, embedding)
        SELECT d.id, g,
               CASE WHEN (d.id * 100 + g) % 333 = 0 THEN '트랜잭션 교착상태 발생 조건과 회피 기법. ' ELSE '' END
               || (SELECT string_agg(chr(44032 + floor(random() * 11172)::int) || chr(44032 + floor(random() * 11172)::int)
                                     || chr(44032 + floor(random() * 11172)::int), ' ')
                     FROM generate_series(1, 40) w WHERE g IS NOT NULL),
               (SELECT array_agg(random() - 0.5) FROM generate_series(1, 1024) x WHERE g IS NOT NULL)::vector
          FROM documents d, generate_series(1, 100) g""")
    assert db.execute("SELECT count(*) FROM document_chunks").fetchone()[0] == 10000
    question = add_question(db, 1, stem=STEM, embedding_literal=embedding(1))
    job_id = hold_job(db, "question", question)

    # plan as gather does: under the settings in its definition
    for setting in db.execute("SELECT unnest(proconfig) FROM pg_proc WHERE proname = 'study_card_gather'").fetchall():
        name, value = setting[0].split("=", 1)
        db.execute("SELECT set_config(%s, %s, false)", (name, value))
    vector_plan = [row[0] for row in db.execute(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM study_card_related_by_vector(1, %s::vector, 24, 'question', 0)",
        (embedding(1),))]
    text_plan = [row[0] for row in db.execute(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM study_card_related_by_text(1, %s, 24, 'question', 0)", (STEM,))]
    scans = [line.strip()[:120] for line in vector_plan + text_plan if "Scan" in line]
    assert any("Index Scan using study_card_document_chunks_embedding_idx" in line for line in scans), "\n".join(scans)
    assert any("Index Scan using study_card_document_chunks_content_trgm_idx" in line for line in scans), "\n".join(scans)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        result = gather(db, job_id)
        timings.append(time.perf_counter() - started)
    assert len(result) == 7
    chunk_ids = [source_id for _, kind, source_id, *_ in result[1:] if kind == "document_chunk"]
    owners = db.execute("SELECT DISTINCT d.user_id FROM document_chunks c JOIN documents d ON d.id = c.document_id"
                        " WHERE c.id = ANY(%s)", (chunk_ids,)).fetchall()
    assert owners == [(1,)]
    print(f"\ngather over 10,000 chunks: best {min(timings) * 1000:.1f} ms, median {sorted(timings)[2] * 1000:.1f} ms;"
          f" vector search: {vector_plan[-1].strip()}; trigram search: {text_plan[-1].strip()}")
