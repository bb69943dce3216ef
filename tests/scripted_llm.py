"""An OpenAI-compatible chat server whose replies a test writes: what a model cut short, looping or copying would send,
streamed in small pieces with the finish reason vLLM gives ("stop", or "length" at the token limit)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTENCE_LINE = re.compile(r"^\[(\d+\.\d+)\] (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class ScriptedReply:
    text: str
    finish_reason: str = "stop"


Script = Callable[[dict], ScriptedReply]


def prompt_sentences(body: dict) -> dict[str, str]:
    """The numbered passage sentences of a request's prompt, by id ("1.2" -> its text)."""
    prompt = "\n".join(m["content"] for m in body["messages"] if isinstance(m.get("content"), str))
    return dict(SENTENCE_LINE.findall(prompt))


class _Server(ThreadingHTTPServer):
    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.requests: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # /v1/models
        payload = json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model", "created": 0,
                                                          "owned_by": "test"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        reply = self.server.script(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for start in range(0, len(reply.text), 5):
            self._send({"choices": [{"index": 0, "delta": {"content": reply.text[start : start + 5]},
                                     "finish_reason": None}]})
        self._send({"choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
        self._send({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": len(reply.text) // 4,
                                             "total_tokens": 100 + len(reply.text) // 4}})
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, chunk: dict) -> None:
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "scripted", **chunk}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()


@contextmanager
def scripted_llm(script: Script) -> Iterator[_Server]:
    """A running scripted server (its base URL: f"http://127.0.0.1:{server.server_address[1]}/v1")."""
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
