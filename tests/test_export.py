"""study_cards/export.py: a user's active cards as an Anki deck. The .apkg is opened as
Anki would: a zip holding an SQLite collection (collection.anki2) whose col row lists the
note types and decks and whose notes table holds each note's GUID, note type, fields
(separated by 0x1f) and tags. GUIDs are derived from the card id, so a card that a
regenerate reproduces (same id) keeps its GUID and a re-import updates its note."""

import csv
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from card_sources import V2, add_document, add_note, add_question, add_user, commit, gather, hold_job, qa
from card_sources import cloze as cloze_card

genanki = pytest.importorskip("genanki", reason="the anki extra (genanki) is not installed")

from study_cards import export  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
Q_TCP = "TCP는 전송 계층 프로토콜이고 IP는 네트워크 계층 프로토콜이다"
Q_ATOMIC = "트랜잭션의 원자성(Atomicity)은 전부 실행되거나 전혀 실행되지 않음을 뜻한다"
Q_CODD = "관계형 모델은 1970년 에드거 커드가 제안했고"


def add_topic(db, user_id: int, name: str) -> int:
    return db.execute("INSERT INTO study_topics (user_id, name) VALUES (%s, %s) RETURNING id",
                      (user_id, name)).fetchone()[0]


def extract(db, kind: str, source_id: int, cards: list, k: int = 0) -> dict:
    job_id = hold_job(db, kind, source_id)
    gather(db, job_id, k=k)
    return commit(db, job_id, cards)


def run_export(db_url: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "study_cards.export", "anki", "--database-url", db_url, *args],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def read_apkg(path: Path, tmp_path: Path) -> dict:
    """{"models": {id: model}, "decks": {id: name}, "notes": [{guid, model, type, fields, tags}],
    "cards": [(note guid, deck name)]} of an .apkg."""
    with zipfile.ZipFile(path) as package:
        assert "collection.anki2" in package.namelist()
        package.extract("collection.anki2", tmp_path)
    with sqlite3.connect(tmp_path / "collection.anki2") as collection:
        models_json, decks_json = collection.execute("SELECT models, decks FROM col").fetchone()
        models = {int(k): v for k, v in json.loads(models_json).items()}
        decks = {int(k): v["name"] for k, v in json.loads(decks_json).items()}
        notes = [{"guid": guid, "model": models[mid]["name"], "type": models[mid]["type"],
                  "fields": dict(zip((f["name"] for f in models[mid]["flds"]), flds.split("\x1f"))),
                  "tags": tags.split()}
                 for guid, mid, flds, tags in collection.execute("SELECT guid, mid, flds, tags FROM notes ORDER BY id")]
        cards = collection.execute("SELECT n.guid, c.did FROM cards c JOIN notes n ON n.id = c.nid").fetchall()
    return {"models": models, "decks": decks, "notes": notes,
            "cards": sorted((guid, decks[did]) for guid, did in cards)}


@pytest.fixture
def study(db):
    """User 1: a question in topic 데이터베이스 (2 qa + 1 cloze kept, one dropped), a note in
    topic 네트워크 (1 cloze), a document (1 qa); user 2: one card of its own."""
    add_user(db, 1)
    add_user(db, 2)
    database, network = add_topic(db, 1, "데이터베이스"), add_topic(db, 1, "네트워크 기초")
    question = add_question(db, 1, topic_id=database)
    note = add_note(db, 1, "전송 계층 노트", "TCP는 연결 지향 프로토콜이고 UDP는 비연결 프로토콜이다.")
    db.execute("UPDATE study_subject_notes SET topic_id = %s WHERE id = %s", (network, note))
    document, _ = add_document(db, 1, "정규화 강의", ["BCNF는 결정자가 모두 후보 키인 정규형이다."])
    other_question = add_question(db, 2)
    question_report = extract(db, "question", question, [
        qa("TCP가 속한 계층은?", "전송 계층", Q_TCP),
        qa("관계형 모델을 제안한 사람은?", "에드거 커드", Q_CODD),
        cloze_card("트랜잭션의 {{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", Q_ATOMIC),
        qa("관계형 모델이 제안된 해는?", "1972년", Q_CODD),  # dropped: quantity_unsupported
    ])
    extract(db, "subject_note", note, [cloze_card("UDP는 {{c1::비연결}} 프로토콜이다", "UDP는 비연결 프로토콜이다")])
    extract(db, "document", document, [qa("결정자가 모두 후보 키인 정규형은?", "BCNF",
                                          "BCNF는 결정자가 모두 후보 키인 정규형이다.")])
    extract(db, "question", other_question, [qa("남의 카드: TCP의 계층은?", "전송 계층", Q_TCP)])
    assert len(question_report["kept"]) == 3
    return {"question": question, "note": note, "document": document, "topics": (database, network),
            "question_cards": question_report["kept"]}


