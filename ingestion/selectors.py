"""Reads of ingestion state: what is pending, and how far a document set has come."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from ingestion.models import Collection, Document

UNFINISHED = [Document.Status.QUEUED, Document.Status.PARSING, Document.Status.EMBEDDING, Document.Status.INDEXING]


def collection_status_counts(*, collection: Collection) -> Counter[str]:
    return Counter(collection.documents.values_list("status", flat=True))


def documents_pending(*, document_ids: list[int]) -> QuerySet[Document]:
    return Document.objects.filter(id__in=document_ids, status__in=UNFINISHED)


def documents_unfinished(*, collection: Collection) -> QuerySet[Document]:
    return collection.documents.filter(status__in=UNFINISHED).order_by("id")


def collections_with_indexed_documents() -> QuerySet[Collection]:
    return Collection.objects.filter(documents__status=Document.Status.INDEXED).distinct()


def documents_current(*, collection: Collection) -> QuerySet[Document]:
    """The set as it stands: every document's newest version (earlier versions are history)."""
    return collection.documents.exclude(status=Document.Status.SUPERSEDED).order_by("source_path", "title", "id")


def documents_history(*, collection: Collection) -> QuerySet[Document]:
    return collection.documents.filter(status=Document.Status.SUPERSEDED).order_by("source_path", "-version")


@dataclass(frozen=True)
class CollectionProgress:
    documents: int
    finished: int
    indexed: int
    failed: int
    in_flight: int
    chunks: int
    chunks_embedded: int
    percent: int

    @property
    def active(self) -> bool:
        return self.in_flight > 0


def collection_progress(*, collection: Collection) -> CollectionProgress:
    """Progress of a set: each current document counts by its own progress, so one long document shows moving."""
    current = list(documents_current(collection=collection).only("status", "chunk_count", "chunks_embedded"))
    counts = Counter(d.status for d in current)
    percent = round(sum(d.progress_percent for d in current) / len(current)) if current else 100
    in_flight = sum(counts[s] for s in UNFINISHED)
    return CollectionProgress(
        documents=len(current),
        finished=len(current) - in_flight,
        indexed=counts[Document.Status.INDEXED],
        failed=counts[Document.Status.FAILED],
        in_flight=in_flight,
        chunks=sum(d.chunk_count for d in current),
        chunks_embedded=sum(d.chunks_embedded for d in current),
        percent=percent,
    )


def collection_names_get(*, collection_ids: Iterable[int]) -> dict[int, str]:
    """The sets' names by id (for records that keep the names as they were)."""
    return dict(Collection.objects.filter(id__in=list(collection_ids)).values_list("id", "name"))


# Short documents (a passage, an abstract, an article of a law) are ingested many to a run: per document, a run's
# fixed costs (lease, statements, commits, an index segment) outweigh embedding a chunk or two.
SHORT_DOCUMENT_BYTES = 16 * 1024
BATCH_MAX_DOCUMENTS = 64
BATCH_MAX_BYTES = 256 * 1024


def ingestion_runs(*, document_ids: Iterable[int]) -> list[list[int]]:
    """The documents grouped into runs, in order: short ones together (at most BATCH_MAX_DOCUMENTS or
    BATCH_MAX_BYTES a run), longer ones each alone."""
    document_ids = list(document_ids)
    sizes = dict(Document.objects.filter(id__in=document_ids).values_list("id", "size_bytes"))
    runs: list[list[int]] = []
    batch: list[int] = []
    batch_bytes = 0
    for document_id in document_ids:
        size = sizes.get(document_id, 0)
        if size > SHORT_DOCUMENT_BYTES:
            runs.append([document_id])
            continue
        if batch and (len(batch) >= BATCH_MAX_DOCUMENTS or batch_bytes + size > BATCH_MAX_BYTES):
            runs.append(batch)
            batch, batch_bytes = [], 0
        batch.append(document_id)
        batch_bytes += size
    if batch:
        runs.append(batch)
    return runs
