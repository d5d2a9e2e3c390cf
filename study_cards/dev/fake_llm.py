"""A fake OpenAI-compatible LLM server for tests, the demo and the benchmarks.

A real HTTP server on 127.0.0.1 (a random free port), so the worker talks to it the
way it talks to `mlx_lm.server`, llama.cpp or vLLM:

    POST /v1/chat/completions   answers with the next scripted reply, or the responder's
    GET  /v1/models             lists one model, "fake-model"

Usage:

    from study_cards.dev.fake_llm import FakeLLM, Reply, fenced

    with FakeLLM() as llm:                  # started on enter, stopped on exit
        env["MLX_BASE_URL"] = llm.base_url  # "http://127.0.0.1:PORT/v1"
        llm.script(
            {"cards": [...], "needs_review": None},    # a dict: JSON-encoded as the content
            "not json at all",                         # a str: the content as is
            fenced({"cards": []}),                     # the JSON inside a ```json fence
            Reply(status=500),                         # an HTTP error (OpenAI-style error body)
            Reply(status=429),
            Reply(delay=30, content={...}),            # answer after 30 s (the client may time out)
            Reply(drop=True),                          # close the connection without answering
            Reply(body=b"<html>garbage"),              # a raw HTTP 200 body instead of JSON
        )
        ...
        llm.requests          # the JSON bodies received, in order
        llm.headers           # their HTTP headers (dicts), in the same order
        llm.wait_for_requests(1, timeout=5)   # block until that many requests arrived

Each chat-completions request takes the next scripted reply (in order, one per
request). When the script is empty, or a scripted `Reply` has no content (e.g.
`Reply(delay=2)`), the content comes from `responder(request_body) -> str | dict`.
The default responder, `last_line_card`, answers with one `qa` card whose answer is
the last sentence of the last line of the request's S1 block, quoted verbatim, so it
passes the card guards for any source with a line of text, unless the same sentence
is already a card of that user (what the demo and the benchmarks want).
`FakeLLM(responder=...)` replaces it.

Responses are OpenAI-shaped (`id`, `object`, `model`, `choices[0].message.content`,
`finish_reason`) with a `usage` block (`prompt_tokens`, `completion_tokens`,
`total_tokens`, counted as characters / 4, at least 1). "Connection refused" needs no
fake: point the client at a closed port (`closed_port_url()`).

Closing the server wakes replies that are still waiting out their delay; their
connection is then closed without an answer.
"""

import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

MODEL = "fake-model"
SOURCE_HEADER = re.compile(r"^\[(S\d+)\] ", re.MULTILINE)


@dataclass
class Reply:
    """One scripted answer to one chat-completions request."""

    content: str | dict | None = None  # the assistant message; a dict is JSON-encoded; None: the responder's
    status: int = 200  # HTTP status; anything but 200 sends an OpenAI-style error body
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without sending a response
    body: bytes | None = None  # a raw 200 body instead of an OpenAI response


def fenced(result: dict) -> str:
    """`result` as JSON inside a Markdown code fence, with a line of prose around it."""
    return "다음은 카드입니다.\n```json\n" + json.dumps(result, ensure_ascii=False, indent=2) + "\n```\n끝."


def sources_of(request: dict) -> dict[str, tuple[str, str]]:
    """The `[Sn] title` + body blocks of a request's user message: {handle: (title, body)}."""
    text = "\n".join(m["content"] for m in request.get("messages", []) if m.get("role") == "user")
    parts = SOURCE_HEADER.split(text)[1:]  # handle, block, handle, block, ...
    blocks = {handle: block.partition("\n") for handle, block in zip(parts[::2], parts[1::2])}
    return {handle: (title, body.strip()) for handle, (title, _, body) in blocks.items()}


def last_line_card(request: dict) -> dict:
    """One qa card: the last sentence of S1's last line (at most 200 characters) as the
    answer, quoted verbatim as evidence. The cue has no digit, so the quantity guard
    has nothing to object to."""
    _title, body = sources_of(request).get("S1", ("", ""))
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if not lines:
        return {"cards": [], "needs_review": None}
    sentence = re.split(r"(?<=[.!?。])\s+", lines[-1])[-1][:200]
    card = {"type": "qa", "cue": "이 자료의 핵심 내용은?", "answer": sentence,
            "evidence": [{"source": "S1", "quote": sentence}]}
    return {"cards": [card], "needs_review": None}


def closed_port_url() -> str:
    """A base URL on which nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class FakeLLM:
    def __init__(self, responder: Callable[[dict], str | dict] = last_line_card):
        self.responder = responder
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._script: deque = deque()
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLLM":
        threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies) -> None:
        """Queue replies (Reply, str or dict) for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` chat-completions requests arrived; AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"fake LLM got {len(self.requests)} requests, expected {count}")

    def _next_reply(self, request: dict, headers: dict) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            self._lock.notify_all()
            scripted = self._script.popleft() if self._script else None
        reply = scripted if isinstance(scripted, Reply) else Reply(content=scripted)
        if reply.content is None and reply.status == 200 and reply.body is None and not reply.drop:
            reply.content = self.responder(request)
        return reply

    def _completion(self, request: dict, content: str) -> dict:
        prompt_chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
        prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


def _handler_for(llm: FakeLLM):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # http.server writes a response's headers and body separately; on a kept-alive
        # connection Nagle's algorithm would hold the body for the client's delayed ACK
        # (40 ms a request): the fake's cost, not the pipeline's.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/v1/models":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            request = json.loads(raw or b"{}")
            reply = llm._next_reply(request, dict(self.headers))
            if llm._closing.wait(reply.delay) or reply.drop:
                self.close_connection = True
                return
            if reply.body is not None:
                return self._send(200, reply.body)
            if reply.status != 200:
                error = {"message": f"fake error {reply.status}", "type": "server_error"}
                return self._send(reply.status, {"error": error})
            content = reply.content
            if not isinstance(content, str):
                content = json.dumps(content, ensure_ascii=False)
            self._send(200, llm._completion(request, content))

        def _send(self, status: int, body) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, killed)
                self.close_connection = True

    return Handler
