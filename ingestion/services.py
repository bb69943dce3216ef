"""Ingestion services: register files as document versions, run parse -> structure -> chunk -> embed -> index, delete.

A run is resumable at every step: chunks are written in one transaction with the move to embedding, vectors are
stored batch by batch, and publishing to the index replaces rather than appends. A worker killed at any point leaves
a document that the next run finishes, indexed once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ingestion.chunking import document_chunk
from ingestion.dates import issued_date_find
from ingestion.embedding import Embedder, embedder_get
from ingestion.index import chunk_vector_index
from ingestion.leases import DocumentBusy, DocumentLease, LeaseLost, document_lease
from ingestion.models import Chunk, ChunkVector, Collection, Document
from ingestion.parsing.document import document_parse
from ingestion.structure import document_structure
from ingestion.types import IngestionError, ParsedDocument

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentRegistration:
    document: Document
    created: bool


def collection_get_or_create(*, name: str, description: str = "") -> Collection:
    collection, _ = Collection.objects.get_or_create(name=name, defaults={"description": description})
    return collection


def size_label(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def oversize_reason(*, size: int) -> str:
    """Why a file over UPLOAD_MAX_BYTES is refused: one wording wherever the limit is enforced."""
    return f"The file is {size_label(size)}, over the limit of {size_label(settings.UPLOAD_MAX_BYTES)}."


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


def document_read(*, document: Document, on_page: Callable[[], None] | None = None) -> ParsedDocument:
    """Parse and structure a stored document; raises IngestionError with a reason an admin understands.

    on_page is called after each page (OCR of a long scan takes minutes: the caller renews its lease there).
    """
    if not document.file:
        raise IngestionError(document.failure_reason or "The file was not stored.")
    if document.size_bytes == 0:
        raise IngestionError("The file is empty (0 bytes).")
    if document.size_bytes > settings.UPLOAD_MAX_BYTES:
        raise IngestionError(oversize_reason(size=document.size_bytes))
    title, blocks, page_count = document_parse(
        path=Path(document.file.path), file_type=document.file_type or None, on_page=on_page
    )
    parsed = document_structure(title=title, blocks=blocks, page_count=page_count)
    if not parsed.text.strip():
        raise IngestionError("No text could be extracted from the file.")
    return parsed


def _status_set(document: Document, status: str, reason: str = "") -> None:
    document.status = status
    document.failure_reason = reason
    document.save(update_fields=["status", "failure_reason", "updated_at"])


def _join_lineage_by_title(document: Document) -> None:
    """A first upload whose title matches a current document of the set is that document's next version."""
    if document.external_id or document.version > 1 or not document.title:
        return
    current = (
        Document.objects.filter(collection_id=document.collection_id, title=document.title, external_id="")
        .exclude(lineage_id=document.lineage_id)
        .filter(status=Document.Status.INDEXED)
        .order_by("-version")
        .first()
    )
    if current is None:
        return
    newest = (
        Document.objects.filter(lineage_id=current.lineage_id).order_by("-version").values_list("version", flat=True)[0]
    )
    document.lineage_id, document.version = current.lineage_id, newest + 1


def _document_chunks_create(*, document: Document, lease: DocumentLease) -> None:
    """Parse and chunk; chunks and the move to embedding commit together, so a crash leaves all or nothing."""
    _status_set(document, Document.Status.PARSING)
    parsed = document_read(document=document, on_page=lease.renew)
    drafts = document_chunk(
        document=parsed, max_chars=settings.CHUNK_MAX_CHARS, overlap_chars=settings.CHUNK_OVERLAP_CHARS
    )
    if not drafts:
        raise IngestionError("The file has no body text to index (only headings or blank pages).")
    with transaction.atomic():
        document.chunks.all().delete()
        document.title = document.title or parsed.title or Path(document.original_name).stem
        _join_lineage_by_title(document)
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document=document,
                    collection_id=document.collection_id,
                    ordinal=ordinal,
                    text=draft.text,
                    section_path=Chunk.SECTION_SEPARATOR.join(draft.section_path),
                    page_start=draft.page_start,
                    page_end=draft.page_end,
                    char_start=draft.char_start,
                    char_end=draft.char_end,
                )
                for ordinal, draft in enumerate(drafts)
            ],
            batch_size=1000,
        )
        document.text = parsed.text
        document.page_count = parsed.page_count
        issued = issued_date_find(parsed.text)
        if document.issued_on is None and issued is not None:  # an admin's correction survives re-ingestion
            document.issued_on, document.issued_as = issued.on, issued.as_written
        document.chunk_count = len(drafts)
        document.chunks_embedded = 0
        document.status = Document.Status.EMBEDDING
        document.failure_reason = ""
        document.save()


