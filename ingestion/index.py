"""The index step: where each embedding model's chunk vectors live, and where they are rebuilt from when damaged."""

from __future__ import annotations

import functools

import numpy as np
from django.conf import settings

from ingestion.embedding import Embedder, embedder_slug
from ingestion.models import ChunkVector, Document
from vectorstore.segments import VectorIndex, vector_index_get

SEARCHABLE_STATUSES = (Document.Status.INDEXED, Document.Status.INDEXING)
REBUILD_READ_ROWS = 2_000  # rows per database round trip while reading every stored vector


def chunk_vector_index(*, embedder: Embedder) -> VectorIndex:
    directory = settings.INDEX_DIR / embedder_slug(model_name=embedder.name)
    source = functools.partial(stored_chunk_vectors, embedding_model=embedder.name, dimension=embedder.dimension)
    return vector_index_get(directory=directory, dimension=embedder.dimension, rebuild_source=source)


def stored_chunk_vectors(*, embedding_model: str, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Every vector the index of this model should hold, from the database: the chunks of searchable documents
    embedded with it (what index_reconcile also wants). A chunk without a stored vector is left out here; the
    worker's reconciliation at start embeds it again."""
    rows = ChunkVector.objects.filter(
        chunk__document__status__in=SEARCHABLE_STATUSES, chunk__document__embedding_model=embedding_model
    ).order_by("chunk_id")
    count = rows.count()
    ids = np.empty(count, dtype=np.int64)
    vectors = np.empty((count, dimension), dtype=np.float32)
    filled = 0
    for chunk_id, vector in rows.values_list("chunk_id", "vector").iterator(chunk_size=REBUILD_READ_ROWS):
        if filled == count:
            break  # rows added since the count: the worker that adds them also puts them in the index
        ids[filled] = chunk_id
        vectors[filled] = np.frombuffer(bytes(vector), dtype=np.float32)
        filled += 1
    return ids[:filled], vectors[:filled]
