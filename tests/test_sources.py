"""sql/10_sources.sql: source text, source state, and the job-holding check."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from card_sources import add_question, add_user, cloze, commit, gather, hold_job, qa


@pytest.fixture
def host(db):
    db.execute("""
        INSERT INTO users (id) VALUES (1);
        INSERT INTO study_topics (id, user_id, name) VALUES (1, 1, '데이터베이스');
        INSERT INTO study_questions (id, user_id, topic_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at)
        VALUES (1, 1, 1, '2NF의 조건은?', '["부분 함수 종속 제거", "이행 함수 종속 제거"]', '1',
                '2NF는 부분 함수 종속을 제거한 릴레이션이다.', '2026-01-01 00:00+00'),
               (2, 1, 1, '설명 없는 문제', NULL, NULL, NULL, NULL),
               (3, 1, 1, '공백 설명', '{"a": "가", "b": "나"}', NULL, '   ', '2026-01-01 00:00+00');
        INSERT INTO study_subject_notes (id, user_id, title, body, updated_at) VALUES (1, 1, '정규화', '1NF → 2NF → 3NF', '2026-01-02 00:00+00');
        INSERT INTO documents (id, user_id, title, updated_at) VALUES (1, 1, '교재', '2026-01-03 00:00+00');
        INSERT INTO document_chunks (id, document_id, ord, content) VALUES (1, 1, 1, '둘째 조각'), (2, 1, 0, '첫째 조각');
    """)
    return db


def text(db, kind, source_id):
    return db.execute("SELECT study_card_source_text(%s, %s)", (kind, source_id)).fetchone()[0]


def problem(db, kind, source_id, version):
    return db.execute("SELECT study_card_source_problem(%s, %s, %s)", (kind, source_id, version)).fetchone()[0]


def test_source_text_of_each_kind(host):
    assert text(host, "question", 1) == (
        "문제: 2NF의 조건은?\n보기:\n①. 부분 함수 종속 제거\n②. 이행 함수 종속 제거\n정답: ①. 부분 함수 종속 제거\n"
        "해설: 2NF는 부분 함수 종속을 제거한 릴레이션이다.")
    assert text(host, "question", 3) == "문제: 공백 설명\n보기:\na. 가\nb. 나"
    assert text(host, "subject_note", 1) == "정규화\n1NF → 2NF → 3NF"
    assert text(host, "document_chunk", 1) == "둘째 조각"
    assert text(host, "document", 1) == "첫째 조각\n둘째 조각"


def test_source_text_is_null_for_deleted_or_missing_rows(host):
    host.execute("UPDATE study_questions SET deleted_at = now() WHERE id = 1")
    host.execute("UPDATE documents SET deleted_at = now() WHERE id = 1")
    assert text(host, "question", 1) is None
    assert text(host, "document_chunk", 1) is None
    assert text(host, "question", 99) is None
    assert text(host, "no_such_kind", 1) is None


def test_source_problem(host):
    assert problem(host, "question", 1, "2026-01-01 00:00+00") is None
    assert problem(host, "question", 1, "2025-12-31 00:00+00") == "stale_version"
    assert problem(host, "question", 2, None) == "no_ready_explanation"
    assert problem(host, "question", 3, "2026-01-01 00:00+00") == "no_ready_explanation"
    host.execute("UPDATE study_questions SET ai_explanation = E'\\t\\n\\u3000' WHERE id = 1")
    assert problem(host, "question", 1, "2026-01-01 00:00+00") == "no_ready_explanation"
    assert problem(host, "question", 99, None) == "source_deleted"
    assert problem(host, "subject_note", 1, "2026-01-02 00:00+00") is None
    assert problem(host, "document", 1, "2026-01-03 00:00+00") is None
    host.execute("DELETE FROM document_chunks")
    assert problem(host, "document", 1, "2026-01-03 00:00+00") == "no_ready_explanation"
    host.execute("UPDATE study_subject_notes SET deleted_at = now()")
    assert problem(host, "subject_note", 1, "2026-01-02 00:00+00") == "source_deleted"


def test_held_job_refuses_whoever_does_not_hold_it(host):
    held, pending = (row[0] for row in host.execute("""
        INSERT INTO study_memo_card_jobs (user_id, source_kind, source_id, source_version, kind,
                                          status, locked_by, locked_by_role, lease_expires_at, lease_renewed_at)
        VALUES (1, 'subject_note', 1, '2026-01-02 00:00+00', 'held_job_test', 'processing', 'w1', session_user,
                now() - interval '1 hour', now() - interval '2 hours'),
               (1, 'subject_note', 1, '2026-01-02 00:00+00', 'held_job_test_2', 'pending', NULL, NULL, NULL, NULL)
        RETURNING id
    """).fetchall())
    # an expired lease nobody took over still counts as held
    assert host.execute("SELECT (study_card_held_job(%s, 'w1')).id", (held,)).fetchone()[0] == held
    for job_id, worker in [(held, "w2"), (pending, "w1"), (-1, "w1")]:
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            host.execute("SELECT study_card_held_job(%s, %s)", (job_id, worker))


STEM = "제2정규형(2NF)의 조건으로 옳은 것은?"
EXPLANATION = "제2정규형은 부분 함수 종속을 제거한 릴레이션이다."
ARRAY = ["부분 함수 종속 제거", "이행 함수 종속 제거", "다치 종속 제거", "조인 종속 제거"]
ARRAY_LINES = "보기:\n①. 부분 함수 종속 제거\n②. 이행 함수 종속 제거\n③. 다치 종속 제거\n④. 조인 종속 제거\n"


def labelled(choices=None, answer=None, explanation=EXPLANATION) -> str:
    """The text of a question with STEM and these parts, as the model reads it."""
    return (f"문제: {STEM}\n" + (choices or "") + (f"정답: {answer}\n" if answer else "")
            + (f"해설: {explanation}" if explanation else "")).rstrip("\n")


@pytest.mark.parametrize("choices, answer, expected", [
    # array choices: ①., ②. … in order; an answer naming a choice by number is shown with it
    (ARRAY, "1", labelled(ARRAY_LINES, "①. 부분 함수 종속 제거")),
    (ARRAY, "③", labelled(ARRAY_LINES, "③. 다치 종속 제거")),
    (ARRAY, "2번", labelled(ARRAY_LINES, "②. 이행 함수 종속 제거")),
    (ARRAY, " (4) ", labelled(ARRAY_LINES, "④. 조인 종속 제거")),
    (ARRAY, "４", labelled(ARRAY_LINES, "④. 조인 종속 제거")),
    # an answer that is the text of a choice is shown with its number too
    (ARRAY, "이행 함수 종속 제거", labelled(ARRAY_LINES, "②. 이행 함수 종속 제거")),
    # not a choice: a number past the last choice, a letter for array choices, two numbers
    (ARRAY, "5", labelled(ARRAY_LINES, "5")),
    (ARRAY, "B", labelled(ARRAY_LINES, "B")),
    (ARRAY, "1, 3", labelled(ARRAY_LINES, "1, 3")),
    (ARRAY, None, labelled(ARRAY_LINES)),
    (ARRAY, "  ", labelled(ARRAY_LINES)),
    # object choices keep the host's own labels, numbers first in numeric order
    ({"B": "이행 함수 종속 제거", "A": "부분 함수 종속 제거"}, "A",
     labelled("보기:\nA. 부분 함수 종속 제거\nB. 이행 함수 종속 제거\n", "A. 부분 함수 종속 제거")),
    ({"가": "부분 함수 종속 제거", "나": "이행 함수 종속 제거"}, "(나)",
     labelled("보기:\n가. 부분 함수 종속 제거\n나. 이행 함수 종속 제거\n", "나. 이행 함수 종속 제거")),
    ({"b": "이행 함수 종속 제거", "a": "부분 함수 종속 제거"}, "B",
     labelled("보기:\na. 부분 함수 종속 제거\nb. 이행 함수 종속 제거\n", "b. 이행 함수 종속 제거")),
    ({"10": "열", "2": "둘", "1": "하나"}, "2",
     labelled("보기:\n①. 하나\n②. 둘\n⑩. 열\n", "②. 둘")),
    ({"①": "부분 함수 종속 제거", "②": "이행 함수 종속 제거"}, "1",
     labelled("보기:\n①. 부분 함수 종속 제거\n②. 이행 함수 종속 제거\n", "①. 부분 함수 종속 제거")),
    ({"1)": "부분 함수 종속 제거", "2)": "이행 함수 종속 제거"}, "2",
     labelled("보기:\n1) 부분 함수 종속 제거\n2) 이행 함수 종속 제거\n", "2) 이행 함수 종속 제거")),
    # choices already numbered by the host are not numbered twice
    (["① 부분 함수 종속 제거", "② 이행 함수 종속 제거"], "2",
     labelled("보기:\n① 부분 함수 종속 제거\n② 이행 함수 종속 제거\n", "② 이행 함수 종속 제거")),
    # more than five: ⑥ … ⑳, then (21)
    ([f"선택지{n}" for n in range(1, 22)], "21",
     labelled("보기:\n" + "".join(f"{chr(0x245F + n)}. 선택지{n}\n" for n in range(1, 21)) + "(21) 선택지21\n",
              "(21) 선택지21")),
    # no choices: a numeric answer is the answer itself, never a choice
    (None, "1970", labelled(None, "1970")),
    ([], "1", labelled(None, "1")),
    ({}, "1", labelled(None, "1")),
    ("null", "1", labelled(None, "1")),
    # choices stored as one string are shown as they are
    ("① 부분 함수 종속 제거 ② 이행 함수 종속 제거", "2",
     labelled("보기:\n① 부분 함수 종속 제거 ② 이행 함수 종속 제거\n", "2")),
], ids=lambda value: None)
def test_question_text_labels_its_parts(db, choices, answer, expected):
    db.execute("INSERT INTO users (id) VALUES (1)")
    stored = None if choices is None else Jsonb(None) if choices == "null" else Jsonb(choices)
    question = db.execute(
        "INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation, ai_explanation_generated_at)"
        " VALUES (1, %s, %s, %s, %s, now()) RETURNING id", (STEM, stored, answer, EXPLANATION)).fetchone()[0]
    assert text(db, "question", question) == expected


def test_question_text_leaves_out_blank_parts(db):
    db.execute("INSERT INTO users (id) VALUES (1)")
    question = db.execute(
        "INSERT INTO study_questions (user_id, stem, choices, answer, ai_explanation)"
        " VALUES (1, '  ', NULL, NULL, E'\\n해설만 있다.\\n') RETURNING id").fetchone()[0]
    assert text(db, "question", question) == "해설: 해설만 있다."


@pytest.fixture
def labelled_question(db):
    """User 1's question with array choices and answer "1" (card_sources' STEM, CHOICES,
    EXPLANATION), held and gathered: S1 is its labelled text."""
    add_user(db, 1)
    question = add_question(db, 1)
    job_id = hold_job(db, "question", question)
    gather(db, job_id, k=0)
    return db, job_id


@pytest.mark.parametrize("card", [
    qa("두 번째 정규형의 조건은?", "부분 함수 종속 제거", "①. 부분 함수 종속 제거"),
    qa("두 번째 정규형의 조건은?", "부분 함수 종속 제거", "① 부분 함수 종속 제거"),
    qa("두 번째 정규형의 조건은?", "부분 함수 종속 제거", "부분 함수 종속 제거"),
    qa("두 번째 정규형의 조건은?", "부분 함수 종속 제거", "정답: ①. 부분 함수 종속 제거"),
    qa("제2정규형(2NF)의 조건은?", "부분 함수 종속 제거", "제2정규형(2NF)의 조건으로 옳은 것은?", "①. 부분 함수 종속 제거"),
    qa("다치 종속 제거 다음의 보기는?", "조인 종속 제거", "④. 조인 종속 제거"),
    cloze("두 번째 정규형의 조건은 {{c1::부분 함수 종속 제거}}이다", "정답: ①. 부분 함수 종속 제거"),
    cloze("2NF: {{c1::부분 함수 종속}} 제거", "문제: 제2정규형(2NF)의 조건으로 옳은 것은?", "①. 부분 함수 종속 제거"),
], ids=["choice with its number", "choice with its number, no stop", "choice without", "answer line",
        "stem and choice", "④. 조인 (not 4조)", "cloze on the answer line", "cloze on stem and choice"])
def test_quotes_of_the_labelled_text_verify_and_choice_numbers_are_no_unsupported_quantity(labelled_question, card):
    """A choice number (①, NFKC 1) in a quote is a number of S1 as well, so the quote
    verifies; and it is in the quote, so it supports nothing the card does not say."""
    db, job_id = labelled_question
    report = commit(db, job_id, [card])
    assert report["dropped"] == [] and len(report["kept"]) == 1, report



def test_a_choice_that_begins_with_a_numeral_word_is_quoted_with_or_without_its_number(db):
    """The stop after the choice number keeps it apart from a choice that begins with a
    numeral word: '②. 백 년 전쟁' is 2 and 100년 to the quantity guard, so the choice
    quoted alone ('백 년 전쟁', 100년) holds a number of S1 ('② 백 년 전쟁' could read as
    2 × 100년)."""
    add_user(db, 1)
    question = add_question(db, 1, stem="영국과 프랑스가 1337년부터 싸운 전쟁은?",
                            choices=["장미 전쟁", "백 년 전쟁", "삼십 년 전쟁", "천 일 전쟁"], answer="2",
                            explanation="백 년 전쟁은 1337년부터 1453년까지 이어졌다.")
    job_id = hold_job(db, "question", question)
    gather(db, job_id, k=0)
    assert "보기:\n①. 장미 전쟁\n②. 백 년 전쟁\n" in text(db, "question", question)
    report = commit(db, job_id, [
        qa("영국과 프랑스 사이의 중세 전쟁 이름은?", "백 년 전쟁", "백 년 전쟁"),
        qa("장미 전쟁이 아닌 보기 중 영국·프랑스의 전쟁은?", "백 년 전쟁", "②. 백 년 전쟁"),
        cloze("{{c1::백 년 전쟁}}은 영국과 프랑스의 전쟁이다", "정답: ②. 백 년 전쟁"),
    ])
    assert report["dropped"] == [] and len(report["kept"]) == 3, report