def test_the_deck_holds_the_users_active_cards_as_basic_and_cloze_notes(db, db_url, study, tmp_path):
    result = run_export(db_url, "--user", "1", str(tmp_path / "deck.apkg"))
    assert "5 notes (3 Basic, 2 Cloze) in 3 decks" in result.stderr
    deck = read_apkg(tmp_path / "deck.apkg", tmp_path)
    notes = {note["fields"].get("Front") or note["fields"]["Text"]: note for note in deck["notes"]}
    assert set(notes) == {"TCP가 속한 계층은?", "관계형 모델을 제안한 사람은?", "결정자가 모두 후보 키인 정규형은?",
                          "트랜잭션의 {{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다",
                          "UDP는 {{c1::비연결}} 프로토콜이다"}, "user 2's card and the dropped one are not there"
    tcp, atomic = notes["TCP가 속한 계층은?"], notes["트랜잭션의 {{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다"]
    assert (tcp["type"], tcp["model"], list(tcp["fields"])) == (0, "Study cards: Basic",
                                                                ["Front", "Back", "Evidence", "Source"])
    assert (atomic["type"], atomic["model"], list(atomic["fields"])) == (1, "Study cards: Cloze",
                                                                         ["Text", "Evidence", "Source"])
    assert tcp["fields"]["Back"] == "전송 계층"
    assert f"“{Q_TCP}”" in tcp["fields"]["Evidence"] and "문제: 제2정규형(2NF)의 조건으로 옳은 것은?" in tcp["fields"]["Evidence"]
    assert tcp["fields"]["Source"] == "주제: 데이터베이스<br>문제: 제2정규형(2NF)의 조건으로 옳은 것은?"
    assert notes["UDP는 {{c1::비연결}} 프로토콜이다"]["fields"]["Source"] == "주제: 네트워크 기초<br>노트: 전송 계층 노트"
    assert notes["결정자가 모두 후보 키인 정규형은?"]["fields"]["Evidence"].endswith("(문서: 정규화 강의)</small></li></ul>")
    assert sorted(tcp["tags"]) == ["card::qa", "source::question", "topic::데이터베이스"]
    assert sorted(notes["UDP는 {{c1::비연결}} 프로토콜이다"]["tags"]) == ["card::cloze", "source::subject_note",
                                                                 "topic::네트워크_기초"]
    for model in deck["models"].values():  # the back shows the evidence and the source
        assert "{{Evidence}}" in model["tmpls"][0]["afmt"] and "{{Source}}" in model["tmpls"][0]["afmt"]
    assert {name for _, name in deck["cards"]} == {"암기 카드::데이터베이스", "암기 카드::네트워크 기초",
                                                   "암기 카드::(주제 없음)"}
    card_ids = {row[0]: row[1] for row in db.execute(
        "SELECT id, coalesce(cue, cloze_text) FROM study_memo_cards WHERE user_id = 1 AND deleted_at IS NULL")}
    namespace = "study-memo-cards:" + db.execute("SELECT current_database()").fetchone()[0]
    assert {note["guid"] for note in deck["notes"]} == {genanki.guid_for(namespace, card_id) for card_id in card_ids}
    for card_id, text in card_ids.items():
        assert notes[text]["guid"] == export.guid_for(namespace, card_id)


def test_html_in_a_card_is_shown_as_text(db, db_url, tmp_path):
    add_user(db, 1)
    question = add_question(db, 1, explanation="비교 연산자 a <> b는 같지 않음을 뜻한다.")
    extract(db, "question", question, [qa("같지 않음을 뜻하는 SQL 연산자는?", "<>", "a <> b는 같지 않음을 뜻한다")])
    run_export(db_url, "--user", "1", str(tmp_path / "deck.apkg"))
    [note] = read_apkg(tmp_path / "deck.apkg", tmp_path)["notes"]
    assert note["fields"]["Back"] == "&lt;&gt;" and "“a &lt;&gt; b는 같지 않음을 뜻한다”" in note["fields"]["Evidence"]


