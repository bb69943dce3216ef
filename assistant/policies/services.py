"""Match a business profile to policies: find candidate policies, have the model extract each one's eligibility
conditions and benefits with quoted clauses, verify every quote, check each verified condition against the profile by
rules (assistant.policies.rules, never the model), and rank the policies by fit.

A policy is a document. The grounded run's steps (grounding/run.py) go per candidate policy: read rights and a
retrieval with a query built from the profile pick the candidates; a second retrieval inside each picks its condition
and benefit clauses; the extractions are generated together on worker threads; the match is stored and audited once.
`policy_match_stream_store` / `policy_match_store` keep the result as a PolicyMatchRecord (the profile and the error
too when it fails).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from assistant.grounding.events import GroundedEvent
from assistant.grounding.run import (
    Generation,
    GroundedPassages,
    grounded_generation,
    grounded_passages,
    grounded_record,
    grounded_store,
    unavailable_message,
)
from assistant.grounding.sentences import PassageSentences
from assistant.grounding.sources import disagreements_find, superseded_notes, superseding_of
from assistant.models import AuditEvent, PolicyMatchRecord
from assistant.policies.clauses import clause_label, policy_items_check, policy_reply_parse
from assistant.policies.profile import BusinessProfile, profile_as_dict, profile_validate
from assistant.policies.prompts import clause_query, policy_messages, policy_response_format, profile_query
from assistant.policies.results import PolicyMatch, PolicyMatchResult, policy_dict_rank_key
from ingestion.models import Chunk
from retrieval.access import Reader, readable_collection_ids

logger = logging.getLogger(__name__)

CANDIDATE_PASSAGES = 12
POLICY_PASSAGES = 4


class _WholeReply:
    """A policy's reply is read once it is whole (on the request thread, where its clauses are checked)."""

    stop = False

    def read(self, reply: str, generation: Generation) -> Iterator[GroundedEvent]:
        return iter(())

    def finish(self, reply: str, generation: Generation, *, complete: bool) -> Iterator[GroundedEvent]:
        return iter(())


@dataclass
class _PolicyClauses:
    match: PolicyMatch
    passages: GroundedPassages
    started: float


def _policy_clauses(
    *, document_id: int, title: str, profile: BusinessProfile, collection_ids: list[int], reader: Reader
) -> _PolicyClauses:
    started = time.perf_counter()
    passages = grounded_passages(reader=reader, collection_ids=collection_ids, query=clause_query(profile),
                                 document_ids=[document_id], k=POLICY_PASSAGES)
    match = PolicyMatch(document_id=document_id, document_title=title,
                        passages=[{"number": n, "chunk_id": c.id, "clause": clause_label(c)}
                                  for n, c in enumerate(passages.chunks, start=1)])
    return _PolicyClauses(match=match, passages=passages, started=started)


def _policy_generation(*, title: str, clauses: _PolicyClauses, language: str) -> Generation:
    """The model's extraction for one policy; runs on a worker thread, so it touches no database."""
    generation = Generation()
    for _ in grounded_generation(
        generation=generation, messages=lambda _prompted: policy_messages(title=title, chunks=clauses.passages.chunks),
        output_format=policy_response_format(sentence_ids=PassageSentences.of(clauses.passages.chunks).ids()),
        reader=_WholeReply(), language=language, kept="profile", reasoning=False,
        relay=False,
    ):
        pass  # the error, if any, stays on the generation: this policy is reported, the others still run
    return generation


def _policy_finish(*, clauses: _PolicyClauses, generation: Generation, profile: BusinessProfile,
                   today: date) -> PolicyMatch:
    match = clauses.match
    match.error = generation.error[:500]
    checking = time.perf_counter()
    match.conditions, match.benefits, match.unsupported = policy_items_check(
        extracted=policy_reply_parse(generation.reply), chunks=clauses.passages.chunks, profile=profile, today=today)
    match.timings = {
        "clause_retrieval_ms": clauses.passages.timings.get("retrieval_ms", 0.0),
        "ttft_ms": generation.timings.get("ttft_ms"),
        "generation_ms": generation.timings.get("generation_ms"),
        "input_tokens": generation.timings.get("input_tokens"),
        "answer_tokens": generation.timings.get("answer_tokens"),
        "check_ms": round((time.perf_counter() - checking) * 1000, 1),
        "total_ms": round((time.perf_counter() - clauses.started) * 1000, 1),
    }
    return match


