"""sql/50_commit_cards.sql: prerequisites and their SQLSTATEs, the stale-version skip,
supersede, the report, the job's closing, the review flag, the review's verdicts
(commit_cards' p_review, issue 15) and the dry run study_card_check_result."""

import json
import threading
import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from card_sources import (V1, V2, add_document, add_note, add_question, add_user, card_rows, cloze, commit,
                          gather, hold_job, qa, sqlstate_of)
from worker_roles import worker_login  # noqa: F401 (a fixture)

Q_2NF = "제2정규형은 제1정규형을 만족하면서 부분 함수 종속을 제거한 릴레이션이다"
Q_CODD = "관계형 모델은 1970년 에드거 커드가 제안했고"
Q_TCP = "TCP는 전송 계층 프로토콜이고 IP는 네트워크 계층 프로토콜이다"
Q_ATOMIC = "트랜잭션의 원자성(Atomicity)은 전부 실행되거나 전혀 실행되지 않음을 뜻한다"
Q_BCNF = "BCNF는 모든 결정자가 후보 키인 정규형이다"


@pytest.fixture
def question(db):
    """User 1's question 1 at version V1; returns its id."""
    add_user(db, 1)
    return add_question(db, 1)


def held_and_gathered(db, kind: str, source_id: int, worker: str = "w1", k: int = 0) -> int:
    job_id = hold_job(db, kind, source_id, worker)
    gather(db, job_id, k=k)
    return job_id


def new_version(db, question_id: int, version=V2) -> int:
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (version, question_id))
    return held_and_gathered(db, "question", question_id)


def job_row(db, job_id: int) -> dict:
    return db.execute("SELECT to_jsonb(j) FROM study_memo_card_jobs j WHERE id = %s", (job_id,)).fetchone()[0]


def test_the_report_the_cards_and_the_closed_job(db, question):
    note = add_note(db, 1, "정규화 요약", "제2정규형의 조건과 제3정규형은 이행 함수 종속을 제거한다.")
    job_id = hold_job(db, "question", question)
    handles = {row[1]: row[0] for row in gather(db, job_id, k=3)}
    assert handles == {"question": "S1", "subject_note": "S2"}

    report = commit(db, job_id, [
        qa("TCP가 속한 계층은?", "전송 계층", Q_TCP),
        cloze("{{c1::제3정규형}}은 이행 함수 종속을 제거한다", "제3정규형은 이행 함수 종속을 제거한다", source="S2"),
        qa("관계형 모델을 제안한 해는?", "1972년", Q_CODD),
    ])

    card_ids = [row[0] for row in db.execute("SELECT id FROM study_memo_cards ORDER BY id")]
    assert report == {"job_id": job_id, "status": "completed", "error_code": None, "kept": card_ids, "retired": [],
                      "dropped": [{"index": 2, "reason": "quantity_unsupported", "detail": "1972년 not in evidence"}]}
    job = job_row(db, job_id)
    assert job["payload"] == {"handles": {"S1": {"kind": "question", "id": question},
                                          "S2": {"kind": "subject_note", "id": note}},
                              "report": report}
    assert (job["status"], job["error_code"], job["locked_by"], job["lease_expires_at"]) == ("completed", None, None, None)
    assert job["completed_at"] is not None
    assert db.execute(
        "SELECT c.card_type, c.cue, c.answer, c.cloze_text, c.source_kind, c.source_id, c.source_version, c.job_id,"
        "       e.source_kind, e.source_id, e.quote"
        "  FROM study_memo_cards c JOIN study_memo_card_evidence e ON e.card_id = c.id ORDER BY c.id").fetchall() == [
        ("qa", "TCP가 속한 계층은?", "전송 계층", None, "question", question, V1, job_id, "question", question, Q_TCP),
        ("cloze", None, None, "{{c1::제3정규형}}은 이행 함수 종속을 제거한다", "question", question, V1, job_id,
         "subject_note", note, "제3정규형은 이행 함수 종속을 제거한다"),
    ]
    assert db.execute("SELECT needs_review FROM study_questions WHERE id = %s", (question,)).fetchone()[0] is False


def test_supersede_keeps_a_reproduced_card_and_retires_the_rest(db, question):
    job_1 = held_and_gathered(db, "question", question)
    a = qa("관계형 모델을 제안한 사람은?", "에드거 커드", Q_CODD)
    b = qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)
    c = cloze("{{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", Q_ATOMIC)
    id_a, id_b, id_c = commit(db, job_1, [a, b, c])["kept"]
    db.execute("INSERT INTO study_memo_card_progress (user_id, card_id, state, stability, reps, due_at)"
               " VALUES (1, %s, 'review', 4.5, 3, '2026-03-01'), (1, %s, 'learning', 1.0, 1, '2026-02-10')",
               (id_c, id_a))
    progress_before = db.execute("SELECT * FROM study_memo_card_progress ORDER BY id").fetchall()

    job_2 = new_version(db, question)
    b_changed = qa("TCP가 속한 계층은?", "OSI의 전송 계층", Q_TCP)
    c_again = cloze("{{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", "원자성(Atomicity)은 전부 실행되거나")
    d = qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)
    report = commit(db, job_2, [b_changed, c_again, d])

    id_b2, kept_c, id_d = report["kept"]
    assert kept_c == id_c
    assert len({id_a, id_b, id_c, id_b2, id_d}) == 5
    assert report["retired"] == [id_a, id_b]
    assert report["dropped"] == []
    cards = {row[0]: row[1:] for row in db.execute(
        "SELECT id, source_version, job_id, deleted_at IS NOT NULL, retired_reason, superseded_by_job"
        "  FROM study_memo_cards")}
    assert cards == {
        id_a: (V1, job_1, True, "superseded", job_2),
        id_b: (V1, job_1, True, "superseded", job_2),
        id_c: (V2, job_2, False, None, None),
        id_b2: (V2, job_2, False, None, None),
        id_d: (V2, job_2, False, None, None),
    }
    assert db.execute("SELECT quote FROM study_memo_card_evidence WHERE card_id = %s", (id_c,)).fetchall() == [
        ("원자성(Atomicity)은 전부 실행되거나",)]
    assert db.execute("SELECT * FROM study_memo_card_progress ORDER BY id").fetchall() == progress_before