def test_one_topic(db, db_url, study, tmp_path):
    database, network = study["topics"]
    run_export(db_url, "--user", "1", "--topic", str(network), "--deck", "시험 공부", str(tmp_path / "deck.apkg"))
    deck = read_apkg(tmp_path / "deck.apkg", tmp_path)
    assert [note["fields"]["Text"] for note in deck["notes"]] == ["UDP는 {{c1::비연결}} 프로토콜이다"]
    assert [name for _, name in deck["cards"]] == ["시험 공부::네트워크 기초"]


def test_guids_survive_a_regenerate_that_reproduces_a_card(db, db_url, study, tmp_path):
    """The question's explanation is regenerated: the new result reproduces two of its
    three cards (one in new wording) and adds one. The reproduced cards keep their id and
    so their GUID; the retired card is not exported; the new card has a GUID of its own."""
    run_export(db_url, "--user", "1", str(tmp_path / "first.apkg"))
    first = {note["guid"]: note for note in read_apkg(tmp_path / "first.apkg", tmp_path)["notes"]}
    tcp_id, codd_id, atomic_id = study["question_cards"]

    db.execute("UPDATE study_questions SET ai_explanation_generated_at = %s WHERE id = %s", (V2, study["question"]))
    report = extract(db, "question", study["question"], [
        qa("TCP가 속한 계층은?", "OSI의 전송 계층", Q_TCP),  # another answer: a new card, the old one retired
        cloze_card("트랜잭션의 {{c1::원자성}}은 전부 실행되거나 전혀 실행되지 않음을 뜻한다", Q_ATOMIC),
        qa("관계형 모델을 제안한 사람은?", "에드거 커드", Q_CODD),
        qa("IP가 속한 계층은?", "네트워크 계층", Q_TCP),
    ])
    assert {codd_id, atomic_id} <= set(report["kept"]) and report["retired"] == [tcp_id], report
    run_export(db_url, "--user", "1", str(tmp_path / "second.apkg"))
    second = {note["guid"]: note for note in read_apkg(tmp_path / "second.apkg", tmp_path)["notes"]}

    namespace = "study-memo-cards:" + db.execute("SELECT current_database()").fetchone()[0]
    kept_guids = {export.guid_for(namespace, card_id) for card_id in (codd_id, atomic_id)}
    assert kept_guids <= set(first) & set(second), "reproduced cards: the same notes"
    assert export.guid_for(namespace, tcp_id) in first and export.guid_for(namespace, tcp_id) not in second
    new = set(second) - set(first)
    assert {second[g]["fields"]["Front"] for g in new} == {"TCP가 속한 계층은?", "IP가 속한 계층은?"}
    assert len(second) == len(first) + 1


def test_tsv_for_ankis_plain_text_import(db, db_url, study, tmp_path):
    run_export(db_url, "--user", "1", "--format", "tsv", str(tmp_path / "cards.txt"))
    lines = (tmp_path / "cards.txt").read_text(encoding="utf-8").splitlines()
    headers = [line for line in lines if line.startswith("#")]
    assert headers == ["#separator:tab", "#html:true", "#notetype column:1", "#deck column:2", "#tags column:5",
                       "#guid column:6"]
    rows = list(csv.reader(lines[len(headers):], delimiter="\t"))
    assert all(len(row) == 6 for row in rows) and len(rows) == 5
    by_front = {row[2]: row for row in rows}
    tcp = by_front["TCP가 속한 계층은?"]
    assert tcp[:2] == ["Basic", "암기 카드::데이터베이스"] and tcp[3].startswith('전송 계층<hr><div class="evidence"><ul><li>“TCP는')
    assert "주제: 데이터베이스<br>문제: 제2정규형(2NF)의 조건으로 옳은 것은?" in tcp[3]
    assert tcp[4] == "topic::데이터베이스 card::qa source::question"
    udp = by_front["UDP는 {{c1::비연결}} 프로토콜이다"]
    assert udp[0] == "Cloze" and "UDP는 비연결 프로토콜이다" in udp[3]
    apkg_guids = {note.guid for note in export.read_notes(db, 1, None, export.DEFAULT_DECK, None)}
    assert {row[5] for row in rows} == apkg_guids, "the GUIDs last: one may begin with '#'"


def test_no_cards_is_an_empty_deck(db, db_url, tmp_path):
    add_user(db, 1)
    result = run_export(db_url, "--user", "1", str(tmp_path / "deck.apkg"))
    assert "0 notes" in result.stderr
    assert read_apkg(tmp_path / "deck.apkg", tmp_path)["notes"] == []
