"""Redis (the broker) restarted while a Celery worker ingests a set: every document ends indexed exactly once.

A private redis-server on a free port, so the shared one is never touched; it runs with the append-only file synced
on every write, as a broker that must not lose queued work does. It is killed with -9 mid-set and started again on
the same files; the worker reconnects, tasks whose acknowledgement was lost come back after the visibility timeout,
and the document leases and idempotent steps make the second delivery a no-op.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, ChunkVector, Document
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task
from tests.ingestion.test_celery_worker import wait_for, worker_start, worker_stop

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_SERVER = shutil.which("redis-server")


class PrivateRedis:
    def __init__(self, *, directory: Path) -> None:
        assert REDIS_SERVER, "redis-server is needed for this fault test (Debian: apt-get install redis-server)"
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", "redis.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert self.process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def private_redis(isolated_storage: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory=isolated_storage / "redis")
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def send(*, broker_url: str, document_id: int) -> None:
    producer = Celery("yiju-fault-producer", broker=broker_url, set_as_current=False)
    try:
        producer.send_task(document_ingest_task.name, args=[document_id])
    finally:
        producer.close()


def test_redis_restarted_during_ingestion_leaves_every_document_indexed_once(
    private_redis: PrivateRedis, shared_data: Path, isolated_storage: Path
) -> None:
    collection = collection_get_or_create(name="redis-restart")
    laws = sorted(path for path in (shared_data / "cn_laws").glob("*.txt") if path.stem != "PROVENANCE")
    contents = [(path.name, path.read_bytes()) for path in laws]
    contents.insert(1, ("all-laws.txt", "\n\n".join(path.read_text() for path in laws).encode()))  # a long one
    documents = [  # titles of their own: a file titled like another of the set would be its new version
        document_register(collection=collection, file_name=name, content=content, title=name).document
        for name, content in contents
    ]
    log = isolated_storage / "worker.log"
    worker = worker_start(
        log_path=log, name="redis-restart", CELERY_BROKER_URL=private_redis.url,
        # Seconds, not the production hour, before a task whose acknowledgement was lost is handed out again.
        CELERY_VISIBILITY_TIMEOUT="3", CELERY_RESTORE_INTERVAL="1", CELERY_RESTORE_THROTTLE="1",
        INGEST_LEASE_SECONDS="3", INGEST_COMMIT_CHUNKS="8", EMBEDDING_BATCH_SIZE="8",
    )
    try:
        for document in documents:
            send(broker_url=private_redis.url, document_id=document.id)
        # Mid-set: one document indexed, the long one being embedded, the rest still waiting in the queue.
        wait_for(documents[1], lambda d: d.chunks_embedded >= 8, workers=[worker], log=log)
        assert Document.objects.filter(collection=collection, status=Document.Status.QUEUED).count() >= 3
        private_redis.kill()
        time.sleep(2)  # the worker notices it is gone
        private_redis.start()
        for document in documents:
            wait_for(document, lambda d: d.is_finished, workers=[worker], log=log, timeout=600)
    finally:
        worker_stop(worker)

    assert "Connection to broker lost" in log.read_text(), "the restart was not felt: the test proves nothing"
    assert [d.status for d in documents] == [Document.Status.INDEXED] * len(documents), log.read_text()[-3000:]
    chunk_ids = list(Chunk.objects.filter(collection=collection).values_list("id", flat=True))
    assert ChunkVector.objects.filter(chunk__collection=collection).count() == len(chunk_ids)
    for document in documents:  # parsed once: chunk ordinals are one run's, not two runs' interleaved
        assert list(document.chunks.order_by("ordinal").values_list("ordinal", flat=True)) == list(
            range(document.chunk_count)
        )
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == set(chunk_ids)  # each once, none missing