def test_a_reproduced_card_takes_the_new_wording_and_keeps_its_id(db, question):
    [card_id] = commit(db, held_and_gathered(db, "question", question),
                       [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    report = commit(db, new_version(db, question), [qa("TCP가  속한 계층은", "전송계층.", Q_TCP)])
    assert report["kept"] == [card_id] and report["retired"] == []
    assert db.execute("SELECT cue, answer FROM study_memo_cards WHERE id = %s", (card_id,)).fetchone() == (
        "TCP가  속한 계층은", "전송계층.")


def test_a_card_the_user_deleted_is_not_recreated_by_a_later_version(db, question):
    a = qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)
    b = qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)
    id_a, id_b = commit(db, held_and_gathered(db, "question", question), [a, b])["kept"]
    assert db.execute("SELECT study_card_delete(%s)", (id_a,)).fetchone()[0] is True

    for version in (V2, V2.replace(month=3)):
        report = commit(db, new_version(db, question, version), [a, b])
        assert report["kept"] == [id_b]
        assert report["dropped"] == [{"index": 0, "reason": "user_deleted",
                                      "detail": f"the user deleted this card (card {id_a})"}]
    assert db.execute("SELECT id, retired_reason FROM study_memo_cards ORDER BY id").fetchall() == [
        (id_a, "user_deleted"), (id_b, None)]


def test_all_dropped_completes_the_job_and_flags_the_question(db, question):
    [old] = commit(db, held_and_gathered(db, "question", question), [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    job_id = new_version(db, question)

    report = commit(db, job_id, [qa("관계형 모델을 제안한 해는?", "1972년", Q_CODD),
                                 qa("TCP의 계층은?", "전송 계층", "지어낸 문장")])

    assert (report["status"], report["error_code"], report["kept"], report["retired"]) == (
        "completed", "all_dropped", [], [old])
    assert [d["reason"] for d in report["dropped"]] == ["quantity_unsupported", "evidence_not_found"]
    job = job_row(db, job_id)
    assert (job["status"], job["error_code"], job["error_message"]) == (
        "completed", "all_dropped", "no card passed the guards (2 dropped)")
    assert db.execute("SELECT needs_review, needs_review_reason, needs_review_at IS NOT NULL FROM study_questions"
                      " WHERE id = %s", (question,)).fetchone() == (True, "all_dropped", True)
    assert db.execute("SELECT question_id, needs_review_reason FROM study_card_review_queue").fetchall() == [
        (question, "all_dropped")]


def test_an_empty_card_list_is_all_dropped_too(db, question):
    [old] = commit(db, held_and_gathered(db, "question", question), [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    job_id = new_version(db, question)
    # commit_cards does not call study_card_judge for an empty list: what it would have said
    assert db.execute("SELECT study_card_judge(j, '[]') FROM study_memo_card_jobs j WHERE id = %s",
                      (job_id,)).fetchone()[0] == {"survivors": [], "dropped": []}
    dry = db.execute("SELECT study_card_check_result(%s, 'w1', %s)", (job_id, Jsonb({"cards": []}))).fetchone()[0]
    assert dry == {"job_id": job_id, "status": "completed", "error_code": "all_dropped", "kept": [], "dropped": []}

    report = commit(db, job_id, [])
    assert report == {"job_id": job_id, "status": "completed", "error_code": "all_dropped", "kept": [],
                      "retired": [old], "dropped": []}
    job = job_row(db, job_id)
    assert (job["status"], job["error_code"], job["error_message"]) == (
        "completed", "all_dropped", "no card passed the guards (0 dropped)")
    assert db.execute("SELECT needs_review, needs_review_reason FROM study_questions WHERE id = %s",
                      (question,)).fetchone() == (True, "all_dropped")


def test_needs_review_from_the_model_flags_the_question_and_keeps_the_cards(db, question):
    report = commit(db, held_and_gathered(db, "question", question), [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)],
                    needs_review={"reason": "해설의 연도(1971년)가 근거와 다르다"})
    assert (report["status"], report["error_code"], len(report["kept"])) == ("completed", None, 1)
    assert db.execute("SELECT needs_review, needs_review_reason FROM study_questions WHERE id = %s",
                      (question,)).fetchone() == (True, "해설의 연도(1971년)가 근거와 다르다")


def test_a_note_job_validates_needs_review_but_has_no_flag_to_set(db):
    add_user(db, 1)
    note = add_note(db, 1, "전송 계층", "TCP는 연결형, UDP는 비연결형 전송 프로토콜이다.")
    report = commit(db, held_and_gathered(db, "subject_note", note),
                    [qa("비연결형 전송 프로토콜은?", "UDP", "UDP는 비연결형 전송 프로토콜이다")],
                    needs_review={"reason": "확인 필요"})
    assert (report["status"], len(report["kept"])) == ("completed", 1)
    assert db.execute("SELECT source_kind, source_id FROM study_memo_cards").fetchall() == [("subject_note", note)]


def test_a_document_job_cites_the_whole_document_as_s1(db):
    add_user(db, 1)
    document, _ = add_document(db, 1, "네트워크 교재", ["1장. TCP는 연결형 프로토콜이다.", "2장. UDP는 비연결형이다."])
    job_id = hold_job(db, "document", document)
    assert [(h, kind, sid) for h, kind, sid, *_ in gather(db, job_id)] == [("S1", "document", document)]
    report = commit(db, job_id, [qa("비연결형 프로토콜은?", "UDP", "UDP는 비연결형이다"),
                                 qa("연결형 프로토콜은?", "TCP", "1장. TCP는 연결형 프로토콜이다. 2장. UDP는")])
    assert len(report["kept"]) == 2
    assert db.execute("SELECT DISTINCT source_kind, source_id FROM study_memo_card_evidence").fetchall() == [
        ("document", document)]


def test_a_stale_version_skips_the_job_and_writes_no_card(db, question):
    [kept] = commit(db, held_and_gathered(db, "question", question), [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])["kept"]
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (V2, question))
    stale_job = hold_job(db, "question", question)
    gather(db, stale_job, k=0)
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s",
               (V2.replace(month=3), question))

    report = commit(db, stale_job, [qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)])

    assert report == {"job_id": stale_job, "status": "skipped", "error_code": "stale_version",
                      "kept": [], "retired": [], "dropped": []}
    job = job_row(db, stale_job)
    assert (job["status"], job["error_code"], job["locked_by"], job["payload"]["report"]) == (
        "skipped", "stale_version", None, report)
    assert db.execute("SELECT id, deleted_at FROM study_memo_cards").fetchall() == [(kept, None)]


