"""The index step: where each embedding model's chunk vectors live."""

from __future__ import annotations

from django.conf import settings

from ingestion.embedding import Embedder, embedder_slug
from retrieval.vector_index import VectorIndex, vector_index_get


def chunk_vector_index(*, embedder: Embedder) -> VectorIndex:
    directory = settings.INDEX_DIR / embedder_slug(model_name=embedder.name)
    return vector_index_get(directory=directory, dimension=embedder.dimension)
