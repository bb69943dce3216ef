"""Ingestion services: register files as document versions, run parse -> structure -> chunk -> embed -> index, delete.

A run is resumable at every step: chunks are written in one transaction with the move to embedding, vectors are
stored batch by batch, and publishing to the index replaces rather than appends. A worker killed at any point leaves
a document that the next run finishes, indexed once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ingestion.embedding import Embedder, embedder_get
from ingestion.index import chunk_vector_index
from ingestion.leases import DocumentBusy, document_lease, documents_lease
from ingestion.models import Chunk, ChunkVector, Collection, Document
from ingestion.pipeline import documents_process, oversize_reason

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentRegistration:
    document: Document
    created: bool


def collection_get_or_create(*, name: str, description: str = "") -> Collection:
    collection, _ = Collection.objects.get_or_create(name=name, defaults={"description": description})
    return collection


def _previous_version(*, collection: Collection, source_path: str, external_id: str) -> Document | None:
    """The newest earlier version of the same document: same external id, else same source path."""
    if external_id:
        match = Q(external_id=external_id)
    elif source_path:
        match = Q(source_path=source_path, external_id="")
    else:
        return None
    return Document.objects.filter(match, collection=collection).order_by("-version").first()


def _document_create(*, document: Document, content: bytes | None) -> Document:
    previous = _previous_version(
        collection=document.collection, source_path=document.source_path, external_id=document.external_id
    )
    if previous is not None:
        document.lineage_id, document.version = previous.lineage_id, previous.version + 1
    if content is not None:
        document.file.save(Path(document.original_name).name or "file", ContentFile(content), save=False)
    document.save()
    if document.lineage_id is None:
        Document.objects.filter(id=document.id).update(lineage_id=document.id)
        document.lineage_id = document.id
    return document


def document_register(
    *,
    collection: Collection,
    file_name: str,
    content: bytes,
    external_id: str = "",
    title: str = "",
    source_path: str = "",
) -> DocumentRegistration:
    """Store an uploaded file as a queued document version.

    Identical bytes already in the set are not stored twice. A file with the source path (or external id) of an
    earlier one is its next version; the earlier one stays searchable until the new one is indexed.
    """
    digest = hashlib.sha256(content).hexdigest()
    existing = Document.objects.filter(collection=collection, sha256=digest).first()
    if existing is not None:
        return DocumentRegistration(document=existing, created=False)
    document = Document(
        collection=collection,
        original_name=Path(file_name).name,
        source_path=source_path or Path(file_name).name,
        external_id=external_id,
        title=title,
        sha256=digest,
        size_bytes=len(content),
        file_type=Path(file_name).suffix.lower().lstrip("."),
    )
    if len(content) > settings.UPLOAD_MAX_BYTES:
        # Refused before storing: the bytes are not kept, the record says why.
        document.status = Document.Status.FAILED
        document.failure_reason = oversize_reason(size=len(content))
        return DocumentRegistration(document=_document_create(document=document, content=None), created=True)
    return DocumentRegistration(document=_document_create(document=document, content=content), created=True)


def document_reject(
    *, collection: Collection, file_name: str, source_path: str, reason: str, size_bytes: int = 0
) -> DocumentRegistration:
    """Record a file refused unread (a zip entry escaping its folder, a zip bomb), so the admin sees it and why.

    Uploading the same refused file again does not add a second record of the same refusal.
    """
    newest = Document.objects.filter(collection=collection, source_path=source_path).order_by("-version").first()
    if newest is not None and newest.status == Document.Status.FAILED and newest.failure_reason == reason:
        return DocumentRegistration(document=newest, created=False)
    document = Document(
        collection=collection,
        original_name=Path(file_name).name[:500],
        source_path=source_path[:1000],
        size_bytes=size_bytes,
        file_type=Path(file_name).suffix.lower().lstrip(".")[:16],
        status=Document.Status.FAILED,
        failure_reason=reason,
    )
    return DocumentRegistration(document=_document_create(document=document, content=None), created=True)


def document_ingest(*, document_id: int) -> Document:
    """Make one document searchable: resumable, one run at a time per document, never duplicating.

    Raises DocumentBusy while another live run holds the document. Bad input does not raise: the document fails
    with its reason.
    """
    with document_lease(document_id=document_id) as lease:
        document = Document.objects.select_related("collection").get(id=document_id)
        if document.is_finished:
            return document
        Document.objects.filter(id=document_id).update(attempts=F("attempts") + 1)
        document.refresh_from_db(fields=["attempts"])
        documents_process(documents=[document], lease=lease)
    document.refresh_from_db()
    return document


@dataclass(frozen=True)
class BatchIngestion:
    documents: list[Document]  # the documents this run held, as they ended
    busy: list[int]  # held by another live run: to try again after retry_after seconds
    retry_after: float


def documents_ingest_batch(*, document_ids: Sequence[int]) -> BatchIngestion:
    """Make many (short) documents searchable in one run: one embedding call for all their chunks, one index
    change, a few statements for them all, and each document's own status, progress and failure reason.

    Resumable and never duplicating as document_ingest is; a document another live run holds is left to it and
    reported busy. Raises LeaseLost when a document was taken over or deleted midway: run the batch again.
    """
    with documents_lease(document_ids=list(document_ids)) as lease:
        documents = [
            d
            for d in Document.objects.select_related("collection").filter(id__in=lease.document_ids).order_by("id")
            if not d.is_finished
        ]
        Document.objects.filter(id__in=[d.id for d in documents]).update(attempts=F("attempts") + 1)
        for document in documents:
            document.attempts += 1
        if documents:
            documents_process(documents=documents, lease=lease)
    held = list(Document.objects.filter(id__in=lease.document_ids).order_by("id"))
    return BatchIngestion(documents=held, busy=lease.busy, retry_after=lease.retry_after)


def documents_delete(*, documents: list[Document]) -> int:
    """Remove documents: their chunks leave search with the commit, their vectors leave the index right after."""
    document_ids = [d.id for d in documents]
    with transaction.atomic():
        chunk_ids = list(Chunk.objects.filter(document_id__in=document_ids).values_list("id", flat=True))
        files = list(Document.objects.filter(id__in=document_ids).values_list("file", flat=True))
        count, _ = Document.objects.filter(id__in=document_ids).delete()
    if chunk_ids:
        with chunk_vector_index(embedder=embedder_get()).updating() as index:
            index.remove(ids=chunk_ids)
    storage = Document._meta.get_field("file").storage
    for name in files:
        if name and not Document.objects.filter(file=name).exists():
            storage.delete(name)
    return len(document_ids) if count else 0


def collection_delete(*, collection: Collection) -> None:
    documents_delete(documents=list(collection.documents.all()))
    collection.delete()


@dataclass(frozen=True)
class IndexReconciliation:
    added: int
    removed: int


def index_reconcile(*, embedder: Embedder | None = None) -> IndexReconciliation:
    """Make the index hold exactly the vectors of indexed chunks: the repair after a crash between two steps.

    Removes vectors whose chunk is gone or not searchable, and adds those of indexed chunks that are missing
    (from stored vectors, or embedded again where none is stored).
    """
    embedder = embedder or embedder_get()
    index = chunk_vector_index(embedder=embedder)
    with index.updating() as writer:
        present = writer.ids()
        wanted = np.fromiter(
            Chunk.objects.filter(
                document__status__in=[Document.Status.INDEXED, Document.Status.INDEXING],
                document__embedding_model=embedder.name,
            ).values_list("id", flat=True),
            dtype=np.int64,
        )
        extra = np.setdiff1d(present, wanted)
        missing = np.setdiff1d(wanted, present)
        writer.remove(ids=extra)
        if len(missing):
            stored = dict(ChunkVector.objects.filter(chunk_id__in=missing.tolist()).values_list("chunk_id", "vector"))
            unstored = [
                c
                for c in Chunk.objects.select_related("document").filter(id__in=missing.tolist())
                if c.id not in stored
            ]
            fresh = embedder.embed_passages([c.embedding_text() for c in unstored]) if unstored else []
            for chunk, vector in zip(unstored, fresh, strict=True):
                ChunkVector.objects.update_or_create(chunk=chunk, defaults={"vector": vector.tobytes()})
                stored[chunk.id] = vector.tobytes()
            ids = np.array(sorted(stored), dtype=np.int64)
            writer.add(ids=ids, vectors=np.stack([np.frombuffer(bytes(stored[i]), dtype=np.float32) for i in ids]))
    return IndexReconciliation(added=len(missing), removed=len(extra))


def documents_embedded_with_other_model(*, embedder: Embedder | None = None) -> QuerySet[Document]:
    """Indexed documents whose vectors come from another embedding model than the current one."""
    embedder = embedder or embedder_get()
    return Document.objects.filter(status=Document.Status.INDEXED).exclude(embedding_model=embedder.name)


def documents_reembed(
    *, embedder: Embedder | None = None, on_document: Callable[[Document], None] | None = None
) -> int:
    """Embed again with the current model every indexed document embedded with another, and index the vectors.

    After EMBEDDING_MODEL changes, these documents are missing from the new model's index (each model has its own):
    BM25 still finds them, dense search does not. Each stays searchable throughout; its vectors are stored, then
    added to the index, and only then is the document marked as embedded with the new model, so a run killed midway
    redoes at most one document. A document another run is ingesting is skipped: that run embeds it anew anyway.
    """
    embedder = embedder or embedder_get()
    index = chunk_vector_index(embedder=embedder)
    done = 0
    for document in documents_embedded_with_other_model(embedder=embedder).order_by("id").iterator():
        try:
            with document_lease(document_id=document.id) as lease:
                chunks = list(document.chunks.order_by("id"))
                for chunk in chunks:
                    chunk.document = document  # embedding_text reads the title; the document is at hand
                vectors = embedder.embed_passages([chunk.embedding_text() for chunk in chunks])
                lease.renew()
                with transaction.atomic():
                    for chunk, vector in zip(chunks, vectors, strict=True):
                        ChunkVector.objects.update_or_create(chunk=chunk, defaults={"vector": vector.tobytes()})
                if chunks:
                    with index.updating() as writer:
                        writer.add(ids=np.array([chunk.id for chunk in chunks], dtype=np.int64), vectors=vectors)
                Document.objects.filter(id=document.id, status=Document.Status.INDEXED).update(
                    embedding_model=embedder.name, updated_at=timezone.now()
                )
        except DocumentBusy:
            continue
        done += 1
        if on_document is not None:
            on_document(document)
    return done
