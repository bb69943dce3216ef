"""Hybrid retrieval: dense search and BM25, both filtered inside the search (embedded FAISS and BM25, or Milvus:
retrieval/engines.py), fused, optionally re-ranked."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from ingestion.embedding import embedder_get
from ingestion.models import Chunk
from retrieval.access import Reader, readable_collection_ids
from retrieval.editions import CURRENT_FIRST, editions_ordered
from retrieval.engines import search_engine_get
from retrieval.fusion import reciprocal_rank_fusion, score_fusion
from retrieval.language import language_of
from retrieval.reranking import rerank_order, reranker_get
from retrieval.selectors import chunks_by_id

DEFAULT_METHODS = ("dense", "lexical")


@dataclass
class RetrievedPassage:
    chunk: Chunk
    score: float  # fused score (RRF or normalised score fusion, by settings.RETRIEVAL_FUSION)
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    lexical_score: float | None = None
    reranked: bool = False


@dataclass
class RetrievalResult:
    passages: list[RetrievedPassage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    stale: bool = False  # some ranked chunks vanished before they could be read


def passages_retrieve(
    *,
    query: str,
    collection_ids: Iterable[int],
    reader: Reader,
    document_ids: Iterable[int] | None = None,
    k: int | None = None,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    reranker: str | None = None,
    editions: str = CURRENT_FIRST,
) -> RetrievalResult:
    """The k best passages for a query, from these collections only (and these documents only, when given).

    reader: the user asking (or retrieval.access.OPERATOR for command-line tools); the requested collections are
    cut to those the reader may read before searching, so no caller gets a chunk of a set its user cannot read
    (interfaces refuse such requests before this; this is the guard that cannot be forgotten). The filter runs
    inside both searches, so a user permitted a small share of the corpus still gets k passages from it.
    methods: any of "dense" and "lexical"; reranker: a spec for retrieval.reranking.reranker_get, by default
    settings.RETRIEVAL_RERANKER. editions: CURRENT_FIRST (every edition, the one in force ranked above those it
    replaced), CURRENT_ONLY (replaced documents left out) or ALL_EDITIONS (retrieval/editions.py).
    """
    arguments = {
        "query": query,
        "collection_ids": readable_collection_ids(reader=reader, collection_ids=collection_ids),
        "document_ids": None if document_ids is None else sorted(set(document_ids)),
        "k": k or settings.RETRIEVAL_TOP_K,
        "methods": methods,
        "reranker": settings.RETRIEVAL_RERANKER if reranker is None else reranker,
        "editions": editions,
    }
    result = _passages_retrieve_once(**arguments)
    if result.stale:
        # A document was replaced or deleted between our reads: search again against the new state.
        result = _passages_retrieve_once(**arguments)
    return result


def _passages_retrieve_once(
    *,
    query: str,
    collection_ids: list[int],
    document_ids: list[int] | None,
    k: int,
    methods: tuple[str, ...],
    reranker: str,
    editions: str,
) -> RetrievalResult:
    timings: dict[str, float] = {}
    dense, lexical = _ranked_candidates(query=query, collection_ids=collection_ids, document_ids=document_ids,
                                        candidates=max(settings.RETRIEVAL_CANDIDATES, k), methods=methods,
                                        timings=timings)
    fused = _fuse(dense=dense, lexical=lexical)
    reranking = reranker_get(spec=reranker)
    shortlist = fused[: max(k, settings.RETRIEVAL_RERANK_DEPTH) if reranking else k]
    chunks = chunks_by_id(chunk_ids=[chunk_id for chunk_id, _ in shortlist])
    permitted = set(collection_ids)
    # A chunk moved or searched from a stale index is never served outside the permitted sets.
    present = [(chunk_id, score) for chunk_id, score in shortlist
               if chunk_id in chunks and chunks[chunk_id].collection_id in permitted]
    stale = len(present) < len(shortlist)
    if reranking is not None:
        started = time.perf_counter()
        order = rerank_order(
            reranker=reranking,
            query=query,
            passages=[chunks[chunk_id].embedding_text() for chunk_id, _ in present],
            weight=settings.RETRIEVAL_RERANK_WEIGHT,
        )
        present = [present[i] for i in order]
        timings["rerank_ms"] = (time.perf_counter() - started) * 1000
    present = editions_ordered(ranked=present, chunks=chunks, collection_ids=collection_ids, mode=editions)
    passages = _passages_described(present=present[:k], chunks=chunks, dense=dense, lexical=lexical,
                                   reranked=reranking is not None)
    timings["retrieval_ms"] = sum(timings.values())
    # A vector whose chunk was deleted meanwhile is skipped, never served, and the search is repeated once.
    return RetrievalResult(passages=passages, timings_ms=timings, stale=stale)


def _ranked_candidates(
    *, query: str, collection_ids: list[int], document_ids: list[int] | None, candidates: int,
    methods: tuple[str, ...], timings: dict[str, float],
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(dense, lexical) rankings of (chunk id, score), each `candidates` long at most, within the sets given, from
    the engine settings.SEARCH_ENGINE names (retrieval/engines.py)."""
    embedder = embedder_get()
    if "lexical" in methods and embedder.languages is not None and language_of(query) not in embedder.languages:
        # The embedder cannot read this language; its ranking would only push noise into the fusion.
        methods = tuple(m for m in methods if m != "dense")
    query_vector = None
    if "dense" in methods:
        started = time.perf_counter()
        query_vector = embedder.embed_query(query)
        timings["embed_ms"] = (time.perf_counter() - started) * 1000
    return search_engine_get(embedder=embedder).rankings(
        query=query, query_vector=query_vector, lexical="lexical" in methods, collection_ids=collection_ids,
        document_ids=document_ids, candidates=candidates, timings=timings,
    )


def _passages_described(
    *, present: list[tuple[int, float]], chunks: dict[int, Chunk], dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]], reranked: bool,
) -> list[RetrievedPassage]:
    """The served passages with the rank and score each method gave them (shown by evaluations and the API)."""
    dense_at = {chunk_id: (rank, score) for rank, (chunk_id, score) in enumerate(dense, start=1)}
    lexical_at = {chunk_id: (rank, score) for rank, (chunk_id, score) in enumerate(lexical, start=1)}
    return [
        RetrievedPassage(
            chunk=chunks[chunk_id],
            score=score,
            dense_rank=dense_at.get(chunk_id, (None, None))[0],
            dense_score=dense_at.get(chunk_id, (None, None))[1],
            lexical_rank=lexical_at.get(chunk_id, (None, None))[0],
            lexical_score=lexical_at.get(chunk_id, (None, None))[1],
            reranked=reranked,
        )
        for chunk_id, score in present
    ]


def _fuse(*, dense: list[tuple[int, float]], lexical: list[tuple[int, float]]) -> list[tuple[int, float]]:
    if not dense or not lexical:
        return dense or lexical
    weights = (settings.RETRIEVAL_DENSE_WEIGHT, 1.0 - settings.RETRIEVAL_DENSE_WEIGHT)
    if settings.RETRIEVAL_FUSION == "rrf":
        return reciprocal_rank_fusion(rankings=[[i for i, _ in dense], [i for i, _ in lexical]], weights=weights)
    return score_fusion(scored=[dense, lexical], weights=weights)
