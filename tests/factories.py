"""Helpers that put real files through the real ingestion path."""

from __future__ import annotations

from pathlib import Path

from ingestion.models import Collection, Document
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task


def ingest_file(*, path: Path, collection: str | Collection, external_id: str = "", title: str = "") -> Document:
    return ingest_bytes(
        name=path.name, content=path.read_bytes(), collection=collection, external_id=external_id, title=title
    )


def ingest_bytes(
    *, name: str, content: bytes, collection: str | Collection, external_id: str = "", title: str = ""
) -> Document:
    target = collection if isinstance(collection, Collection) else collection_get_or_create(name=collection)
    registration = document_register(
        collection=target, file_name=name, content=content, external_id=external_id, title=title
    )
    document_ingest_task.delay(registration.document.id)  # in-process: tests run without a broker by default
    registration.document.refresh_from_db()
    return registration.document
