"""Answer a question from the documents: retrieve, prompt, stream the reasoning and the answer, verify each statement
against the passages it cites, and store the answer with its citations and timings.

`answer_stream` yields AnswerEvents as the answer forms (the SSE page and the OpenAI-compatible endpoint relay them);
`question_answer` runs it to the end and returns the stored Answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from langchain_core.messages import BaseMessage

from assistant.answers.prompts import answer_messages
from assistant.grounding.events import GroundedEvent
from assistant.grounding.llm.generation import reply_completion
from assistant.grounding.passages import passage_dict
from assistant.grounding.prompts import answer_continuation
from assistant.grounding.relevance import relevance_check
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
from assistant.grounding.run import (
    Generation,
    GroundedRecipe,
    grounded_record,
    grounded_run,
    unavailable_message,
)
from assistant.grounding.sentences import PassageSentences
from assistant.grounding.verification import VerifiedStatement, statement_verify
from assistant.models import Answer, AuditEvent
from ingestion.models import Chunk
from retrieval.access import Reader
from retrieval.language import CJK, language_of

logger = logging.getLogger(__name__)

NO_EVIDENCE_TEXT = {
    "en": "The documents do not answer this question.",
    "zh": "所选文档中没有找到能回答这个问题的依据。",
}
UNSUPPORTED_MARK = {"en": "(not supported by the documents)", "zh": "（文档不支持此句）"}
IRRELEVANT_MARK = {"en": "(not about the question)", "zh": "（与问题无关）"}
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
        tail = (IRRELEVANT_MARK if statement.get("method") == "irrelevant" else UNSUPPORTED_MARK)[language]
    return f"{body}{'' if cjk else ' '}{tail}{end or ('。' if cjk else '.')}"


def answer_text(*, statements: Sequence[VerifiedStatement], language: str) -> str:
    shown = [s for s in statements if s.supported or settings.ANSWER_UNSUPPORTED == "mark"]
    joiner = "" if language == "zh" else " "
    return joiner.join(statement_display(statement=s.as_dict(), language=language) for s in shown)


def _visible_text(draft: DraftAnswer, language: str) -> str:
    """The statements' text as the model writes it, for the page to show before verification."""
    return ("" if language == "zh" else " ").join(s.text for s in draft.statements if s.text)


class AnswerRecipe(GroundedRecipe):
    """The answer's part of the grounded run: cited statements, each verified as soon as it is complete."""

    action = AuditEvent.Action.QUESTION

    def __init__(self, *, question: str, k: int | None) -> None:
        self.query = question
        self.language = language_of(question)
        self.k = k
        self.yes_no = is_yes_no_question(question)

    def record_new(self, *, user: Reader, chunks: list[Chunk]) -> Answer:
        return Answer(question=self.query, language=self.language, passages=[c.id for c in chunks],
                      user=user if user is not None and user.is_authenticated else None,
                      text=NO_EVIDENCE_TEXT[self.language])

    def messages(self, *, chunks: list[Chunk], prompted_reasoning: bool) -> list[BaseMessage]:
        return answer_messages(question=self.query, chunks=chunks, prompted_reasoning=prompted_reasoning)

    def output_format(self, *, chunks: list[Chunk]) -> dict:
        return response_format(yes_no=self.yes_no, sentence_ids=PassageSentences.of(chunks).ids())

    def reader(self, *, chunks: list[Chunk]) -> StatementReader:
        return StatementReader(chunks=chunks, language=self.language, yes_no=self.yes_no, question=self.query)

    def conclude(self, *, record: Answer, generation: Generation, reader: StatementReader,
                 chunks: list[Chunk]) -> None:
        record.model = generation.model
        record.raw_reply = generation.reply
        record.reasoning = generation.reasoning
        generation.timings["stopped_repeating"] = generation.stopped
        generation.timings["unfinished_statements"] = reader.unfinished
        generation.timings.setdefault("first_statement_ms", None)
        if generation.error:
            record.error = generation.error
            record.text = unavailable_message(language=self.language)  # not "the documents do not answer": unasked
        _answer_conclude(answer=record, verified=reader.verified, verdict=reader.verdict, chunks=chunks)

    def citations(self, *, record: Answer) -> list[dict]:
        return [c for s in record.statements if s.get("supported") for c in s.get("citations") or []]

    def audit(self, *, record: Answer) -> dict:
        return {
            "question": record.question, "chunk_ids": record.passages, "text": record.text,
            "citations": record.citations, "model": record.model, "timings": record.timings,
            "object_type": "answer",
            "detail": {"grounded": record.grounded, "verdict": record.verdict,
                       "supported_share": record.supported_share, "statements": record.statements,
                       "error": record.error, "sources": record.sources},
        }

    def done(self, *, record: Answer) -> dict:
        return {"answer_id": record.id}


