"""Answer a question from the documents: retrieve, prompt, generate, separate reasoning, ground and cite."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from assistant.citations import citations_resolve
from assistant.grounding import answer_ground
from assistant.llm.client import chat_model, llm_endpoint, reply_split
from assistant.models import Answer
from assistant.prompting import NO_ANSWER_MARKER, answer_prompt
from retrieval.language import language_of
from retrieval.services import passages_retrieve

NO_EVIDENCE_TEXT = {
    "en": "The documents do not answer this question.",
    "zh": "所选文档中没有找到能回答这个问题的依据。",
}


def question_answer(
    *, question: str, collection_ids: Iterable[int], user: AbstractBaseUser | None = None, k: int | None = None
) -> Answer:
    """A stored answer in which every statement cites a retrieved passage that supports it, or "no evidence"."""
    started = time.perf_counter()
    collection_ids = sorted(set(collection_ids))
    language = language_of(question)
    retrieval = passages_retrieve(query=question, collection_ids=collection_ids, k=k)
    chunks = [p.chunk for p in retrieval.passages]
    timings: dict[str, float | int | None] = {key: round(value, 1) for key, value in retrieval.timings_ms.items()}
    answer = Answer(
        question=question,
        language=language,
        user=user if user is not None and user.is_authenticated else None,
        passages=[c.id for c in chunks],
        text=NO_EVIDENCE_TEXT[language],
    )

    if chunks:  # no passage at all: nothing to reason over, so the model is not asked to guess
        endpoint = llm_endpoint()
        generation_started = time.perf_counter()
        message = chat_model(endpoint=endpoint).invoke(answer_prompt(question=question, chunks=chunks))
        timings["generation_ms"] = round((time.perf_counter() - generation_started) * 1000, 1)
        usage = message.usage_metadata or {}
        timings["input_tokens"] = usage.get("input_tokens")
        timings["output_tokens"] = usage.get("output_tokens")
        reply = reply_split(
            content=str(message.content), reasoning_content=message.additional_kwargs.get("reasoning_content", "")
        )
        answer.model = endpoint.model
        answer.raw_reply = str(message.content)
        answer.reasoning = reply.reasoning
        if NO_ANSWER_MARKER not in reply.answer:
            grounded = answer_ground(
                answer=reply.answer, passages=chunks, threshold=settings.CITATION_SUPPORT_THRESHOLD
            )
            answer.statements = [s.as_dict() for s in grounded.statements]
            answer.invalid_citation_count = grounded.invalid_citation_count
            answer.unsupported_statement_count = len(grounded.statements) - len(grounded.supported)
            if grounded.supported:
                answer.grounded = True
                answer.text = grounded.text
                numbers = [n for statement in grounded.supported for n in statement.citations]
                answer.citations = [c.as_dict() for c in citations_resolve(numbers=numbers, passages=chunks)]
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    answer.timings = timings
    answer.save()
    answer.collections.set(collection_ids)
    return answer
