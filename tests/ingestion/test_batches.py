"""Short documents ingested many to a run (documents_ingest_batch): real guideline passages, the real database and
index. Each document keeps its own status, progress and failure; the batch resumes without duplicates; search finds
its documents; versions in and around a batch end as they would one after another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.leases import document_lease
from ingestion.models import Chunk, ChunkVector, Collection, Document
from ingestion.selectors import BATCH_MAX_DOCUMENTS, SHORT_DOCUMENT_BYTES, ingestion_runs
from ingestion.services import collection_get_or_create, document_register, documents_ingest_batch
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve

pytestmark = pytest.mark.django_db


def cpgqa_passages(shared_data: Path, *, count: int) -> list[dict[str, str]]:
    """The first `count` distinct passages of the cpgQA guideline, with a question asked of each."""
    data = json.loads((shared_data / "cpgqa" / "dataset" / "cpgQA-v1.0.json").read_text(encoding="utf-8"))["data"]
    passages: dict[str, dict[str, str]] = {}
    for entry in data:
        context = entry["paragraphs"]["context"]
        if context not in passages:
            question = entry["paragraphs"]["qas"][0]["question"]
            passages[context] = {"id": f"cpg-{len(passages)}", "text": context, "question": question}
    return list(passages.values())[:count]


def register(collection: Collection, passages: list[dict[str, str]]) -> list[Document]:
    return [
        document_register(
            collection=collection, file_name=f"{p['id']}.txt", content=p["text"].encode(), external_id=p["id"]
        ).document
        for p in passages
    ]


def assert_index_holds_exactly(chunk_ids: set[int]) -> None:
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == chunk_ids  # once each, nothing else


def test_a_bad_document_fails_alone_with_its_reason_and_the_others_index(shared_data: Path) -> None:
    collection = collection_get_or_create(name="cpg")
    good = register(collection, cpgqa_passages(shared_data, count=12))
    broken = document_register(collection=collection, file_name="broken.pdf", content=b"%PDF-1.7\nnot a pdf").document
    empty = document_register(collection=collection, file_name="empty.txt", content=b"").document
    ids = [d.id for d in good[:5]] + [broken.id] + [d.id for d in good[5:]] + [empty.id]

    result = documents_ingest_batch(document_ids=ids)

    assert result.busy == [] and [d.id for d in result.documents] == sorted(ids)
    statuses = {d.id: d for d in result.documents}
    assert statuses[broken.id].status == Document.Status.FAILED and "PDF" in statuses[broken.id].failure_reason
    assert statuses[empty.id].status == Document.Status.FAILED and "empty" in statuses[empty.id].failure_reason
    for document in good:
        document.refresh_from_db()
        assert document.status == Document.Status.INDEXED, document.failure_reason
        assert document.failure_reason == "" and document.attempts == 1 and document.progress_percent == 100
        assert document.chunk_count >= 1 and document.chunks_embedded == document.chunk_count
        assert document.chunks.count() == document.chunk_count == ChunkVector.objects.filter(
            chunk__document=document
        ).count()
        assert document.lease_token == "" and document.lease_expires_at is None  # released
    assert Chunk.objects.filter(document__in=[broken, empty]).count() == 0
    assert_index_holds_exactly(set(Chunk.objects.filter(collection=collection).values_list("id", flat=True)))


def test_search_finds_the_documents_of_a_batch(shared_data: Path) -> None:
    collection = collection_get_or_create(name="cpg")
    passages = cpgqa_passages(shared_data, count=30)
    documents = register(collection, passages)
    documents_ingest_batch(document_ids=[d.id for d in documents])

    found = 0
    for passage, document in zip(passages, documents, strict=True):
        for methods in [("dense",), ("lexical",)]:
            hits = passages_retrieve(
                reader=OPERATOR, query=passage["question"], collection_ids=[collection.id], k=5, methods=methods
            ).passages
            found += document.id in {hit.chunk.document_id for hit in hits}
    # Each question is asked of its own passage among 30 similar ones of one guideline: most must find it.
    assert found >= 0.7 * 2 * len(passages), found


def test_a_batch_rerun_after_a_crash_resumes_without_duplicates(shared_data: Path) -> None:
    collection = collection_get_or_create(name="cpg")
    documents = register(collection, cpgqa_passages(shared_data, count=20))
    ids = [d.id for d in documents]
    documents_ingest_batch(document_ids=ids)
    chunk_ids = dict(Chunk.objects.filter(document_id__in=ids).values_list("id", "document_id"))
    # What a worker killed mid-batch leaves: every chunk written, the vectors of the first documents stored and
    # counted, the rest not, nothing in the index, and one document not yet parsed at all.
    embedded, waiting, unparsed = ids[:8], ids[8:19], ids[19]
    ChunkVector.objects.filter(chunk__document_id__in=waiting).delete()
    Document.objects.filter(id__in=embedded).update(status=Document.Status.EMBEDDING)
    Document.objects.filter(id__in=waiting).update(status=Document.Status.EMBEDDING, chunks_embedded=0)
    Chunk.objects.filter(document_id=unparsed).delete()
    Document.objects.filter(id=unparsed).update(status=Document.Status.PARSING, chunk_count=0, chunks_embedded=0)
    kept = {k: bytes(v) for k, v in ChunkVector.objects.filter(chunk__document_id__in=embedded).values_list(
        "chunk_id", "vector")}
    with chunk_vector_index(embedder=embedder_get()).updating() as writer:
        writer.remove(ids=list(chunk_ids))
    progress = {d.id: d.progress_percent for d in Document.objects.filter(id__in=ids)}
    assert {progress[i] for i in embedded} == {95} and {progress[i] for i in waiting} == {10}
    assert progress[unparsed] == 5

    result = documents_ingest_batch(document_ids=ids)

    assert {d.status for d in result.documents} == {Document.Status.INDEXED}
    assert {d.attempts for d in result.documents} == {2}
    assert all(d.chunks_embedded == d.chunk_count == d.chunks.count() for d in result.documents)
    after = dict(Chunk.objects.filter(document_id__in=ids).values_list("id", "document_id"))
    assert {k: v for k, v in after.items() if v != unparsed} == {k: v for k, v in chunk_ids.items() if v != unparsed}
    stored = {k: bytes(v) for k, v in ChunkVector.objects.filter(chunk_id__in=kept).values_list("chunk_id", "vector")}
    assert stored == kept  # not embedded again
    assert ChunkVector.objects.filter(chunk__document_id__in=ids).count() == len(after)
    assert_index_holds_exactly(set(after))


def test_versions_in_and_around_a_batch_end_as_one_after_another(shared_data: Path) -> None:
    collection = collection_get_or_create(name="cpg")
    passages = cpgqa_passages(shared_data, count=4)
    first = register(collection, passages[:1])[0]
    documents_ingest_batch(document_ids=[first.id])

    # In one batch: a new version of `first`, and two versions of a new document.
    def version(external_id: str, text: str) -> Document:
        return document_register(collection=collection, file_name=f"{external_id}.txt", content=text.encode(),
                                 external_id=external_id).document

    first_v2 = version(passages[0]["id"], passages[1]["text"])
    other_v1, other_v2 = version("other", passages[2]["text"]), version("other", passages[3]["text"])
    assert (first_v2.version, other_v1.version, other_v2.version) == (2, 1, 2)

    documents_ingest_batch(document_ids=[other_v2.id, first_v2.id, other_v1.id])

    status = dict(Document.objects.filter(collection=collection).values_list("id", "status"))
    assert status == {first.id: Document.Status.SUPERSEDED, first_v2.id: Document.Status.INDEXED,
                      other_v1.id: Document.Status.SUPERSEDED, other_v2.id: Document.Status.INDEXED}
    searchable = set(Chunk.objects.filter(collection=collection).values_list("id", flat=True))
    current = Chunk.objects.filter(document_id__in=[first_v2.id, other_v2.id])
    assert set(current.values_list("id", flat=True)) == searchable
    assert_index_holds_exactly(searchable)


def test_a_document_another_live_run_holds_is_left_to_it_and_reported_busy(shared_data: Path) -> None:
    collection = collection_get_or_create(name="cpg")
    documents = register(collection, cpgqa_passages(shared_data, count=3))
    with document_lease(document_id=documents[1].id):
        result = documents_ingest_batch(document_ids=[d.id for d in documents])
    assert result.busy == [documents[1].id] and result.retry_after >= 1
    statuses = dict(Document.objects.filter(collection=collection).values_list("id", "status"))
    assert statuses == {documents[0].id: Document.Status.INDEXED, documents[1].id: Document.Status.QUEUED,
                        documents[2].id: Document.Status.INDEXED}


def test_short_documents_are_grouped_into_runs_and_long_ones_go_alone(shared_data: Path) -> None:
    collection = collection_get_or_create(name="runs")
    short = register(collection, cpgqa_passages(shared_data, count=BATCH_MAX_DOCUMENTS + 5))
    law = (shared_data / "cn_laws" / "data_sec_law.txt").read_bytes()
    assert len(law) > SHORT_DOCUMENT_BYTES
    long = document_register(collection=collection, file_name="law.txt", content=law).document
    ids = [d.id for d in short[:3]] + [long.id] + [d.id for d in short[3:]]

    runs = ingestion_runs(document_ids=ids)

    assert [long.id] in runs
    assert sorted(i for run in runs for i in run) == sorted(ids)  # each once
    batches = [run for run in runs if run != [long.id]]
    assert [len(run) for run in batches] == [BATCH_MAX_DOCUMENTS, 5]
