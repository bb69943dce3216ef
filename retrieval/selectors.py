"""Reads of what search may return: chunks of indexed documents."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from django.db.models import Count, Max

from ingestion.models import Chunk, Document, chunk_embedding_text


def searchable_version() -> tuple:
    """Changes whenever any document is indexed, replaced or removed (one cheap aggregate over documents)."""
    state = Document.objects.filter(status=Document.Status.INDEXED).aggregate(
        documents=Count("id"), last_change=Max("updated_at")
    )
    return (state["documents"], state["last_change"])


def searchable_documents() -> dict[int, datetime]:
    """Indexed documents and when each last changed."""
    return dict(Document.objects.filter(status=Document.Status.INDEXED).values_list("id", "updated_at"))


def searchable_chunk_rows(*, document_ids: Iterable[int], batch_size: int = 2000) -> Iterator[tuple]:
    """(chunk id, collection id, document id, text search sees) for the chunks of these indexed documents."""
    rows = (
        Chunk.objects.filter(document_id__in=list(document_ids), document__status=Document.Status.INDEXED)
        .order_by("id")
        .values_list("id", "collection_id", "document_id", "document__title", "section_path", "text")
    )
    for chunk_id, collection_id, document_id, title, section_path, text in rows.iterator(chunk_size=batch_size):
        # The same text the embedder sees, without loading each document's full text.
        yield (
            chunk_id,
            collection_id,
            document_id,
            chunk_embedding_text(title=title, section_path=section_path, text=text),
        )


def searchable_among(*, chunk_ids: Iterable[int]) -> set[int]:
    """Those of these chunks that search may serve now: chunks of indexed documents (one query by primary key)."""
    chunk_ids = list(chunk_ids)
    if not chunk_ids:
        return set()
    return set(
        Chunk.objects.filter(id__in=chunk_ids, document__status=Document.Status.INDEXED).values_list("id", flat=True)
    )


def chunks_by_id(*, chunk_ids: Iterable[int]) -> dict[int, Chunk]:
    return {c.id: c for c in Chunk.objects.select_related("document").filter(id__in=list(chunk_ids))}


def chunks_in_order(*, chunk_ids: Sequence[int]) -> list[Chunk]:
    """The chunks in the order given (a prompt's order, so that [n] is the n-th); one deleted since is left out."""
    chunks = chunks_by_id(chunk_ids=chunk_ids)
    return [chunks[i] for i in chunk_ids if i in chunks]
