"""The FAISS index on disk: written atomically, reloaded by other readers, filtered inside the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk
from ingestion.services import collection_delete, documents_delete
from tests.factories import ingest_file
from vectorstore.segments import MANIFEST_NAME, MERGE_FACTOR, VectorIndex


def unit_vectors(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_index_is_written_reloaded_and_searched(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(200, 32)
    ids = np.arange(1000, 1200)
    with VectorIndex(directory=directory, dimension=32).updating() as index:
        index.add(ids=ids, vectors=vectors)

    reader = VectorIndex(directory=directory, dimension=32)  # another process's view
    hits = reader.search(query=vectors[17], k=3)
    assert hits[0].chunk_id == 1017 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]  # nothing half-written left

    allowed = np.array([1100, 1150, 1199])
    filtered = reader.search(query=vectors[17], k=10, allowed_ids=allowed)
    assert {h.chunk_id for h in filtered} == set(allowed.tolist())

    with VectorIndex(directory=directory, dimension=32).updating() as index:
        assert index.remove(ids=[1017]) == 1
        index.add(ids=[1050], vectors=vectors[:1])  # re-adding an id replaces its vector
    assert reader.size == 200  # stale until it looks again
    hits = reader.search(query=vectors[17], k=1)
    assert reader.size == 199 and hits[0].chunk_id != 1017
    assert sorted(reader.ids().tolist()) == sorted(set(ids.tolist()) - {1017})
    assert {h.chunk_id for h in reader.search(query=vectors[0], k=2)} == {1000, 1050}  # 1050 now has 1000's vector


def test_adds_write_small_segments_that_merge_in_tiers(tmp_path: Path) -> None:
    """Indexing one more document writes its vectors only; merging keeps the segment count logarithmic."""
    directory = tmp_path / "vectors"
    vectors = unit_vectors(400, 16)
    writer = VectorIndex(directory=directory, dimension=16)
    for batch in range(40):
        with writer.updating() as index:
            index.add(ids=np.arange(batch * 10, batch * 10 + 10), vectors=vectors[batch * 10 : batch * 10 + 10])
        assert writer.segment_count < 2 * MERGE_FACTOR
    reader = VectorIndex(directory=directory, dimension=16)
    assert sorted(reader.ids().tolist()) == list(range(400))
    exact = np.argsort(-(vectors @ vectors[123]))[:10]
    assert [h.chunk_id for h in reader.search(query=vectors[123], k=10)] == exact.tolist()
    on_disk = sorted(p.name for p in directory.glob("segment-*.faiss"))
    assert len(on_disk) == reader.segment_count  # merged-away segments are deleted


def test_failed_write_keeps_the_served_index(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    with VectorIndex(directory=directory, dimension=8).updating() as index:
        index.add(ids=[1, 2], vectors=unit_vectors(2, 8))
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != ".lock"}
    writer = VectorIndex(directory=directory, dimension=8)
    with pytest.raises(RuntimeError), writer.updating() as index:
        index.remove(ids=[1])
        index.add(ids=[3], vectors=unit_vectors(1, 8, seed=1))
        raise RuntimeError("worker crashed mid-update")
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.name != ".lock"} == before
    writer.refresh()
    assert sorted(writer.ids().tolist()) == [1, 2]  # the aborted change is not served from memory either


def test_what_a_writer_killed_mid_write_leaves_is_never_served(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(20, 8)
    with VectorIndex(directory=directory, dimension=8).updating() as index:
        index.add(ids=np.arange(10), vectors=vectors[:10])
    # A writer killed with -9 mid-write: half a segment and half a manifest, neither swapped in.
    (directory / ".segment-000000002-0001.faiss.tmp").write_bytes(b"\x00" * 100)
    (directory / f".{MANIFEST_NAME}.99999.tmp").write_text('{"dimension": 8, "generation": 2, "segm')

    reader = VectorIndex(directory=directory, dimension=8)
    assert sorted(reader.ids().tolist()) == list(range(10))
    with VectorIndex(directory=directory, dimension=8).updating() as index:  # the next writer clears the debris
        index.add(ids=np.arange(10, 20), vectors=vectors[10:])
    assert not list(directory.glob(".*.tmp"))
    assert sorted(reader.ids().tolist()) == list(range(20))


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
