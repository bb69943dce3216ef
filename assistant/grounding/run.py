"""The one grounded run every feature goes through: read rights → retrieval (the edition in force first) → prompt →
stream → verify → notes on the sources (editions, disagreements) → timings → store → audit.

A feature says only what is its own, as a `GroundedRecipe`: the query and how many passages, its prompt, its reply
schema, how it reads and verifies the reply as it grows (a `ReplyReader`), how the result fills its record, and what
the audit log keeps. `grounded_run` does the rest, the same way for the answer and the clinical report. The policy
match runs the same steps per candidate policy (`grounded_passages` on the request thread, `grounded_generation` on a
worker thread, so that several policies decode in one batch) and stores one record for the whole match with
`grounded_store`.

The error rules live here once: the model server's name look-up, its connection, a timeout or a refusal all end the
generation with one "model server unavailable" error event, and the question (or complaint, or profile) and the
passages are kept on the stored record with the error.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models
from langchain_core.messages import BaseMessage

from assistant.grounding.events import GroundedEvent, queued_event
from assistant.grounding.llm.client import LlmEndpoint, llm_endpoint
from assistant.grounding.llm.generation import ReplyStats, reasoning_plan, reply_stream
from assistant.grounding.passages import passage_dict
from assistant.grounding.sources import chunks_mark_in_force, source_notes
from audit.actors import Actor
from audit.services import audit_record
from ingestion.models import Chunk
from ingestion.selectors import collection_names_get
from retrieval.access import Reader, collections_readable, readable_collection_ids
from retrieval.editions import CURRENT_FIRST
from retrieval.services import RetrievedPassage, passages_retrieve

logger = logging.getLogger(__name__)

# What the error message says was kept, in the asker's language.
KEPT = {
    "question": {"en": "the question", "zh": "问题"},
    "complaint": {"en": "the complaint", "zh": "主诉"},
    "profile": {"en": "the profile", "zh": "企业信息"},
}


def unavailable_message(*, language: str, kept: str = "question") -> str:
    """The one message for a model server that is down, slow or refusing."""
    if language == "zh":
        return f"模型服务暂时不可用或超时；已保存{KEPT[kept]['zh']}和检索到的段落，请稍后重试。"
    return (f"The model server is unavailable or timed out; {KEPT[kept]['en']} and the retrieved passages are kept. "
            "Please try again.")


@dataclass
class GroundedPassages:
    """The sets actually searched (those the reader may read) and the passages the model will read, in order."""

    collection_ids: list[int]
    chunks: list[Chunk]
    timings: dict[str, Any]


def grounded_passages(
    *, reader: Reader, collection_ids: Iterable[int], query: str, k: int | None = None,
    document_ids: Sequence[int] | None = None,
    select: Callable[[list[RetrievedPassage]], list[RetrievedPassage]] | None = None,
    editions: str = CURRENT_FIRST,
) -> GroundedPassages:
    """Read rights, then retrieval: only the sets the reader may read are searched (interfaces refuse a request
    naming others before this); `select` may thin the ranked passages (the clinical report's per-guideline cap).
    Each passage's document is marked with what replaced it, if anything (sources.chunks_mark_in_force)."""
    readable = readable_collection_ids(reader=reader, collection_ids=collection_ids)
    retrieval = passages_retrieve(query=query, collection_ids=readable, reader=reader, k=k, editions=editions,
                                  document_ids=list(document_ids) if document_ids is not None else None)
    passages = select(retrieval.passages) if select else retrieval.passages
    # What replaced a passage's document is told from every set the reader may read, not only those searched: a
    # newer edition in another set they can open is what they need to know of.
    chunks_mark_in_force(chunks=[p.chunk for p in passages],
                         collection_ids=collections_readable(reader=reader).values_list("id", flat=True))
    timings = {key: round(value, 1) for key, value in retrieval.timings_ms.items()}
    return GroundedPassages(collection_ids=readable, chunks=[p.chunk for p in passages], timings=timings)


@dataclass
class Generation:
    """What a generation left: filled while it streams, read once it is done (also when it failed)."""

    started: float = field(default_factory=time.perf_counter)
    endpoint: LlmEndpoint | None = None
    messages: list[BaseMessage] = field(default_factory=list)
    stats: ReplyStats = field(default_factory=ReplyStats)
    reply: str = ""
    reasoning_parts: list[str] = field(default_factory=list)
    error: str = ""
    stopped: bool = False  # the reader stopped the reply early (a model repeating itself)
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.endpoint.model if self.endpoint else ""

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts).strip()

    def ms_since_start(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


class ReplyReader(Protocol):
    """A feature's reading of its reply: `read` is called with the whole reply so far after each answer delta and
    yields events for what it can already verify; `finish` reads the end. `stop` set: the reply is cut short."""

    stop: bool

    def read(self, reply: str, generation: Generation) -> Iterator[GroundedEvent]: ...

    def finish(self, reply: str, generation: Generation, *, complete: bool) -> Iterator[GroundedEvent]: ...


def grounded_generation(
    *, generation: Generation, messages: Callable[[bool], list[BaseMessage]], output_format: dict[str, Any],
    reader: ReplyReader, language: str, kept: str = "question", reasoning: bool = True,
    relay: bool = True, endpoint: LlmEndpoint | None = None,
) -> Iterator[GroundedEvent]:
    """Prompt → stream → verify → timings. `messages(prompted_reasoning)` builds the prompt once the reasoning plan
    is known. With `relay` off the reasoning and queue events are not yielded (a worker thread's policy extraction).
    Any failure of the model server, its name look-up included, ends in one error event; `generation` keeps it."""
    try:
        generation.endpoint = endpoint or llm_endpoint()
        mode, budget = reasoning_plan(endpoint=generation.endpoint) if reasoning else ("off", 0)
        # "off" (or no budget): the page says the model gives no reasoning, instead of an empty or invented one.
        generation.timings["reasoning_mode"] = mode if budget > 0 or mode == "native" else "off"
        generation.messages = messages(mode == "prompted" and budget > 0)
        for delta in reply_stream(endpoint=generation.endpoint, messages=generation.messages, stats=generation.stats,
                                  reasoning_mode=mode, reasoning_budget=budget, output_format=output_format):
            if delta.kind == "queued":
                if relay:
                    yield queued_event(ahead=delta.ahead, language=language)
                continue
            if delta.kind == "reasoning":
                generation.reasoning_parts.append(delta.text)
                if relay:
                    yield GroundedEvent("reasoning", {"delta": delta.text})
                continue
            generation.reply += delta.text
            yield from reader.read(generation.reply, generation)
            if reader.stop:
                generation.stopped = True
                break
    except Exception as error:  # the server down, slow or refusing: what was asked and retrieved is kept
        logger.exception("generation failed")
        generation.error = f"{type(error).__name__}: {error}"[:1000]
        yield GroundedEvent("error", {"message": unavailable_message(language=language, kept=kept)})
    yield from reader.finish(generation.reply, generation, complete=not generation.error and not generation.stopped)
    stats = generation.stats
    generation.timings.update({
        "ttft_ms": round((stats.first_token_at - generation.started) * 1000, 1) if stats.first_token_at else None,
        "generation_ms": round((time.perf_counter() - stats.started) * 1000, 1),
        "input_tokens": stats.input_tokens,
        "reasoning_tokens": stats.reasoning_tokens,
        "answer_tokens": stats.answer_tokens,
        "reasoning_truncated": stats.reasoning_truncated,
        "guided_json": stats.guided,
        "llm_requests": stats.requests,
    })


def grounded_store(
    *, record: models.Model, collection_ids: list[int], user: Actor, interface: str, action: str,
    audit: dict[str, Any],
) -> None:
    """The record saved with the sets it searched, and one audit event (the set names copied as they are now)."""
    record.save()
    record.collections.set(collection_ids)
    audit_record(interface=interface, action=action, user=user, collection_ids=collection_ids,
                 collection_names=collection_names_get(collection_ids=collection_ids), object_ids=[record.pk],
                 **audit)


class GroundedRecipe(ABC):
    """What one feature brings to the grounded run."""

    query: str
    language: str
    k: int | None = None
    kept: str = "question"
    action: str

    def select(self, passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
        return passages

    @abstractmethod
    def record_new(self, *, user: Reader, chunks: list[Chunk]) -> models.Model:
        """The unsaved record, holding what was asked and the passages shown."""

    @abstractmethod
    def messages(self, *, chunks: list[Chunk], prompted_reasoning: bool) -> list[BaseMessage]: ...

    @abstractmethod
    def output_format(self, *, chunks: list[Chunk]) -> dict[str, Any]:
        """The reply schema for these passages (the sentence ids they may cite)."""

    @abstractmethod
    def reader(self, *, chunks: list[Chunk]) -> ReplyReader: ...

    @abstractmethod
    def conclude(self, *, record: models.Model, generation: Generation, reader: ReplyReader,
                 chunks: list[Chunk]) -> None:
        """Fill the record from the generation and what the reader verified."""

    @abstractmethod
    def citations(self, *, record: models.Model) -> list[dict]:
        """The record's shown citations (dicts with chunk_id and quote): where the sources' disagreements are read."""

    @abstractmethod
    def audit(self, *, record: models.Model) -> dict[str, Any]:
        """What the audit event keeps of the record (question, chunk ids, text, citations, ...)."""

    @abstractmethod
    def done(self, *, record: models.Model) -> dict[str, Any]:
        """The "done" event's data: the stored record as the page and the API show it."""


def grounded_run(
    *, recipe: GroundedRecipe, user: Reader, collection_ids: Iterable[int], interface: str,
) -> Iterator[GroundedEvent]:
    """The result as it forms: "retrieval", reasoning and the feature's own events, "error" if the model server
    failed, then "done" with the stored record. No passage at all: the model is not asked to guess."""
    generation = Generation()
    passages = grounded_passages(reader=user, collection_ids=collection_ids, query=recipe.query, k=recipe.k,
                                 select=recipe.select)
    generation.timings.update(passages.timings)
    record = recipe.record_new(user=user, chunks=passages.chunks)
    yield GroundedEvent("retrieval", {
        "passages": [passage_dict(number=n, chunk=c) for n, c in enumerate(passages.chunks, start=1)],
        "retrieval_ms": passages.timings.get("retrieval_ms"),
    })
    if passages.chunks:
        reader = recipe.reader(chunks=passages.chunks)
        yield from grounded_generation(
            generation=generation, language=recipe.language, kept=recipe.kept, reader=reader,
            output_format=recipe.output_format(chunks=passages.chunks),
            messages=lambda prompted: recipe.messages(chunks=passages.chunks, prompted_reasoning=prompted),
        )
        recipe.conclude(record=record, generation=generation, reader=reader, chunks=passages.chunks)
    record.sources = source_notes(chunks=passages.chunks, citations=recipe.citations(record=record))
    generation.timings["total_ms"] = generation.ms_since_start()
    record.timings = generation.timings
    grounded_store(record=record, collection_ids=passages.collection_ids, user=user, interface=interface,
                   action=recipe.action, audit=recipe.audit(record=record))
    yield GroundedEvent("done", recipe.done(record=record), record=record)


def grounded_record(events: Iterable[GroundedEvent]) -> models.Model:
    """Drain a run into its stored record (the REST APIs and the form posts without JavaScript)."""
    record = None
    for event in events:
        if event.kind == "done":
            record = event.record
    if record is None:
        raise RuntimeError("the grounded run ended without a record")
    return record
