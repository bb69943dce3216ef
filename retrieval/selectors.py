"""Reads of what search may return: chunks of indexed documents in the asked collections."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from django.db.models import Count, Max, QuerySet

from ingestion.models import Chunk, Document


def searchable_chunks(*, collection_ids: Iterable[int]) -> QuerySet[Chunk]:
    return Chunk.objects.filter(collection_id__in=list(collection_ids), document__status=Document.Status.INDEXED)


def searchable_chunk_ids(*, collection_ids: Iterable[int]) -> np.ndarray:
    ids = searchable_chunks(collection_ids=collection_ids).values_list("id", flat=True)
    return np.fromiter(ids, dtype=np.int64)


def searchable_state(*, collection_ids: Iterable[int]) -> tuple:
    """Changes whenever a document of these collections is indexed, replaced or removed (a cache key)."""
    ids = sorted(set(collection_ids))
    state = Document.objects.filter(collection_id__in=ids, status=Document.Status.INDEXED).aggregate(
        documents=Count("id"), last_change=Max("updated_at"), chunks=Max("chunks__id")
    )
    return (tuple(ids), state["documents"], state["last_change"], state["chunks"])


def chunks_by_id(*, chunk_ids: Iterable[int]) -> dict[int, Chunk]:
    return {c.id: c for c in Chunk.objects.select_related("document").filter(id__in=list(chunk_ids))}