def test_a_requested_document_that_changed_before_the_commit_gets_a_job_for_its_new_version(db):
    add_user(db, 1)
    document, _ = add_document(db, 1, "네트워크 교재", ["TCP는 연결형 프로토콜이다."])
    job_id = held_and_gathered(db, "document", document)
    db.execute("UPDATE documents SET updated_at = %s WHERE id = %s", (V2, document))

    report = commit(db, job_id, [qa("연결형 프로토콜은?", "TCP", "TCP는 연결형 프로토콜이다.")])

    assert (report["status"], report["error_code"]) == ("skipped", "stale_version")
    assert db.execute(
        "SELECT status, source_version FROM study_memo_card_jobs WHERE source_kind = 'document' AND id <> %s",
        (job_id,)).fetchall() == [("pending", V2)]


def test_a_new_version_committed_while_the_commit_waits_for_the_source_lock_skips_it(db, db_url, question):
    """The version is checked after the source's lock: a commit that waited behind
    another commit of the source while the explanation was regenerated must not write
    cards of the old version (nor retire what the newer version's commit wrote)."""
    job_id = held_and_gathered(db, "question", question)
    result = {}

    def commit_v1():
        with psycopg.connect(db_url, autocommit=True) as conn:
            result["report"] = commit(conn, job_id, CARDS["cards"])

    with db.transaction():  # another commit of the source in progress: it holds the source's lock
        db.execute("SELECT pg_advisory_xact_lock(study_card_commit_lock('source', 'question:' || %s))", (question,))
        thread = threading.Thread(target=commit_v1)
        thread.start()
        deadline = time.monotonic() + 10
        while not db.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
                             ).fetchone()[0]:
            assert time.monotonic() < deadline, "the commit did not wait for the source lock"
            time.sleep(0.05)
        db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (V2, question))
    thread.join(10)
    assert (result["report"]["status"], result["report"]["error_code"]) == ("skipped", "stale_version")
    assert db.execute("SELECT count(*) FROM study_memo_cards").fetchone()[0] == 0


def test_a_card_with_the_other_types_fields_is_stored_by_its_own_type(db, question):
    """Fields of the other card type are ignored, as every unknown key is: a qa card
    with a "text" (or a cloze card with "cue"/"answer") is stored as its type says,
    not refused by the table's type check with the whole result."""
    job_id = held_and_gathered(db, "question", question)
    report = commit(db, job_id, [
        {**qa("TCP가 속한 계층은?", "전송 계층", Q_TCP), "text": "", "cloze": None},
        {**cloze("{{c1::BCNF}}는 모든 결정자가 후보 키인 정규형이다", Q_BCNF), "cue": "BCNF는?", "answer": 1},
    ])
    assert (report["status"], len(report["kept"]), report["dropped"]) == ("completed", 2, [])
    assert db.execute("SELECT card_type, cue, answer, cloze_text FROM study_memo_cards ORDER BY id").fetchall() == [
        ("qa", "TCP가 속한 계층은?", "전송 계층", None),
        ("cloze", None, None, "{{c1::BCNF}}는 모든 결정자가 후보 키인 정규형이다")]
    # and a later version that reproduces them goes through the same (update) path
    report = commit(db, new_version(db, question), [
        {**qa("TCP가 속한 계층은?", "전송 계층", Q_TCP), "text": "x"},
        {**cloze("{{c1::BCNF}}는 모든 결정자가 후보 키인 정규형이다", Q_BCNF), "cue": "y"},
    ])
    assert (report["status"], len(report["kept"]), report["retired"]) == ("completed", 2, [])
    assert db.execute("SELECT count(*) FROM study_memo_cards WHERE cloze_text IS NOT NULL AND card_type = 'qa'"
                      "   OR cue IS NOT NULL AND card_type = 'cloze'").fetchone()[0] == 0


