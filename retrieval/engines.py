"""The two search engines behind hybrid retrieval, one interface: each returns the dense and the lexical ranking of
(chunk id, score) within the permitted sets, and retrieval/services.py fuses them the same way for both.

- EmbeddedEngine: FAISS segments on this machine's disk and BM25 kept in this process (retrieval/searchable.py).
- MilvusEngine: both searches in the shared Milvus collection (vectorstore/milvus.py). Milvus holds every row
  ingestion wrote, including a new version's rows before its commit and a killed worker's; which chunks may be
  served is the database's decision, read here for the few candidates: a row whose chunk is not in an indexed
  document is dropped before fusion, so exactly one version of a document is ever served.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from ingestion.embedding import Embedder
from ingestion.index import chunk_vector_index, milvus_chunk_store, search_engine_is_milvus
from retrieval.searchable import searchable_chunks_get
from retrieval.selectors import searchable_among
from vectorstore.analysis import query_terms

Ranking = list[tuple[int, float]]


class SearchEngine(Protocol):
    def rankings(
        self, *, query: str, query_vector: np.ndarray | None, lexical: bool, collection_ids: list[int],
        document_ids: list[int] | None, candidates: int, timings: dict[str, float],
    ) -> tuple[Ranking, Ranking]:
        """(dense, lexical): dense only when query_vector is given, lexical only when asked; each best first."""
        ...


class EmbeddedEngine:
    def __init__(self, *, embedder: Embedder) -> None:
        self.embedder = embedder

    def rankings(
        self, *, query: str, query_vector: np.ndarray | None, lexical: bool, collection_ids: list[int],
        document_ids: list[int] | None, candidates: int, timings: dict[str, float],
    ) -> tuple[Ranking, Ranking]:
        started = time.perf_counter()
        searchable = searchable_chunks_get()
        timings["sync_ms"] = (time.perf_counter() - started) * 1000
        dense: Ranking = []
        lexical_ranking: Ranking = []
        if query_vector is not None:
            started = time.perf_counter()
            allowed = searchable.lexical.chunk_ids(collection_ids=collection_ids, document_ids=document_ids)
            hits = chunk_vector_index(embedder=self.embedder).search(query=query_vector, k=candidates,
                                                                     allowed_ids=allowed)
            dense = [(h.chunk_id, h.score) for h in hits]
            timings["dense_ms"] = (time.perf_counter() - started) * 1000
        if lexical:
            started = time.perf_counter()
            hits = searchable.lexical.search(query=query, k=candidates, collection_ids=collection_ids,
                                             document_ids=document_ids)
            lexical_ranking = [(h.chunk_id, h.score) for h in hits]
            timings["lexical_ms"] = (time.perf_counter() - started) * 1000
        return dense, lexical_ranking


class MilvusEngine:
    def __init__(self, *, embedder: Embedder) -> None:
        self.store = milvus_chunk_store(embedder=embedder)

    def rankings(
        self, *, query: str, query_vector: np.ndarray | None, lexical: bool, collection_ids: list[int],
        document_ids: list[int] | None, candidates: int, timings: dict[str, float],
    ) -> tuple[Ranking, Ranking]:
        dense: Ranking = []
        lexical_ranking: Ranking = []
        if query_vector is not None:
            started = time.perf_counter()
            dense = self.store.dense_search(vector=query_vector, k=candidates, collection_ids=collection_ids,
                                            document_ids=document_ids)
            timings["dense_ms"] = (time.perf_counter() - started) * 1000
        if lexical:
            started = time.perf_counter()
            terms = query_terms(query)
            timings["terms_ms"] = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            lexical_ranking = self.store.text_search(terms=terms, k=candidates, collection_ids=collection_ids,
                                                     document_ids=document_ids)
            timings["lexical_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        visible = searchable_among(chunk_ids={chunk_id for chunk_id, _ in [*dense, *lexical_ranking]})
        dense = [hit for hit in dense if hit[0] in visible]
        lexical_ranking = [hit for hit in lexical_ranking if hit[0] in visible]
        timings["visible_ms"] = (time.perf_counter() - started) * 1000
        return dense, lexical_ranking


def search_engine_get(*, embedder: Embedder) -> SearchEngine:
    """The engine settings.SEARCH_ENGINE names."""
    if search_engine_is_milvus():
        return MilvusEngine(embedder=embedder)
    return EmbeddedEngine(embedder=embedder)