def _groups(items: Sequence[Chunk], *, size: int) -> Iterator[Sequence[Chunk]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _document_embed(*, document: Document, embedder: Embedder, lease: DocumentLease) -> None:
    """Embed the chunks that have no stored vector yet, committing progress group by group."""
    if document.embedding_model != embedder.name:
        ChunkVector.objects.filter(chunk__document=document).delete()  # vectors of another model do not mix
        document.embedding_model = embedder.name
        document.chunks_embedded = 0
        document.save(update_fields=["embedding_model", "chunks_embedded", "updated_at"])
    # Chunks read through document.chunks already refer to `document`: no join copying its text into every row.
    pending = list(document.chunks.filter(vector__isnull=True).order_by("ordinal"))
    done = document.chunk_count - len(pending)
    if done and pending:
        logger.info("resuming document %s at chunk %d of %d", document.id, done, document.chunk_count)
    for group in _groups(pending, size=settings.INGEST_COMMIT_CHUNKS):
        vectors = embedder.embed_passages(
            [chunk.embedding_text() for chunk in group], batch_size=settings.EMBEDDING_BATCH_SIZE
        )
        with transaction.atomic():
            lease.renew()
            ChunkVector.objects.bulk_create(
                [ChunkVector(chunk=c, vector=vector.tobytes()) for c, vector in zip(group, vectors, strict=True)]
            )
            Document.objects.filter(id=document.id).update(
                chunks_embedded=F("chunks_embedded") + len(group), updated_at=timezone.now()
            )
    document.refresh_from_db(fields=["chunks_embedded"])


def _chunk_vectors(*, document: Document) -> tuple[np.ndarray, np.ndarray]:
    rows = list(ChunkVector.objects.filter(chunk__document=document).values_list("chunk_id", "vector"))
    ids = np.array([chunk_id for chunk_id, _ in rows], dtype=np.int64)
    vectors = np.stack([np.frombuffer(bytes(vector), dtype=np.float32) for _, vector in rows]) if rows else None
    return ids, vectors


def _document_publish(*, document: Document, embedder: Embedder, lease: DocumentLease) -> None:
    """Add the vectors, then in one transaction make this version the searchable one and retire the older ones.

    Search filters by document status in the database, so it sees the old version until that commit and the new one
    after it: never both, never neither. The retired versions' vectors leave the index right after.
    """
    _status_set(document, Document.Status.INDEXING)
    ids, vectors = _chunk_vectors(document=document)
    index = chunk_vector_index(embedder=embedder)
    with index.updating() as writer:
        writer.add(ids=ids, vectors=vectors)

    retired: list[int] = []
    with transaction.atomic():
        lease.renew()
        lineage = list(
            Document.objects.select_for_update().filter(lineage_id=document.lineage_id).exclude(id=document.id)
        )
        newer = [d for d in lineage if d.version > document.version and d.status == Document.Status.INDEXED]
        if newer:
            # A later version was indexed while this one was in flight: this one goes straight to history.
            retired_documents = [document]
        else:
            retired_documents = [
                d
                for d in lineage
                if d.version < document.version and d.status in (Document.Status.INDEXED, Document.Status.FAILED)
            ]
            Document.objects.filter(id=document.id).update(
                status=Document.Status.INDEXED, indexed_at=timezone.now(), updated_at=timezone.now()
            )
        retired = list(Chunk.objects.filter(document__in=retired_documents).values_list("id", flat=True))
        Document.objects.filter(id__in=[d.id for d in retired_documents]).update(
            status=Document.Status.SUPERSEDED, chunk_count=0, chunks_embedded=0, updated_at=timezone.now()
        )
    if retired:
        # Out of search since the commit above; their vectors and rows go now (history keeps the file and text).
        with index.updating() as writer:
            writer.remove(ids=retired)
        Chunk.objects.filter(id__in=retired).delete()
    document.refresh_from_db()


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
        document.refresh_from_db(fields=["attempts"])  # later whole-row saves must not write the old count back
        try:
            if document.status in (Document.Status.QUEUED, Document.Status.PARSING) or not document.chunk_count:
                _document_chunks_create(document=document, lease=lease)
        except LeaseLost:
            raise  # another run owns the document now: not this file's fault
        except IngestionError as error:
            _status_set(document, Document.Status.FAILED, str(error))
            return document
        except Exception as error:  # a parser library choking on malformed input is bad input, not a transient fault
            logger.exception("parsing document %s failed", document_id)
            _status_set(
                document, Document.Status.FAILED, f"The file could not be read ({type(error).__name__}: {error})."
            )
            return document
        embedder = embedder_get()
        _document_embed(document=document, embedder=embedder, lease=lease)
        _document_publish(document=document, embedder=embedder, lease=lease)
    return document


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
