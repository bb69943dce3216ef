"""Answer a question from the documents: retrieve, prompt, stream the reasoning and the answer, verify each statement
against the passages it cites, and store the answer with its citations and timings.

`answer_stream` yields AnswerEvents as the answer forms (the SSE page and the OpenAI-compatible endpoint relay them);
`question_answer` runs it to the end and returns the stored Answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from langchain_core.messages import BaseMessage

from assistant.grounding.events import GroundedEvent, queued_event
from assistant.grounding.llm.client import LlmEndpoint, llm_endpoint
from assistant.grounding.llm.generation import ReplyStats, reasoning_plan, reply_completion, reply_stream
from assistant.grounding.passages import passage_dict
from assistant.grounding.prompts import answer_continuation, answer_messages
from assistant.grounding.reply import (
    CLOSING_PUNCTUATION,
    DraftAnswer,
    DraftStatement,
    answer_parse,
    finished_statements,
    is_yes_no_question,
    response_format,
    verdict_prefix,
    verdict_read,
)
from assistant.grounding.verification import VerifiedStatement, statement_verify
from assistant.models import Answer, AuditEvent
from audit.actors import Actor
from audit.services import audit_record
from ingestion.models import Chunk
from ingestion.selectors import collection_names_get
from retrieval.access import Reader, readable_collection_ids
from retrieval.language import CJK, language_of
from retrieval.services import passages_retrieve

logger = logging.getLogger(__name__)

NO_EVIDENCE_TEXT = {
    "en": "The documents do not answer this question.",
    "zh": "所选文档中没有找到能回答这个问题的依据。",
}
UNSUPPORTED_MARK = {"en": "(not supported by the documents)", "zh": "（文档不支持此句）"}
CLOSEST_PASSAGES = 3


def statement_display(*, statement: dict, language: str) -> str:
    """A verified statement (as_dict) as the answer text shows it: [n] markers before its end, or flagged."""
    body = statement["text"].rstrip()
    cjk = bool(CJK.search(body))
    end = body[-1] if body and body[-1] in CLOSING_PUNCTUATION else ""
    body = body[: len(body) - len(end)] if end else body
    if statement["supported"]:
        tail = "".join(f"[{n}]" for n in dict.fromkeys(c["number"] for c in statement["citations"]))
    else:
        tail = UNSUPPORTED_MARK[language]
    return f"{body}{'' if cjk else ' '}{tail}{end or ('。' if cjk else '.')}"


def answer_text(*, statements: Sequence[VerifiedStatement], language: str) -> str:
    shown = [s for s in statements if s.supported or settings.ANSWER_UNSUPPORTED == "mark"]
    joiner = "" if language == "zh" else " "
    return joiner.join(statement_display(statement=s.as_dict(), language=language) for s in shown)


def _visible_text(draft: DraftAnswer, language: str) -> str:
    """The statements' text as the model writes it, for the page to show before verification."""
    return ("" if language == "zh" else " ").join(s.text for s in draft.statements if s.text)


