"""Breadth across sources: a report drawn from one guideline's eight near-identical passages misses what the other
guidelines say, so callers that summarise (the clinician report) cap how many passages one source contributes."""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.services import RetrievedPassage


def source_key(passage: RetrievedPassage) -> str:
    """A source is a document title: one guideline split into many files (cpgQA's passages) is still one source."""
    chunk = passage.chunk
    return (chunk.document.title or str(chunk.document_id)).strip().casefold()


def passages_diversified(*, passages: Sequence[RetrievedPassage], k: int, per_source: int) -> list[RetrievedPassage]:
    """The k best passages, at most `per_source` from any one source while others remain; rank order is kept, and
    when too few sources are left the best of the passages held back fill the rest."""
    kept: list[RetrievedPassage] = []
    held_back: list[RetrievedPassage] = []
    counts: dict[str, int] = {}
    for passage in passages:
        key = source_key(passage)
        if counts.get(key, 0) < per_source:
            counts[key] = counts.get(key, 0) + 1
            kept.append(passage)
        else:
            held_back.append(passage)
        if len(kept) == k:
            return kept
    chosen = {id(p) for p in kept} | {id(p) for p in held_back[: k - len(kept)]}
    return [p for p in passages if id(p) in chosen][:k]
