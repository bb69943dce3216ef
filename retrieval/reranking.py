"""A second, more careful look at the fused shortlist, behind one interface.

Production hosts plug in a cross-encoder (e.g. bge-reranker-v2-m3 from a local folder, `RERANKER_MODEL`); none ships
its weights in a package here, so the embedding reranker (a second embedder re-scoring the shortlist by cosine) is the
implementation that runs offline and in tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from retrieval.language import language_of


class Reranker(Protocol):
    name: str

    def scores(self, *, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage, higher is better."""


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder given by a local folder (or a name in the local model cache)."""

    def __init__(self, *, model_name: str) -> None:
        from sentence_transformers import CrossEncoder

        self.name = model_name
        self._model = CrossEncoder(model_name, device=os.environ.get("EMBEDDING_DEVICE") or None)
        self._lock = threading.Lock()

    def scores(self, *, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.predict([(query, p) for p in passages], show_progress_bar=False))


class EmbeddingReranker:
    """Cosine of query and passage under a second embedder (from ingestion.embedding)."""

    def __init__(self, *, model_name: str) -> None:
        from ingestion.embedding import embedder_get

        self.name = f"embedding:{model_name}"
        self._embedder = embedder_get(model_name=model_name)

    def scores(self, *, query: str, passages: Sequence[str]) -> np.ndarray:
        languages = self._embedder.languages
        if not passages or (languages is not None and language_of(query) not in languages):
            # An embedder that cannot read the question gives equal scores: the fused order stands.
            return np.zeros(len(passages), dtype=np.float32)
        return self._embedder.embed_passages(list(passages)) @ self._embedder.embed_query(query)


def rerank_order(*, reranker: Reranker, query: str, passages: Sequence[str], weight: float = 1.0) -> list[int]:
    """Positions of the passages, best first: reranker score, with the original order breaking ties.

    weight < 1 blends the reranker's rank with the original one (by reciprocal ranks), for rerankers that are not
    clearly better than the retrieval they re-rank.
    """
    if not passages:
        return []
    scores = reranker.scores(query=query, passages=passages)
    by_reranker = sorted(range(len(passages)), key=lambda i: (-float(scores[i]), i))
    if weight >= 1.0:
        return by_reranker
    reranked_position = {position: rank for rank, position in enumerate(by_reranker, start=1)}
    blended = {i: weight / (60 + reranked_position[i]) + (1 - weight) / (60 + i + 1) for i in range(len(passages))}
    return sorted(blended, key=lambda i: (-blended[i], i))


_rerankers: dict[str, Reranker] = {}
_rerankers_lock = threading.Lock()


def reranker_get(*, spec: str) -> Reranker | None:
    """'' or 'none': no reranking; 'embedding:MODEL': EmbeddingReranker; anything else: a cross-encoder."""
    spec = spec.strip()
    if spec in {"", "none"}:
        return None
    with _rerankers_lock:
        if spec not in _rerankers:
            if spec.startswith("embedding:"):
                _rerankers[spec] = EmbeddingReranker(model_name=spec.removeprefix("embedding:"))
            else:
                _rerankers[spec] = CrossEncoderReranker(model_name=spec)
        return _rerankers[spec]
