"""Answer a question from the documents: retrieve, prompt, generate, separate reasoning, resolve citations."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from assistant.citations import citations_resolve
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
    """A stored answer whose every [n] names a passage that was retrieved, or an explicit "no evidence"."""
    started = time.perf_counter()
    collection_ids = sorted(set(collection_ids))
    language = language_of(question)
    retrieval = passages_retrieve(query=question, collection_ids=collection_ids, k=k)
    chunks = [p.chunk for p in retrieval.passages]
    timings = {key: round(value, 1) for key, value in retrieval.timings_ms.items()}
    answer = Answer(question=question, language=language, user=user if user and user.is_authenticated else None,
                    passages=[c.id for c in chunks])

    if not chunks:
        answer.text = NO_EVIDENCE_TEXT[language]
    else:
        endpoint = llm_endpoint()
        generation_started = time.perf_counter()
        message = chat_model(endpoint=endpoint).invoke(answer_prompt(question=question, chunks=chunks))
        timings["generation_ms"] = round((time.perf_counter() - generation_started) * 1000, 1)
        usage = message.usage_metadata or {}
        timings["output_tokens"] = usage.get("output_tokens")
        timings["input_tokens"] = usage.get("input_tokens")
        reply = reply_split(
            content=str(message.content), reasoning_content=message.additional_kwargs.get("reasoning_content", "")
        )
        cited = citations_resolve(answer=reply.answer, passages=chunks)
        answer.model = endpoint.model
        answer.raw_reply = str(message.content)
        answer.reasoning = reply.reasoning
        answer.invalid_citation_count = cited.invalid_citation_count
        # An answer that cites nothing it was given is not grounded: say so rather than pass on a guess.
        if NO_ANSWER_MARKER in reply.answer or not cited.citations:
            answer.text = NO_EVIDENCE_TEXT[language]
        else:
            answer.text = cited.text
            answer.citations = [c.as_dict() for c in cited.citations]
            answer.grounded = True
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    answer.timings = timings
    answer.save()
    answer.collections.set(collection_ids)
    return answer