def test_a_deleted_source_skips_the_job(db, question):
    job_id = held_and_gathered(db, "question", question)
    db.execute("UPDATE study_questions SET deleted_at = now() WHERE id = %s", (question,))
    report = commit(db, job_id, [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)])
    assert (report["status"], report["error_code"]) == ("skipped", "source_deleted")
    assert db.execute("SELECT count(*) FROM study_memo_cards").fetchone()[0] == 0


CARDS = {"cards": [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)], "needs_review": None}


def take_over(db, job_id):
    """What a claim does to a job whose lease ran out: another worker holds it now."""
    db.execute("UPDATE study_memo_card_jobs SET locked_by = 'w2', lease_expires_at = now() + interval '10 minutes',"
               " attempts = attempts + 1 WHERE id = %s", (job_id,))


def expire_lease(db, job_id):
    db.execute("UPDATE study_memo_card_jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = %s", (job_id,))


def to_pending(db, job_id):
    db.execute("UPDATE study_memo_card_jobs SET status = 'pending', locked_by = NULL, lease_expires_at = NULL"
               " WHERE id = %s", (job_id,))


def commit_once(db, job_id):
    commit(db, job_id, CARDS["cards"])


@pytest.mark.parametrize(("case", "prepare", "worker", "result", "sqlstate"), [
    ("a second call", commit_once, "w1", CARDS, "55000"),
    ("the wrong worker", None, "w2", CARDS, "55000"),
    ("after another worker took the expired lease over", lambda db, j: (expire_lease(db, j), take_over(db, j)),
     "w1", CARDS, "55000"),
    ("a pending job", to_pending, "w1", CARDS, "55000"),
    ("a job that does not exist", lambda db, j: db.execute("DELETE FROM study_memo_card_jobs WHERE id = %s", (j,)),
     "w1", CARDS, "55000"),
    ("a JSON array", None, "w1", [CARDS], "22023"),
    ("a JSON string", None, "w1", "cards", "22023"),
    ("no cards key", None, "w1", {"card": CARDS["cards"]}, "22023"),
    ("cards that are an object", None, "w1", {"cards": CARDS["cards"][0]}, "22023"),
    ("needs_review that is a string", None, "w1", {**CARDS, "needs_review": "해설이 틀렸다"}, "22023"),
    ("needs_review without a reason", None, "w1", {**CARDS, "needs_review": {"why": "틀림"}}, "22023"),
])
def test_a_refused_commit_writes_nothing(db, question, case, prepare, worker, result, sqlstate):
    job_id = held_and_gathered(db, "question", question)
    if prepare:
        prepare(db, job_id)
    before = card_rows(db)
    assert sqlstate_of(db, "SELECT commit_cards(%s, %s, %s)", (job_id, worker, Jsonb(result))) == sqlstate, case
    assert card_rows(db) == before


def test_an_sql_null_result_is_refused(db, question):
    job_id = held_and_gathered(db, "question", question)
    assert sqlstate_of(db, "SELECT commit_cards(%s, 'w1', NULL)", (job_id,)) == "22023"


def test_an_expired_lease_nobody_took_over_still_commits(db, question):
    job_id = held_and_gathered(db, "question", question)
    expire_lease(db, job_id)
    report = commit(db, job_id, CARDS["cards"])
    assert (report["status"], len(report["kept"])) == ("completed", 1)


def test_commits_of_one_user_are_serialised_so_the_duplicate_guard_sees_the_other(db, db_url, question):
    """Two sources of one user commit the same card at the same moment: the second waits
    for the first and drops its card as a duplicate instead of failing on the index."""
    other = add_question(db, 1, stem="같은 해설의 다른 문제")
    job_1 = held_and_gathered(db, "question", question)
    job_2 = held_and_gathered(db, "question", other)
    second = {}

    def commit_second():
        with psycopg.connect(db_url, autocommit=True) as conn:
            second["report"] = commit(conn, job_2, CARDS["cards"])

    with db.transaction():
        first = commit(db, job_1, CARDS["cards"])
        thread = threading.Thread(target=commit_second)
        thread.start()
        deadline = time.monotonic() + 10
        while not db.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
                             ).fetchone()[0]:
            assert time.monotonic() < deadline, "the second commit did not wait"
            time.sleep(0.05)
    thread.join(10)
    assert second["report"]["dropped"] == [{"index": 0, "reason": "duplicate",
                                            "detail": f"card {first['kept'][0]} (from question {question}) says the same"}]


