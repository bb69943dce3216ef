"""Reads of ingestion state: what is pending, and how far a document set has come."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from ingestion.models import Collection, Document, DocumentRelation

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


# --- editions and the documents in force ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SupersedingDocument:
    """What replaced (or amended) a document, as a reader of `collection_ids` may be told."""

    document_id: int  # the document replaced or amended
    by_id: int  # the document in force that replaced or amended it
    by_collection_id: int
    by_title: str
    by_issued_on: date | None
    by_issued_as: str
    kind: str  # DocumentRelation.Kind
    sentence: str  # the clause that says so, when a clause does

    @property
    def superseded(self) -> bool:
        return self.kind in DocumentRelation.SUPERSEDING


MAX_EDITION_HOPS = 10


def superseding_documents(
    *, document_ids: Iterable[int], collection_ids: Iterable[int]
) -> dict[int, SupersedingDocument]:
    """For each of these documents that a newer one replaces or amends: the newest such document a reader of
    `collection_ids` may read, following editions to the one in force (2010 → 2018 → 2024 gives 2024). A document
    neither replaced nor amended is absent. Replacement wins over amendment."""
    documents = {d.id: d for d in Document.objects.filter(id__in=set(document_ids)).only("id", "lineage_id")}
    lineages = {d.lineage for d in documents.values()}
    # One query answers the common case, every search's: none of these documents is replaced or amended.
    if not DocumentRelation.objects.filter(active=True, older__lineage_id__in=lineages).exists():
        return {}
    readable = set(collection_ids)
    found: dict[int, SupersedingDocument] = {}
    for document in documents.values():
        lineage, hops, seen = document.lineage, 0, set()
        while hops < MAX_EDITION_HOPS and lineage not in seen:
            seen.add(lineage)
            step = _superseding_step(lineage=lineage, readable=readable)
            if step is None:
                break
            relation, newer = step
            previous = found.get(document.id)
            if previous is not None and previous.superseded and relation.kind not in DocumentRelation.SUPERSEDING:
                break  # what amends the edition in force does not make the older one "amended by" it
            found[document.id] = SupersedingDocument(
                document_id=document.id, by_id=newer.id, by_collection_id=newer.collection_id, by_title=newer.title,
                by_issued_on=newer.issued_on, by_issued_as=newer.issued_as, kind=relation.kind,
                sentence=relation.sentence or (previous.sentence if previous else ""),
            )
            if relation.kind not in DocumentRelation.SUPERSEDING:
                break
            lineage, hops = newer.lineage, hops + 1
    return found


def _superseding_step(*, lineage: int, readable: set[int]) -> tuple[DocumentRelation, Document] | None:
    """The newest readable, searchable document that replaces the lineage (else one that amends it)."""
    relations = list(DocumentRelation.objects.filter(active=True, older__lineage_id=lineage).select_related("newer"))
    if not relations:
        return None
    lineages = {r.newer.lineage for r in relations}
    current = {
        d.lineage_id: d for d in Document.objects.filter(
            lineage_id__in=lineages, status=Document.Status.INDEXED, collection_id__in=readable
        )
    }
    options = [(r, current[r.newer.lineage]) for r in relations if r.newer.lineage in current]
    if not options:
        return None
    return max(options, key=lambda option: (
        option[0].kind in DocumentRelation.SUPERSEDING, option[1].issued_on or date.min, option[1].id,
    ))


def document_relations(*, document: Document) -> QuerySet[DocumentRelation]:
    """Every link to or from a document, unlinked ones included (the admin shows them)."""
    return (DocumentRelation.objects.filter(Q(newer=document) | Q(older=document))
            .select_related("newer", "older").order_by("-active", "kind", "id"))
