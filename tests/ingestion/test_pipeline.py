"""The whole ingestion path on real documents: parse -> structure -> chunk -> embed -> index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, ChunkVector, Document
from ingestion.services import collection_get_or_create, document_register
from tests.factories import ingest_bytes, ingest_file

pytestmark = pytest.mark.django_db
ARTICLE_LINE = re.compile(r"^[ \t\u3000]*(第[一二三四五六七八九十百零〇]+条)(?:[ \t\u3000]|$)", re.MULTILINE)


def assert_chunks_consistent(document: Document) -> None:
    """Offsets point at the chunk text, and every chunk has exactly one vector in the index."""
    chunks = list(document.chunks.order_by("ordinal"))
    assert chunks, "an indexed document has chunks"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert document.text[chunk.char_start : chunk.char_end] == chunk.text
    index_ids = set(chunk_vector_index(embedder=embedder_get()).ids().tolist())
    assert {c.id for c in chunks} <= index_ids


def test_chinese_law_chunks_carry_chapter_and_article(shared_data: Path) -> None:
    document = ingest_file(path=shared_data / "cn_laws" / "pip_law.txt", collection="laws")

    assert document.status == Document.Status.INDEXED, document.failure_reason
    assert document.title == "中华人民共和国个人信息保护法"
    article_38 = document.chunks.get(text__contains="确需向中华人民共和国境外提供个人信息")
    assert article_38.section_path.split(" > ")[-1] == "第三十八条"
    assert article_38.section_path.startswith("第三章")
    article_10 = document.chunks.get(text__startswith="任何组织、个人不得非法收集")
    assert article_10.section_path == "第一章 总 则 > 第十条"
    # No chunk straddles two articles: each one's path names a single article.
    for chunk in document.chunks.all():
        assert chunk.section_path.count("条") <= 1, chunk.section_path
    assert_chunks_consistent(document)


def test_every_cn_law_is_indexed_with_articles(shared_data: Path) -> None:
    manifest = json.loads((shared_data / "cn_laws" / "manifest.json").read_text(encoding="utf-8"))
    collection = collection_get_or_create(name="laws")
    for entry in manifest:
        document = ingest_file(path=shared_data / "cn_laws" / f"{entry['key']}.txt", collection=collection)
        assert document.status == Document.Status.INDEXED, (entry["key"], document.failure_reason)
        articles = {c.section_path.split(" > ")[-1] for c in document.chunks.all() if c.section_path.endswith("条")}
        # Every article of the law is reachable by its own chunk path (sc_reg_measures holds two measures,
        # so the oracle is the distinct article labels that start a line, not the manifest's count).
        labels = set(ARTICLE_LINE.findall((shared_data / "cn_laws" / f"{entry['key']}.txt").read_text("utf-8")))
        assert len(labels) >= min(entry.get("article_count") or 0, 35)
        assert articles == labels, entry["key"]
        assert_chunks_consistent(document)


def test_cpgqa_guideline_passages_keep_their_sections(shared_data: Path) -> None:
    data = json.loads((shared_data / "cpgqa" / "dataset" / "cpgQA-v1.0.json").read_text(encoding="utf-8"))["data"]
    by_section: dict[str, list[str]] = {}
    for entry in data:
        context = entry["paragraphs"]["context"]
        passages = by_section.setdefault(entry["title"], [])
        if context not in passages:
            passages.append(context)
    markdown = "# VA/DoD Clinical Practice Guideline for Opioid Therapy for Chronic Pain\n\n" + "\n\n".join(
        f"## {title}\n\n" + "\n\n".join(passages) for title, passages in by_section.items()
    )
    document = ingest_bytes(name="opioid_cpg.md", content=markdown.encode(), collection="cpg")

    assert document.status == Document.Status.INDEXED, document.failure_reason
    for title, passages in by_section.items():
        sample = passages[len(passages) // 2][:60]
        chunk = document.chunks.filter(text__contains=sample).first()
        assert chunk is not None, sample
        assert chunk.section_path == title
    assert_chunks_consistent(document)


def test_identical_upload_is_not_stored_twice(shared_data: Path) -> None:
    collection = collection_get_or_create(name="laws")
    content = (shared_data / "cn_laws" / "price_65.txt").read_bytes()
    first = document_register(collection=collection, file_name="price_65.txt", content=content)
    again = document_register(collection=collection, file_name="renamed.txt", content=content)
    assert first.created and not again.created
    assert again.document.id == first.document.id
    assert Document.objects.filter(collection=collection).count() == 1


def test_bad_file_fails_alone_with_a_reason(shared_data: Path) -> None:
    collection = collection_get_or_create(name="mixed")
    broken = ingest_bytes(name="broken.pdf", content=b"%PDF-1.7\nthis is not really a pdf", collection=collection)
    empty = ingest_bytes(name="empty.txt", content=b"", collection=collection)
    unsupported = ingest_bytes(name="table.xlsx", content=b"PK\x03\x04 not a sheet", collection=collection)
    good = ingest_file(path=shared_data / "cn_laws" / "spec_trial.txt", collection=collection)

    assert broken.status == Document.Status.FAILED and "PDF" in broken.failure_reason
    assert empty.status == Document.Status.FAILED and "empty" in empty.failure_reason.lower()
    assert unsupported.status == Document.Status.FAILED and "xlsx" in unsupported.failure_reason
    assert good.status == Document.Status.INDEXED
    assert Chunk.objects.filter(document__in=[broken, empty, unsupported]).count() == 0


def test_rerun_after_a_crash_mid_embedding_resumes_where_it_stopped(shared_data: Path) -> None:
    from ingestion.services import document_ingest

    document = ingest_file(path=shared_data / "cn_laws" / "data_sec_law.txt", collection="laws")
    chunk_ids = list(document.chunks.order_by("ordinal").values_list("id", flat=True))
    kept = dict(ChunkVector.objects.filter(chunk_id__in=chunk_ids[:10]).values_list("chunk_id", "vector"))
    # What a worker killed mid-embedding leaves: chunks written, the first vectors stored, nothing in the index.
    ChunkVector.objects.filter(chunk_id__in=chunk_ids[10:]).delete()
    Document.objects.filter(id=document.id).update(status=Document.Status.EMBEDDING, chunks_embedded=10)
    index = chunk_vector_index(embedder=embedder_get())
    with index.updating() as writer:
        writer.remove(ids=chunk_ids)

    document_ingest(document_id=document.id)
    document.refresh_from_db()

    assert document.status == Document.Status.INDEXED and document.attempts == 2
    assert document.chunks_embedded == document.chunk_count == len(chunk_ids)
    assert list(document.chunks.order_by("ordinal").values_list("id", flat=True)) == chunk_ids  # not re-parsed
    stored = dict(ChunkVector.objects.filter(chunk_id__in=chunk_ids[:10]).values_list("chunk_id", "vector"))
    assert {k: bytes(v) for k, v in stored.items()} == {k: bytes(v) for k, v in kept.items()}  # not re-embedded
    index_ids = index.ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == set(chunk_ids)  # once each, no strays


def test_pdf_chunks_carry_their_pages(tmp_path: Path) -> None:
    from tests.ingestion.parsing.test_parsing import _guideline_pages, build_pdf

    outline = [("Introduction", 0), ("Scope", 0), ("Opioid dosing", 1)]
    content = build_pdf(_guideline_pages(), outline=outline, title="Opioid Guideline")
    document = ingest_bytes(name="guideline.pdf", content=content, collection="pdf")

    assert document.status == Document.Status.INDEXED, document.failure_reason
    assert document.page_count == 2
    scope = document.chunks.get(section_path="Scope")  # one section across a page break: one passage, pp. 1-2
    assert (scope.page_start, scope.page_end) == (1, 2) and "palliative care" in scope.text
    dosing = document.chunks.get(section_path="Opioid dosing")
    assert (dosing.page_start, dosing.page_end) == (2, 2)
    assert_chunks_consistent(document)
