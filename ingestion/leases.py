"""At most one ingestion of a document at a time: a lease row-lock in the database, keyed by document.

A lease rather than a held database lock or a Redis lock: it works on SQLite and PostgreSQL alike, holds no
connection open for the minutes an ingestion takes, and a worker killed with -9 simply lets it expire, after which the
redelivered task takes over and resumes.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ingestion.models import Document


class DocumentBusy(Exception):
    """Another live run holds this document; the caller retries after `retry_after` seconds."""

    def __init__(self, document_id: int, retry_after: float) -> None:
        super().__init__(f"document {document_id} is being ingested by another worker")
        self.retry_after = retry_after


class LeaseLost(Exception):
    """This run was too slow to renew and another run took the document over; this one must stop writing."""


@dataclass
class DocumentLease:
    document_id: int
    token: str

    def renew(self) -> None:
        renewed = Document.objects.filter(id=self.document_id, lease_token=self.token).update(
            lease_expires_at=timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
        )
        if not renewed:
            raise LeaseLost(f"lease on document {self.document_id} was taken over")


@contextlib.contextmanager
def document_lease(*, document_id: int) -> Iterator[DocumentLease]:
    """Hold the document's lease for the block; raises DocumentBusy when another live run holds it."""
    token = uuid.uuid4().hex
    now = timezone.now()
    # One conditional UPDATE is atomic on every backend: of two racing runs exactly one matches the row.
    taken = (
        Document.objects.filter(id=document_id)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_token=token, lease_expires_at=now + timedelta(seconds=settings.INGEST_LEASE_SECONDS))
    )
    if not taken:
        holder = Document.objects.filter(id=document_id).values_list("lease_expires_at", flat=True).first()
        if holder is None and not Document.objects.filter(id=document_id).exists():
            raise Document.DoesNotExist(f"document {document_id} does not exist")
        retry_after = max(1.0, (holder - now).total_seconds()) if holder else 1.0
        raise DocumentBusy(document_id, retry_after)
    try:
        yield DocumentLease(document_id=document_id, token=token)
    finally:
        Document.objects.filter(id=document_id, lease_token=token).update(lease_token="", lease_expires_at=None)


@dataclass
class DocumentsLease:
    """The leases of a batch of documents under one token: taken, renewed and released with one statement each."""

    token: str
    document_ids: list[int]  # the documents this run holds
    busy: list[int]  # held by another live run: the caller tries them again after `retry_after` seconds
    retry_after: float

    def renew(self) -> None:
        if not self.document_ids:
            return
        renewed = Document.objects.filter(id__in=self.document_ids, lease_token=self.token).update(
            lease_expires_at=timezone.now() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
        )
        if renewed < len(self.document_ids):  # taken over, or deleted meanwhile: this run stops writing
            raise LeaseLost(f"leases on {len(self.document_ids) - renewed} document(s) of the batch were lost")


@contextlib.contextmanager
def documents_lease(*, document_ids: list[int]) -> Iterator[DocumentsLease]:
    """Hold the leases of every document of the list that no live run holds; the others are reported busy.

    Documents that no longer exist are neither held nor busy.
    """
    document_ids = list(dict.fromkeys(document_ids))
    token = uuid.uuid4().hex
    now = timezone.now()
    Document.objects.filter(id__in=document_ids).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    ).update(lease_token=token, lease_expires_at=now + timedelta(seconds=settings.INGEST_LEASE_SECONDS))
    rows = dict(Document.objects.filter(id__in=document_ids).values_list("id", "lease_token"))
    held = [i for i in document_ids if rows.get(i) == token]
    busy = [i for i in document_ids if i in rows and rows[i] != token]
    expiries = Document.objects.filter(id__in=busy).exclude(lease_expires_at=None).values_list(
        "lease_expires_at", flat=True
    )
    retry_after = max([1.0, *((expiry - now).total_seconds() for expiry in expiries)])
    try:
        yield DocumentsLease(token=token, document_ids=held, busy=busy, retry_after=retry_after)
    finally:
        Document.objects.filter(id__in=held, lease_token=token).update(lease_token="", lease_expires_at=None)