def wait_until(db, query: str, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not db.execute(query).fetchone()[0]:
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_deleting_the_user_during_a_commit_waits_and_never_deadlocks(db, db_url, question):
    """The host deletes the user while a commit of theirs waits for an advisory lock.
    commit_cards locks the user row (FOR KEY SHARE) before the job row, the order of the
    host's DELETE and its cascade, so the delete waits for the commit instead of the two
    waiting for each other (40P01)."""
    job_id = held_and_gathered(db, "question", question)
    outcome = {}

    def run(name, statement, *params):
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                outcome[name] = conn.execute(statement, params).fetchone()
        except psycopg.Error as error:
            outcome[name] = error.sqlstate

    with db.transaction():  # another commit of the source holds its lock: the window is wide open
        db.execute("SELECT pg_advisory_xact_lock(study_card_commit_lock('source', 'question:' || %s))", (question,))
        committer = threading.Thread(target=run, args=("commit", "SELECT commit_cards(%s, 'w1', %s)",
                                                       job_id, Jsonb(CARDS)))
        committer.start()
        wait_until(db, "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)",
                   "the commit did not wait for the source lock")
        deleter = threading.Thread(target=run, args=("delete", "DELETE FROM users WHERE id = 1 RETURNING id"))
        deleter.start()
        wait_until(db, "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype <> 'advisory' AND NOT granted)",
                   "the delete did not wait")
    committer.join(10)
    deleter.join(10)
    assert outcome["commit"][0]["status"] == "completed"
    assert outcome["delete"] == (1,)
    assert db.execute("SELECT count(*) FROM study_memo_card_jobs").fetchone()[0] == 0  # cascaded


def test_a_commit_outside_read_committed_is_refused(db, db_url, question):
    """Under REPEATABLE READ the version check would read a snapshot taken before the
    wait for the commit's locks, and keep cards of a version that a newer job replaced."""
    job_id = held_and_gathered(db, "question", question)
    before = card_rows(db)
    with psycopg.connect(db_url, autocommit=True, options="-c default_transaction_isolation=repeatable\\ read") as conn:
        with pytest.raises(psycopg.errors.InvalidTransactionState, match="READ COMMITTED, not REPEATABLE READ"):
            commit(conn, job_id, CARDS["cards"])
        with pytest.raises(psycopg.errors.InvalidTransactionState):
            conn.execute("SELECT study_card_check_result(%s, 'w1', %s)", (job_id, Jsonb(CARDS)))
    assert card_rows(db) == before


def test_verdicts_do_not_depend_on_standard_conforming_strings(db, db_url, question):
    """The guards' patterns are backslash escapes in string literals; each guard fixes
    standard_conforming_strings for itself, so a session with it off gets the same verdicts."""
    cards = [cloze("{{c1::TCP}}는 전송 계층 프로토콜이다", Q_TCP),
             cloze("{{c1::TCP}}는 TCP/IP의 전송 계층", Q_TCP),
             qa("TCP가 속한 계층은?", "전송 계층", Q_TCP),
             qa("관계형 모델을 제안한 해는?", "1972년", Q_CODD)]
    reports = []
    for setting in ("off", "on"):
        job_id = new_version(db, question, version=V2 if setting == "off" else V1.replace(year=2027))
        with psycopg.connect(db_url, autocommit=True, options=f"-c standard_conforming_strings={setting}") as conn:
            reports.append([(d["index"], d["reason"]) for d in commit(conn, job_id, cards)["dropped"]])
    assert reports[0] == reports[1] == [(1, "cloze_leaks_answer"), (3, "quantity_unsupported")]


def test_cards_past_the_limit_are_dropped_unread(db, question):
    job_id = held_and_gathered(db, "question", question)
    flood = CARDS["cards"] + [{"type": "qa", "cue": "x" * 10_000, "answer": None}] * 5_000
    report = commit(db, job_id, flood)
    assert len(report["kept"]) == 1
    assert len(report["dropped"]) == 5_000
    assert report["dropped"][-1] == {"index": 5_000, "reason": "invalid_shape",
                                     "detail": "card 5000 is past the limit of 20 cards per result"}


def test_the_dry_run_reports_what_a_commit_would_do_and_writes_nothing(db, question):
    job_id = held_and_gathered(db, "question", question)
    cards = [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP), qa("TCP가 속한 계층은? 전송 계층", "전송 계층", Q_TCP),
             cloze("{{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", Q_ATOMIC)]
    before = card_rows(db)
    dry = db.execute("SELECT study_card_check_result(%s, 'w1', %s)",
                     (job_id, Jsonb({"cards": cards, "needs_review": None}))).fetchone()[0]
    assert card_rows(db) == before
    assert dry == {"job_id": job_id, "status": "completed", "error_code": None, "kept": [0, 2],
                   "dropped": [{"index": 1, "reason": "cue_leaks_answer",
                                "detail": 'the answer "전송 계층" is visible in the cue'}]}
    report = commit(db, job_id, cards)
    assert (len(report["kept"]), report["dropped"]) == (2, dry["dropped"])


@pytest.mark.parametrize(("case", "worker", "result", "sqlstate"), [
    ("another worker's job", "w2", CARDS, "55000"),
    ("not a cards object", "w1", {"card": []}, "22023"),
])
def test_the_dry_run_has_commit_cards_errors(db, question, case, worker, result, sqlstate):
    job_id = held_and_gathered(db, "question", question)
    assert sqlstate_of(db, "SELECT study_card_check_result(%s, %s, %s)", (job_id, worker, Jsonb(result))) == sqlstate


def test_the_dry_run_of_a_stale_job_says_skipped(db, question):
    job_id = held_and_gathered(db, "question", question)
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (V2, question))
    dry = db.execute("SELECT study_card_check_result(%s, 'w1', %s)", (job_id, Jsonb(CARDS))).fetchone()[0]
    assert (dry["status"], dry["error_code"]) == ("skipped", "stale_version")
    assert job_row(db, job_id)["status"] == "processing"


# -- the review (issue 15): commit_cards(…, review) drops what the review rejected ------------

REVIEWED = [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP),                                  # 0
            qa("TCP가 속한 계층은? 전송 계층", "전송 계층", Q_TCP),                        # 1: cue_leaks_answer
            cloze("{{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", Q_ATOMIC),  # 2
            qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)]                        # 3


