"""A retrieved passage as every feature shows and stores it: its number in the prompt and where it comes from."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.grounding.sources import superseding_dict, superseding_of
from ingestion.models import Chunk
from retrieval.selectors import chunks_in_order


def passage_dict(*, number: int, chunk: Chunk) -> dict:
    """superseded_by: the document in force that replaced (or amended) this one, when the chunk was marked by
    sources.chunks_mark_in_force; None otherwise."""
    return {
        "number": number,
        "chunk_id": chunk.id,
        "document_id": chunk.document_id,
        "document_title": chunk.document.title,
        "issued_as": chunk.document.issued_as,
        "section_path": chunk.section_path,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "superseded_by": superseding_dict(superseding_of(chunk)),
    }


def passage_dicts(*, chunk_ids: Sequence[int]) -> list[dict]:
    """Passage dicts (number = 1-based prompt order) for the given chunks; a chunk deleted since is left out."""
    present = {c.id: c for c in chunks_in_order(chunk_ids=chunk_ids)}
    return [passage_dict(number=n, chunk=present[i]) for n, i in enumerate(chunk_ids, start=1) if i in present]
