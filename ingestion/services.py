"""Ingestion services: register uploaded files, run parse -> structure -> chunk -> embed -> index, delete."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ingestion.chunking import document_chunk
from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, Collection, Document
from ingestion.parsing import document_parse
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


def document_register(
    *, collection: Collection, file_name: str, content: bytes, external_id: str = "", title: str = ""
) -> DocumentRegistration:
    """Store an uploaded file as a queued document; identical bytes already in the set are not stored twice."""
    digest = hashlib.sha256(content).hexdigest()
    existing = Document.objects.filter(collection=collection, sha256=digest).first()
    if existing is not None:
        return DocumentRegistration(document=existing, created=False)
    document = Document(
        collection=collection,
        original_name=Path(file_name).name,
        external_id=external_id,
        title=title,
        sha256=digest,
        size_bytes=len(content),
        file_type=Path(file_name).suffix.lower().lstrip("."),
    )
    document.file.save(Path(file_name).name, ContentFile(content), save=False)
    document.save()
    return DocumentRegistration(document=document, created=True)


def document_read(*, document: Document) -> ParsedDocument:
    """Parse and structure a stored document; raises IngestionError with a reason an admin understands."""
    if document.size_bytes == 0:
        raise IngestionError("The file is empty (0 bytes).")
    if document.size_bytes > settings.UPLOAD_MAX_BYTES:
        raise IngestionError(f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes.")
    title, blocks, page_count = document_parse(path=Path(document.file.path), file_type=document.file_type or None)
    parsed = document_structure(title=title, blocks=blocks, page_count=page_count)
    if not parsed.text.strip():
        raise IngestionError("No text could be extracted from the file.")
    return parsed


def _status_set(document: Document, status: str, reason: str = "") -> None:
    document.status = status
    document.failure_reason = reason
    document.save(update_fields=["status", "failure_reason", "updated_at"])


def document_ingest(*, document_id: int) -> Document:
    """Make one document searchable. Rerunnable: a rerun replaces whatever a crashed run left, never duplicates."""
    document = Document.objects.select_related("collection").get(id=document_id)
    if document.status == Document.Status.INDEXED:
        return document
    _status_set(document, Document.Status.PARSING)
    try:
        parsed = document_read(document=document)
        drafts = document_chunk(
            document=parsed, max_chars=settings.CHUNK_MAX_CHARS, overlap_chars=settings.CHUNK_OVERLAP_CHARS
        )
        if not drafts:
            raise IngestionError("The file has no body text to index (only headings or blank pages).")
    except IngestionError as error:
        _status_set(document, Document.Status.FAILED, str(error))
        return document
    except Exception as error:  # a parser library choking on malformed input is bad input, not a transient fault
        logger.exception("parsing document %s failed", document_id)
        _status_set(document, Document.Status.FAILED, f"The file could not be read ({type(error).__name__}: {error}).")
        return document

    embedder = embedder_get()
    with transaction.atomic():
        stale_ids = list(document.chunks.values_list("id", flat=True))
        document.chunks.all().delete()
        document.title = document.title or parsed.title or Path(document.original_name).stem
        chunks = Chunk.objects.bulk_create(
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
            ]
        )
        document.text = parsed.text
        document.page_count = parsed.page_count
        document.chunk_count = len(chunks)
        document.status = Document.Status.EMBEDDING
        document.failure_reason = ""
        document.save()

    vectors = embedder.embed_passages([c.embedding_text() for c in chunks], batch_size=settings.EMBEDDING_BATCH_SIZE)
    with chunk_vector_index(embedder=embedder).updating() as index:
        index.remove(ids=stale_ids)
        index.add(ids=[c.id for c in chunks], vectors=vectors)

    document.status = Document.Status.INDEXED
    document.indexed_at = timezone.now()
    document.save(update_fields=["status", "indexed_at", "updated_at"])
    return document


def documents_delete(*, documents: list[Document]) -> int:
    """Remove documents: their vectors leave the index first, so search never returns a deleted passage."""
    chunk_ids = list(Chunk.objects.filter(document__in=documents).values_list("id", flat=True))
    if chunk_ids:
        with chunk_vector_index(embedder=embedder_get()).updating() as index:
            index.remove(ids=chunk_ids)
    count = 0
    for document in documents:
        storage, name = document.file.storage, document.file.name
        document.delete()
        if name and not Document.objects.filter(file=name).exists():
            storage.delete(name)
        count += 1
    return count


def collection_delete(*, collection: Collection) -> None:
    documents_delete(documents=list(collection.documents.all()))
    collection.delete()
