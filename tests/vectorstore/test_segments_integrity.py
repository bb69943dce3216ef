"""The index files damaged on disk: caught by their checksums when loaded, never searched, rebuilt from the source."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assistant.demo.sample_set import sample_set_write
from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index, stored_chunk_vectors
from ingestion.models import Chunk
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.factories import ingest_file
from tests.vectorstore.test_ivf import DIMENSION, TUNING, clustered_vectors
from vectorstore.segments import MANIFEST_NAME, IndexCorrupted, VectorIndex, file_sha256, vector_indexes_forget


def unit_vectors(count: int, dimension: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def written_index(directory: Path, *, ids: np.ndarray, vectors: np.ndarray, tuning=None) -> None:
    with VectorIndex(directory=directory, dimension=vectors.shape[1], tuning=tuning).updating() as index:
        index.add(ids=ids, vectors=vectors)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    """Same size, one byte different: only a checksum can tell."""
    content = bytearray(path.read_bytes())
    content[len(content) * 3 // 4] ^= 0xFF
    path.write_bytes(bytes(content))


def test_manifest_records_a_checksum_of_every_file(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = clustered_vectors(3_000, seed=3)
    written_index(directory, ids=np.arange(3_000), vectors=vectors, tuning=TUNING)  # IVF: lists, vectors, model

    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    named = {p.name for p in directory.iterdir() if not p.name.startswith(".") and p.name != MANIFEST_NAME}
    assert manifest["trained"] and any(name.endswith(".lists") for name in manifest["segments"])
    assert set(manifest["checksums"]) == named
    assert all(manifest["checksums"][name] == file_sha256(directory / name) for name in named)


def test_truncated_segment_is_rebuilt_from_the_source_and_searched_correctly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "vectors"
    vectors, ids = unit_vectors(300, 32), np.arange(5_000, 5_300)
    written_index(directory, ids=ids, vectors=vectors)
    (segment,) = directory.glob("segment-*.faiss")
    truncate(segment)

    reader = VectorIndex(directory=directory, dimension=32)  # a process starting after the damage
    reader.rebuild_source = lambda: (ids, vectors)
    with caplog.at_level(logging.ERROR, logger="vectorstore.segments"):
        hits = reader.search(query=vectors[42], k=3)

    assert hits[0].chunk_id == 5_042 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert reader.rebuilds == 1 and reader.size == 300
    assert f"{segment.name} does not match its checksum" in caplog.text
    assert "rebuilt from the database: 300 vectors" in caplog.text
    assert not segment.exists()  # the damaged file is gone, not kept beside the new one
    fresh = VectorIndex(directory=directory, dimension=32)  # the rebuilt files pass their own checks
    assert sorted(fresh.ids().tolist()) == ids.tolist() and fresh.rebuilds == 0


def test_damaged_file_without_a_source_is_refused_not_served(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(50, 16)
    written_index(directory, ids=np.arange(50), vectors=vectors)
    (segment,) = directory.glob("segment-*.faiss")
    flip_a_byte(segment)  # still a readable faiss file: faiss alone would serve the altered vectors

    reader = VectorIndex(directory=directory, dimension=16)
    with pytest.raises(IndexCorrupted, match="does not match its checksum"):
        reader.search(query=vectors[0], k=5)
    assert reader.size == 0  # nothing of it was loaded


def test_altered_ivf_vector_file_is_detected(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors, ids = clustered_vectors(3_000, seed=4), np.arange(3_000)
    written_index(directory, ids=ids, vectors=vectors, tuning=TUNING)
    vector_file = sorted(p for p in directory.glob("vectors-*.npy") if not p.name.endswith(".ids.npy"))[0]
    flip_a_byte(vector_file)

    reader = VectorIndex(directory=directory, dimension=DIMENSION, tuning=TUNING)
    reader.rebuild_source = lambda: (ids, vectors)
    hits = reader.search(query=vectors[7], k=5)
    assert reader.rebuilds == 1 and hits[0].chunk_id == 7 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert reader.ivf_segment_count >= 1  # rebuilt past the threshold: IVF again, from the source's vectors


def test_manifest_cut_short_is_rebuilt(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(40, 8)
    written_index(directory, ids=np.arange(40), vectors=vectors)
    truncate(directory / MANIFEST_NAME)

    reader = VectorIndex(directory=directory, dimension=8)
    reader.rebuild_source = lambda: (np.arange(40), vectors)
    assert reader.search(query=vectors[3], k=1)[0].chunk_id == 3 and reader.rebuilds == 1


def test_missing_segment_file_is_rebuilt(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(40, 8)
    written_index(directory, ids=np.arange(40), vectors=vectors)
    next(directory.glob("segment-*.faiss")).unlink()

    reader = VectorIndex(directory=directory, dimension=8)
    reader.rebuild_source = lambda: (np.arange(40), vectors)
    assert sorted(reader.ids().tolist()) == list(range(40)) and reader.rebuilds == 1


def test_writer_meeting_a_damaged_index_rebuilds_it_first(tmp_path: Path) -> None:
    """A worker adding a document holds the writers' lock when it finds the damage: no deadlock, nothing lost."""
    directory = tmp_path / "vectors"
    vectors = unit_vectors(60, 8)
    written_index(directory, ids=np.arange(50), vectors=vectors[:50])
    truncate(next(directory.glob("segment-*.faiss")))

    writer = VectorIndex(directory=directory, dimension=8)
    writer.rebuild_source = lambda: (np.arange(50), vectors[:50])
    with writer.updating() as index:
        index.add(ids=np.arange(50, 60), vectors=vectors[50:])
    assert sorted(VectorIndex(directory=directory, dimension=8).ids().tolist()) == list(range(60))


