"""The production path: a Celery worker process over the local Redis ingests a document, and the in-process path
(no broker) gives the same chunks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, ChunkVector, Document
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task
from tests.conftest import REPO_ROOT

BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


def database_url(*, port: int | None = None) -> str:
    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", "the worker test runs against PostgreSQL"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"


class TcpRelay:
    """A relay in front of PostgreSQL that the test can cut and restore: the database going away, for real."""

    def __init__(self, *, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen()
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def worker_start(*, log_path: Path, name: str = "test", **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": extra_env.pop("DATABASE_URL", None) or database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "YIJU_INDEX_DIR": str(settings.INDEX_DIR),
        "YIJU_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SEARCH_ENGINE": settings.SEARCH_ENGINE,  # the test's engine (tests/conftest.py: search_engine)
        "MILVUS_COLLECTION_PREFIX": settings.MILVUS_COLLECTION_PREFIX,
        **extra_env,
    }
    log = open(log_path, "ab")  # noqa: SIM115 - the child holds it; closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "-n", f"{name}@%h"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def worker_stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def workers(isolated_storage: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    redis.Redis.from_url(BROKER_URL).flushdb()  # fails the test, not skips it, when Redis is unreachable
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        worker_stop(process)


@pytest.fixture
def worker(workers: list[subprocess.Popen[bytes]], isolated_storage: Path) -> subprocess.Popen[bytes]:
    workers.append(worker_start(log_path=isolated_storage / "worker.log"))
    return workers[0]


def send(document_id: int) -> None:
    # A producer of its own: the test process's app runs tasks eagerly and may hold a pool for another broker.
    producer = Celery("yiju-test-producer", broker=BROKER_URL, set_as_current=False)
    try:
        producer.send_task(document_ingest_task.name, args=[document_id])
    finally:
        producer.close()


def wait_for(document: Document, condition, *, workers: list[subprocess.Popen[bytes]], log: Path,
             timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        document.refresh_from_db()
        if condition(document):
            return
        assert all(w.poll() is None for w in workers), log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"timed out in state {document.status}: {log.read_text()[-3000:]}")


def chunk_rows(document: Document) -> list[tuple]:
    return list(
        document.chunks.order_by("ordinal").values_list(
            "ordinal", "text", "section_path", "page_start", "page_end", "char_start", "char_end"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_worker_over_redis_matches_in_process_path(
    worker: subprocess.Popen[bytes], shared_data: Path, isolated_storage: Path
) -> None:
    content = (shared_data / "cn_laws" / "data_sec_law.txt").read_bytes()
    via_worker = document_register(collection=collection_get_or_create(name="worker"), file_name="dsl.txt",
                                   content=content).document
    send(via_worker.id)
    wait_for(via_worker, lambda d: d.is_finished, workers=[worker], log=isolated_storage / "worker.log")
    assert via_worker.status == Document.Status.INDEXED, (isolated_storage / "worker.log").read_text()[-3000:]

    in_process = document_register(collection=collection_get_or_create(name="inline"), file_name="dsl.txt",
                                   content=content).document
    document_ingest_task.delay(in_process.id)  # eager: same task code, this process
    in_process.refresh_from_db()

    assert in_process.status == Document.Status.INDEXED
    assert chunk_rows(via_worker) == chunk_rows(in_process)
    assert len(chunk_rows(via_worker)) > 20
    index_ids = set(chunk_vector_index(embedder=embedder_get()).ids().tolist())
    worker_ids = set(via_worker.chunks.values_list("id", flat=True))
    assert worker_ids <= index_ids and set(in_process.chunks.values_list("id", flat=True)) <= index_ids


@pytest.mark.usefixtures("search_engine")
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_document_resumes_and_indexes_it_once(
    workers: list[subprocess.Popen[bytes]], shared_data: Path, isolated_storage: Path
) -> None:
    """kill -9 while embedding; a new worker gets the unacknowledged task again and finishes where the first stopped."""
    laws = sorted((shared_data / "cn_laws").glob("*.txt"))
    content = "\n\n".join(path.read_text() for path in laws).encode()
    document = document_register(collection=collection_get_or_create(name="kill"), file_name="laws.txt",
                                 content=content).document
    # Short timeouts so the test waits seconds, not the production hour; small groups so progress is visible.
    fast = {
        "CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_RESTORE_INTERVAL": "1", "CELERY_RESTORE_THROTTLE": "1",
        "INGEST_LEASE_SECONDS": "3", "INGEST_COMMIT_CHUNKS": "8", "EMBEDDING_BATCH_SIZE": "8",
    }
    first_log, second_log = isolated_storage / "worker-1.log", isolated_storage / "worker-2.log"
    workers.append(worker_start(log_path=first_log, **fast))
    send(document.id)

    wait_for(document, lambda d: d.chunks_embedded >= 16, workers=workers, log=first_log)
    os.killpg(workers[0].pid, signal.SIGKILL)
    workers[0].wait()
    document.refresh_from_db()
    assert document.status == Document.Status.EMBEDDING
    assert 16 <= document.chunks_embedded < document.chunk_count, "killed too late to show a resume"
    embedded_at_kill = document.chunks_embedded
    chunk_ids = list(document.chunks.order_by("ordinal").values_list("id", flat=True))

    workers.append(worker_start(log_path=second_log, **fast))
    wait_for(document, lambda d: d.is_finished, workers=workers[1:], log=second_log)

    assert document.status == Document.Status.INDEXED, document.failure_reason
    assert document.attempts == 2
    assert list(document.chunks.order_by("ordinal").values_list("id", flat=True)) == chunk_ids  # not parsed again
    assert ChunkVector.objects.filter(chunk__document=document).count() == len(chunk_ids)
    assert f"resuming document {document.id} at chunk {embedded_at_kill} of {len(chunk_ids)}" in second_log.read_text()
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == set(chunk_ids)  # once each, and nothing else


@pytest.mark.django_db(transaction=True)
def test_two_workers_ingesting_at_once_do_not_fight_over_the_index(
    workers: list[subprocess.Popen[bytes]], shared_data: Path, isolated_storage: Path
) -> None:
    """Documents in flight on two worker processes all land in the index, each vector once, none lost."""
    collection = collection_get_or_create(name="concurrent")
    documents = [
        document_register(collection=collection, file_name=path.name, content=path.read_bytes()).document
        for path in sorted((shared_data / "cn_laws").glob("*.txt"))
    ]
    logs = [isolated_storage / "worker-first.log", isolated_storage / "worker-second.log"]
    for log in logs:
        workers.append(worker_start(log_path=log, name=log.stem, INGEST_COMMIT_CHUNKS="16"))
    for document in documents:
        send(document.id)
    for document in documents:
        wait_for(document, lambda d: d.is_finished, workers=workers, log=logs[0])
        assert document.status == Document.Status.INDEXED, document.failure_reason

    assert all("succeeded in" in log.read_text() for log in logs), "both workers should have ingested documents"
    chunk_ids = set(Chunk.objects.filter(collection=collection).values_list("id", flat=True))
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == chunk_ids


@pytest.mark.django_db(transaction=True)
def test_database_outage_mid_document_is_retried_with_backoff(
    workers: list[subprocess.Popen[bytes]], shared_data: Path, isolated_storage: Path
) -> None:
    """The database goes away while a worker embeds; the task retries with backoff and finishes once it is back."""
    relay = TcpRelay(target_port=int(connection.settings_dict["PORT"] or 5432))
    relay.start()
    laws = sorted((shared_data / "cn_laws").glob("*.txt"))
    content = "\n\n".join(path.read_text() for path in laws).encode()
    document = document_register(collection=collection_get_or_create(name="outage"), file_name="laws.txt",
                                 content=content).document
    log = isolated_storage / "worker.log"
    workers.append(worker_start(
        log_path=log, DATABASE_URL=database_url(port=relay.port), INGEST_LEASE_SECONDS="3",
        INGEST_COMMIT_CHUNKS="8", EMBEDDING_BATCH_SIZE="8",
    ))
    send(document.id)
    try:
        wait_for(document, lambda d: d.chunks_embedded >= 16, workers=workers, log=log)
        relay.cut()
        time.sleep(4)
        assert "Retry in" in log.read_text(), log.read_text()[-3000:]  # backoff, not failure
        document.refresh_from_db()
        assert document.status == Document.Status.EMBEDDING
    finally:
        relay.start()
    wait_for(document, lambda d: d.is_finished, workers=workers, log=log)

    assert document.status == Document.Status.INDEXED, document.failure_reason
    assert document.attempts >= 2
    chunk_ids = set(document.chunks.values_list("id", flat=True))
    index_ids = chunk_vector_index(embedder=embedder_get()).ids().tolist()
    assert len(index_ids) == len(set(index_ids)) and set(index_ids) == chunk_ids
