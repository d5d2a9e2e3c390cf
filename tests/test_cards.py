"""sql/60_cards.sql: the user's deletion and the psql views."""

from datetime import datetime, timezone

from card_sources import V2, add_question, add_user, cloze, commit, gather, hold_job, qa

Q_TCP = "TCP는 전송 계층 프로토콜이고 IP는 네트워크 계층 프로토콜이다"
Q_BCNF = "BCNF는 모든 결정자가 후보 키인 정규형이다"


def committed(db, question: int, cards) -> dict:
    job_id = hold_job(db, "question", question)
    gather(db, job_id, k=0)
    return commit(db, job_id, cards)


def test_delete_tombstones_an_active_card_once_and_keeps_its_progress(db):
    add_user(db, 1)
    question = add_question(db, 1)
    [card_id] = committed(db, question, [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    db.execute("INSERT INTO study_memo_card_progress (user_id, card_id, reps) VALUES (1, %s, 4)", (card_id,))

    assert db.execute("SELECT study_card_delete(%s)", (card_id,)).fetchone()[0] is True
    row = db.execute("SELECT deleted_at, retired_reason, updated_at FROM study_memo_cards WHERE id = %s",
                     (card_id,)).fetchone()
    assert row[0] is not None and row[1] == "user_deleted" and row[2] >= row[0]
    assert db.execute("SELECT study_card_delete(%s)", (card_id,)).fetchone()[0] is False
    assert db.execute("SELECT study_card_delete(999)").fetchone()[0] is False
    assert db.execute("SELECT reps FROM study_memo_card_progress WHERE card_id = %s", (card_id,)).fetchone() == (4,)


def test_delete_leaves_a_card_a_newer_version_retired(db):
    add_user(db, 1)
    question = add_question(db, 1)
    [old] = committed(db, question, [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s", (V2,))
    assert committed(db, question, [qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)])["retired"] == [old]

    assert db.execute("SELECT study_card_delete(%s)", (old,)).fetchone()[0] is False
    assert db.execute("SELECT retired_reason FROM study_memo_cards WHERE id = %s", (old,)).fetchone() == ("superseded",)


def test_the_active_cards_view_shows_source_and_evidence(db):
    add_user(db, 1)
    question = add_question(db, 1, stem="TCP 문제")
    kept = committed(db, question, [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP),
                                    cloze("{{c1::BCNF}}는 모든 결정자가 후보 키인 정규형이다", Q_BCNF, Q_TCP)])["kept"]
    db.execute("SELECT study_card_delete(%s)", (kept[0],))
    assert db.execute("SELECT id, card_type, cloze_text, source_kind, source_id, source_title, evidence"
                      "  FROM study_memo_cards_active").fetchall() == [
        (kept[1], "cloze", "{{c1::BCNF}}는 모든 결정자가 후보 키인 정규형이다", "question", question, "TCP 문제",
         [{"source_kind": "question", "source_id": question, "quote": Q_BCNF},
          {"source_kind": "question", "source_id": question, "quote": Q_TCP}])]


def test_the_review_queue_lists_flagged_live_questions_newest_first(db):
    add_user(db, 1)
    topic = db.execute("INSERT INTO study_topics (user_id, name) VALUES (1, '네트워크') RETURNING id").fetchone()[0]
    first, second, unflagged, deleted = (add_question(db, 1, stem=f"문제 {n}", topic_id=topic) for n in range(4))
    db.execute("UPDATE study_questions SET needs_review = true, needs_review_reason = %s, needs_review_at = %s"
               " WHERE id = %s", ("해설 오류", datetime(2026, 1, 5, tzinfo=timezone.utc), first))
    db.execute("UPDATE study_questions SET needs_review = true, needs_review_at = now() - interval '1 day',"
               " deleted_at = now() WHERE id = %s", (deleted,))
    committed(db, second, [qa("관계형 모델을 제안한 해는?", "1972년", "관계형 모델은 1970년 에드거 커드가 제안했고")])

    assert db.execute("SELECT question_id, topic_name, stem, needs_review_reason, active_cards"
                      "  FROM study_card_review_queue").fetchall() == [
        (second, "네트워크", "문제 1", "all_dropped", 0),
        (first, "네트워크", "문제 0", "해설 오류", 0)]