def policies_match_stream(
    *, profile: BusinessProfile, collection_ids: Iterable[int], user: Reader,
    max_policies: int = 3, today: date | None = None, language: str = "zh",
) -> Iterator[GroundedEvent]:
    """Candidate policies as they are checked, then the ranked result (from the sets the user may read only):
    "retrieval" {"policies": [{document_id, document_title}], "retrieval_ms"}, "policy" (PolicyMatch.as_dict) per
    policy as soon as it is checked, "error" {"message", "document_id"}, then "done" {"result": PolicyMatchResult}."""
    started = time.perf_counter()
    today = today or date.today()
    profile_validate(profile=profile, today=today)
    candidates_found = grounded_passages(reader=user, collection_ids=collection_ids, query=profile_query(profile),
                                         k=CANDIDATE_PASSAGES)
    candidates = _candidate_policies(chunks=candidates_found.chunks,
                                     collection_ids=candidates_found.collection_ids)[:max_policies]
    timings: dict[str, float] = {"retrieval_ms": candidates_found.timings.get("retrieval_ms", 0.0)}
    yield GroundedEvent("retrieval", {
        "policies": [{"document_id": d, "document_title": t} for d, t in candidates],
        "retrieval_ms": timings["retrieval_ms"],
    })
    # Each policy's clauses are found here (the ORM and the in-process indexes stay on this thread); the model's
    # replies are asked for together, since vLLM decodes concurrent requests in one batch at little extra cost a
    # token; each policy is checked and sent in retrieval order as soon as its reply and those before it are in.
    pending = [_policy_clauses(document_id=d, title=t, profile=profile, collection_ids=candidates_found.collection_ids,
                               reader=user) for d, t in candidates]
    policies: list[PolicyMatch] = []
    model = ""
    with ThreadPoolExecutor(max_workers=max(1, min(settings.POLICY_CONCURRENCY, len(pending) or 1))) as pool:
        generations = [pool.submit(_policy_generation, title=p.match.document_title, clauses=p, language=language)
                       for p in pending]
        for clauses, future in zip(pending, generations, strict=True):
            generation = future.result()
            model = model or generation.model
            match = _policy_finish(clauses=clauses, generation=generation, profile=profile, today=today)
            policies.append(match)
            if match.error:
                yield GroundedEvent("error", {"message": unavailable_message(language=language, kept="profile"),
                                              "document_id": match.document_id})
            yield GroundedEvent("policy", match.as_dict())
    ranked = sorted(policies, key=lambda p: p.rank_key())  # stable: equal fit keeps retrieval order
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    yield GroundedEvent("done", {"result": PolicyMatchResult(
        profile=profile, policies=ranked, timings=timings, model=model,
        sources=_match_sources(candidate_chunks=candidates_found.chunks, pending=pending, policies=ranked),
    )})


def _candidate_policies(*, chunks: list[Chunk], collection_ids: list[int]) -> list[tuple[int, str]]:
    """(document id, title) of the candidate policies, each where its best passage ranks. A policy another one in
    the searched sets replaced is matched as the one in force (its passages are still noted as superseded in the
    result's sources)."""
    documents: dict[int, str] = {}
    for chunk in chunks:
        superseding = superseding_of(chunk)
        if superseding is not None and superseding.superseded and superseding.by_collection_id in collection_ids:
            documents.setdefault(superseding.by_id, superseding.by_title)
        else:
            documents.setdefault(chunk.document_id, chunk.document.title)
    return list(documents.items())


def _match_sources(*, candidate_chunks: list[Chunk], pending: list[_PolicyClauses],
                   policies: list[PolicyMatch]) -> dict[str, list[dict]]:
    """Replaced policies among the candidates' passages, and disagreements between the policies' cited clauses."""
    clause_chunks = [chunk for clauses in pending for chunk in clauses.passages.chunks]
    citations = [item.citation for policy in policies for item in (*policy.conditions, *policy.benefits)
                 if item.citation]
    return {"superseded": superseded_notes(chunks=candidate_chunks, cited_chunk_ids=set()),
            "disagreements": disagreements_find(chunks=clause_chunks, citations=citations)}


