"""Celery tasks: thin wrappers around the ingestion services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from ingestion.services import document_ingest


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def document_ingest_task(document_id: int) -> str:
    """Bad input never raises (the document fails with its reason); only transient faults are retried."""
    return document_ingest(document_id=document_id).status
