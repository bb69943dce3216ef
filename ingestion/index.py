"""The index step: where each embedding model's chunk vectors live, and where they are rebuilt from when damaged.

settings.SEARCH_ENGINE picks the engine: "embedded" (FAISS segment files under INDEX_DIR; BM25 is built in each
process from the database) or "milvus://HOST:PORT" (one Milvus collection per model holding vector and BM25 terms,
shared by every process). Ingestion writes through `chunk_vector_index`, whose writer has the same add/remove/ids
shape for both, so the publish, delete, reconcile and re-embed steps are one code path.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ingestion.embedding import Embedder, embedder_slug
from ingestion.models import Chunk, ChunkVector, Document, chunk_embedding_text
from vectorstore.analysis import indexed_terms, language_of
from vectorstore.milvus import (
    ENGINE_SCHEME,
    MilvusChunkStore,
    MilvusException,
    MilvusRow,
    analyzer_from_setting,
    milvus_client,
    milvus_uri,
)
from vectorstore.segments import VectorIndex, vector_index_get

logger = logging.getLogger(__name__)

SEARCHABLE_STATUSES = (Document.Status.INDEXED, Document.Status.INDEXING)
REBUILD_READ_ROWS = 2_000  # rows per database round trip while reading every stored vector
MILVUS_WRITE_ROWS = 500  # rows per upsert: one gRPC message stays well under its 64 MB limit


def search_engine_is_milvus() -> bool:
    engine = settings.SEARCH_ENGINE
    if engine == "embedded":
        return False
    if engine.startswith(ENGINE_SCHEME):
        return True
    raise ImproperlyConfigured(f"SEARCH_ENGINE must be 'embedded' or 'milvus://HOST:PORT', not {engine!r}")


def milvus_chunk_store(*, embedder: Embedder) -> MilvusChunkStore:
    """The Milvus collection of this embedding model (each model has its own: dimensions differ)."""
    return _milvus_store(uri=milvus_uri(settings.SEARCH_ENGINE),
                         name=f"{settings.MILVUS_COLLECTION_PREFIX}_{embedder_slug(model_name=embedder.name)}",
                         dimension=embedder.dimension, analyzer=settings.MILVUS_TERMS_ANALYZER,
                         search_ef=settings.MILVUS_HNSW_EF)


@functools.lru_cache(maxsize=32)
def _milvus_store(*, uri: str, name: str, dimension: int, analyzer: str, search_ef: int) -> MilvusChunkStore:
    # Cached so the collection is looked up once per process, not on every search.
    name = name.replace("-", "_").replace(".", "_")  # Milvus names: letters, digits and underscores
    return MilvusChunkStore(uri=uri, name=name, dimension=dimension, analyzer=analyzer_from_setting(analyzer),
                            search_ef=search_ef)


def milvus_collections_drop(*, prefix: str) -> list[str]:
    """Drop every collection whose name starts with prefix (a finished evaluation's); nothing when search is embedded.

    Best effort: cleaning up after a run must not fail for an unreachable Milvus (the collections stay, named).
    """
    if not search_engine_is_milvus():
        return []
    client = milvus_client(milvus_uri(settings.SEARCH_ENGINE))
    try:
        names = [name for name in client.list_collections() if name.startswith(prefix)]
        for name in names:
            client.drop_collection(name)
    except MilvusException:
        logger.warning("could not drop the Milvus collections named %s*", prefix, exc_info=True)
        return []
    _milvus_store.cache_clear()
    return names


class MilvusChunkIndex:
    """The write side of a Milvus collection in the shape of VectorIndex's writer (add, remove, ids, size).

    add() reads each chunk's set, document, version and text from the database, so callers pass only ids and
    vectors, as they do to the embedded index. An upsert by chunk id: a resumed run writes the same rows again.
    """

    def __init__(self, *, store: MilvusChunkStore) -> None:
        self.store = store

    @property
    def directory(self) -> str:
        return f"{self.store.uri} collection {self.store.name}"

    @contextlib.contextmanager
    def updating(self) -> Iterator[MilvusChunkIndex]:
        yield self  # Milvus orders the writes; upserts and deletes by id need no lock of ours

    def add(self, *, ids: np.ndarray | list[int], vectors: np.ndarray | None) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        vector_of = dict(zip(ids, np.asarray(vectors, dtype=np.float32), strict=True))
        for start in range(0, len(ids), MILVUS_WRITE_ROWS):
            batch = ids[start : start + MILVUS_WRITE_ROWS]
            self.store.upsert(milvus_rows(chunk_ids=batch, vector_of=vector_of.__getitem__))

    def remove(self, *, ids: np.ndarray | list[int]) -> int:
        ids = [int(i) for i in ids]
        self.store.delete(ids)
        return len(ids)

    def ids(self) -> np.ndarray:
        return self.store.ids()

    @property
    def size(self) -> int:
        return self.store.count()


def chunk_vector_index(*, embedder: Embedder) -> VectorIndex | MilvusChunkIndex:
    if search_engine_is_milvus():
        return MilvusChunkIndex(store=milvus_chunk_store(embedder=embedder))
    directory = settings.INDEX_DIR / embedder_slug(model_name=embedder.name)
    source = functools.partial(stored_chunk_vectors, embedding_model=embedder.name, dimension=embedder.dimension)
    return vector_index_get(directory=directory, dimension=embedder.dimension, rebuild_source=source)


def milvus_rows(*, chunk_ids: list[int], vector_of: Callable[[int], np.ndarray]) -> list[MilvusRow]:
    """Rows for these chunks (one deleted meanwhile is left out): the same text BM25 and the embedder see."""
    chunks = Chunk.objects.filter(id__in=chunk_ids).values_list(
        "id", "collection_id", "document_id", "document__version", "document__title", "section_path", "text"
    )
    rows = []
    for chunk_id, collection_id, document_id, version, title, section_path, text in chunks:
        seen = chunk_embedding_text(title=title, section_path=section_path, text=text)
        rows.append(MilvusRow(chunk_id=chunk_id, collection_id=collection_id, document_id=document_id,
                              version=version, language=language_of(seen), terms=indexed_terms(seen),
                              vector=vector_of(chunk_id)))
    return rows


def indexable_chunks(*, embedding_model: str):
    """The chunks an index of this model should hold: those of searchable documents embedded with it."""
    return Chunk.objects.filter(document__status__in=SEARCHABLE_STATUSES, document__embedding_model=embedding_model)


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


@dataclass(frozen=True)
class MilvusFill:
    added: int
    already_there: int


def milvus_fill(
    *, embedder: Embedder, batch_size: int = MILVUS_WRITE_ROWS, on_progress: Callable[[int, int], None] | None = None,
) -> MilvusFill:
    """Copy into the Milvus collection every stored vector the index should hold that it does not hold yet.

    For moving an installation from the embedded engine (or refilling a lost Milvus) without embedding again.
    Resumable: rows already in the collection are skipped, so a run killed midway goes on where it stopped.
    on_progress(done, total) is called after each batch, counting chunks skipped as done.
    """
    store = milvus_chunk_store(embedder=embedder)
    present = store.ids()
    wanted = ChunkVector.objects.filter(
        chunk__document__status__in=SEARCHABLE_STATUSES, chunk__document__embedding_model=embedder.name
    )
    total = wanted.count()
    missing = np.setdiff1d(np.fromiter(wanted.values_list("chunk_id", flat=True), dtype=np.int64), present)
    already_there, added = total - len(missing), 0
    if on_progress is not None:
        on_progress(already_there, total)
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size].tolist()
        stored = {chunk_id: np.frombuffer(bytes(vector), dtype=np.float32) for chunk_id, vector
                  in ChunkVector.objects.filter(chunk_id__in=batch).values_list("chunk_id", "vector")}
        rows = milvus_rows(chunk_ids=list(stored), vector_of=stored.__getitem__)
        store.upsert(rows)
        added += len(rows)
        if on_progress is not None:
            on_progress(already_there + start + len(batch), total)
    return MilvusFill(added=added, already_there=already_there)
