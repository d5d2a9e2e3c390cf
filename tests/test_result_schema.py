"""study_card_result_schema(max_cards): the JSON Schema of commit_cards' result, built from
the one set of limits, study_card_limits(), that the shape check (study_card_shape_problem),
the cards-per-result cut (study_card_judge) and the needs_review check
(study_card_review_reason) read too. The schema is checked here with a small validator
for exactly the keywords it uses (jsonschema is not a dependency); an unknown keyword
fails the test, so the schema cannot grow one that this file does not check."""

import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

# The example result of DESIGN.md ("commit_cards"), as written there.
DESIGN_EXAMPLE = {"cards": [
    {"type": "qa", "cue": "...", "answer": "...", "evidence": [{"source": "S1", "quote": "..."}]},
    {"type": "cloze", "text": "... {{c1::...}} ...", "evidence": [{"source": "S3", "quote": "..."}]},
], "needs_review": None}

TYPES = {"object": dict, "array": list, "string": str, "null": type(None)}


def problems(schema: dict, value, path: str = "$") -> list[str]:
    """What in `value` the JSON Schema `schema` rejects (an empty list: valid)."""
    unknown = set(schema) - {"type", "const", "enum", "required", "properties", "items", "anyOf",
                             "minItems", "maxItems", "minLength", "maxLength"}
    assert not unknown, f"{path}: keywords this validator does not know: {unknown}"
    if "anyOf" in schema:
        if all(problems(option, value, path) for option in schema["anyOf"]):
            return [f"{path}: matches none of anyOf"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: not {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: not one of the {len(schema['enum'])} values of its enum"]
    if "type" in schema and not isinstance(value, TYPES[schema["type"]]):
        return [f"{path}: not {schema['type']}"]
    found = []
    if isinstance(value, dict):
        found += [f"{path}.{name}: missing" for name in schema.get("required", []) if name not in value]
        found += [problem for name, sub in schema.get("properties", {}).items() if name in value
                  for problem in problems(sub, value[name], f"{path}.{name}")]
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            found.append(f"{path}: {len(value)} items")
        found += [problem for index, item in enumerate(value) if "items" in schema
                  for problem in problems(schema["items"], item, f"{path}[{index}]")]
    if isinstance(value, str) and not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
        found.append(f"{path}: {len(value)} characters")
    return found


def result_schema(db, max_cards=None) -> dict:
    return db.execute("SELECT study_card_result_schema(%s)", (max_cards,)).fetchone()[0]


def limits(db) -> dict:
    return db.execute("SELECT to_jsonb(l) FROM study_card_limits() AS l").fetchone()[0]


def qa(cue="부분 함수 종속을 제거한 정규형은?", answer="제2정규형", evidence=None) -> dict:
    return {"type": "qa", "cue": cue, "answer": answer,
            "evidence": evidence if evidence is not None else [{"source": "S1", "quote": "제2정규형은 부분 함수 종속을 제거한다."}]}


def cloze(text="{{c1::제2정규형}}은 부분 함수 종속을 제거한다.") -> dict:
    return {"type": "cloze", "text": text, "evidence": [{"source": "S1", "quote": "제2정규형은 부분 함수 종속을 제거한다."}]}


def result(*cards, needs_review=None) -> dict:
    return {"cards": list(cards), "needs_review": needs_review}


def test_the_limits_are_the_ones_the_design_names(db):
    assert limits(db) == {"cards": 20, "cue": 300, "answer": 300, "cloze_text": 600, "evidence": 5,
                          "quote": 1000, "reason": 1000}


def test_the_design_example_and_an_empty_result_are_valid(db):
    schema = result_schema(db)
    assert problems(schema, DESIGN_EXAMPLE) == []
    assert problems(schema, result()) == []
    assert problems(schema, result(qa(), cloze(), needs_review={"reason": "해설의 정답 번호가 틀렸다"})) == []


def at_and_over(limit: int, character: str = "가") -> tuple[str, str]:
    return character * limit, character * (limit + 1)


def test_each_limit_admits_its_value_and_refuses_one_more(db):
    schema, limit = result_schema(db), limits(db)
    source = {"source": "S1", "quote": "인용"}
    cases = {  # name -> (a result at the limit, a result one over it)
        "cards": [result(*[qa()] * n) for n in (limit["cards"], limit["cards"] + 1)],
        "cue": [result(qa(cue=text)) for text in at_and_over(limit["cue"])],
        "answer": [result(qa(answer=text)) for text in at_and_over(limit["answer"])],
        "cloze_text": [result(cloze(text=text)) for text in at_and_over(limit["cloze_text"])],
        "evidence": [result(qa(evidence=[source] * n)) for n in (limit["evidence"], limit["evidence"] + 1)],
        "quote": [result(qa(evidence=[{"source": "S1", "quote": text}])) for text in at_and_over(limit["quote"])],
        "reason": [result(needs_review={"reason": text}) for text in at_and_over(limit["reason"])],
    }
    assert set(cases) == set(limit)
    for name, (at_limit, over) in cases.items():
        assert problems(schema, at_limit) == [], name
        assert problems(schema, over) != [], name


@pytest.mark.parametrize("broken", [
    {"cards": []},                                                   # needs_review is required
    result(qa(evidence=[])),                                         # 1 to 5 evidence items
    result(qa(cue="")),                                              # empty text
    result({"type": "qa", "text": "{{c1::x}}", "evidence": [{"source": "S1", "quote": "x"}]}),
    result({**qa(), "type": "card"}),
    result(qa(evidence=[{"quote": "출처 없는 인용"}])),
    result(needs_review={"why": "이유"}),
    result(needs_review="해설이 틀렸다"),
    {"cards": "없음", "needs_review": None},
])
def test_what_is_not_the_card_shape_is_invalid(db, broken):
    assert problems(result_schema(db), broken) != []


def test_max_cards_may_only_lower_the_limit(db):
    maximum = limits(db)["cards"]
    cards_of = lambda max_cards: result_schema(db, max_cards)["properties"]["cards"]["maxItems"]  # noqa: E731
    assert [cards_of(n) for n in (None, 0, 3, maximum, maximum + 1, 1000)] == [maximum, 0, 3, maximum, maximum, maximum]
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        result_schema(db, -1)


def test_properties_keep_the_order_the_model_writes_them_in_and_no_pattern(db):
    """Constrained decoders (llama.cpp, vLLM) fix the order of properties as the schema
    lists them: the type before the text, the source before its quote. A regex
    "pattern" makes llama-cpp-python drop the whole grammar (issue 16)."""
    schema = result_schema(db, 3)
    qa_shape, cloze_shape = schema["properties"]["cards"]["items"]["anyOf"]
    assert list(schema["properties"]) == ["cards", "needs_review"]
    assert list(qa_shape["properties"]) == ["type", "cue", "answer", "evidence"] == qa_shape["required"]
    assert list(cloze_shape["properties"]) == ["type", "text", "evidence"] == cloze_shape["required"]
    assert list(qa_shape["properties"]["evidence"]["items"]["properties"]) == ["source", "quote"]
    assert '"pattern"' not in json.dumps(schema)


def test_the_sql_checks_agree_with_the_schema_at_each_limit(db):
    """study_card_shape_problem, study_card_review_reason and study_card_judge read the
    same limits as the schema: each accepts the value at the schema's limit and refuses
    the one past it."""
    schema = result_schema(db)
    card_shapes = schema["properties"]["cards"]["items"]["anyOf"]
    qa_props, cloze_props = (shape["properties"] for shape in card_shapes)
    evidence = qa_props["evidence"]

    def shape_problem(card: dict) -> str | None:
        return db.execute("SELECT study_card_shape_problem(%s)", (Jsonb(card),)).fetchone()[0]

    for make, limit in ((lambda text: qa(cue=text), qa_props["cue"]["maxLength"]),
                        (lambda text: qa(answer=text), qa_props["answer"]["maxLength"]),
                        (lambda text: cloze(text=text), cloze_props["text"]["maxLength"]),
                        (lambda text: qa(evidence=[{"source": "S1", "quote": text}]),
                         evidence["items"]["properties"]["quote"]["maxLength"])):
        at_limit, over = at_and_over(limit)
        assert shape_problem(make(at_limit)) is None, limit
        assert f"the limit is {limit}" in shape_problem(make(over))
    items = [{"source": "S1", "quote": "인용"}]
    assert shape_problem(qa(evidence=items * evidence["maxItems"])) is None
    assert "the limit is" in shape_problem(qa(evidence=items * (evidence["maxItems"] + 1)))

    reason = schema["properties"]["needs_review"]["anyOf"][1]["properties"]["reason"]["maxLength"]
    assert db.execute("SELECT study_card_review_reason(%s)", (Jsonb({"reason": "가" * reason}),)).fetchone()[0]
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=f"1 to {reason} characters"):
        db.execute("SELECT study_card_review_reason(%s)", (Jsonb({"reason": "가" * (reason + 1)}),))

    cards = schema["properties"]["cards"]["maxItems"]
    dropped = db.execute("SELECT study_card_judge(NULL::study_memo_card_jobs, %s) -> 'dropped'",
                         (Jsonb([qa(cue=f"질문 {n}") for n in range(cards + 1)]),)).fetchone()[0]
    past = [d for d in dropped if "past the limit" in d["detail"]]
    assert past == [{"index": cards, "reason": "invalid_shape",
                     "detail": f"card {cards} is past the limit of {cards} cards per result"}]


# -- the sentences of a source and the per-job schema ------------------------------------

@pytest.mark.parametrize("text, sentences", [
    # Korean endings: 다. 요. 까? and ! end a sentence when white space follows
    ("제2정규형은 부분 함수 종속을 제거한다. 제3정규형은 이행 종속을 제거한다.",
     ["제2정규형은 부분 함수 종속을 제거한다.", "제3정규형은 이행 종속을 제거한다."]),
    ("어느 계층일까? 전송 계층이에요. 외워 두세요!", ["어느 계층일까?", "전송 계층이에요.", "외워 두세요!"]),
    ("끝나지 않은 문장", ["끝나지 않은 문장"]),
    # English sentences
    ("Atomicity means all or nothing. Isolation hides concurrent transactions? Yes!",
     ["Atomicity means all or nothing.", "Isolation hides concurrent transactions?", "Yes!"]),
    # a full stop inside a word: decimals, versions, thousands
    ("조회 시간이 3.5% 줄었다. 처리량은 10,000.5건이고 버전은 v2.0.1이다.",
     ["조회 시간이 3.5% 줄었다.", "처리량은 10,000.5건이고 버전은 v2.0.1이다."]),
    # initialisms, abbreviations, a lowercase next word, capital initials
    ("Use an index, e.g. a B-tree, for range scans. Next, i.e. later.",
     ["Use an index, e.g. a B-tree, for range scans.", "Next, i.e. later."]),
    ("E. F. Codd proposed it. Dr. Chen vs. Mr. Kim et al. agreed.",
     ["E. F. Codd proposed it.", "Dr. Chen vs. Mr. Kim et al. agreed."]),
    ("It costs approx. five dollars. The end.", ["It costs approx. five dollars.", "The end."]),
    ("정답은 B. 그 이유는 이렇다.", ["정답은 B.", "그 이유는 이렇다."]),
    # line breaks always end a sentence: \n, \r\n, \r, U+2028; blank lines and edges dropped
    ("문제: 정규형은?\r\n보기:\n①. 제1정규형\r②. 제2정규형\u2028\n\n  정답: ②. 제2정규형  \n해설: 2NF이다. 끝.",
     ["문제: 정규형은?", "보기:", "①. 제1정규형", "②. 제2정규형", "정답: ②. 제2정규형", "해설: 2NF이다.", "끝."]),
    # a list marker that starts a sentence keeps its item
    ("1. 첫째 항목이다. 2. 둘째 항목이다.", ["1. 첫째 항목이다.", "2. 둘째 항목이다."]),
    ("⑤. 모두 옳다. 가. 나열한다.", ["⑤. 모두 옳다.", "가. 나열한다."]),
    # closing quotes and brackets after the stop stay with the sentence
    ('"원자성이다." 다음 문장(예시이다.) 마지막.', ['"원자성이다."', "다음 문장(예시이다.)", "마지막."]),
    # white space inside a sentence is kept as written; none after a stop: no split
    ("A  와\tB는 같다.C는 다르다. 끝", ["A  와\tB는 같다.C는 다르다.", "끝"]),
    ("이행 종속… 그리고 다음", ["이행 종속… 그리고 다음"]),
    ("", []),
    ("  \n \u3000 \n", []),
    (None, []),
])
def test_sentences_of_korean_and_english_text(db, text, sentences):
    assert db.execute("SELECT study_card_sentences(%s)", (text,)).fetchone()[0] == sentences


def test_every_sentence_is_verbatim_and_together_they_are_the_whole_text(db):
    from card_sources import EXPLANATION
    text = "문제: 정규형은?\n보기:\n①. 제1정규형\n" + EXPLANATION
    sentences = db.execute("SELECT study_card_sentences(%s)", (text,)).fetchone()[0]
    assert all(sentence in text for sentence in sentences)
    assert "".join("".join(s.split()) for s in sentences) == "".join(text.split())
    assert "인덱스를 추가한 뒤 조회 시간이 3.5% 줄었고, 하루 처리량은 10,000건이었다." in sentences


def evidence_items(schema: dict) -> list[dict]:
    qa_shape, cloze_shape = schema["properties"]["cards"]["items"]["anyOf"]
    assert qa_shape["properties"]["evidence"] == cloze_shape["properties"]["evidence"]
    return qa_shape["properties"]["evidence"]["items"]["anyOf"]


def job_schema(db, job_id: int, max_cards=3, worker="w1") -> dict:
    return db.execute("SELECT study_card_result_schema(%s, %s, %s)", (job_id, max_cards, worker)).fetchone()[0]


@pytest.fixture
def gathered_job(db):
    """A question job of user 1 held by w1 and gathered: S1 the question, S2 a note of
    user 1; user 2's note on the same subject is never a handle."""
    from card_sources import add_note, add_question, add_user, gather, hold_job
    add_user(db, 1)
    add_user(db, 2)
    question = add_question(db, 1)
    add_note(db, 1, "정규화 노트", "제2정규형은 부분 함수 종속을 제거한다. BCNF는 모든 결정자가 후보 키이다.\n보기:")
    add_note(db, 2, "남의 노트", "제2정규형은 남의 노트에도 있다.")
    job_id = hold_job(db, "question", question)
    handles = {row[0]: row for row in gather(db, job_id)}
    return job_id, handles


def test_the_job_schema_offers_each_recorded_handle_with_its_sentences(db, gathered_job):
    job_id, handles = gathered_job
    schema = job_schema(db, job_id)
    items = evidence_items(schema)
    assert [item["properties"]["source"] for item in items] == [{"const": h} for h in sorted(handles)]
    for item in items:
        handle = item["properties"]["source"]["const"]
        body = handles[handle][4]
        quotes = item["properties"]["quote"]["enum"]
        assert item["properties"]["quote"]["type"] == "string"
        assert list(item["properties"]) == ["source", "quote"] == item["required"]
        sentences = db.execute("SELECT study_card_sentences(%s)", (body,)).fetchone()[0]
        assert quotes == [s for s in dict.fromkeys(sentences) if s != "보기:"], "in order, each once, no bare label"
    s1 = items[0]["properties"]["quote"]["enum"]
    assert s1[0] == "문제: 제2정규형(2NF)의 조건으로 옳은 것은?" and "①. 부분 함수 종속 제거" in s1
    assert "운영 팀원은 12명이고 장애 대응은 1일 2회 점검한다." in s1
    assert "남의 노트" not in json.dumps(schema, ensure_ascii=False)
    assert '"pattern"' not in json.dumps(schema)


def test_the_job_schema_admits_verbatim_sentences_of_the_cited_handle_only(db, gathered_job):
    job_id, handles = gathered_job
    schema = job_schema(db, job_id)
    note = next(h for h, row in handles.items() if row[1] == "subject_note")
    s1_sentence = "BCNF는 모든 결정자가 후보 키인 정규형이다."
    note_sentence = "BCNF는 모든 결정자가 후보 키이다."
    assert problems(schema, result(qa(evidence=[{"source": "S1", "quote": s1_sentence},
                                                {"source": note, "quote": note_sentence}]))) == []
    assert problems(schema, result(cloze())) != [], "the generic example's quote is nobody's sentence"
    for wrong in ({"source": note, "quote": s1_sentence},               # a sentence of another handle
                  {"source": "S1", "quote": s1_sentence[:-1]},          # not the whole sentence
                  {"source": "S9", "quote": s1_sentence},               # a handle never recorded
                  {"source": "S1", "quote": "…"}):                      # the prompt's placeholder
        assert problems(schema, result(qa(evidence=[wrong]))) != [], wrong


def test_the_job_schema_is_the_result_schema_but_for_the_evidence_items(db, gathered_job):
    job_id, _ = gathered_job
    for max_cards in (0, 3, None, 1000):
        narrowed, generic = job_schema(db, job_id, max_cards), result_schema(db, max_cards)
        generic_item = generic["properties"]["cards"]["items"]["anyOf"][0]["properties"]["evidence"]["items"]
        for shape in narrowed["properties"]["cards"]["items"]["anyOf"]:
            shape["properties"]["evidence"]["items"] = generic_item
        assert json.dumps(narrowed) == json.dumps(generic), "the same shape, limits and key order"


def test_a_job_without_handles_gets_no_cards(db):
    from card_sources import add_question, add_user, hold_job
    add_user(db, 1)
    job_id = hold_job(db, "question", add_question(db, 1))  # not gathered: nothing recorded
    assert job_schema(db, job_id)["properties"]["cards"]["maxItems"] == 0


def test_a_sentence_over_the_quote_limit_is_left_out(db):
    from card_sources import add_question, add_user, gather, hold_job
    add_user(db, 1)
    long_sentence = "가" * limits(db)["quote"] + "다."
    job_id = hold_job(db, "question", add_question(db, 1, explanation=f"짧은 해설이다. {long_sentence}"))
    gather(db, job_id, k=0)
    quotes = evidence_items(job_schema(db, job_id))[0]["properties"]["quote"]["enum"]
    assert "해설: 짧은 해설이다." in quotes and long_sentence not in quotes


def test_the_job_schema_is_only_for_the_worker_holding_the_job(db, gathered_job):
    job_id, _ = gathered_job
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        job_schema(db, job_id, worker="w2")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        job_schema(db, job_id + 1000)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        job_schema(db, job_id, worker=None)
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        job_schema(db, job_id, max_cards=-1)