class StatementReader:
    """Reads the cited-answer reply as it grows: the visible text, then each statement verified once complete. A
    model that starts repeating a statement is stopped (small models loop on one until the token limit)."""

    def __init__(self, *, chunks: list[Chunk], language: str, yes_no: bool, question: str) -> None:
        self.chunks, self.language, self.yes_no, self.question = chunks, language, yes_no, question
        self.sentences = PassageSentences.of(chunks)
        self.threshold = settings.CITATION_SUPPORT_THRESHOLD
        self.unfinished = 0  # statements cut short (token limit, repetition stop, a copy of cut reasoning): not shown
        self.verified: list[VerifiedStatement] = []
        self.verdict = ""
        self.shown = ""
        self.stop = False

    def _verify_new(self, statements: Sequence[DraftStatement], generation: Generation) -> Iterator[GroundedEvent]:
        for index, statement in enumerate(statements[len(self.verified):], start=len(self.verified)):
            verified = statement_verify(index=index, draft=statement, passages=self.chunks,
                                        threshold=self.threshold, sentences=self.sentences)
            self.verified.append(relevance_check(question=self.question, verified=verified,
                                                 threshold=settings.ANSWER_RELEVANCE_THRESHOLD))
            generation.timings.setdefault("first_statement_ms", generation.ms_since_start())
            yield GroundedEvent("statement", self.verified[-1].as_dict())

    def read(self, reply: str, generation: Generation) -> Iterator[GroundedEvent]:
        draft = answer_parse(reply, complete=False)
        visible = _visible_text(draft, self.language)
        if visible.startswith(self.shown) and len(visible) > len(self.shown):
            yield GroundedEvent("answer", {"delta": visible[len(self.shown):]})
            self.shown = visible
        finished = finished_statements(draft)
        if _repeats(finished):
            self.stop = True
            return
        yield from self._verify_new(_whole(finished, generation), generation)

    def finish(self, reply: str, generation: Generation, *, complete: bool) -> Iterator[GroundedEvent]:
        # Ended by the model itself, not cut at the token limit nor stopped for repeating: only then may the last
        # statement of a prose reply be whole (a JSON one must also have closed).
        ended = not generation.stopped and generation.stats.finish_reason != "length"
        draft = answer_parse(reply, complete=ended)
        final = _whole(finished_statements(draft), generation)
        self.unfinished = len(draft.statements) - len(final)
        if generation.stopped:
            final = _unrepeated(final)
        self.verdict = draft.verdict
        if self.yes_no and final and not self.verdict and not generation.error:
            # stopped for repeating, or cut at the token limit: the model completes its verdict
            self.verdict = _verdict_completed(generation=generation, statements=final)
        yield from self._verify_new(final, generation)


def _whole(statements: Sequence[DraftStatement], generation: Generation) -> list[DraftStatement]:
    """The finished statements that are whole sentences of the answer (not the cut end of the reasoning)."""
    return [s for s in statements if not statement_copies_cut_reasoning(text=s.text, generation=generation)]


def statement_copies_cut_reasoning(*, text: str, generation: Generation) -> bool:
    """A statement that is the end of reasoning the budget cut off, copied unfinished into the answer (seen with the
    small local model: "…血压虽然低于140/90 mmHg，仍应"): it ends no sentence and ends where the reasoning was cut."""
    body = "".join(text.split())
    if not generation.stats.reasoning_truncated or not body or body[-1] in CLOSING_PUNCTUATION:
        return False
    return "".join(generation.reasoning.split()).endswith(body[-min(len(body), 12):])


def answer_stream(
    *, question: str, collection_ids: Iterable[int], user: Reader, k: int | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> Iterator[GroundedEvent]:
    """The answer as it forms: retrieval, reasoning and answer deltas, each statement once verified, then done.

    user: who asks (retrieval.access.OPERATOR for command-line tools); only the sets they may read are searched
    (interfaces refuse a request naming others before this). The question is recorded in the audit log with what
    was shown, under `interface`.
    """
    return grounded_run(recipe=AnswerRecipe(question=question, k=k), user=user, collection_ids=collection_ids,
                        interface=interface)


def question_answer(
    *, question: str, collection_ids: Iterable[int], user: Reader, k: int | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> Answer:
    """A stored answer in which every shown statement is checked against the passage it cites, or "no evidence"."""
    return grounded_record(answer_stream(question=question, collection_ids=collection_ids, user=user, k=k,
                                         interface=interface))


def _verdict_completed(*, generation: Generation, statements: Sequence[DraftStatement]) -> str:
    """The verdict of a reply stopped before it: the model completes its own statements' JSON up to the verdict."""
    continued = answer_continuation(messages=generation.messages, reasoning=generation.reasoning,
                                    prefix=verdict_prefix(list(statements)))
    try:
        return verdict_read(reply_completion(endpoint=generation.endpoint, messages=continued,
                                             stats=generation.stats, max_tokens=3))
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
