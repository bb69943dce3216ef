"""Which source is in force, and where the cited sources disagree: what every result says about its sources.

Two notes, the same for the answer, the clinical report and the policy match (stored on each record as `sources`):
- superseded: a passage given to the model came from a document that a newer edition, or a repealing clause,
  replaced (or from one amended since), with the document in force. Which documents replace which is read for the
  reader's own sets (ingestion/selectors.py), so no note names a document the reader cannot see.
- disagreements: two cited passages of different documents give different values of one quantity about one subject
  (assistant/grounding/quantities.py): both are shown with their sources and dates, and which is newer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from assistant.grounding.quantities import value_conflicts
from ingestion.models import Chunk, Document
from ingestion.relations import edition_date
from ingestion.selectors import SupersedingDocument, superseding_documents

MAX_CITED_PIECES = 40  # pairs grow with the square: a report cites a few dozen pieces at most


def chunks_mark_in_force(*, chunks: Sequence[Chunk], collection_ids: Iterable[int]) -> None:
    """Set `document.superseding` on each chunk (None when in force and unamended), as a reader of these sets may
    be told: the prompt, the passage list and the notes read it."""
    found = superseding_documents(document_ids={c.document_id for c in chunks}, collection_ids=collection_ids)
    for chunk in chunks:
        chunk.document.superseding = found.get(chunk.document_id)


def superseding_of(chunk: Chunk) -> SupersedingDocument | None:
    return getattr(chunk.document, "superseding", None)


def superseding_dict(superseding: SupersedingDocument | None) -> dict[str, Any] | None:
    if superseding is None:
        return None
    return {
        "kind": superseding.kind,
        "superseded": superseding.superseded,
        "document_id": superseding.by_id,
        "document_title": superseding.by_title,
        "issued_on": superseding.by_issued_on.isoformat() if superseding.by_issued_on else None,
        "issued_as": superseding.by_issued_as,
        "sentence": superseding.sentence,
    }


def source_notes(*, chunks: Sequence[Chunk], citations: Iterable[dict]) -> dict[str, list[dict]]:
    """The notes on a result's sources: passages of replaced or amended documents among `chunks` (the passages in
    prompt order, marked by chunks_mark_in_force), and disagreements between the `citations` (dicts with chunk_id
    and quote, as every feature stores them)."""
    cited_chunks = {c.get("chunk_id") for c in citations}
    return {
        "superseded": superseded_notes(chunks=chunks, cited_chunk_ids=cited_chunks),
        "disagreements": disagreements_find(chunks=chunks, citations=citations),
    }


def superseded_notes(*, chunks: Sequence[Chunk], cited_chunk_ids: set) -> list[dict]:
    """Each replaced or amended document among the passages (numbered in order), with what replaced it."""
    notes: dict[int, dict] = {}
    for number, chunk in enumerate(chunks, start=1):
        superseding = superseding_of(chunk)
        if superseding is None:
            continue
        note = notes.setdefault(chunk.document_id, {
            "document_id": chunk.document_id,
            "document_title": chunk.document.title,
            "issued_on": chunk.document.issued_on.isoformat() if chunk.document.issued_on else None,
            "issued_as": chunk.document.issued_as,
            "passage_numbers": [],
            "cited": False,
            "by": superseding_dict(superseding),
        })
        note["passage_numbers"].append(number)
        note["cited"] = note["cited"] or chunk.id in cited_chunk_ids
    return list(notes.values())


def disagreements_find(*, chunks: Sequence[Chunk], citations: Iterable[dict]) -> list[dict]:
    """Different values of one quantity about one subject in cited passages of different documents (versions of
    one document never disagree with each other: only the current one is searchable)."""
    by_id = {c.id: (number, c) for number, c in enumerate(chunks, start=1)}
    pieces: dict[tuple[int, str], tuple[int, Chunk]] = {}
    for citation in citations:
        quote = (citation.get("quote") or "").strip()
        if quote and citation.get("chunk_id") in by_id:
            pieces.setdefault((citation["chunk_id"], quote), by_id[citation["chunk_id"]])
    found: list[dict] = []
    seen: set[tuple] = set()
    for (key_a, (number_a, chunk_a)), (key_b, (number_b, chunk_b)) in combinations(
        list(pieces.items())[:MAX_CITED_PIECES], 2
    ):
        if chunk_a.document_id == chunk_b.document_id:
            continue
        for conflict in value_conflicts(key_a[1], key_b[1]):
            identity = (frozenset({chunk_a.document_id, chunk_b.document_id}),
                        frozenset({conflict.a.text, conflict.b.text}))
            if identity in seen:
                continue
            seen.add(identity)
            found.append({
                "subject": " ".join(conflict.subject[:6]),
                "dimension": conflict.a.dimension,
                "values": [
                    _side(number=number_a, chunk=chunk_a, value=conflict.a.text, quote=key_a[1]),
                    _side(number=number_b, chunk=chunk_b, value=conflict.b.text, quote=key_b[1]),
                ],
                "newer_document_id": _newer(chunk_a.document, chunk_b.document),
            })
    return found


def _side(*, number: int, chunk: Chunk, value: str, quote: str) -> dict:
    document = chunk.document
    return {
        "value": value,
        "number": number,
        "chunk_id": chunk.id,
        "document_id": document.id,
        "document_title": document.title,
        "issued_on": document.issued_on.isoformat() if document.issued_on else None,
        "issued_as": document.issued_as,
        "section_path": chunk.section_path,
        "quote": quote,
    }


def _newer(first: Document, second: Document) -> int | None:
    """The more recently issued of two documents, when both dates are known and differ."""
    first_date, second_date = edition_date(first), edition_date(second)
    if first_date is None or second_date is None or first_date == second_date:
        return None
    return first.id if first_date > second_date else second.id
