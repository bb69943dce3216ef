"""The ingestion steps over a list of documents: parse and chunk, embed, publish to the index.

One document is a list of one (services.document_ingest); short documents go many to a run
(services.documents_ingest_batch), so that one embedding call, one index segment and a handful of statements serve
them all instead of a score of statements, three commits and a segment file each. Every step is resumable: chunks
commit together with the move to embedding, vectors commit group by group, publishing replaces rather than appends.
A document that cannot be read fails alone with its reason; the others go on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from ingestion.chunking import ChunkDraft, document_chunk
from ingestion.dates import issued_date_find
from ingestion.editions import issuer_find, work_title
from ingestion.embedding import Embedder, embedder_get
from ingestion.index import chunk_vector_index
from ingestion.leases import LeaseLost
from ingestion.models import Chunk, ChunkVector, Document
from ingestion.parsing.document import document_parse
from ingestion.relations import relations_detect
from ingestion.structure import document_structure
from ingestion.types import IngestionError, ParsedDocument

logger = logging.getLogger(__name__)

# The fields the parse step writes that differ from document to document.
PARSED_FIELDS = [
    "title", "lineage_id", "version", "text", "page_count", "issued_on", "issued_as", "issuer", "work_title",
    "chunk_count",
]


class Lease(Protocol):
    def renew(self) -> None: ...


def size_label(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def oversize_reason(*, size: int) -> str:
    """Why a file over UPLOAD_MAX_BYTES is refused: one wording wherever the limit is enforced."""
    return f"The file is {size_label(size)}, over the limit of {size_label(settings.UPLOAD_MAX_BYTES)}."


def document_read(*, document: Document, on_page: Lease | None = None) -> ParsedDocument:
    """Parse and structure a stored document; raises IngestionError with a reason an admin understands.

    on_page.renew is called after each page (OCR of a long scan takes minutes: the caller keeps its lease).
    """
    if not document.file:
        raise IngestionError(document.failure_reason or "The file was not stored.")
    if document.size_bytes == 0:
        raise IngestionError("The file is empty (0 bytes).")
    if document.size_bytes > settings.UPLOAD_MAX_BYTES:
        raise IngestionError(oversize_reason(size=document.size_bytes))
    title, blocks, page_count = document_parse(
        path=Path(document.file.path),
        file_type=document.file_type or None,
        on_page=on_page.renew if on_page is not None else None,
    )
    parsed = document_structure(title=title, blocks=blocks, page_count=page_count)
    if not parsed.text.strip():
        raise IngestionError("No text could be extracted from the file.")
    return parsed


def document_fail(document: Document, reason: str) -> None:
    document.status, document.failure_reason = Document.Status.FAILED, reason
    document.save(update_fields=["status", "failure_reason", "updated_at"])


def _status_set(documents: Sequence[Document], status: str) -> None:
    Document.objects.filter(id__in=[d.id for d in documents]).update(
        status=status, failure_reason="", updated_at=timezone.now()
    )
    for document in documents:
        document.status, document.failure_reason = status, ""


def _document_parse(*, document: Document, lease: Lease) -> tuple[ParsedDocument, list[ChunkDraft]] | None:
    """The document read and chunked, or None after failing it with its reason (bad input never raises)."""
    try:
        parsed = document_read(document=document, on_page=lease)
        drafts = document_chunk(
            document=parsed, max_chars=settings.CHUNK_MAX_CHARS, overlap_chars=settings.CHUNK_OVERLAP_CHARS
        )
        if not drafts:
            raise IngestionError("The file has no body text to index (only headings or blank pages).")
    except LeaseLost:
        raise  # another run owns the document now: not this file's fault
    except IngestionError as error:
        document_fail(document, str(error))
        return None
    except Exception as error:  # a parser library choking on malformed input is bad input, not a transient fault
        logger.exception("parsing document %s failed", document.id)
        document_fail(document, f"The file could not be read ({type(error).__name__}: {error}).")
        return None
    return parsed, drafts


def _document_fill(*, document: Document, parsed: ParsedDocument, drafts: list[ChunkDraft]) -> list[Chunk]:
    """The document's fields from its parse (saved by the caller), and its chunks (created by the caller)."""
    document.title = document.title or parsed.title or Path(document.original_name).stem
    document.text = parsed.text
    document.page_count = parsed.page_count
    issued = issued_date_find(parsed.text)
    if document.issued_on is None and issued is not None:  # an admin's correction survives re-ingestion
        document.issued_on, document.issued_as = issued.on, issued.as_written
    document.issuer = document.issuer or issuer_find(parsed.text)
    document.work_title = work_title(document.title)
    document.chunk_count = len(drafts)
    document.chunks_embedded = 0
    document.status, document.failure_reason = Document.Status.EMBEDDING, ""
    return [
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


def _lineages_join_by_title(documents: Sequence[Document]) -> None:
    """A first upload whose title matches a current document of its set becomes that document's next version.

    Two first uploads of one title in the list end as they would one after the other: the later is the next
    version of the earlier.
    """
    candidates = sorted((d for d in documents if not d.external_id and d.version == 1 and d.title), key=lambda d: d.id)
    if not candidates:
        return
    rows = (
        Document.objects.filter(
            collection_id__in={d.collection_id for d in candidates},
            title__in={d.title for d in candidates},
            external_id="",
            status=Document.Status.INDEXED,
        )
        .order_by("version", "id")
        .values_list("collection_id", "title", "lineage_id")
    )
    current = {(collection_id, title): lineage_id for collection_id, title, lineage_id in rows}  # newest wins
    newest = dict(
        Document.objects.filter(lineage_id__in=set(current.values()))
        .values("lineage_id")
        .annotate(newest=Max("version"))
        .values_list("lineage_id", "newest")
    )
    for document in candidates:
        key = (document.collection_id, document.title)
        lineage_id = current.get(key)
        if lineage_id is not None and lineage_id != document.lineage_id:
            document.lineage_id, document.version = lineage_id, newest[lineage_id] + 1
        newest[document.lineage_id] = max(newest.get(document.lineage_id, 0), document.version)
        current[key] = document.lineage_id


def _parsed_fields_save(documents: Sequence[Document]) -> None:
    """One parameterised UPDATE a document, sent as one executemany (psycopg pipelines it into one round trip):
    bulk_update's CASE expressions, or a queryset update a document, cost more to build in Python than the
    database takes to run them."""
    fields = [Document._meta.get_field(name) for name in PARSED_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(Document._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    rows = [
        [field.get_db_prep_save(getattr(document, field.attname), connection) for field in fields] + [document.id]
        for document in documents
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def documents_chunks_create(*, documents: Sequence[Document], lease: Lease) -> list[Document]:
    """Parse and chunk each document; returns those that were read. The chunks of all of them and their move to
    embedding commit together, so a crash leaves all or nothing; one that cannot be read fails alone."""
    if not documents:
        return []
    _status_set(documents, Document.Status.PARSING)
    read = [(d, parse) for d in documents if (parse := _document_parse(document=d, lease=lease)) is not None]
    if not read:
        return []
    with transaction.atomic():
        lease.renew()
        Chunk.objects.filter(document_id__in=[d.id for d, _ in read]).delete()
        chunks = [c for d, (parsed, drafts) in read for c in _document_fill(document=d, parsed=parsed, drafts=drafts)]
        _lineages_join_by_title([d for d, _ in read])
        Chunk.objects.bulk_create(chunks, batch_size=1000)
        _parsed_fields_save([d for d, _ in read])
        Document.objects.filter(id__in=[d.id for d, _ in read]).update(
            chunks_embedded=0, status=Document.Status.EMBEDDING, failure_reason="", updated_at=timezone.now()
        )
    return [d for d, _ in read]


def _groups(items: Sequence[Chunk], *, size: int) -> Iterator[Sequence[Chunk]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pending_chunks(*, documents: Sequence[Document], embedder: Embedder) -> list[Chunk]:
    """The chunks with no stored vector of this model yet, each holding its (already loaded) document."""
    stale = [d.id for d in documents if d.embedding_model != embedder.name]
    if stale:
        ChunkVector.objects.filter(chunk__document_id__in=stale).delete()  # vectors of another model do not mix
        Document.objects.filter(id__in=stale).update(
            embedding_model=embedder.name, chunks_embedded=0, updated_at=timezone.now()
        )
    by_id = {d.id: d for d in documents}
    for document in documents:
        document.embedding_model = embedder.name
        document.chunks_embedded = 0 if document.id in stale else document.chunks_embedded
    pending = list(Chunk.objects.filter(document_id__in=by_id, vector__isnull=True).order_by("document_id", "ordinal"))
    for chunk in pending:
        chunk.document = by_id[chunk.document_id]  # embedding_text reads the title: no query per chunk
    left = Counter(chunk.document_id for chunk in pending)
    for document_id, count in left.items():
        document = by_id[document_id]
        if count < document.chunk_count:
            done = document.chunk_count - count
            logger.info("resuming document %s at chunk %d of %d", document_id, done, document.chunk_count)
    total = sum(d.chunk_count for d in documents)
    if len(documents) > 1 and 0 < total - len(pending) < total:
        done = total - len(pending)
        logger.info("resuming %d documents: %d of %d chunks already embedded", len(documents), done, total)
    return pending


def documents_embed(*, documents: Sequence[Document], embedder: Embedder, lease: Lease) -> None:
    """Embed the chunks that have no stored vector yet, all documents' together, committing group by group with each
    document's progress."""
    pending = _pending_chunks(documents=documents, embedder=embedder)
    for group in _groups(pending, size=settings.INGEST_COMMIT_CHUNKS):
        vectors = embedder.embed_passages(
            [chunk.embedding_text() for chunk in group], batch_size=settings.EMBEDDING_BATCH_SIZE
        )
        by_count: dict[int, list[int]] = {}  # documents by how many of their chunks the group holds: few statements
        for document_id, count in Counter(chunk.document_id for chunk in group).items():
            by_count.setdefault(count, []).append(document_id)
        with transaction.atomic():
            lease.renew()
            ChunkVector.objects.bulk_create(
                [ChunkVector(chunk=c, vector=vector.tobytes()) for c, vector in zip(group, vectors, strict=True)]
            )
            for count, document_ids in by_count.items():
                Document.objects.filter(id__in=document_ids).update(
                    chunks_embedded=F("chunks_embedded") + count, updated_at=timezone.now()
                )


def _chunk_vectors(*, document_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None]:
    rows = list(ChunkVector.objects.filter(chunk__document_id__in=document_ids).values_list("chunk_id", "vector"))
    ids = np.array([chunk_id for chunk_id, _ in rows], dtype=np.int64)
    vectors = np.stack([np.frombuffer(bytes(vector), dtype=np.float32) for _, vector in rows]) if rows else None
    return ids, vectors


def _lineages_settle(*, documents: Sequence[Document]) -> list[Document]:
    """Inside the publishing transaction: each lineage's newest version becomes the searchable one. Returns the
    versions that go to history: older versions, of the list or already there, or the whole list's versions of a
    lineage where a later version was indexed while they were in flight."""
    batch_ids = {d.id for d in documents}
    lineages: dict[int, list[Document]] = {}
    for document in sorted(documents, key=lambda d: d.version):
        lineages.setdefault(document.lineage_id, []).append(document)
    others = list(
        Document.objects.select_for_update().filter(lineage_id__in=lineages).exclude(id__in=batch_ids).order_by("id")
    )
    published: list[int] = []
    retired: list[Document] = []
    for lineage_id, mine in lineages.items():
        theirs = [d for d in others if d.lineage_id == lineage_id]
        newest = mine[-1]
        if any(d.version > newest.version and d.status == Document.Status.INDEXED for d in theirs):
            retired += mine
            continue
        published.append(newest.id)
        retired += mine[:-1]
        retired += [
            d
            for d in theirs
            if d.version < newest.version and d.status in (Document.Status.INDEXED, Document.Status.FAILED)
        ]
    now = timezone.now()
    Document.objects.filter(id__in=published).update(status=Document.Status.INDEXED, indexed_at=now, updated_at=now)
    return retired


def documents_publish(*, documents: Sequence[Document], embedder: Embedder, lease: Lease) -> None:
    """Add the vectors of all documents to the index in one change, then in one transaction make each the searchable
    version of its document and retire the older ones.

    Search filters by document status in the database, so it sees the old version until that commit and the new one
    after it: never both, never neither. The retired versions' vectors leave the index right after.
    """
    _status_set(documents, Document.Status.INDEXING)
    ids, vectors = _chunk_vectors(document_ids=[d.id for d in documents])
    index = chunk_vector_index(embedder=embedder)
    if len(ids):
        with index.updating() as writer:
            writer.add(ids=ids, vectors=vectors)
    with transaction.atomic():
        lease.renew()
        retired_documents = _lineages_settle(documents=documents)
        retired = list(Chunk.objects.filter(document__in=retired_documents).values_list("id", flat=True))
        Document.objects.filter(id__in=[d.id for d in retired_documents]).update(
            status=Document.Status.SUPERSEDED, chunk_count=0, chunks_embedded=0, updated_at=timezone.now()
        )
    if retired:
        # Out of search since the commit above; their vectors and rows go now (history keeps the file and text).
        with index.updating() as writer:
            writer.remove(ids=retired)
        Chunk.objects.filter(id__in=retired).delete()
    # The documents are searchable now whatever happens here; links are made again, idempotently, by
    # `manage.py relations_detect` (after a crash here, or a worker killed before this point).
    try:
        relations_detect(documents=documents)
    except Exception:
        logger.exception("linking the editions of documents %s failed", [d.id for d in documents])


def documents_process(*, documents: Sequence[Document], lease: Lease) -> None:
    """Take unfinished documents held under `lease` from wherever a previous run left them to indexed (or failed)."""
    unparsed = {d.id for d in documents if d.status in (Document.Status.QUEUED, Document.Status.PARSING)}
    unparsed |= {d.id for d in documents if not d.chunk_count}
    parsed = documents_chunks_create(documents=[d for d in documents if d.id in unparsed], lease=lease)
    ready = [d for d in documents if d.id not in unparsed or d in parsed]
    if not ready:
        return
    embedder = embedder_get()
    documents_embed(documents=ready, embedder=embedder, lease=lease)
    documents_publish(documents=ready, embedder=embedder, lease=lease)
