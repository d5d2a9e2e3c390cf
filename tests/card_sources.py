"""Helpers shared by the gather / guards / commit_cards / grants tests: host rows (users,
questions, notes, documents), jobs held by a worker, and the two calls the worker makes."""

import random
from datetime import datetime, timezone

import psycopg
from psycopg.types.json import Jsonb

V1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
V2 = datetime(2026, 2, 1, tzinfo=timezone.utc)

# A question whose text (stem, choices, answer, explanation) holds every quote the
# guard tables cite as S1.
STEM = "제2정규형(2NF)의 조건으로 옳은 것은?"
CHOICES = ["부분 함수 종속 제거", "이행 함수 종속 제거", "다치 종속 제거", "조인 종속 제거"]
EXPLANATION = (
    "제2정규형은 제1정규형을 만족하면서 부분 함수 종속을 제거한 릴레이션이다. "
    "관계형 모델은 1970년 에드거 커드가 제안했고, 정규화 이론은 1971년에 발표되었다. "
    "트랜잭션의 원자성(Atomicity)은 전부 실행되거나 전혀 실행되지 않음을 뜻한다. "
    "인덱스를 추가한 뒤 조회 시간이 3.5% 줄었고, 하루 처리량은 10,000건이었다. "
    "로그 보존 기간은 3개월이며 백업은 5년간 보관한다. "
    "TCP는 전송 계층 프로토콜이고 IP는 네트워크 계층 프로토콜이다. "
    "응답 시간은 200ms 이하, 버퍼 크기는 64KB이다. 서버실 온도는 25℃로 유지한다. "
    "운영 팀원은 12명이고 장애 대응은 1일 2회 점검한다. "
    "BCNF는 모든 결정자가 후보 키인 정규형이다."
)


def embedding(seed: int, near: int | None = None) -> str:
    """A deterministic 1024-dimension vector literal; `near` gives one close to embedding(near)."""
    base = random.Random(near if near is not None else seed)
    values = [base.uniform(-1, 1) for _ in range(1024)]
    if near is not None:
        jitter = random.Random(seed)
        values = [v + jitter.uniform(-0.05, 0.05) for v in values]
    return "[" + ",".join(f"{v:.5f}" for v in values) + "]"


def add_user(db, user_id: int) -> int:
    db.execute("INSERT INTO users (id, email) VALUES (%s, %s)", (user_id, f"user{user_id}@example.com"))
    return user_id


def add_question(db, user_id: int, stem: str = STEM, explanation: str = EXPLANATION,
                 choices=CHOICES, answer: str = "1", version=V1, topic_id=None, embedding_literal=None) -> int:
    return db.execute(
        "INSERT INTO study_questions (user_id, topic_id, stem, choices, answer, ai_explanation,"
        " ai_explanation_generated_at, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector) RETURNING id",
        (user_id, topic_id, stem, Jsonb(choices), answer, explanation, version, embedding_literal),
    ).fetchone()[0]


def add_note(db, user_id: int, title: str, body: str, embedding_literal=None, version=V1) -> int:
    return db.execute(
        "INSERT INTO study_subject_notes (user_id, title, body, updated_at, embedding)"
        " VALUES (%s, %s, %s, %s, %s::vector) RETURNING id",
        (user_id, title, body, version, embedding_literal),
    ).fetchone()[0]


def add_document(db, user_id: int, title: str, chunks: list[str], embeddings=None, version=V1):
    """A document with its chunks (ord 0, 1, …); returns (document id, [chunk ids])."""
    document_id = db.execute(
        "INSERT INTO documents (user_id, title, updated_at) VALUES (%s, %s, %s) RETURNING id",
        (user_id, title, version),
    ).fetchone()[0]
    chunk_ids = [
        db.execute(
            "INSERT INTO document_chunks (document_id, ord, content, embedding) VALUES (%s, %s, %s, %s::vector)"
            " RETURNING id",
            (document_id, ord_, content, (embeddings or [None] * len(chunks))[ord_]),
        ).fetchone()[0]
        for ord_, content in enumerate(chunks)
    ]
    return document_id, chunk_ids


def hold_job(db, kind: str, source_id: int, worker: str = "w1", lease: str = "10 minutes") -> int:
    """The card_extract job of the source's current version, held by `worker` (status
    processing, lease running) from the login role of `db`'s session, as a claim on that
    connection leaves it. Whether or not a trigger already enqueued that version, the
    result is the same one row."""
    user_id, version = db.execute(
        "SELECT user_id, version FROM study_card_source(%s, %s)", (kind, source_id)).fetchone()
    return db.execute(
        "INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind, status,"
        "  attempts, started_at, locked_by, locked_by_role, lease_expires_at, lease_renewed_at)"
        " VALUES (%(user)s, %(kind)s, %(id)s, %(version)s, 'card_extract', 'processing', 1, now(),"
        "         %(worker)s, session_user, now() + %(lease)s::interval, now())"
        " ON CONFLICT (source_kind, source_id, source_version, kind) DO UPDATE"
        "   SET status = 'processing', attempts = 1, started_at = now(), completed_at = NULL,"
        "       error_code = NULL, locked_by = %(worker)s, locked_by_role = session_user,"
        "       lease_expires_at = now() + %(lease)s::interval, lease_renewed_at = now()"
        " RETURNING id",
        {"user": user_id, "kind": kind, "id": source_id, "version": version, "worker": worker, "lease": lease},
    ).fetchone()[0]


def gather(db, job_id: int, k: int = 6, query_embedding=None, worker: str = "w1") -> list[tuple]:
    """study_card_gather's rows: (handle, source_kind, source_id, title, body, score)."""
    return db.execute("SELECT * FROM study_card_gather(%s, %s, %s::vector, %s)",
                      (job_id, k, query_embedding, worker)).fetchall()


def commit(db, job_id: int, cards, worker: str = "w1", needs_review=None) -> dict:
    """commit_cards with {"cards": cards, "needs_review": needs_review}; returns the report."""
    return db.execute("SELECT commit_cards(%s, %s, %s)",
                      (job_id, worker, Jsonb({"cards": cards, "needs_review": needs_review}))).fetchone()[0]


def qa(cue: str, answer: str, *quotes: str, source: str = "S1") -> dict:
    return {"type": "qa", "cue": cue, "answer": answer,
            "evidence": [{"source": source, "quote": quote} for quote in quotes]}


def cloze(text: str, *quotes: str, source: str = "S1") -> dict:
    return {"type": "cloze", "text": text, "evidence": [{"source": source, "quote": quote} for quote in quotes]}


def sqlstate_of(db, statement: str, params=()) -> str | None:
    """The SQLSTATE the statement raises, or None when it succeeds."""
    try:
        db.execute(statement, params)
    except psycopg.Error as error:
        return error.sqlstate
    return None


def card_rows(db) -> list[tuple]:
    """Every card and evidence row and every job's state: to show nothing was written."""
    return db.execute(
        "SELECT 'card', to_jsonb(c) FROM study_memo_cards c"
        " UNION ALL SELECT 'evidence', to_jsonb(e) FROM study_memo_card_evidence e"
        " UNION ALL SELECT 'job', to_jsonb(j) FROM study_memo_card_jobs j"
        " UNION ALL SELECT 'question', to_jsonb(q) - 'embedding' FROM study_questions q ORDER BY 1, 2"
    ).fetchall()
