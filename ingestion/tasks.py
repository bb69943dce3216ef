"""Celery tasks: thin wrappers around the ingestion services."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from ingestion.leases import DocumentBusy, LeaseLost
from ingestion.models import Document
from ingestion.selectors import ingestion_runs
from ingestion.services import (
    document_ingest,
    documents_embedded_with_other_model,
    documents_ingest_batch,
    index_reconcile,
)

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError, ConnectionError, TimeoutError)
# Acknowledged late (a killed worker's task is handed out again); only transient faults are retried, with backoff.
INGEST_TASK_OPTIONS = {"bind": True, "acks_late": True, "autoretry_for": TRANSIENT_ERRORS, "retry_backoff": True,
                       "retry_backoff_max": 300, "max_retries": 8}


@shared_task(**INGEST_TASK_OPTIONS)
def document_ingest_task(self: Task, document_id: int) -> str:
    """Bad input never raises (the document fails with its reason); only transient faults are retried."""
    try:
        return document_ingest(document_id=document_id).status
    except DocumentBusy as busy:
        # Another run holds the lease: wait it out; if that run died, the lease expires and this one resumes.
        raise self.retry(countdown=busy.retry_after, max_retries=None) from busy
    except (LeaseLost, Document.DoesNotExist) as gone:
        logger.warning("document %s: %s; this run stops", document_id, gone)
        return "abandoned"


@shared_task(**INGEST_TASK_OPTIONS)
def documents_ingest_batch_task(self: Task, document_ids: list[int]) -> dict[str, int]:
    """Short documents many to a run; each ends indexed or failed with its reason. Documents another live run holds
    are tried again once its lease would expire; if that run died, this one resumes them."""
    try:
        result = documents_ingest_batch(document_ids=document_ids)
    except LeaseLost as lost:
        # Taken over or deleted midway: run the batch again; finished documents are skipped, held ones wait.
        logger.warning("batch of %d documents: %s; running it again", len(document_ids), lost)
        raise self.retry(countdown=1, max_retries=None) from lost
    if result.busy:
        raise self.retry(args=[result.busy], countdown=result.retry_after, max_retries=None)
    return dict(Counter(document.status for document in result.documents))


def documents_ingest_queue(
    *, document_ids: Iterable[int], on_queued: Callable[[list[int]], object] | None = None
) -> None:
    """Queue the documents' ingestion now: short ones many to a task, the others one to a task (without a broker,
    each task runs here before the next is queued; on_queued hears of each)."""
    for run in ingestion_runs(document_ids=document_ids):
        if len(run) == 1:
            document_ingest_task.delay(run[0])
        else:
            documents_ingest_batch_task.delay(run)
        if on_queued is not None:
            on_queued(run)


@worker_ready.connect
def index_reconcile_on_start(**_: object) -> None:
    """A worker killed between two steps may have left the index and the database one step apart: repair first."""
    result = index_reconcile()
    logger.info("index reconciled on start: %d vectors added, %d removed", result.added, result.removed)
    if stale := documents_embedded_with_other_model().count():
        logger.warning(
            "%d indexed document(s) were embedded with another model than EMBEDDING_MODEL: dense search misses them "
            "until `manage.py reembed` runs",
            stale,
        )