def reject(index, class_="leak", reason="답이 cue에 보인다"):
    return {"index": index, "verdict": "reject", "class": class_, "reason": reason}


def commit_reviewed(db, job_id, review, cards=REVIEWED, worker="w1") -> dict:
    return db.execute("SELECT commit_cards(%s, %s, %s, %s)",
                      (job_id, worker, Jsonb({"cards": cards, "needs_review": None}), Jsonb(review))).fetchone()[0]


def test_a_rejected_card_is_dropped_as_review_rejected_after_the_guards(db, question):
    job_id = held_and_gathered(db, "question", question)
    report = commit_reviewed(db, job_id, {"verdicts": [
        reject(3, "multi_fact", "  답이 두 가지를 나열한다 "), {"index": 0, "verdict": "keep"}]})

    assert report["dropped"] == [
        {"index": 1, "reason": "cue_leaks_answer", "detail": 'the answer "전송 계층" is visible in the cue'},
        {"index": 3, "reason": "review_rejected", "detail": "multi_fact: 답이 두 가지를 나열한다"}]
    assert report["review"] == {"applied": True, "rejected": [3], "ignored": []}
    assert (report["status"], report["error_code"], len(report["kept"])) == ("completed", None, 2)
    assert db.execute("SELECT card_type, answer, cloze_text FROM study_memo_cards ORDER BY id").fetchall() == [
        ("qa", "전송 계층", None), ("cloze", None, REVIEWED[2]["text"])]
    assert job_row(db, job_id)["payload"]["report"] == report
    stats = {row[0]: row[1:] for row in db.execute("SELECT reason, dropped_cards, jobs FROM study_card_drop_stats")}
    assert (stats["review_rejected"], stats["cue_leaks_answer"]) == ((1, 1), (1, 1))


def test_without_a_review_the_report_has_no_review(db, question):
    report = commit(db, held_and_gathered(db, "question", question), REVIEWED)
    assert "review" not in report and [d["index"] for d in report["dropped"]] == [1]


def test_verdicts_for_cards_that_do_not_exist_or_were_dropped_are_ignored_and_reported(db, question):
    job_id = held_and_gathered(db, "question", question)
    cards = REVIEWED + [{"type": "qa", "cue": "x" * 400, "answer": "y"}]  # 4: invalid_shape
    report = commit_reviewed(db, job_id, {"verdicts": [
        reject(1), reject(4), reject(7), reject(10 ** 30), reject(2, "wrong"),
        reject(2, "duplicate", "다시"), {"index": 0, "verdict": "keep"}, reject(0)]}, cards)

    assert report["review"] == {"applied": True, "rejected": [2], "ignored": [
        {"index": 1, "verdict": "reject", "why": "card 1 was already dropped (cue_leaks_answer)"},
        {"index": 4, "verdict": "reject", "why": "card 4 was already dropped (invalid_shape)"},
        {"index": 7, "verdict": "reject", "why": "the result has no card 7"},
        {"index": 10 ** 30, "verdict": "reject", "why": f"the result has no card {10 ** 30}"},
        {"index": 2, "verdict": "reject", "why": "card 2 has an earlier verdict"},
        {"index": 0, "verdict": "reject", "why": "card 0 has an earlier verdict"}]}
    assert [(d["index"], d["reason"], d["detail"]) for d in report["dropped"]] == [
        (1, "cue_leaks_answer", 'the answer "전송 계층" is visible in the cue'),
        (4, "invalid_shape", "cue is 400 characters long; the limit is 300"),
        (2, "review_rejected", "wrong: 답이 cue에 보인다")]
    assert len(report["kept"]) == 2


def test_a_review_that_rejects_every_card_ends_all_dropped_and_flags_the_question(db, question):
    job_id = held_and_gathered(db, "question", question)
    report = commit_reviewed(db, job_id, {"verdicts": [reject(0), reject(2, "unsupported", "자료에 없다"),
                                                        reject(3, "duplicate", "카드 0과 같다")]})
    assert (report["status"], report["error_code"], report["kept"]) == ("completed", "all_dropped", [])
    assert report["review"]["rejected"] == [0, 2, 3]
    job = job_row(db, job_id)
    assert (job["status"], job["error_code"], job["error_message"]) == (
        "completed", "all_dropped", "no card passed the guards (4 dropped, 3 by the review)")
    assert db.execute("SELECT needs_review, needs_review_reason FROM study_questions WHERE id = %s",
                      (question,)).fetchone() == (True, "all_dropped")
    assert db.execute("SELECT count(*) FROM study_memo_cards").fetchone()[0] == 0


