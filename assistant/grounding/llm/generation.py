"""Stream a reply as reasoning and answer deltas, with the reasoning held to a token budget and the answer decoded
under the JSON schema where the server can.

Three ways a model reasons, by `LLM_REASONING`:
- "native": DeepSeek-R1 behind vLLM with `--reasoning-parser deepseek_r1`: the server streams the thinking in
  `reasoning_content` and applies `response_format` only after it; the budget is vLLM's `thinking_token_budget`
  (when `LLM_SERVER_THINKING_BUDGET`, which needs the server's `--reasoning-config`). Without a parser the thinking
  arrives in `<think>` tags inside the content and is split off here.
- "prompted": a model without a reasoning mode (the small local one) is asked to think first. Two requests: the first
  continues an assistant turn opened with `<think>`, stops at `</think>` or at the budget; the second continues after
  the closed reasoning into the schema-constrained answer. The budget is therefore exact.
- "off": one request, answer only.

Every generation first takes a slot (grounding/llm/slots.py): while the server is saturated the reply starts with
"queued" deltas saying how many wait ahead, instead of a request that slows every other one down until it times out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from django.conf import settings
from langchain_core.messages import AIMessage, BaseMessage

from assistant.grounding.llm.client import LlmEndpoint, chat_model
from assistant.grounding.llm.slots import generation_slot
from assistant.grounding.prompts import answer_continuation
from assistant.grounding.reply import response_format

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class ReplyDelta:
    """kind "queued" (text empty, `ahead` set) comes only before any other, while waiting for a generation slot."""

    kind: Literal["reasoning", "answer", "queued"]
    text: str
    ahead: int | None = None


@dataclass
class ReplyStats:
    """Filled in while the reply streams; read once it is done."""

    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    input_tokens: int | None = None
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    reasoning_truncated: bool = False  # the budget ended the reasoning
    guided: bool = False  # the answer was decoded under the JSON schema
    requests: int = 0
    finish_reason: str | None = None  # the answer's: "stop" when the model ended it, "length" when cut at the limit

    def seen_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()


class ThinkSplitter:
    """Route streamed content to reasoning or answer by `<think>` tags, across chunk boundaries.

    `<think>` opens reasoning only at the start of the reply; `thinking=True` is for chat templates that open it
    themselves (DeepSeek-R1's), so the content is reasoning until `</think>`.
    """

    def __init__(self, *, thinking: bool = False) -> None:
        self.thinking = thinking
        self.pending = ""
        self.answer_started = False

    def answer_only(self) -> None:
        """The server separates reasoning itself: all content is answer."""
        self.thinking = False

    def feed(self, text: str) -> Iterator[ReplyDelta]:
        self.pending += text
        while self.pending:
            if self.thinking:
                at = self.pending.find(THINK_CLOSE)
                if at < 0:
                    keep = _partial_tag_suffix(self.pending, THINK_CLOSE)
                    cut = len(self.pending) - keep
                    emit, self.pending = self.pending[:cut], self.pending[cut:]
                    if emit:
                        yield ReplyDelta("reasoning", emit)
                    return
                if at:
                    yield ReplyDelta("reasoning", self.pending[:at])
                self.pending = self.pending[at + len(THINK_CLOSE) :]
                self.thinking = False
                continue
            if not self.answer_started:
                stripped = self.pending.lstrip()
                if not stripped or THINK_OPEN.startswith(stripped):
                    return  # whitespace, or what may be the start of <think>: wait for more
                if stripped.startswith(THINK_OPEN):
                    self.pending = stripped[len(THINK_OPEN) :]
                    self.thinking = True
                    continue
                self.answer_started = True
                self.pending = stripped
            yield ReplyDelta("answer", self.pending)
            self.pending = ""

    def flush(self) -> Iterator[ReplyDelta]:
        if self.pending.strip() or (self.pending and self.thinking):
            yield ReplyDelta("reasoning" if self.thinking else "answer", self.pending)
        self.pending = ""


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag` (held back until the next chunk)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


def _is_unsupported_format(error: openai.BadRequestError) -> bool:
    message = str(error).lower()
    return any(word in message for word in ("response_format", "json_schema", "structured", "guided", "grammar"))


def _stream(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats, max_tokens: int,
    extra_body: dict[str, Any], stop: list[str] | None = None,
) -> Iterator[tuple[str, str, str | None]]:
    """(reasoning text, content text, finish reason) per streamed chunk; usage recorded into stats."""
    model = chat_model(endpoint=endpoint, max_tokens=max_tokens)
    stats.requests += 1
    for chunk in model.stream(list(messages), stop=stop, extra_body=extra_body, stream_usage=True):
        usage = chunk.usage_metadata
        if usage:
            stats.input_tokens = (stats.input_tokens or 0) + usage.get("input_tokens", 0)
        reasoning = chunk.additional_kwargs.get("reasoning_content", "")
        content = chunk.content if isinstance(chunk.content, str) else ""
        if reasoning or content:
            stats.seen_token()
        yield reasoning, content, chunk.response_metadata.get("finish_reason")


def _answer_stream(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats, extra_body: dict[str, Any],
    output_format: dict[str, Any], thinking: bool = False,
) -> Iterator[ReplyDelta]:
    """The answer request, constrained to the schema when the server allows it, else unconstrained."""
    guided = settings.LLM_GUIDED_JSON
    body = {**extra_body, **({"response_format": output_format} if guided else {})}
    stats.guided = guided  # set before streaming: a reader may stop early (a repeating model), closing this
    try:
        yield from _answer_deltas(endpoint=endpoint, messages=messages, stats=stats, body=body, thinking=thinking)
    except openai.BadRequestError as error:
        if not guided or stats.first_token_at is not None or not _is_unsupported_format(error):
            raise
        # A server without constrained decoding: the same request unconstrained; answer_parse reads the text.
        stats.guided = False
        body.pop("response_format", None)
        yield from _answer_deltas(endpoint=endpoint, messages=messages, stats=stats, body=body, thinking=thinking)


def _answer_deltas(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats, body: dict[str, Any],
    thinking: bool,
) -> Iterator[ReplyDelta]:
    splitter = ThinkSplitter(thinking=thinking)
    for reasoning, content, finish_reason in _stream(
        endpoint=endpoint, messages=messages, stats=stats, max_tokens=settings.LLM_MAX_TOKENS, extra_body=body
    ):
        stats.finish_reason = finish_reason or stats.finish_reason
        if reasoning:
            splitter.answer_only()
            stats.reasoning_tokens += 1  # vLLM streams one token per chunk
            yield ReplyDelta("reasoning", reasoning)
        for delta in splitter.feed(content):
            if delta.kind == "reasoning":
                stats.reasoning_tokens += 1
            else:
                stats.answer_tokens += 1
            yield delta
    yield from splitter.flush()


# R1 on one H100 decodes at most ~220 tokens/s (15.2 GB of bf16 weights read per token at 3.35 TB/s: 4.5 ms a
# token); with ~240 answer tokens (1.1 s) and retrieval plus prefill under 0.1 s, 400 reasoning tokens (1.8 s) keep a
# whole answer near the 3 s target. The local CPU model is slower by two orders, so its budget is only a short plan.
LOCAL_REASONING_BUDGET, R1_REASONING_BUDGET = 96, 400


def reasoning_plan(*, endpoint: LlmEndpoint) -> tuple[str, int]:
    """(mode, budget) from the settings, "auto" and an unset budget resolved by which model answers.

    "auto" is "off" for the local models, which have no reasoning mode of their own: asked to think first, the 0.5B
    model cited its gold document less often on cpgQA (0.675 against 0.70), had fewer statements supported (0.92
    against 0.98), abstained more (12.5% against 2.5%) and took 8.7 s against 6.9 s at the median, and its cut
    reasoning ended up copied into answers (bench/README.md, "Sentence citations"). Any other model is taken to be
    R1 with its native reasoning.
    """
    local = endpoint.model == settings.LOCAL_LLM_MODEL
    mode = settings.LLM_REASONING if settings.LLM_REASONING != "auto" else ("off" if local else "native")
    budget = settings.LLM_REASONING_BUDGET
    if budget is None:
        budget = LOCAL_REASONING_BUDGET if local else R1_REASONING_BUDGET
    return mode, budget


CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}


def reply_completion(*, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats,
                     max_tokens: int) -> str:
    """A few more tokens continuing the last (assistant) message, unconstrained and not streamed."""
    stats.requests += 1
    with generation_slot() as slot:
        for _ in slot.wait():  # nothing to relay: the reader already has the reply this completes
            pass
        message = chat_model(endpoint=endpoint, max_tokens=max_tokens).invoke(
            list(messages), extra_body=dict(CONTINUE)
        )
    return message.content if isinstance(message.content, str) else ""


def reply_stream(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats, reasoning_mode: str,
    reasoning_budget: int, output_format: dict[str, Any] | None = None,
) -> Iterator[ReplyDelta]:
    """The model's reply to `messages` as reasoning deltas, then answer deltas; the answer is decoded under
    `output_format` (an OpenAI `response_format`; default: the cited-answer schema).

    While every generation slot is taken it first yields "queued" deltas (how many wait ahead) and sends nothing;
    the slot is released when the reply ends or its reader stops early.
    """
    with generation_slot() as slot:
        for position in slot.wait():
            yield ReplyDelta("queued", "", ahead=position.ahead)
        yield from _reply_deltas(endpoint=endpoint, messages=messages, stats=stats, reasoning_mode=reasoning_mode,
                                 reasoning_budget=reasoning_budget, output_format=output_format)


def _reply_deltas(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], stats: ReplyStats, reasoning_mode: str,
    reasoning_budget: int, output_format: dict[str, Any] | None,
) -> Iterator[ReplyDelta]:
    output_format = output_format or response_format()
    if reasoning_mode == "prompted" and reasoning_budget > 0:
        reasoning_parts: list[str] = []
        opened = [*messages, AIMessage(THINK_OPEN + "\n")]
        finish = None
        for _, content, finish_reason in _stream(
            endpoint=endpoint, messages=opened, stats=stats, max_tokens=reasoning_budget,
            extra_body=dict(CONTINUE), stop=[THINK_CLOSE],
        ):
            finish = finish_reason or finish
            if content:
                stats.reasoning_tokens += 1
                reasoning_parts.append(content)
                yield ReplyDelta("reasoning", content)
        stats.reasoning_truncated = finish == "length"
        continued = answer_continuation(messages=messages, reasoning="".join(reasoning_parts))
        yield from _answer_stream(endpoint=endpoint, messages=continued, stats=stats, extra_body=dict(CONTINUE),
                                  output_format=output_format)
        return
    extra: dict[str, Any] = {}
    if reasoning_mode == "native" and settings.LLM_SERVER_THINKING_BUDGET:
        extra["thinking_token_budget"] = reasoning_budget
    # R1's chat template opens <think> itself: without a reasoning parser, content is reasoning until </think>.
    yield from _answer_stream(endpoint=endpoint, messages=messages, stats=stats, extra_body=extra,
                              output_format=output_format, thinking=reasoning_mode == "native")
