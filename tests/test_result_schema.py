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
    unknown = set(schema) - {"type", "const", "required", "properties", "items", "anyOf",
                             "minItems", "maxItems", "minLength", "maxLength"}
    assert not unknown, f"{path}: keywords this validator does not know: {unknown}"
    if "anyOf" in schema:
        if all(problems(option, value, path) for option in schema["anyOf"]):
            return [f"{path}: matches none of anyOf"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: not {schema['const']!r}"]
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
