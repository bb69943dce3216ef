"""Reasoning and answer streamed apart, in each way a server reports reasoning.

DeepSeek-R1 behind vLLM's reasoning parser cannot run on this machine (no GPU, no R1 weights in any package), so its
wire protocol is played by a scripted OpenAI-compatible server below: it streams what vLLM sends for R1 (reasoning in
`reasoning_content` deltas, or `<think>` text when no parser runs) and records the requests it gets. The prompted
mode runs against the real local vLLM in tests/assistant/answers/test_integration.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.answers.prompts import answer_messages
from assistant.grounding.llm.client import LlmEndpoint
from assistant.grounding.llm.generation import ReplyStats, ThinkSplitter, reasoning_plan, reply_stream

ANSWER_JSON = json.dumps({"statements": [{"text": "Amoxicillin is first line.",
                                          "citations": [{"passage": 1, "quote": "amoxicillin"}]}],
                          "verdict": "not_applicable"})


class ScriptedServer(ThreadingHTTPServer):
    def __init__(self, *, reasoning_field: bool, refuse_response_format: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.reasoning_field = reasoning_field
        self.refuse_response_format = refuse_response_format
        self.requests: list[dict] = []


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if self.server.refuse_response_format and "response_format" in body:
            payload = json.dumps({"error": {"message": "response_format json_schema is not supported", "code": 400}})
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        thinking = ["Passage 1 ", "names ", "amoxicillin."]
        if self.server.reasoning_field:
            deltas = [{"reasoning_content": t} for t in thinking] + [{"content": c} for c in _pieces(ANSWER_JSON)]
        else:  # R1 without a parser: its template opened <think>, so the text runs to </think>, split mid-tag here
            text = "".join(thinking) + "</think>\n\n" + ANSWER_JSON
            deltas = [{"content": c} for c in _pieces(text, size=3)]
        for delta in deltas:
            self._send({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._send({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._send({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140}})
        self.wfile.write(b"data: [DONE]\n\n")

    def _send(self, chunk: dict) -> None:
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "deepseek-r1", **chunk}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()


def _pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedServer]:
    server = ScriptedServer(**request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _run(server: ScriptedServer, *, mode: str = "native", budget: int = 512) -> tuple[str, str, ReplyStats]:
    endpoint = LlmEndpoint(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", model="deepseek-r1")
    stats = ReplyStats()
    reasoning, answer = "", ""
    for delta in reply_stream(endpoint=endpoint, messages=answer_messages(question="First-line?", chunks=[],
                                                                          prompted_reasoning=False),
                              stats=stats, reasoning_mode=mode, reasoning_budget=budget):
        if delta.kind == "reasoning":
            reasoning += delta.text
        else:
            answer += delta.text
    return reasoning, answer, stats


@pytest.mark.parametrize("scripted", [{"reasoning_field": True}], indirect=True)
def test_reasoning_content_is_kept_apart_and_the_schema_is_requested(scripted: ScriptedServer, settings) -> None:
    settings.LLM_SERVER_THINKING_BUDGET = True
    reasoning, answer, stats = _run(scripted, budget=300)
    assert reasoning == "Passage 1 names amoxicillin." and json.loads(answer) == json.loads(ANSWER_JSON)
    (request,) = scripted.requests
    assert request["response_format"]["json_schema"]["name"] == "cited_answer" and stats.guided
    assert request["thinking_token_budget"] == 300 and request["temperature"] == settings.LLM_TEMPERATURE
    assert stats.reasoning_tokens == 3 and stats.input_tokens == 100 and stats.first_token_at is not None


@pytest.mark.parametrize("scripted", [{"reasoning_field": False}], indirect=True)
def test_think_text_without_a_parser_is_split_off(scripted: ScriptedServer, settings) -> None:
    settings.LLM_SERVER_THINKING_BUDGET = False
    reasoning, answer, _ = _run(scripted)
    assert reasoning == "Passage 1 names amoxicillin." and json.loads(answer) == json.loads(ANSWER_JSON)
    assert "thinking_token_budget" not in scripted.requests[0]


@pytest.mark.parametrize("scripted", [{"reasoning_field": True, "refuse_response_format": True}], indirect=True)
def test_server_without_constrained_decoding_is_asked_again_without_it(scripted: ScriptedServer) -> None:
    reasoning, answer, stats = _run(scripted)
    assert [("response_format" in r) for r in scripted.requests] == [True, False]
    assert json.loads(answer) == json.loads(ANSWER_JSON) and not stats.guided and reasoning


def test_think_splitter_across_every_chunk_boundary() -> None:
    text = "  <think>weigh [1] and [2]</think>\n\n{\"a\": \"<think> stays\"}"
    for size in range(1, len(text) + 1):
        splitter = ThinkSplitter()
        deltas = [d for i in range(0, len(text), size) for d in splitter.feed(text[i : i + size])]
        deltas += list(splitter.flush())
        assert "".join(d.text for d in deltas if d.kind == "reasoning") == "weigh [1] and [2]", size
        assert "".join(d.text for d in deltas if d.kind == "answer") == '{"a": "<think> stays"}', size


def test_reasoning_plan_by_model(settings) -> None:
    settings.LLM_REASONING, settings.LLM_REASONING_BUDGET = "auto", None
    assert reasoning_plan(endpoint=LlmEndpoint("http://x/v1", settings.LOCAL_LLM_MODEL)) == ("off", 96)
    assert reasoning_plan(endpoint=LlmEndpoint("http://x/v1", "deepseek-r1")) == ("native", 400)
    settings.LLM_REASONING, settings.LLM_REASONING_BUDGET = "off", 0
    assert reasoning_plan(endpoint=LlmEndpoint("http://x/v1", "deepseek-r1")) == ("off", 0)
