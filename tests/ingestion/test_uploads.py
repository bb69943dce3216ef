"""A document set arrives as files and zips, partly broken: each bad file fails alone with its reason, versions replace
their predecessors only once they are searchable, and the index always agrees with the database."""

from __future__ import annotations

import io
import random
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.leases import DocumentBusy, document_lease
from ingestion.models import Chunk, Collection, Document
from ingestion.services import collection_get_or_create, document_ingest, documents_delete, index_reconcile
from ingestion.tasks import document_ingest_task
from ingestion.uploads import UploadReport, path_register, upload_register
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.ingestion.parsing.test_parsing import build_pdf

GOOD_MARKDOWN = (
    "# Sepsis Bundle\n\n## 1 Antibiotics\n\nGive broad-spectrum antibiotics within one hour of recognition.\n"
)
GOOD_TEXT_GBK = (
    "医疗机构管理条例\n\n第一章 总则\n\n第一条 为了加强对医疗机构的管理，促进医疗卫生事业的发展，制定本条例。\n"
)


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return buffer.getvalue()


def register_and_ingest(collection: Collection, name: str, content: bytes) -> UploadReport:
    report = upload_register(collection=collection, name=name, stream=io.BytesIO(content))
    for document_id in report.to_ingest:
        document_ingest_task.delay(document_id)  # in-process: the same task code a worker runs
    return report


def index_ids() -> list[int]:
    return chunk_vector_index(embedder=embedder_get()).ids().tolist()


def assert_index_agrees_with_database() -> None:
    ids = index_ids()
    searchable = Chunk.objects.filter(document__status=Document.Status.INDEXED).values_list("id", flat=True)
    assert len(ids) == len(set(ids)), "a chunk has two vectors"
    assert set(ids) == set(searchable), "index and database disagree"


