"""Breadth across sources: at most `per_source` passages from one title while other sources remain, rank kept."""

from __future__ import annotations

from ingestion.models import Chunk, Document
from retrieval.diversity import passages_diversified
from retrieval.services import RetrievedPassage


def passage(title: str, number: int) -> RetrievedPassage:
    document = Document(id=number, title=title)
    return RetrievedPassage(chunk=Chunk(id=number, document=document, text=f"{title} {number}"), score=1 / number)


def test_one_guideline_cannot_fill_every_slot_and_rank_order_is_kept() -> None:
    ranked = [passage("Opioid therapy: overview", n) for n in range(1, 7)] + [
        passage("Low back pain", 7), passage("opioid therapy: OVERVIEW ", 8), passage("CDC opioids", 9)]
    chosen = passages_diversified(passages=ranked, k=5, per_source=2)
    assert [p.chunk.id for p in chosen] == [1, 2, 3, 7, 9]  # 3 fills the last slot: no other source is left


def test_too_few_sources_fill_with_the_best_held_back_in_rank_order() -> None:
    ranked = [passage("A", 1), passage("A", 2), passage("A", 3), passage("B", 4), passage("A", 5)]
    assert [p.chunk.id for p in passages_diversified(passages=ranked, k=4, per_source=1)] == [1, 2, 3, 4]
    assert [p.chunk.id for p in passages_diversified(passages=ranked, k=10, per_source=3)] == [1, 2, 3, 4, 5]
