"""A batch of short documents on a real Celery worker over a private Redis: killed (-9) mid-batch, the task comes
back to a new worker, which resumes where the first stopped; every document ends indexed once, with its own progress
truthful at every moment."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db.models import Count

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, Document
from ingestion.services import collection_get_or_create
from ingestion.tasks import documents_ingest_batch_task
from tests.faults.test_redis_restart import PrivateRedis, private_redis  # noqa: F401 - fixture
from tests.ingestion.test_batches import cpgqa_passages, register
from tests.ingestion.test_celery_worker import worker_start, worker_stop

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {  # seconds, not the production hour, before a dead worker's task and leases are taken over
    "CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_RESTORE_INTERVAL": "1", "CELERY_RESTORE_THROTTLE": "1",
    "INGEST_LEASE_SECONDS": "3", "INGEST_COMMIT_CHUNKS": "8", "EMBEDDING_BATCH_SIZE": "8",
}


def send_batch(*, broker_url: str, document_ids: list[int]) -> None:
    producer = Celery("yiju-batch-producer", broker=broker_url, set_as_current=False)
    try:
        producer.send_task(documents_ingest_batch_task.name, args=[document_ids])
    finally:
        producer.close()


def embedded_so_far(ids: list[int]) -> int:
    return sum(Document.objects.filter(id__in=ids).values_list("chunks_embedded", flat=True))


def test_worker_killed_mid_batch_resumes_and_indexes_every_document_once(
    private_redis: PrivateRedis, shared_data: Path, isolated_storage: Path  # noqa: F811
) -> None:
    collection = collection_get_or_create(name="batch-kill")
    documents = register(collection, cpgqa_passages(shared_data, count=120))
    ids = [d.id for d in documents]
    first_log, second_log = isolated_storage / "worker-1.log", isolated_storage / "worker-2.log"
    worker = worker_start(log_path=first_log, name="batch-1", CELERY_BROKER_URL=private_redis.url, **FAST)
    try:
        send_batch(broker_url=private_redis.url, document_ids=ids)
        deadline = time.monotonic() + 300
        while embedded_so_far(ids) < 16:
            assert worker.poll() is None and time.monotonic() < deadline, first_log.read_text()[-3000:]
            time.sleep(0.1)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        worker_stop(worker)

    at_kill = list(Document.objects.filter(id__in=ids).annotate(vectors=Count("chunks__vector")))
    total_chunks = sum(d.chunk_count for d in at_kill)
    assert {d.status for d in at_kill} == {Document.Status.EMBEDDING}  # parsed together, none published yet
    assert 16 <= sum(d.chunks_embedded for d in at_kill) < total_chunks, "killed too late to show a resume"
    for document in at_kill:  # each document's own progress is what is stored, no more, no less
        assert document.chunks_embedded == document.vectors, document.id
    assert {d.progress_percent for d in at_kill} >= {10, 95}  # some done, some waiting
    chunk_ids = set(Chunk.objects.filter(document_id__in=ids).values_list("id", flat=True))

    second = worker_start(log_path=second_log, name="batch-2", CELERY_BROKER_URL=private_redis.url, **FAST)
    try:
        deadline = time.monotonic() + 300
        while Document.objects.filter(id__in=ids).exclude(status=Document.Status.INDEXED).exists():
            assert second.poll() is None and time.monotonic() < deadline, second_log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        worker_stop(second)

    after = list(Document.objects.filter(id__in=ids).annotate(vectors=Count("chunks__vector")))
    assert {d.attempts for d in after} == {2}
    assert all(d.chunks_embedded == d.chunk_count == d.vectors for d in after)
    assert set(Chunk.objects.filter(document_id__in=ids).values_list("id", flat=True)) == chunk_ids  # not re-parsed
    embedded_at_kill = sum(d.chunks_embedded for d in at_kill)
    assert f"resuming {len(ids)} documents: {embedded_at_kill} of {total_chunks} chunks already embedded" in (
        second_log.read_text()
    )
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == chunk_ids  # once each, and nothing else