@pytest.mark.parametrize(("review", "problem"), [
    (None, 'the review must be a JSON object {"verdicts": [...]}, not null'),
    ("카드 3은 버립니다", "not string"),
    ([reject(0)], "not array"),
    ({"verdict": [reject(0)]}, '"verdicts" must be an array, not missing'),
    ({"verdicts": {"0": "reject"}}, '"verdicts" must be an array, not object'),
    ({"verdicts": [reject(0)] * 21}, "21 verdicts; the limit is 20"),
    ({"verdicts": [reject(0), "reject 3"]}, "verdict 1 must be an object"),
    ({"verdicts": [reject("3")]}, 'verdict 0: index must be a card\'s number (0, 1, …), not "3"'),
    ({"verdicts": [reject(-1)]}, "not -1"),
    ({"verdicts": [reject(2.5)]}, "not 2.5"),
    ({"verdicts": [{**reject(0), "verdict": "drop"}]}, 'verdict must be "reject" or "keep", not "drop"'),
    ({"verdicts": [{"index": 0, "class": "leak", "reason": "r"}]}, "not missing"),
    ({"verdicts": [reject(0, "typo")]}, "class must be one of leak, unsupported, multi_fact, duplicate, wrong"),
    ({"verdicts": [{"index": 0, "verdict": "reject", "reason": "r"}]}, "class must be one of"),
    ({"verdicts": [reject(0, reason=" ")]}, "a rejection needs a reason"),
    ({"verdicts": [reject(0, reason=None)]}, "a rejection needs a reason, not null"),
    ({"verdicts": [reject(0, reason="가" * 301)]}, "reason is 301 characters long; the limit is 300"),
])
def test_a_malformed_review_is_ignored_as_a_whole(db, question, review, problem):
    """One bad verdict and no verdict counts: every card the guards passed is kept."""
    job_id = held_and_gathered(db, "question", question)
    verdicts = review["verdicts"] if isinstance(review, dict) and isinstance(review.get("verdicts"), list) else []
    if len(verdicts) > 1:  # the well-formed ones among them would reject card 0
        assert verdicts[0] == reject(0)
    report = commit_reviewed(db, job_id, review)
    assert report["review"]["applied"] is False and problem in report["review"]["problem"], report["review"]
    assert (report["status"], len(report["kept"]), [d["reason"] for d in report["dropped"]]) == (
        "completed", 3, ["cue_leaks_answer"])


def test_an_empty_review_and_other_keys_change_nothing(db, question):
    report = commit_reviewed(db, held_and_gathered(db, "question", question),
                             {"verdicts": [], "summary": "모두 좋음", "confidence": 0.9})
    assert report["review"] == {"applied": True, "rejected": [], "ignored": []}
    assert len(report["kept"]) == 3


def test_a_review_cannot_bring_back_a_refused_commit(db, question):
    """The review is read after every check of the job and the result: with it, the
    same SQLSTATEs, and nothing written."""
    job_id = held_and_gathered(db, "question", question)
    before = card_rows(db)
    review = Jsonb({"verdicts": []})
    assert sqlstate_of(db, "SELECT commit_cards(%s, 'w2', %s, %s)", (job_id, Jsonb(CARDS), review)) == "55000"
    assert sqlstate_of(db, "SELECT commit_cards(%s, 'w1', %s, %s)", (job_id, Jsonb({"card": []}), review)) == "22023"
    assert card_rows(db) == before


def test_a_stale_job_with_a_review_is_skipped_without_one(db, question):
    job_id = held_and_gathered(db, "question", question)
    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (V2, question))
    report = commit_reviewed(db, job_id, {"verdicts": [reject(0)]})
    assert (report["status"], report["error_code"], "review" in report) == ("skipped", "stale_version", False)


def test_the_review_schema_has_the_limits_the_review_is_checked_against(db):
    schema = db.execute("SELECT study_card_review_schema(4)::text").fetchone()[0]
    assert schema.index('"index"') < schema.index('"verdict"') < schema.index('"class"') < schema.index('"reason"')
    schema = json.loads(schema)
    verdicts = schema["properties"]["verdicts"]
    assert (schema["required"], verdicts["maxItems"]) == (["verdicts"], 4)
    rejection, keep = verdicts["items"]["anyOf"]
    limits = db.execute("SELECT verdicts, reason, classes FROM study_card_review_limits()").fetchone()
    assert rejection["properties"]["class"]["enum"] == limits[2] == ["leak", "unsupported", "multi_fact",
                                                                     "duplicate", "wrong"]
    assert rejection["properties"]["reason"]["maxLength"] == limits[1]
    assert (rejection["properties"]["verdict"], keep["properties"]["verdict"]) == ({"const": "reject"}, {"const": "keep"})
    assert db.execute("SELECT study_card_review_schema() -> 'properties' -> 'verdicts' ->> 'maxItems'").fetchone()[0] \
        == str(limits[0]) == "20"
    assert sqlstate_of(db, "SELECT study_card_review_schema(-1)") == "22023"
    # what the schema allows, the check accepts; one step past a limit, it does not
    example = {"verdicts": [reject(0, "wrong", "가" * limits[1]), {"index": 1, "verdict": "keep"}] * 10}
    assert db.execute("SELECT study_card_review_problem(%s)", (Jsonb(example),)).fetchone()[0] is None
    assert db.execute("SELECT study_card_review_problem(%s)",
                      (Jsonb({"verdicts": example["verdicts"] + [reject(2)]}),)).fetchone()[0] is not None


# -- the dry run as the worker does it -------------------------------------------------------