@pytest.mark.django_db
def test_a_zip_of_mixed_partly_broken_documents(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    bomb = b"\0" * (60 * 1024 * 1024)  # 60 MB of zeros compress to ~60 KB: 1000:1
    archive = zip_bytes(
        {
            "guidelines/sepsis.md": GOOD_MARKDOWN.encode(),
            "regulations/医疗机构管理条例.txt": GOOD_TEXT_GBK.encode("gbk"),
            "guidelines/discharge.pdf": build_pdf([[(72, 700, "Discharge criteria: stable vital signs.")]]),
            "empty.txt": b"",
            "secret.pdf": build_pdf([[(72, 700, "Confidential")]], user_password="s3cret"),
            "corrupt.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage",
            "really-a-zip.pdf": zip_bytes({"x.txt": b"hello"}),
            "sheet.xlsx": b"PK\x03\x04 a spreadsheet",
            "../escape.txt": b"outside the folder",
            "/etc/absolute.txt": b"absolute path",
            "nested.zip": zip_bytes({"inner.md": b"# Inner"}),
            "bomb.txt": bomb,
            "zeros.txt": b"word " * (1024 * 1024),  # 5 MB of one word repeated: 1000:1 as well
            "big.txt": "".join(random.Random(0).choices("0123456789abcdef", k=3 * 1024 * 1024)).encode(),
            "__MACOSX/._sepsis.md": b"resource fork",
        }
    )
    collection = collection_get_or_create(name="hospital")

    report = register_and_ingest(collection, "set.zip", archive)

    documents = {d.source_path: d for d in Document.objects.filter(collection=collection)}
    for document in documents.values():
        document.refresh_from_db()
    indexed = {p for p, d in documents.items() if d.status == Document.Status.INDEXED}
    assert indexed == {
        "set.zip/guidelines/sepsis.md", "set.zip/regulations/医疗机构管理条例.txt", "set.zip/guidelines/discharge.pdf"
    }
    reasons = {p.removeprefix("set.zip/"): d.failure_reason for p, d in documents.items() if p not in indexed}
    assert all(d.status == Document.Status.FAILED for p, d in documents.items() if p not in indexed)
    assert "empty" in reasons["empty.txt"]
    assert "password" in reasons["secret.pdf"].lower()
    assert "PDF" in reasons["corrupt.pdf"]
    assert "PDF" in reasons["really-a-zip.pdf"]
    assert "xlsx" in reasons["sheet.xlsx"]
    assert "outside" in reasons["../escape.txt"] and "outside" in reasons["/etc/absolute.txt"]
    assert "archive inside the archive" in reasons["nested.zip"]
    assert "zip bomb" in reasons["bomb.txt"] and "zip bomb" in reasons["zeros.txt"]
    assert "over the limit" in reasons["big.txt"]
    assert not any("__MACOSX" in p for p in documents)
    assert len(report.rejected) == 6  # refused unread; the other five failed when read
    assert not (Path(settings.MEDIA_ROOT) / "escape.txt").exists() and not list(Path("/etc").glob("absolute.txt"))

    # Each good document is searchable with its section and page.
    sepsis = documents["set.zip/guidelines/sepsis.md"]
    assert sepsis.chunks.get().section_path == "1 Antibiotics"
    regulation = documents["set.zip/regulations/医疗机构管理条例.txt"].chunks.get(section_path="第一章 总则 > 第一条")
    assert "促进医疗卫生事业的发展" in regulation.text
    assert documents["set.zip/guidelines/discharge.pdf"].chunks.get().page_start == 1
    hit = passages_retrieve(
        reader=OPERATOR, query="antibiotics within one hour", collection_ids=[collection.id], k=1
    ).passages[0]
    assert hit.chunk.document_id == sepsis.id
    assert_index_agrees_with_database()

    # The same zip again adds nothing: good files are identical, refusals are already on record.
    again = register_and_ingest(collection, "set.zip", archive)
    assert again.created == [] and len(again.duplicates) == 3
    assert Document.objects.filter(collection=collection).count() == len(documents)


@pytest.mark.django_db
def test_damaged_zip_fails_alone(settings) -> None:
    collection = collection_get_or_create(name="set")
    good = register_and_ingest(collection, "sepsis.md", GOOD_MARKDOWN.encode())
    bad = register_and_ingest(collection, "broken.zip", zip_bytes({"a.md": b"# A\n\ntext"})[:-30])
    assert Document.objects.get(id=good.created[0].id).status == Document.Status.INDEXED
    assert "damaged" in bad.rejected[0].failure_reason


@pytest.mark.django_db
def test_file_over_the_size_limit_is_refused_unstored(settings) -> None:
    settings.UPLOAD_MAX_BYTES = 1000
    report = register_and_ingest(collection_get_or_create(name="set"), "long.md", b"# Long\n\n" + b"text " * 400)
    refused = report.rejected[0]
    assert refused.status == Document.Status.FAILED and "over the limit" in refused.failure_reason
    assert not refused.file


@pytest.mark.django_db
def test_folder_with_a_zip_inside_is_ingested(tmp_path: Path) -> None:
    (tmp_path / "guidelines").mkdir()
    (tmp_path / "guidelines" / "sepsis.md").write_text(GOOD_MARKDOWN)
    (tmp_path / "more.zip").write_bytes(zip_bytes({"law.txt": GOOD_TEXT_GBK.encode("gb18030")}))
    (tmp_path / ".hidden.md").write_text("# not a document")
    report = path_register(collection=collection_get_or_create(name="set"), path=tmp_path)
    assert sorted(d.source_path for d in report.created) == ["guidelines/sepsis.md", "more.zip/law.txt"]


@pytest.mark.usefixtures("search_engine")
@pytest.mark.django_db(transaction=True)
def test_new_version_replaces_the_old_only_once_searchable() -> None:
    """A reader polling search while version 2 is ingested sees version 1 or version 2, never both, never neither."""
    collection = collection_get_or_create(name="versions")
    v1_text = "# Hypertension\n\n## Targets\n\nBlood pressure target below 140/90 mmHg for most adults.\n"
    v2_text = "# Hypertension\n\n## Targets\n\nBlood pressure target below 130/80 mmHg for most adults.\n"
    first = register_and_ingest(collection, "htn.md", v1_text.encode()).created[0]
    second = upload_register(collection=collection, name="htn.md", stream=io.BytesIO(v2_text.encode())).created[0]
    assert (second.version, second.lineage_id) == (2, first.id)

    seen: list[frozenset[int]] = []
    stop = threading.Event()

    def read() -> None:
        from django.db import connection

        try:
            while not stop.is_set():
                passages = passages_retrieve(
                    reader=OPERATOR, query="blood pressure target", collection_ids=[collection.id], k=5
                )
                seen.append(frozenset(p.chunk.document_id for p in passages.passages))
        finally:
            connection.close()

    def observed(count: int) -> None:
        while len(seen) < count and reader.is_alive():
            time.sleep(0.01)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        observed(3)
        before = len(seen)
        document_ingest(document_id=second.id)
        observed(len(seen) + 3)
    finally:
        stop.set()
        reader.join()

    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == Document.Status.INDEXED and first.status == Document.Status.SUPERSEDED
    assert first.chunks.count() == 0 and first.file and first.text  # kept as history, gone from search
    assert all(s in ({first.id}, {second.id}) for s in seen), seen
    assert seen[0] == {first.id} and seen[before - 1] == {first.id} and seen[-1] == {second.id}
    assert_index_agrees_with_database()


@pytest.mark.django_db
def test_same_title_under_another_name_is_a_new_version() -> None:
    collection = collection_get_or_create(name="versions")
    old = register_and_ingest(collection, "htn-2018.md", b"# Hypertension Guideline\n\nTarget 140/90 mmHg.\n")
    new = register_and_ingest(collection, "htn-2024.md", b"# Hypertension Guideline\n\nTarget 130/80 mmHg.\n")
    old_document, new_document = old.created[0], new.created[0]
    old_document.refresh_from_db()
    new_document.refresh_from_db()
    assert new_document.version == 2 and new_document.lineage_id == old_document.lineage_id
    assert old_document.status == Document.Status.SUPERSEDED and new_document.status == Document.Status.INDEXED


@pytest.mark.usefixtures("search_engine")
@pytest.mark.django_db
def test_deleting_removes_vectors_and_search_at_once() -> None:
    collection = collection_get_or_create(name="set")
    document = register_and_ingest(collection, "sepsis.md", GOOD_MARKDOWN.encode()).created[0]
    assert passages_retrieve(reader=OPERATOR, query="antibiotics", collection_ids=[collection.id]).passages
    documents_delete(documents=[document])
    assert passages_retrieve(reader=OPERATOR, query="antibiotics", collection_ids=[collection.id]).passages == []
    assert index_ids() == []


@pytest.mark.django_db
def test_one_run_per_document_at_a_time(settings) -> None:
    collection = collection_get_or_create(name="set")
    document = upload_register(collection=collection, name="a.md", stream=io.BytesIO(GOOD_MARKDOWN.encode())).created[0]
    with document_lease(document_id=document.id), pytest.raises(DocumentBusy) as busy:
        document_ingest(document_id=document.id)
    assert busy.value.retry_after > 1
    assert Document.objects.get(id=document.id).status == Document.Status.QUEUED  # the second run touched nothing
    assert document_ingest(document_id=document.id).status == Document.Status.INDEXED  # free again after the block


@pytest.mark.django_db
def test_reconcile_repairs_what_a_crash_between_steps_leaves() -> None:
    collection = collection_get_or_create(name="set")
    document = register_and_ingest(collection, "sepsis.md", GOOD_MARKDOWN.encode()).created[0]
    chunk_id = document.chunks.get().id
    index = chunk_vector_index(embedder=embedder_get())
    with index.updating() as writer:
        writer.remove(ids=[chunk_id])  # a crash after the database commit, before the vectors were written
        writer.add(ids=[987654], vectors=np.ones((1, index.dimension), dtype=np.float32))  # a deleted chunk's
    result = index_reconcile()
    assert (result.added, result.removed) == (1, 1)
    assert_index_agrees_with_database()
    assert index_reconcile() == type(result)(added=0, removed=0)