def test_damage_under_a_loaded_index_is_found_and_repaired(tmp_path: Path) -> None:
    """A long-running process has the index in memory; a periodic check finds the file damaged beneath it."""
    directory = tmp_path / "vectors"
    vectors = unit_vectors(30, 8)
    written_index(directory, ids=np.arange(30), vectors=vectors)
    index = VectorIndex(directory=directory, dimension=8)
    index.rebuild_source = lambda: (np.arange(30), vectors)
    index.refresh()
    assert index.damaged_files() == []

    (segment,) = directory.glob("segment-*.faiss")
    flip_a_byte(segment)
    assert index.damaged_files() == [segment.name]
    index.repair()
    assert index.rebuilds == 1 and index.damaged_files() == []
    assert index.search(query=vectors[9], k=1)[0].chunk_id == 9


def test_manifest_written_before_checksums_still_loads_and_gains_them(tmp_path: Path) -> None:
    directory = tmp_path / "vectors"
    vectors = unit_vectors(20, 8)
    written_index(directory, ids=np.arange(10), vectors=vectors[:10])
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    del manifest["checksums"]
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))

    assert sorted(VectorIndex(directory=directory, dimension=8).ids().tolist()) == list(range(10))
    written_index(directory, ids=np.arange(10, 20), vectors=vectors[10:])
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert set(manifest["checksums"]) == {p.name for p in directory.glob("segment-*.faiss")}


def dense_ids(*, question: str, collection_ids: list[int]) -> list[int]:
    result = passages_retrieve(reader=OPERATOR, query=question, collection_ids=collection_ids, methods=("dense",))
    return [p.chunk.id for p in result.passages]


@pytest.mark.django_db
def test_truncated_index_of_ingested_documents_is_rebuilt_from_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real path: documents ingested, a segment cut short on disk, a process starting afterwards searches."""
    documents = [ingest_file(path=path, collection="sample") for path in sample_set_write(directory=tmp_path / "s")]
    collection_ids = [documents[0].collection_id]
    questions = ["高血压的诊断标准是什么？", "Which antibiotics treat community-acquired pneumonia?"]
    before = [dense_ids(question=q, collection_ids=collection_ids) for q in questions]
    embedder = embedder_get()
    directory = chunk_vector_index(embedder=embedder).directory
    for segment in directory.glob("segment-*.faiss"):
        truncate(segment)

    vector_indexes_forget()  # as a web process started after the damage
    with caplog.at_level(logging.ERROR, logger="vectorstore.segments"):
        after = [dense_ids(question=q, collection_ids=collection_ids) for q in questions]

    assert after == before and all(before)
    assert "does not match its checksum" in caplog.text and "rebuilt from the database" in caplog.text
    index = chunk_vector_index(embedder=embedder)
    assert index.rebuilds == 1
    indexed = sorted(Chunk.objects.filter(document__in=documents).values_list("id", flat=True))
    assert sorted(index.ids().tolist()) == indexed  # every chunk once, nothing else
    ids, _ = stored_chunk_vectors(embedding_model=embedder.name, dimension=embedder.dimension)
    assert ids.tolist() == indexed


@pytest.mark.django_db
def test_index_check_command_finds_and_repairs_damage(tmp_path: Path) -> None:
    document = ingest_file(path=sample_set_write(directory=tmp_path / "s")[0], collection="sample")
    out = io.StringIO()
    call_command("index_check", stdout=out)
    assert "every file matches its checksum" in out.getvalue()

    index = chunk_vector_index(embedder=embedder_get())
    for segment in index.directory.glob("segment-*.faiss"):
        flip_a_byte(segment)
    with pytest.raises(CommandError, match="damaged and has been rebuilt"):
        call_command("index_check", stdout=io.StringIO(), stderr=io.StringIO())
    assert index.damaged_files() == [] and index.rebuilds == 1
    assert sorted(index.ids().tolist()) == sorted(document.chunks.values_list("id", flat=True))