def test_the_dry_run_as_the_worker_role(db, question, worker_login):
    """As a worker does it: a login of study_card_worker claims the job, gathers, runs
    the dry run and fetches the review schema; the holder rules are commit_cards'."""
    before = card_rows(db)
    with psycopg.connect(worker_login("alice"), autocommit=True) as alice, \
            psycopg.connect(worker_login("bob"), autocommit=True) as bob:
        [(job_id,)] = alice.execute("SELECT id FROM study_card_claim('w1', 1, '10 minutes')").fetchall()
        alice.execute("SELECT * FROM study_card_gather(%s, 0, NULL, 'w1')", (job_id,))
        result = Jsonb({"cards": REVIEWED, "needs_review": None})
        dry = alice.execute("SELECT study_card_check_result(%s, 'w1', %s)", (job_id, result)).fetchone()[0]
        assert (dry["status"], dry["kept"], [d["index"] for d in dry["dropped"]]) == ("completed", [0, 2, 3], [1])
        assert alice.execute("SELECT study_card_review_schema(3) IS NOT NULL").fetchone()[0] is True
        # the holder: another worker name, none, or the same name from another login role
        assert sqlstate_of(alice, "SELECT study_card_check_result(%s, 'w2', %s)", (job_id, result)) == "55000"
        assert sqlstate_of(alice, "SELECT study_card_check_result(%s, NULL, %s)", (job_id, result)) == "55000"
        assert sqlstate_of(bob, "SELECT study_card_check_result(%s, 'w1', %s)", (job_id, result)) == "55000"
        assert sqlstate_of(alice, "SELECT study_card_check_result(%s, 'w1', %s)", (job_id, Jsonb([]))) == "22023"
        for helper in ("study_card_review_problem('{}')", "study_card_review_limits()",
                       "study_card_apply_review('{}', '{}')", "study_card_judge(NULL, '[]')"):
            assert sqlstate_of(alice, f"SELECT {helper}") == "42501", helper
        assert job_row(db, job_id)["status"] == "processing"
        report = alice.execute("SELECT commit_cards(%s, 'w1', %s, %s)",
                               (job_id, result, Jsonb({"verdicts": [reject(3)]}))).fetchone()[0]
    assert [(d["index"], d["reason"]) for d in report["dropped"]] == [(1, "cue_leaks_answer"), (3, "review_rejected")]
    assert len(report["kept"]) == 2 and card_rows(db) != before


@pytest.mark.parametrize(("case", "prepare"), [
    ("after another worker took the expired lease over", lambda db, j: (expire_lease(db, j), take_over(db, j))),
    ("a pending job", to_pending),
    ("a committed job", commit_once),
    ("a job that does not exist", lambda db, j: db.execute("DELETE FROM study_memo_card_jobs WHERE id = %s", (j,))),
])
def test_the_dry_run_refuses_a_job_the_worker_does_not_hold(db, question, case, prepare):
    job_id = held_and_gathered(db, "question", question)
    prepare(db, job_id)
    before = card_rows(db)
    assert sqlstate_of(db, "SELECT study_card_check_result(%s, 'w1', %s)", (job_id, Jsonb(CARDS))) == "55000", case
    assert card_rows(db) == before


def commit_while_another_is_open(db, db_url, first_job, first_cards, second_job, second_cards, timeout="5s"):
    """Commit `first_cards` in an open transaction of `db`; meanwhile commit `second_cards`
    on another connection (a thread, statement_timeout `timeout`). Returns (first report,
    whether the second waited for a lock, second report or SQLSTATE)."""
    second = {}

    def commit_second():
        with psycopg.connect(db_url, autocommit=True, options=f"-c statement_timeout={timeout}") as conn:
            try:
                second["report"] = commit(conn, second_job, second_cards)
            except psycopg.Error as error:
                second["report"] = error.sqlstate

    with db.transaction():
        first = commit(db, first_job, first_cards)
        thread = threading.Thread(target=commit_second)
        thread.start()
        waited = False
        deadline = time.monotonic() + 10
        while thread.is_alive() and time.monotonic() < deadline:
            if db.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)").fetchone()[0]:
                waited = True
                break
            time.sleep(0.02)
    thread.join(10)
    return first, waited, second["report"]


@pytest.mark.parametrize("order", ["question 1 first", "question 2 first"])
@pytest.mark.parametrize(("card", "how"), [
    (qa("TCP가 속한 계층은?", "전송 계층", Q_TCP), "says the same"),
    (qa("TCP는 어느 계층에 속하는가?", "전송 계층", Q_TCP), "is a near-duplicate")])
def test_one_card_from_two_sources_at_once_is_kept_once(db, db_url, question, order, card, how):
    """Two sources of one user commit the same card (or a near-duplicate) at the same
    moment, in either order: the second waits on the card's answer lock, then sees the
    first's card and drops its own as a duplicate; one active card in the end."""
    other = add_question(db, 1, stem="같은 해설의 다른 문제")
    jobs = [held_and_gathered(db, "question", question), held_and_gathered(db, "question", other)]
    if order == "question 2 first":
        jobs.reverse()
    first_card = qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)
    first, waited, second = commit_while_another_is_open(db, db_url, jobs[0], [first_card], jobs[1], [card])
    assert waited, "the second commit did not wait for the first"
    assert len(first["kept"]) == 1 and second["kept"] == []
    assert [d["reason"] for d in second["dropped"]] == ["duplicate"] and how in second["dropped"][0]["detail"]
    assert db.execute("SELECT count(*) FROM study_memo_cards WHERE deleted_at IS NULL").fetchone()[0] == 1


def test_commits_of_one_user_with_other_answers_run_in_parallel(db, db_url, question):
    """Nothing but a shared answer or source makes commits of one user wait: the second
    commits while the first's transaction is still open (its statement_timeout would
    cancel it otherwise)."""
    other = add_question(db, 1, stem="같은 해설의 다른 문제")
    job_1, job_2 = held_and_gathered(db, "question", question), held_and_gathered(db, "question", other)
    first, waited, second = commit_while_another_is_open(
        db, db_url, job_1, [qa("TCP가 속한 계층은?", "전송 계층", Q_TCP)],
        job_2, [qa("모든 결정자가 후보 키인 정규형은?", "BCNF", Q_BCNF)], timeout="3s")
    assert not waited
    assert len(first["kept"]) == 1 and len(second["kept"]) == 1
