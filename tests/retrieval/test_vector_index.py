"""The FAISS index on disk: written atomically, reloaded by other readers, filtered inside the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk
from ingestion.services import collection_delete, documents_delete
from retrieval.vector_index import VectorIndex
from tests.factories import ingest_file


def unit_vectors(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_index_is_written_reloaded_and_searched(tmp_path: Path) -> None:
    path = tmp_path / "vectors.faiss"
    vectors = unit_vectors(200, 32)
    ids = np.arange(1000, 1200)
    with VectorIndex(path=path, dimension=32).updating() as index:
        index.add(ids=ids, vectors=vectors)

    reader = VectorIndex(path=path, dimension=32)  # another process's view
    hits = reader.search(query=vectors[17], k=3)
    assert hits[0].chunk_id == 1017 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert {p.name for p in tmp_path.iterdir()} == {"vectors.faiss", "vectors.faiss.lock"}  # nothing half-written

    allowed = np.array([1100, 1150, 1199])
    filtered = reader.search(query=vectors[17], k=10, allowed_ids=allowed)
    assert {h.chunk_id for h in filtered} == set(allowed.tolist())

    with VectorIndex(path=path, dimension=32).updating() as index:
        assert index.remove(ids=[1017]) == 1
        index.add(ids=[1050], vectors=vectors[:1])  # re-adding an id replaces its vector
    assert reader.size == 200  # stale until it looks again
    hits = reader.search(query=vectors[17], k=1)
    assert reader.size == 199 and hits[0].chunk_id != 1017
    assert sorted(reader.ids().tolist()) == sorted(set(ids.tolist()) - {1017})


def test_failed_write_keeps_the_served_index(tmp_path: Path) -> None:
    path = tmp_path / "vectors.faiss"
    with VectorIndex(path=path, dimension=8).updating() as index:
        index.add(ids=[1, 2], vectors=unit_vectors(2, 8))
    before = path.read_bytes()
    writer = VectorIndex(path=path, dimension=8)
    with pytest.raises(RuntimeError), writer.updating() as index:
        index.add(ids=[3], vectors=unit_vectors(1, 8, seed=1))
        raise RuntimeError("worker crashed mid-update")
    assert path.read_bytes() == before
    writer.refresh()
    assert sorted(writer.ids().tolist()) == [1, 2]  # the aborted change is not served from memory either


@pytest.mark.django_db
def test_deleting_documents_removes_their_vectors(shared_data: Path) -> None:
    kept = ingest_file(path=shared_data / "cn_laws" / "price_65.txt", collection="keep")
    removed = ingest_file(path=shared_data / "cn_laws" / "spec_trial.txt", collection="drop")
    removed_ids = set(removed.chunks.values_list("id", flat=True))
    index = chunk_vector_index(embedder=embedder_get())
    assert removed_ids <= set(index.ids().tolist())

    documents_delete(documents=[removed])
    assert not removed_ids & set(index.ids().tolist())
    assert set(kept.chunks.values_list("id", flat=True)) <= set(index.ids().tolist())

    collection_delete(collection=kept.collection)
    assert index.ids().size == 0 and Chunk.objects.count() == 0
