"""The index past its IVF threshold: approximate codes, exact scores, incremental adds, removals, filters."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from vectorstore.segments import IndexTuning, VectorIndex

DIMENSION = 32
# Tiny sizes so the IVF path runs in a test: it turns on at 2,000 vectors; merged segments of 500 are encoded.
TUNING = IndexTuning(ivf_threshold=2_000, ivf_segment_min=500, nprobe=32, exact_filter_max=100)


def clustered_vectors(count: int, *, seed: int, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few directions, like embeddings of texts on a few topics."""
    random = np.random.default_rng(seed)
    centre_vectors = random.normal(size=(centres, DIMENSION))
    vectors = centre_vectors[random.integers(0, centres, size=count)] + 0.6 * random.normal(size=(count, DIMENSION))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return ids[np.argsort(-(vectors @ query), kind="stable")[:k]].tolist()


def recall_at(index: VectorIndex, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    found = 0
    for query in queries:
        found += len(set(exact_top(vectors, ids, query, k)) & {h.chunk_id for h in index.search(query=query, k=k)})
    return found / (k * len(queries))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def large_index(tmp_path: Path) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """An index of 4,000 vectors (ids 10,000..13,999): past the threshold, so IVF-encoded."""
    vectors = clustered_vectors(5_000, seed=1)[:4_000]
    ids = np.arange(10_000, 14_000)
    with VectorIndex(directory=tmp_path / "vectors", dimension=DIMENSION, tuning=TUNING).updating() as index:
        index.add(ids=ids, vectors=vectors)
    return VectorIndex(directory=tmp_path / "vectors", dimension=DIMENSION, tuning=TUNING), vectors, ids


def test_index_is_flat_below_the_threshold_and_ivf_above_it(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = clustered_vectors(4_000, seed=1)
    ids = np.arange(4_000)
    writer = VectorIndex(directory=directory, dimension=DIMENSION, tuning=TUNING)
    with writer.updating() as index:
        index.add(ids=ids[:1_500], vectors=vectors[:1_500])
    assert writer.ivf_segment_count == 0 and writer.trained_file is None
    assert not list(directory.glob("*.lists"))

    with writer.updating() as index:
        index.add(ids=ids[1_500:], vectors=vectors[1_500:])
    reader = VectorIndex(directory=directory, dimension=DIMENSION, tuning=TUNING)  # another process's view
    reader.refresh()
    assert reader.size == 4_000 and reader.ivf_segment_count >= 1 and reader.trained_file.is_file()
    assert sorted(reader.ids().tolist()) == ids.tolist()

    queries = clustered_vectors(50, seed=2)
    assert recall_at(reader, vectors, ids, queries) >= 0.95
    hits = reader.search(query=queries[0], k=10)
    # Scores are exact cosines (re-ranked from the float32 vectors), not PQ approximations.
    assert [h.score for h in hits] == pytest.approx((vectors[[h.chunk_id for h in hits]] @ queries[0]).tolist(), 1e-5)


def test_adds_after_training_are_searchable_without_retraining(
    large_index: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    reader, vectors, ids = large_index
    trained_file = reader.trained_file  # (loads the index)
    trained_digest = file_digest(trained_file)
    ivf_segments_before = reader.ivf_segment_count

    added = clustered_vectors(5_000, seed=1)[4_000:]  # more texts on the same topics as the training sample
    added_ids = np.arange(20_000, 21_000)
    writer = VectorIndex(directory=reader.directory, dimension=DIMENSION, tuning=TUNING)
    for batch in range(10):  # ten documents of 100 chunks: small flat segments, then tier merges into IVF ones
        with writer.updating() as index:
            rows = slice(batch * 100, batch * 100 + 100)
            index.add(ids=added_ids[rows], vectors=added[rows])

    assert reader.trained_file == trained_file and file_digest(trained_file) == trained_digest
    assert reader.ivf_segment_count > ivf_segments_before  # a merge of small segments was encoded, not retrained
    all_vectors, all_ids = np.concatenate([vectors, added]), np.concatenate([ids, added_ids])
    assert reader.size == 5_000
    assert recall_at(reader, all_vectors, all_ids, added[::20]) >= 0.95
    top = reader.search(query=added[777], k=1)[0]
    assert top.chunk_id == 20_777 and top.score == pytest.approx(1.0, abs=1e-5)


def test_index_retrains_once_grown_far_past_its_training_size(tmp_path: Path) -> None:
    tuning = IndexTuning(ivf_threshold=1_500, ivf_segment_min=500, nprobe=32, retrain_factor=2)
    vectors = clustered_vectors(4_000, seed=4)
    writer = VectorIndex(directory=tmp_path / "vectors", dimension=DIMENSION, tuning=tuning)
    with writer.updating() as index:
        index.add(ids=np.arange(1_600), vectors=vectors[:1_600])
    first = writer.trained_file
    with writer.updating() as index:
        index.add(ids=np.arange(1_600, 4_000), vectors=vectors[1_600:])
    assert writer.trained_file != first and not first.exists()  # retrained at 2x; the old model is deleted
    assert recall_at(writer, vectors, np.arange(4_000), clustered_vectors(30, seed=5)) >= 0.95


def test_removal_and_replacement_in_ivf_segments(large_index: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    reader, vectors, ids = large_index
    reader.refresh()
    assert reader.ivf_segment_count >= 1
    assert reader.search(query=vectors[5], k=1)[0].chunk_id == 10_005
    writer = VectorIndex(directory=reader.directory, dimension=DIMENSION, tuning=TUNING)
    with writer.updating() as index:
        assert index.remove(ids=[10_005, 10_006, 99_999]) == 2
        index.add(ids=[10_007], vectors=vectors[5:6])  # 10,007 now carries 10,005's vector

    reader.refresh()
    assert reader.size == 3_998
    assert {10_005, 10_006}.isdisjoint(reader.ids().tolist()) and 10_007 in reader.ids().tolist()
    top = reader.search(query=vectors[5], k=3)
    assert top[0].chunk_id == 10_007 and top[0].score == pytest.approx(1.0, abs=1e-5)
    assert {10_005, 10_006}.isdisjoint(h.chunk_id for h in top)
    assert not reader.search(query=vectors[5], k=5, allowed_ids=np.array([10_005, 10_006]))
    assert [h.chunk_id for h in reader.search(query=vectors[7], k=1)] != [10_007]  # its old vector is gone

    # Removing most of a segment compacts its vector file: dead rows do not pile up on disk.
    vector_files = set(reader.directory.glob("vectors-*.npy"))
    with writer.updating() as index:
        index.remove(ids=ids[:3_000])
    reader.refresh()
    assert reader.size == 1_000
    assert set(reader.directory.glob("vectors-*.npy")).isdisjoint(vector_files)
    kept_vectors, kept_ids = vectors[3_000:], ids[3_000:]
    assert recall_at(reader, kept_vectors, kept_ids, clustered_vectors(20, seed=6)) >= 0.95


def test_failed_update_of_an_ivf_segment_keeps_the_served_index(
    large_index: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    reader, vectors, ids = large_index
    directory = reader.directory
    before = {p.name: file_digest(p) for p in directory.iterdir() if p.name != ".lock"}
    writer = VectorIndex(directory=directory, dimension=DIMENSION, tuning=TUNING)
    with pytest.raises(RuntimeError), writer.updating() as index:
        index.remove(ids=ids[:100])
        index.add(ids=[1], vectors=vectors[:1])
        raise RuntimeError("worker crashed mid-update")
    assert {p.name: file_digest(p) for p in directory.iterdir() if p.name != ".lock"} == before
    assert sorted(writer.ids().tolist()) == ids.tolist()  # the aborted removal is not served from memory either
    assert writer.search(query=vectors[0], k=1)[0].chunk_id == 10_000


def test_narrow_filter_returns_the_exact_result(large_index: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    """A 1% share of the ids (say, one small collection of many) loses nothing to the approximation."""
    reader, vectors, ids = large_index
    random = np.random.default_rng(7)
    allowed_rows = random.choice(len(ids), size=len(ids) // 100, replace=False)
    allowed = ids[allowed_rows]
    for query in clustered_vectors(20, seed=8):
        hits = reader.search(query=query, k=10, allowed_ids=allowed)
        assert [h.chunk_id for h in hits] == exact_top(vectors[allowed_rows], allowed, query, 10)
        assert [h.score for h in hits] == pytest.approx(np.sort(vectors[allowed_rows] @ query)[::-1][:10], abs=1e-5)


def test_wide_filter_searches_inside_the_ivf_lists(large_index: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    """A share too large to gather (here 5%, above exact_filter_max) goes through IVF with more lists probed."""
    reader, vectors, ids = large_index
    allowed_rows = np.arange(0, len(ids), 20)  # 200 ids > exact_filter_max of 100
    allowed = ids[allowed_rows]
    found = 0
    queries = clustered_vectors(30, seed=9)
    for query in queries:
        hits = reader.search(query=query, k=10, allowed_ids=allowed)
        assert {h.chunk_id for h in hits} <= set(allowed.tolist())
        found += len({h.chunk_id for h in hits} & set(exact_top(vectors[allowed_rows], allowed, query, 10)))
    assert found / (10 * len(queries)) >= 0.95


def test_tuning_comes_from_settings(settings: object, tmp_path: Path) -> None:
    settings.VECTOR_INDEX_IVF_THRESHOLD = 1_500
    settings.VECTOR_INDEX_NPROBE = 7
    index = VectorIndex(directory=tmp_path / "vectors", dimension=DIMENSION)
    assert index.tuning.ivf_threshold == 1_500 and index.tuning.nprobe == 7
    assert index.tuning.rerank_factor == IndexTuning().rerank_factor  # unset: the default
    with index.updating() as writer:
        writer.add(ids=np.arange(1_600), vectors=clustered_vectors(1_600, seed=10))
    assert index.trained_file is not None  # past the threshold the setting gave


def test_filter_of_low_ids_never_lets_higher_ids_through(
    large_index: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    """The id bitmap covers the allowed ids only; every id past it (here all but the first 150) is excluded."""
    reader, vectors, ids = large_index
    with VectorIndex(directory=reader.directory, dimension=DIMENSION, tuning=TUNING).updating() as index:
        index.add(ids=np.arange(1, 41), vectors=vectors[:40])  # a small flat segment beside the IVF ones
    allowed = np.concatenate([np.arange(1, 11), ids[:140]])  # 150 ids: past exact_filter_max, so IVF with a selector
    for query in vectors[::400]:
        hits = reader.search(query=query, k=50, allowed_ids=allowed)
        assert len(hits) == 50 and {h.chunk_id for h in hits} <= set(allowed.tolist())
