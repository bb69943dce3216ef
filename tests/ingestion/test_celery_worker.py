"""The production path: a Celery worker process over the local Redis ingests a document, and the in-process path
(no broker) gives the same chunks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from ingestion.models import Document
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task
from tests.conftest import REPO_ROOT

BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


def database_url() -> str:
    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", "the worker test runs against PostgreSQL"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(isolated_storage: Path) -> Iterator[subprocess.Popen[bytes]]:
    redis.Redis.from_url(BROKER_URL).flushdb()  # fails the test, not skips it, when Redis is unreachable
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER_URL,
        "YIJU_INDEX_DIR": str(settings.INDEX_DIR),
        "YIJU_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log = open(isolated_storage / "worker.log", "wb")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO", "-n", "test@%h"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


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
    # A producer of its own: the test process's app runs tasks eagerly and may hold a pool for another broker.
    producer = Celery("yiju-test-producer", broker=BROKER_URL, set_as_current=False)
    try:
        producer.send_task(document_ingest_task.name, args=[via_worker.id])
    finally:
        producer.close()

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        via_worker.refresh_from_db()
        if via_worker.status in (Document.Status.INDEXED, Document.Status.FAILED):
            break
        assert worker.poll() is None, (isolated_storage / "worker.log").read_text()[-3000:]
        time.sleep(1)
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
