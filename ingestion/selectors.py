"""Reads of ingestion state."""

from __future__ import annotations

from collections import Counter

from django.db.models import QuerySet

from ingestion.models import Collection, Document


def collection_status_counts(*, collection: Collection) -> Counter[str]:
    return Counter(collection.documents.values_list("status", flat=True))


def documents_pending(*, document_ids: list[int]) -> QuerySet[Document]:
    return Document.objects.filter(id__in=document_ids).exclude(
        status__in=[Document.Status.INDEXED, Document.Status.FAILED]
    )


def collections_with_indexed_documents() -> QuerySet[Collection]:
    return Collection.objects.filter(documents__status=Document.Status.INDEXED).distinct()
