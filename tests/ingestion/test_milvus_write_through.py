"""Ingestion writes through to Milvus (SEARCH_ENGINE=milvus://...): rows appear with the document, a new version
replaces the old one, deletion removes them, a killed worker's rows are never served and are repaired; milvus_fill
moves an installation's stored vectors into Milvus; index_check compares counts for either engine."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from ingestion.embedding import embedder_get
from ingestion.index import MilvusChunkIndex, chunk_vector_index, milvus_chunk_store
from ingestion.models import Chunk, Document
from ingestion.services import collection_get_or_create, document_ingest, documents_delete, index_reconcile
from ingestion.uploads import upload_register
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes
from vectorstore.milvus import MilvusRow

pytestmark = pytest.mark.django_db

V1 = "# Hypertension\n\n## Targets\n\nBlood pressure target below 140/90 mmHg for most adults.\n"
V2 = "# Hypertension\n\n## Targets\n\nBlood pressure target below 130/80 mmHg for most adults.\n"
LAW = "个人信息保护条例\n\n第一条 个人信息处理者应当采取必要措施保障个人信息安全。\n"


class WorkerKilled(BaseException):
    """Stands for SIGKILL right after a step: nothing after it runs (a BaseException, so no handler catches it)."""


def milvus_rows() -> dict[int, dict]:
    store = milvus_chunk_store(embedder=embedder_get())
    rows = store.client.query(store.name, filter="chunk_id >= 0",
                              output_fields=["chunk_id", "collection_id", "document_id", "version", "language"])
    return {row["chunk_id"]: row for row in rows}


def found_documents(query: str, collection_id: int, methods: tuple[str, ...] = ("dense", "lexical")) -> set[int]:
    result = passages_retrieve(reader=OPERATOR, query=query, collection_ids=[collection_id], k=5, methods=methods)
    return {p.chunk.document_id for p in result.passages}


def test_an_ingested_document_is_written_through_with_its_set_version_and_language(milvus_engine: str) -> None:
    collection = collection_get_or_create(name="laws")
    law = ingest_bytes(name="law.txt", content=LAW.encode(), collection=collection)
    assert isinstance(chunk_vector_index(embedder=embedder_get()), MilvusChunkIndex)
    rows = milvus_rows()
    assert set(rows) == set(law.chunks.values_list("id", flat=True))
    assert {(r["collection_id"], r["document_id"], r["version"], r["language"]) for r in rows.values()} == {
        (collection.id, law.id, 1, "zh")
    }
    for methods in [("dense",), ("lexical",)]:
        assert found_documents("个人信息处理者的安全措施", collection.id, methods) == {law.id}, methods
    # The process never built the embedded BM25 or FAISS index: Milvus answered both searches.
    result = passages_retrieve(reader=OPERATOR, query="个人信息", collection_ids=[collection.id])
    assert "visible_ms" in result.timings_ms and "sync_ms" not in result.timings_ms


def test_a_new_version_replaces_the_old_rows(milvus_engine: str) -> None:
    collection = collection_get_or_create(name="versions")
    first = ingest_bytes(name="htn.md", content=V1.encode(), collection=collection)
    first_chunks = set(first.chunks.values_list("id", flat=True))
    second = ingest_bytes(name="htn.md", content=V2.encode(), collection=collection)
    assert second.status == Document.Status.INDEXED and second.version == 2
    rows = milvus_rows()
    assert not first_chunks & set(rows)
    assert {r["version"] for r in rows.values()} == {2}
    assert found_documents("blood pressure target", collection.id) == {second.id}


def test_deleting_removes_the_rows_and_the_search_results(milvus_engine: str) -> None:
    collection = collection_get_or_create(name="set")
    kept = ingest_bytes(name="kept.md", content=V1.encode(), collection=collection)
    gone = ingest_bytes(name="gone.txt", content=LAW.encode(), collection=collection)
    documents_delete(documents=[gone])
    assert set(milvus_rows()) == set(kept.chunks.values_list("id", flat=True))
    assert gone.id not in found_documents("个人信息处理者", collection.id)


def test_a_killed_workers_rows_are_never_served_and_are_finished_or_removed(
    milvus_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed right after writing version 2's rows, before the commit that makes it the searchable version."""
    collection = collection_get_or_create(name="versions")
    first = ingest_bytes(name="htn.md", content=V1.encode(), collection=collection)
    second = upload_register(collection=collection, name="htn.md", stream=io.BytesIO(V2.encode())).created[0]
    real_add = MilvusChunkIndex.add

    def add_then_die(self: MilvusChunkIndex, **kwargs: object) -> None:
        real_add(self, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(MilvusChunkIndex, "add", add_then_die)
    with pytest.raises(WorkerKilled):
        document_ingest(document_id=second.id)
    monkeypatch.undo()
    second_chunks = set(Chunk.objects.filter(document=second).values_list("id", flat=True))
    assert second_chunks <= set(milvus_rows())  # written through, half-published
    for methods in [("dense",), ("lexical",), ("dense", "lexical")]:
        assert found_documents("blood pressure target 130/80", collection.id, methods) == {first.id}, methods

    # Resumed (the task is redelivered): version 2 is published once, version 1 leaves search and Milvus.
    assert document_ingest(document_id=second.id).status == Document.Status.INDEXED
    assert found_documents("blood pressure target", collection.id) == {second.id}
    assert set(milvus_rows()) == second_chunks

    # Rows of a run that is never resumed (its document failed) are removed by reconciliation.
    third = upload_register(collection=collection, name="htn.md", stream=io.BytesIO(V1.encode() + b"x")).created[0]
    monkeypatch.setattr(MilvusChunkIndex, "add", add_then_die)
    with pytest.raises(WorkerKilled):
        document_ingest(document_id=third.id)
    monkeypatch.undo()
    Document.objects.filter(id=third.id).update(status=Document.Status.FAILED)
    third_chunks = set(Chunk.objects.filter(document=third).values_list("id", flat=True))
    assert index_reconcile().removed == len(third_chunks)
    assert set(milvus_rows()) == second_chunks


def test_reconcile_adds_missing_and_removes_orphan_rows(milvus_engine: str) -> None:
    collection = collection_get_or_create(name="set")
    document = ingest_bytes(name="htn.md", content=V1.encode(), collection=collection)
    chunk_id = document.chunks.get().id
    embedder = embedder_get()
    store = milvus_chunk_store(embedder=embedder)
    store.delete([chunk_id])  # lost after the commit
    store.upsert([MilvusRow(chunk_id=987654321, collection_id=collection.id, document_id=document.id, version=1,
                            language="en", terms="blood", vector=np.ones(embedder.dimension, dtype=np.float32))])
    assert found_documents("blood pressure", collection.id) == set()  # the orphan is never served
    result = index_reconcile()
    assert (result.added, result.removed) == (1, 1)
    assert set(milvus_rows()) == {chunk_id}
    assert found_documents("blood pressure", collection.id) == {document.id}


def test_milvus_fill_copies_the_stored_vectors_and_resumes(milvus_engine: str, settings) -> None:
    """An installation moves from the embedded engine: its vectors go over without embedding again."""
    settings.SEARCH_ENGINE = "embedded"
    collection = collection_get_or_create(name="set")
    documents = [ingest_bytes(name=f"{i}.md", content=f"# Note {i}\n\nStatin dose note {i}.\n".encode(),
                              collection=collection) for i in range(3)]
    chunk_ids = set(Chunk.objects.filter(document__in=documents).values_list("id", flat=True))
    settings.SEARCH_ENGINE = milvus_engine
    embedder = embedder_get()
    store = milvus_chunk_store(embedder=embedder)
    assert store.count() == 0

    with pytest.raises(CommandError, match="differ"):
        call_command("index_check", "--no-repair", stdout=io.StringIO(), stderr=io.StringIO())
    first = min(chunk_ids)
    call_command("milvus_fill", "--batch-size", "1", stdout=io.StringIO(), stderr=io.StringIO())
    assert set(store.ids().tolist()) == chunk_ids
    store.delete([first])  # as if the first run had stopped before this row
    out = io.StringIO()
    call_command("milvus_fill", stdout=out, stderr=io.StringIO())
    assert "1 row(s) added, 2 already there; it holds 3" in out.getvalue()
    out = io.StringIO()
    call_command("index_check", stdout=out)
    assert "3 vectors, as many as the database's indexed chunks" in out.getvalue()
    top = passages_retrieve(reader=OPERATOR, query="statin dose note 1", collection_ids=[collection.id]).passages[0]
    assert top.chunk.document_id == documents[1].id


def test_milvus_fill_needs_a_milvus_engine(settings) -> None:
    settings.SEARCH_ENGINE = "embedded"
    with pytest.raises(CommandError, match="milvus://HOST:PORT"):
        call_command("milvus_fill", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.usefixtures("search_engine")
def test_index_check_finds_and_reconciles_a_count_difference() -> None:
    collection = collection_get_or_create(name="set")
    document = ingest_bytes(name="htn.md", content=V1.encode(), collection=collection)
    index = chunk_vector_index(embedder=embedder_get())
    with index.updating() as writer:
        writer.remove(ids=list(document.chunks.values_list("id", flat=True)))  # lost after the commit
    err = io.StringIO()
    with pytest.raises(CommandError, match="reconciled"):
        call_command("index_check", stdout=io.StringIO(), stderr=err)
    assert "0 vectors, but the database has 1 indexed chunks" in err.getvalue()
    out = io.StringIO()
    call_command("index_check", stdout=out)
    assert "1 vectors, as many as the database's indexed chunks" in out.getvalue()


def test_an_unknown_search_engine_is_a_configuration_error(settings) -> None:
    settings.SEARCH_ENGINE = "elasticsearch://127.0.0.1:9200"
    with pytest.raises(ImproperlyConfigured, match="milvus://HOST:PORT"):
        chunk_vector_index(embedder=embedder_get())
