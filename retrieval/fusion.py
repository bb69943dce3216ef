"""Fusing the dense and the lexical ranking into one."""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60  # the constant from Cormack et al.; damps the weight of the very first ranks


def reciprocal_rank_fusion(
    *, rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """score(id) = sum over lists of weight / (k + rank), rank starting at 1; best first, ties by id."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def score_fusion(*, scored: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float]) -> list[tuple[int, float]]:
    """Convex combination of each list's scores, min-max normalised per query over its candidates.

    Unlike RRF it keeps how far apart the candidates are: a passage far ahead in BM25 (a rare drug name matched)
    stays ahead even when the dense ranking is flat. An id missing from a list counts that list's minimum.
    """
    scores: dict[int, float] = {}
    for hits, weight in zip(scored, weights, strict=True):
        if not hits:
            continue
        values = [score for _, score in hits]
        low, high = min(values), max(values)
        spread = high - low
        for item, score in hits:
            normalised = (score - low) / spread if spread > 0 else 1.0
            scores[item] = scores.get(item, 0.0) + weight * normalised
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