def policies_match(
    *, profile: BusinessProfile, collection_ids: Iterable[int], user: Reader,
    max_policies: int = 3, today: date | None = None,
) -> PolicyMatchResult:
    """The candidate policies ranked by fit: all conditions met first, then fewest unknown, then fewest not met."""
    for event in policies_match_stream(profile=profile, collection_ids=collection_ids, user=user,
                                       max_policies=max_policies, today=today):
        if event.kind == "done":
            return event.data["result"]
    raise RuntimeError("policy matching ended without a result")


def policy_match_audit(*, record: PolicyMatchRecord) -> dict:
    """What the audit log keeps of a match: the profile, the clauses read, the policies and their citations."""
    chunk_ids = [p["chunk_id"] for policy in record.policies for p in policy.get("passages") or []]
    items = [item for policy in record.policies for key in ("conditions", "benefits")
             for item in policy.get(key) or []]
    return {
        "question": json.dumps(record.profile, ensure_ascii=False), "chunk_ids": list(dict.fromkeys(chunk_ids)),
        "text": json.dumps(record.policies, ensure_ascii=False),
        "citations": [item["citation"] for item in items if item.get("citation")], "model": record.model,
        "timings": record.timings, "object_type": "policy_match",
        "detail": {"error": record.error, "language": record.language, "sources": record.sources},
    }


def policy_match_stream_store(
    *, profile: BusinessProfile, collection_ids: Iterable[int], user: Reader,
    language: str = "en", max_policies: int = 3, today: date | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> Iterator[GroundedEvent]:
    """policies_match_stream's events, its "done" replaced by one carrying the stored record: {"match_id"}.

    The profile is validated before anything is stored (ProfileInvalid). A failure part-way (retrieval, the
    database) stores the profile, the policies checked so far and the error, then yields "error" and "done".
    Only the sets the user may read are searched; the match is recorded in the audit log under `interface`."""
    profile_validate(profile=profile, today=today)
    record = PolicyMatchRecord(user=user if user is not None and user.is_authenticated else None,
                               profile=profile_as_dict(profile), language=language[:8])
    readable = readable_collection_ids(reader=user, collection_ids=collection_ids)
    checked: list[dict] = []
    started = time.perf_counter()
    try:
        for event in policies_match_stream(profile=profile, collection_ids=readable, user=user,
                                           max_policies=max_policies, today=today, language=language[:2]):
            if event.kind == "policy":
                checked.append(event.data)
            if event.kind != "done":
                yield event
                continue
            result: PolicyMatchResult = event.data["result"]
            record.policies = [p.as_dict() for p in result.policies]
            record.model, record.timings, record.sources = result.model, result.timings, result.sources
            record.error = "; ".join(dict.fromkeys(p.error for p in result.policies if p.error))[:2000]
    except Exception as error:  # the page and the API still get a record that says what went wrong
        logger.exception("policy matching failed")
        record.policies = sorted(checked, key=policy_dict_rank_key)
        record.timings = {"total_ms": round((time.perf_counter() - started) * 1000, 1)}
        record.error = f"{type(error).__name__}: {error}"[:2000]
        yield GroundedEvent("error", {"message": record.error})
    grounded_store(record=record, collection_ids=readable, user=user, interface=interface,
                   action=AuditEvent.Action.POLICY_MATCH, audit=policy_match_audit(record=record))
    yield GroundedEvent("done", {"match_id": record.id}, record=record)


def policy_match_store(
    *, profile: BusinessProfile, collection_ids: Iterable[int], user: Reader,
    language: str = "en", max_policies: int = 3, today: date | None = None,
    interface: str = AuditEvent.Interface.COMMAND,
) -> PolicyMatchRecord:
    """Match the profile and return the stored record (policies ranked by fit; errors kept on it)."""
    return grounded_record(policy_match_stream_store(
        profile=profile, collection_ids=collection_ids, user=user, language=language, max_policies=max_policies,
        today=today, interface=interface,
    ))


def policy_match_record_create(
    *, result: PolicyMatchResult, collection_ids: Iterable[int], user: AbstractBaseUser | None = None,
    language: str = "en", error: str = "",
) -> PolicyMatchRecord:
    """Store a result already made (imports, and pages shown without running the model)."""
    record = PolicyMatchRecord(
        user=user, profile=profile_as_dict(result.profile), language=language,
        policies=[p.as_dict() for p in sorted(result.policies, key=lambda p: p.rank_key())],
        model=result.model, timings=result.timings, error=error,
    )
    record.save()
    record.collections.set(sorted(set(collection_ids)))
    return record
