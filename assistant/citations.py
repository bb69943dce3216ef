"""Resolve passage numbers [n] to what a reader needs to check them: document, section path, pages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from ingestion.models import Chunk


@dataclass(frozen=True)
class Citation:
    number: int
    chunk_id: int
    document_id: int
    document_title: str
    section_path: str
    page_start: int | None
    page_end: int | None

    def as_dict(self) -> dict:
        return asdict(self)


def citations_resolve(*, numbers: Iterable[int], passages: Sequence[Chunk]) -> list[Citation]:
    """Each named passage once, in order of first mention; numbers outside 1..len(passages) are an error."""
    citations: list[Citation] = []
    for number in dict.fromkeys(numbers):
        if not 1 <= number <= len(passages):
            raise ValueError(f"[{number}] names no given passage")
        chunk = passages[number - 1]
        citations.append(
            Citation(
                number=number,
                chunk_id=chunk.id,
                document_id=chunk.document_id,
                document_title=chunk.document.title,
                section_path=chunk.section_path,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
            )
        )
    return citations