def answer_stream(
    *, question: str, collection_ids: Iterable[int], user: Reader, k: int | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> Iterator[GroundedEvent]:
    """The answer as it forms: retrieval, reasoning and answer deltas, each statement once verified, then done.

    user: who asks (retrieval.access.OPERATOR for command-line tools); only the sets they may read are searched
    (interfaces refuse a request naming others before this). The question is recorded in the audit log with what
    was shown, under `interface`.
    """
    started = time.perf_counter()
    collection_ids = readable_collection_ids(reader=user, collection_ids=collection_ids)
    language = language_of(question)
    retrieval = passages_retrieve(query=question, collection_ids=collection_ids, reader=user, k=k)
    chunks = [p.chunk for p in retrieval.passages]
    timings: dict[str, float | int | bool | None] = {
        key: round(value, 1) for key, value in retrieval.timings_ms.items()
    }
    answer = Answer(
        question=question,
        language=language,
        user=user if user is not None and user.is_authenticated else None,
        passages=[c.id for c in chunks],
        text=NO_EVIDENCE_TEXT[language],
    )
    yield GroundedEvent("retrieval", {
        "passages": [passage_dict(number=n, chunk=c) for n, c in enumerate(chunks, start=1)],
        "retrieval_ms": timings.get("retrieval_ms"),
    })

    verified: list[VerifiedStatement] = []
    if chunks:  # no passage at all: nothing to reason over, so the model is not asked to guess
        endpoint = llm_endpoint()
        answer.model = endpoint.model
        stats = ReplyStats()
        reasoning_parts: list[str] = []
        reply = ""
        shown = ""
        threshold = settings.CITATION_SUPPORT_THRESHOLD
        repeated = False
        reasoning_mode, reasoning_budget = reasoning_plan(endpoint=endpoint)
        yes_no = is_yes_no_question(question)
        messages = answer_messages(
            question=question, chunks=chunks, prompted_reasoning=reasoning_mode == "prompted" and reasoning_budget > 0
        )
        try:
            for delta in reply_stream(
                endpoint=endpoint, messages=messages, stats=stats, reasoning_mode=reasoning_mode,
                reasoning_budget=reasoning_budget, output_format=response_format(yes_no=yes_no),
            ):
                if delta.kind == "queued":
                    yield queued_event(ahead=delta.ahead, language=language)
                    continue
                if delta.kind == "reasoning":
                    reasoning_parts.append(delta.text)
                    yield GroundedEvent("reasoning", {"delta": delta.text})
                    continue
                reply += delta.text
                draft = answer_parse(reply, complete=False)
                visible = _visible_text(draft, language)
                if visible.startswith(shown) and len(visible) > len(shown):
                    yield GroundedEvent("answer", {"delta": visible[len(shown):]})
                    shown = visible
                finished = finished_statements(draft)
                if _repeats(finished):
                    # Small models loop on a statement until the token limit; what follows adds nothing.
                    repeated = True
                    break
                for index, statement in enumerate(finished[len(verified):], start=len(verified)):
                    verified.append(statement_verify(index=index, draft=statement, passages=chunks,
                                                     threshold=threshold))
                    timings.setdefault("first_statement_ms", round((time.perf_counter() - started) * 1000, 1))
                    yield GroundedEvent("statement", verified[-1].as_dict())
        except Exception as error:  # the server down, slow or refusing: the question and retrieval are kept
            logger.exception("generation failed")
            answer.error = f"{type(error).__name__}: {error}"[:1000]
            answer.text = _generation_error_message(language)  # not "the documents do not answer": unasked
            yield GroundedEvent("error", {"message": _generation_error_message(language)})
        draft = answer_parse(reply, complete=not repeated)
        final = _unrepeated(finished_statements(draft)) if repeated else draft.statements
        verdict = draft.verdict
        if yes_no and final and not verdict and not answer.error:  # stopped for repeating, or cut at the token limit
            verdict = _verdict_completed(endpoint=endpoint, messages=messages, reasoning="".join(reasoning_parts),
                                         statements=final, stats=stats)
        for index, statement in enumerate(final[len(verified):], start=len(verified)):
            verified.append(statement_verify(index=index, draft=statement, passages=chunks, threshold=threshold))
            timings.setdefault("first_statement_ms", round((time.perf_counter() - started) * 1000, 1))
            yield GroundedEvent("statement", verified[-1].as_dict())
        answer.raw_reply = reply
        answer.reasoning = "".join(reasoning_parts).strip()
        generation_end = time.perf_counter()
        timings.update({
            "ttft_ms": round((stats.first_token_at - started) * 1000, 1) if stats.first_token_at else None,
            "generation_ms": round((generation_end - stats.started) * 1000, 1),
            "input_tokens": stats.input_tokens,
            "reasoning_tokens": stats.reasoning_tokens,
            "answer_tokens": stats.answer_tokens,
            "reasoning_truncated": stats.reasoning_truncated,
            "guided_json": stats.guided,
            "llm_requests": stats.requests,
            "stopped_repeating": repeated,
        })
        _answer_conclude(answer=answer, verified=verified, verdict=verdict, chunks=chunks)
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    answer.timings = timings
    answer.save()
    answer.collections.set(collection_ids)
    answer_audit(answer=answer, user=user, interface=interface, collection_ids=collection_ids)
    from assistant.answers.serializers import AnswerSerializer  # imported here: the serializers import this module

    yield GroundedEvent("done", {"answer_id": answer.id, "answer": AnswerSerializer(answer).data})


def _verdict_completed(
    *, endpoint: LlmEndpoint, messages: Sequence[BaseMessage], reasoning: str,
    statements: Sequence[DraftStatement], stats: ReplyStats,
) -> str:
    """The verdict of a reply stopped before it: the model completes its own statements' JSON up to the verdict."""
    continued = answer_continuation(messages=messages, reasoning=reasoning,
                                    prefix=verdict_prefix(list(statements)))
    try:
        return verdict_read(reply_completion(endpoint=endpoint, messages=continued, stats=stats, max_tokens=3))
    except Exception:  # the statements stand without a verdict
        logger.exception("verdict completion failed")
        return ""


def _answer_conclude(
    *, answer: Answer, verified: Sequence[VerifiedStatement], verdict: str, chunks: Sequence[Chunk]
) -> None:
    """Fill the answer from its verified statements: text, citations, counts and supported share."""
    answer.invalid_citation_count = sum(s.invalid_citations for s in verified)
    supported = [s for s in verified if s.supported]
    answer.unsupported_statement_count = len(verified) - len(supported)
    answer.supported_share = round(len(supported) / len(verified), 3) if verified else None
    kept = verified if settings.ANSWER_UNSUPPORTED == "mark" else supported
    answer.statements = [s.as_dict() for s in kept]
    if not supported:
        return  # "the documents do not answer this", with the closest passages
    answer.grounded = True
    answer.verdict = verdict if is_yes_no_question(answer.question) else ""
    answer.text = answer_text(statements=verified, language=answer.language)
    cited: dict[int, dict] = {}
    for statement in supported:
        for citation in statement.citations:
            cited.setdefault(citation.number, passage_dict(number=citation.number, chunk=chunks[citation.number - 1]))
    answer.citations = list(cited.values())


def _statement_key(statement: DraftStatement) -> str:
    return "".join(ch for ch in statement.text.lower() if ch.isalnum())


def _repeats(statements: Sequence[DraftStatement]) -> bool:
    keys = [_statement_key(s) for s in statements]
    return len(keys) != len(set(keys))


def _unrepeated(statements: Sequence[DraftStatement]) -> list[DraftStatement]:
    seen: set[str] = set()
    kept = []
    for statement in statements:
        if _statement_key(statement) not in seen:
            seen.add(_statement_key(statement))
            kept.append(statement)
    return kept


def _generation_error_message(language: str) -> str:
    if language == "zh":
        return "模型服务暂时不可用或超时；已保存问题和检索到的段落，请稍后重试。"
    return "The model server is unavailable or timed out; the question and the retrieved passages are kept. " \
           "Please try again."


def question_answer(
    *, question: str, collection_ids: Iterable[int], user: Reader, k: int | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> Answer:
    """A stored answer in which every shown statement is checked against the passage it cites, or "no evidence"."""
    answer_id = None
    for event in answer_stream(question=question, collection_ids=collection_ids, user=user, k=k, interface=interface):
        if event.kind == "done":
            answer_id = event.data["answer_id"]
    return Answer.objects.get(id=answer_id)


def answer_audit(*, answer: Answer, user: Actor, interface: str, collection_ids: list[int]) -> AuditEvent:
    return audit_record(
        interface=interface, action=AuditEvent.Action.QUESTION, user=user, collection_ids=collection_ids,
        collection_names=collection_names_get(collection_ids=collection_ids),
        question=answer.question, chunk_ids=answer.passages, text=answer.text, citations=answer.citations,
        model=answer.model, timings=answer.timings, object_type="answer", object_ids=[answer.id],
        detail={"grounded": answer.grounded, "verdict": answer.verdict, "supported_share": answer.supported_share,
                "statements": answer.statements, "error": answer.error},
    )
