"""The admin's Friday evening, end to end in headless Chromium: create a document set, upload a zip of mixed, partly
broken documents, watch the page refresh while a real Celery worker (over the local Redis) ingests them, and end
with every good document searchable with section and page and every bad one failed with its reason."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser

from config.celery import app as celery_app
from ingestion.models import Collection, Document
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.ingestion.parsing.test_parsing import build_pdf
from tests.ingestion.test_celery_worker import BROKER_URL, worker_start, worker_stop

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop in this thread
CHROMIUM = "/usr/bin/chromium"



def celery_app_reconnect() -> None:
    """Drop connections made for the previous broker: close() keeps amqp's producer pool, which an eager retry in an
    earlier test bound to the in-memory transport, so tasks would silently go there."""
    celery_app.close()
    celery_app.__dict__.pop("amqp", None)  # a cached property: rebuilt, with a fresh producer pool, on next use


@pytest.fixture
def queue_to_redis(isolated_storage: Path) -> Iterator[None]:
    """Make this process's admin queue tasks on Redis for a worker process, as production does."""
    redis.Redis.from_url(BROKER_URL).flushdb()
    saved = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    celery_app_reconnect()
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = False, BROKER_URL
    worker = worker_start(log_path=isolated_storage / "worker.log", INGEST_COMMIT_CHUNKS="8", EMBEDDING_BATCH_SIZE="8")
    try:
        yield
    finally:
        worker_stop(worker)
        celery_app_reconnect()
        celery_app.conf.task_always_eager, celery_app.conf.broker_url = saved


def mixed_zip(shared_data: Path) -> bytes:
    laws = "\n\n".join(p.read_text() for p in sorted((shared_data / "cn_laws").glob("*.txt"))[:3])
    entries = {
        "法规/汇编.txt": laws.encode("gb18030"),
        "guidelines/discharge.pdf": build_pdf(
            [
                [(72, 700, "1 Discharge criteria"), (72, 680, "Patients leave with stable vital signs for 24 hours.")],
                [(72, 700, "2 Follow-up"), (72, 680, "Review in clinic within seven days of discharge.")],
            ]
        ),
        "guidelines/sepsis.md": b"# Sepsis\n\n## Antibiotics\n\nGive antibiotics within one hour.\n",
        "empty.docx": b"",
        "corrupt.pdf": b"%PDF-1.7 nothing else",
        "../../etc/cron.d/evil": b"* * * * * root true",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_admin_uploads_a_zip_and_watches_it_ingest(
    live_server, browser: Browser, queue_to_redis: None, shared_data: Path, tmp_path: Path
) -> None:
    get_user_model().objects.create_superuser("admin", "admin@localhost", "a-long-admin-password")
    archive = tmp_path / "guidelines-set.zip"
    archive.write_bytes(mixed_zip(shared_data))
    page = browser.new_page()
    page.set_default_timeout(240_000)

    page.goto(f"{live_server.url}/admin/ingestion/collection/add/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "a-long-admin-password")
    page.click("input[type=submit]")
    page.fill("#id_name", "Ward guidelines")
    page.click("input[name=_save]")
    page.wait_for_url("**/documents/")

    page.set_input_files("#id_files", str(archive))
    page.click("#upload-form input[type=submit]")
    page.wait_for_selector("#documents tbody tr[data-status]")
    assert "6 refused" not in page.inner_text(".messagelist")  # some were accepted
    seen_in_flight = page.locator("#set-progress[data-active=true]").count() == 1
    # The page refreshes itself: wait, without reloading, until nothing is in flight.
    page.wait_for_selector("#set-progress[data-active=false]")
    assert seen_in_flight, "the set should have shown work in progress after the upload"

    rows = {
        row.locator("td").nth(1).inner_text(): (row.get_attribute("data-status"), row.locator("td").nth(7).inner_text())
        for row in page.locator("#documents tbody tr").all()
    }
    assert {path for path, (status, _) in rows.items() if status == "indexed"} == {
        "guidelines-set.zip/法规/汇编.txt",
        "guidelines-set.zip/guidelines/discharge.pdf",
        "guidelines-set.zip/guidelines/sepsis.md",
    }
    assert "empty" in rows["guidelines-set.zip/empty.docx"][1]
    assert "PDF" in rows["guidelines-set.zip/corrupt.pdf"][1]
    assert "outside" in rows["guidelines-set.zip/../../etc/cron.d/evil"][1]
    assert "100%" in page.inner_text("#set-percent")

    collection = Collection.objects.get(name="Ward guidelines")
    follow_up = passages_retrieve(
        reader=OPERATOR, query="clinic review after discharge", collection_ids=[collection.id], k=1
    )
    chunk = follow_up.passages[0].chunk
    assert chunk.document.source_path.endswith("discharge.pdf") and chunk.page_start == 2
    assert chunk.section_path == "2 Follow-up"
    law = passages_retrieve(
        reader=OPERATOR, query="个人信息处理者", collection_ids=[collection.id], k=1
    ).passages[0].chunk
    assert law.section_path and "条" in law.section_path
    assert Document.objects.filter(collection=collection, status=Document.Status.INDEXED).count() == 3
