"""Hybrid retrieval: dense FAISS search and BM25, fused by reciprocal rank fusion."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk
from retrieval.language import language_of
from retrieval.lexical import LexicalIndex, lexical_index_cache
from retrieval.selectors import chunks_by_id, searchable_chunk_ids, searchable_chunks, searchable_state

RRF_K = 60  # the constant from Cormack et al.; damps the weight of the very first ranks


@dataclass
class RetrievedPassage:
    chunk: Chunk
    score: float  # fused RRF score
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass
class RetrievalResult:
    passages: list[RetrievedPassage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    stale: bool = False  # some ranked chunks vanished before they could be read


def reciprocal_rank_fusion(*, rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = sum over lists of 1 / (k + rank), rank starting at 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def _lexical_index(*, collection_ids: list[int]) -> LexicalIndex:
    def build() -> LexicalIndex:
        chunks = list(searchable_chunks(collection_ids=collection_ids).select_related("document").order_by("id"))
        return LexicalIndex(chunk_ids=[c.id for c in chunks], texts=[c.embedding_text() for c in chunks])

    return lexical_index_cache.get(key=searchable_state(collection_ids=collection_ids), build=build)


def passages_retrieve(
    *, query: str, collection_ids: Iterable[int], k: int | None = None, methods: tuple[str, ...] = ("dense", "lexical")
) -> RetrievalResult:
    """The k best passages for a query from the given collections only."""
    result = _passages_retrieve_once(query=query, collection_ids=collection_ids, k=k, methods=methods)
    if result.stale:
        # A document was replaced or deleted between our reads: search again against the new state.
        result = _passages_retrieve_once(query=query, collection_ids=collection_ids, k=k, methods=methods)
    return result


def _passages_retrieve_once(
    *, query: str, collection_ids: Iterable[int], k: int | None, methods: tuple[str, ...]
) -> RetrievalResult:
    k = k or settings.RETRIEVAL_TOP_K
    collection_ids = sorted(set(collection_ids))
    candidates = max(settings.RETRIEVAL_CANDIDATES, k)
    timings: dict[str, float] = {}
    rankings: list[list[int]] = []
    dense: dict[int, tuple[int, float]] = {}
    lexical: dict[int, tuple[int, float]] = {}

    embedder = embedder_get()
    if "lexical" in methods and embedder.languages is not None and language_of(query) not in embedder.languages:
        # The embedder cannot read this language; its ranking would only push noise into the fusion.
        methods = tuple(m for m in methods if m != "dense")
    if "dense" in methods:
        started = time.perf_counter()
        query_vector = embedder.embed_query(query)
        allowed = searchable_chunk_ids(collection_ids=collection_ids)
        hits = chunk_vector_index(embedder=embedder).search(query=query_vector, k=candidates, allowed_ids=allowed)
        dense = {h.chunk_id: (rank, h.score) for rank, h in enumerate(hits, start=1)}
        rankings.append([h.chunk_id for h in hits])
        timings["dense_ms"] = (time.perf_counter() - started) * 1000
    if "lexical" in methods:
        started = time.perf_counter()
        lexical_hits = _lexical_index(collection_ids=collection_ids).search(query=query, k=candidates)
        lexical = {h.chunk_id: (rank, h.score) for rank, h in enumerate(lexical_hits, start=1)}
        rankings.append([h.chunk_id for h in lexical_hits])
        timings["lexical_ms"] = (time.perf_counter() - started) * 1000

    fused = reciprocal_rank_fusion(rankings=rankings)[:k]
    chunks = chunks_by_id(chunk_ids=[chunk_id for chunk_id, _ in fused])
    passages = [
        RetrievedPassage(
            chunk=chunks[chunk_id],
            score=score,
            dense_rank=dense.get(chunk_id, (None, None))[0],
            dense_score=dense.get(chunk_id, (None, None))[1],
            lexical_rank=lexical.get(chunk_id, (None, None))[0],
            lexical_score=lexical.get(chunk_id, (None, None))[1],
        )
        for chunk_id, score in fused
        if chunk_id in chunks  # a vector whose chunk was deleted meanwhile is skipped, never served
    ]
    timings["retrieval_ms"] = sum(timings.values())
    return RetrievalResult(passages=passages, timings_ms=timings, stale=len(passages) < len(fused))
