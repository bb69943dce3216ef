"""Whether a statement addresses the question at all. Verification checks that the cited sentences support a
statement; a statement can be supported and still beside the point (seen on the cross-set runs: the small model
copying an unrelated article into a sentence that its passage supports word for word). Relevance is the cosine
similarity of the question and the statement in the embedding model's space (the multilingual one by default, so a
Chinese statement for an English question is compared fairly); the threshold is chosen by measurement
(bench/relevance.py, bench/README.md)."""

from __future__ import annotations

import dataclasses

import numpy as np

from assistant.grounding.verification import VerifiedStatement
from ingestion.embedding import embedder_get


def statements_relevance(*, question: str, statements: list[str]) -> list[float]:
    """Each statement's cosine similarity to the question, in the order given."""
    if not statements:
        return []
    embedder = embedder_get()
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    texts = np.asarray(embedder.embed_passages(statements), dtype=np.float32)
    query /= np.linalg.norm(query) or 1.0
    texts /= np.maximum(np.linalg.norm(texts, axis=1, keepdims=True), 1e-12)
    return [round(float(value), 4) for value in texts @ query]


def relevance_check(*, question: str, verified: VerifiedStatement, threshold: float) -> VerifiedStatement:
    """The statement as verified, or, when its passages support it but it is not about the question (similarity
    below `threshold`; 0 checks nothing), unsupported with method "irrelevant"."""
    if threshold <= 0 or not verified.supported:
        return verified
    (similarity,) = statements_relevance(question=question, statements=[verified.text])
    if similarity >= threshold:
        return verified
    return dataclasses.replace(verified, supported=False, method="irrelevant", citations=[])
