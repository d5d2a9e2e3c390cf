"""migrations/0004_study_memo_cards.sql: the dedup index and the card table's checks."""

from datetime import datetime, timezone

import psycopg
import pytest


@pytest.fixture
def two_users(db):
    db.execute("INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com')")
    return 1, 2


def insert_card(db, user_id, cue, answer, deleted=False):
    return db.execute(
        "INSERT INTO study_memo_cards (user_id, source_kind, source_id, card_type, cue, answer,"
        " deleted_at, retired_reason) VALUES (%s, 'question', 1, 'qa', %s, %s, %s, %s) RETURNING id",
        (user_id, cue, answer, datetime.now(timezone.utc) if deleted else None, "superseded" if deleted else None),
    ).fetchone()[0]


def test_two_active_cards_with_the_same_norm_key_are_refused(db, two_users):
    insert_card(db, 1, "제2정규형의 조건은?", "부분 함수 종속 제거")
    with pytest.raises(psycopg.errors.UniqueViolation) as refused:
        insert_card(db, 1, "제2 정규형의 조건은", "부분함수종속 제거.")
    assert refused.value.diag.constraint_name == "study_memo_cards_active_norm_key_uniq"


def test_a_retired_card_does_not_block_a_new_active_one(db, two_users):
    insert_card(db, 1, "제2정규형의 조건은?", "부분 함수 종속 제거", deleted=True)
    assert insert_card(db, 1, "제2정규형의 조건은?", "부분 함수 종속 제거")


def test_another_user_may_hold_the_same_card(db, two_users):
    insert_card(db, 1, "제2정규형의 조건은?", "부분 함수 종속 제거")
    assert insert_card(db, 2, "제2정규형의 조건은?", "부분 함수 종속 제거")


def test_the_same_cue_with_another_answer_is_another_card(db, two_users):
    insert_card(db, 1, "TCP의 계층은?", "전송 계층")
    assert insert_card(db, 1, "TCP의 계층은?", "4계층")


def test_a_qa_card_needs_cue_and_answer(db, two_users):
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        db.execute(
            "INSERT INTO study_memo_cards (user_id, source_kind, source_id, card_type, cue)"
            " VALUES (1, 'question', 1, 'qa', '답이 없는 카드')"
        )
    assert refused.value.diag.constraint_name == "study_memo_cards_type_check"
