"""A process's searchable set over the real database: a starting process takes over the saved BM25 index and reads
only the documents changed since; a damaged saved index is rebuilt from the database, never served."""

from __future__ import annotations

from pathlib import Path

import pytest

import retrieval.searchable as searchable_module
from ingestion.models import Chunk, Collection, Document
from retrieval.searchable import SearchableChunks

pytestmark = pytest.mark.django_db

QUERIES = ["statin dose", "sepsis antibiotics", "insulin", "blood pressure target"]


def document_create(collection: Collection, name: str, passages: list[str]) -> Document:
    document = Document.objects.create(
        collection=collection, original_name=name, title=name, status=Document.Status.INDEXED
    )
    chunks_replace(document, passages)
    return document


def chunks_replace(document: Document, passages: list[str]) -> None:
    """A new version of the document's chunks; saving the document stamps updated_at, as ingestion does."""
    document.chunks.all().delete()
    Chunk.objects.bulk_create(
        Chunk(document=document, collection=document.collection, ordinal=n, text=text, char_start=0,
              char_end=len(text))
        for n, text in enumerate(passages)
    )
    document.save()


def results(searchable: SearchableChunks, collection: Collection) -> list[list[tuple[int, float]]]:
    return [
        [(hit.chunk_id, round(hit.score, 5)) for hit in searchable.lexical.search(
            query=query, k=10, collection_ids=[collection.id])]
        for query in QUERIES
    ]


def chunk_reads_recorded(monkeypatch) -> list[int]:
    """The documents whose chunks are read from the database (the real reader, observed)."""
    read: list[int] = []
    original = searchable_module.searchable_chunk_rows

    def recording(*, document_ids):
        document_ids = list(document_ids)
        read.extend(document_ids)
        return original(document_ids=document_ids)

    monkeypatch.setattr(searchable_module, "searchable_chunk_rows", recording)
    return read


@pytest.fixture
def guidelines() -> tuple[Collection, list[Document]]:
    collection = Collection.objects.create(name="guidelines")
    documents = [
        document_create(collection, f"guideline-{n}.md", [
            f"Statin dose review {n} for LDL cholesterol.",
            f"Blood pressure target below 130/80 in guideline {n}.",
            "Sepsis: give antibiotics within one hour." if n % 2 else "Insulin titration for type 2 diabetes.",
        ])
        for n in range(12)
    ]
    return collection, documents


def test_a_starting_process_takes_over_the_saved_index_and_reads_only_what_changed_since(
    tmp_path: Path, guidelines, monkeypatch
) -> None:
    collection, documents = guidelines
    first = SearchableChunks(directory=tmp_path / "bm25")
    first.sync()
    assert first.started_from == "database" and first.saves == 1

    # Nothing changed: a new process serves the saved index without reading a chunk.
    read = chunk_reads_recorded(monkeypatch)
    unchanged = SearchableChunks(directory=tmp_path / "bm25")
    unchanged.sync()
    assert unchanged.started_from == "disk" and read == [] and unchanged.saves == 0
    assert results(unchanged, collection) == results(first, collection)

    # While no process runs: one document replaced, one removed, one added.
    outdated = [*documents[0].chunks.values_list("id", flat=True), *documents[1].chunks.values_list("id", flat=True)]
    chunks_replace(documents[0], ["Insulin pump settings for adults.", "Statin dose statin dose."])
    documents[1].delete()
    added = document_create(collection, "new.md", ["Sepsis antibiotics and fluids within one hour."])
    starting = SearchableChunks(directory=tmp_path / "bm25")
    starting.sync()
    assert starting.started_from == "disk" and sorted(read) == sorted([documents[0].id, added.id])
    assert starting.saves == 1  # the state it reached is saved for the next one

    rebuilt = SearchableChunks(directory=tmp_path / "elsewhere")
    rebuilt.sync()
    assert rebuilt.started_from == "database"
    assert results(starting, collection) == results(rebuilt, collection)
    assert starting.lexical.size == rebuilt.lexical.size == 12 * 3 - 1 - 3 + 1  # replaced, removed, added
    assert not any(chunk_id in starting.lexical for chunk_id in outdated)
    # A process that was running all along catches up by difference too, and finds the state already saved.
    first.sync()
    assert results(first, collection) == results(rebuilt, collection) and first.saves == 1


def test_a_damaged_saved_index_is_rebuilt_from_the_database_and_saved_anew(tmp_path: Path, guidelines) -> None:
    collection, _ = guidelines
    directory = tmp_path / "bm25"
    SearchableChunks(directory=directory).sync()
    postings = sorted(directory.glob("segment-*.data.npy"))[0]
    postings.write_bytes(postings.read_bytes()[:-8])  # cut short, as by a full disk

    damaged = SearchableChunks(directory=directory)
    damaged.sync()
    assert damaged.started_from == "database (saved state damaged)" and damaged.saves == 1
    reference = SearchableChunks(directory=tmp_path / "elsewhere")
    reference.sync()
    assert results(damaged, collection) == results(reference, collection)
    assert all(results(damaged, collection))
    # The state saved over it is whole again.
    after = SearchableChunks(directory=directory)
    after.sync()
    assert after.started_from == "disk" and results(after, collection) == results(reference, collection)
