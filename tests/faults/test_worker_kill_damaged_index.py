"""Two faults at once on the worker side: the worker is killed (-9) mid-document, and while it is down the index
files on disk are cut short. The next worker finds the damage when it loads the index at start (checksums), rebuilds
the index from the database, resumes the document, and every chunk ends in the index exactly once.

(The worker killed mid-document alone is tests/ingestion/test_celery_worker.py; this adds the damaged index, which
only a real worker process loading the files can show.)
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, Document
from ingestion.services import collection_get_or_create, document_register
from tests.faults.test_redis_restart import PrivateRedis, private_redis, send  # noqa: F401 - fixture
from tests.ingestion.test_celery_worker import wait_for, worker_start, worker_stop

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {  # seconds, not the production hour, before a dead worker's task and lease are taken over
    "CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_RESTORE_INTERVAL": "1", "CELERY_RESTORE_THROTTLE": "1",
    "INGEST_LEASE_SECONDS": "3", "INGEST_COMMIT_CHUNKS": "8", "EMBEDDING_BATCH_SIZE": "8",
}


def test_worker_killed_mid_document_with_the_index_damaged_meanwhile_rebuilds_and_resumes(
    private_redis: PrivateRedis, shared_data: Path, isolated_storage: Path  # noqa: F811
) -> None:
    collection = collection_get_or_create(name="kill-and-damage")
    laws = sorted(path for path in (shared_data / "cn_laws").glob("*.txt") if path.stem != "PROVENANCE")
    first = document_register(collection=collection, file_name=laws[0].name, content=laws[0].read_bytes(),
                              title="first").document
    long_one = document_register(
        collection=collection, file_name="all-laws.txt", title="all laws",
        content="\n\n".join(path.read_text() for path in laws).encode(),
    ).document
    first_log, second_log = isolated_storage / "worker-1.log", isolated_storage / "worker-2.log"
    worker = worker_start(log_path=first_log, name="kill-1", CELERY_BROKER_URL=private_redis.url, **FAST)
    try:
        send(broker_url=private_redis.url, document_id=first.id)
        send(broker_url=private_redis.url, document_id=long_one.id)
        wait_for(first, lambda d: d.is_finished, workers=[worker], log=first_log)
        wait_for(long_one, lambda d: d.chunks_embedded >= 16, workers=[worker], log=first_log)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        worker_stop(worker)
    long_one.refresh_from_db()
    assert long_one.status == Document.Status.EMBEDDING and long_one.chunks_embedded < long_one.chunk_count

    directory = chunk_vector_index(embedder=embedder_get()).directory
    segments = list(directory.glob("segment-*.faiss"))
    assert segments, "the first document's vectors should be on disk"
    for segment in segments:
        segment.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])

    worker = worker_start(log_path=second_log, name="kill-2", CELERY_BROKER_URL=private_redis.url, **FAST)
    try:
        wait_for(long_one, lambda d: d.is_finished, workers=[worker], log=second_log)
    finally:
        worker_stop(worker)

    log = second_log.read_text()
    assert "does not match its checksum" in log and "rebuilt from the database" in log, log[-3000:]
    assert long_one.status == Document.Status.INDEXED and long_one.attempts == 2, long_one.failure_reason
    assert f"resuming document {long_one.id}" in log
    chunk_ids = set(Chunk.objects.filter(collection=collection).values_list("id", flat=True))
    index = chunk_vector_index(embedder=embedder_get())
    assert index.damaged_files() == []
    index_ids = index.ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == chunk_ids  # each chunk once, none lost
