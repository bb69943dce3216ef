"""Through the web pages in headless Chromium: sign in, ask, read the cited answer, open the cited passage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, sync_playwright

from ingestion.sample_set import sample_set_write
from tests.factories import ingest_file

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_ask_read_answer_and_open_cited_passage(local_llm: str, live_server, browser: Browser,
                                                tmp_path: Path) -> None:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    get_user_model().objects.create_user("clinician", password="a-long-test-password")
    page = browser.new_page()
    page.set_default_timeout(180_000)  # one answer from the CPU model takes seconds to a minute

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # the ask page needs a signed-in user
    page.fill("#id_username", "clinician")
    page.fill("#id_password", "a-long-test-password")
    page.click("#sign-in")
    page.wait_for_url(f"{live_server.url}/")

    page.fill("#id_question", "高血压的诊断标准是什么？")
    page.click("#ask-form button[type=submit]")
    page.wait_for_url("**/answers/*/")
    answer_text = page.inner_text("#answer-text")
    assert "140" in answer_text and page.locator("#answer-text a.cite").count() > 0
    sources = page.inner_text("#citations")
    assert "高血压基层诊疗示例指南" in sources

    page.locator("a.cite").first.click()
    page.wait_for_url("**/passages/*/")
    assert "高血压基层诊疗示例指南" in page.inner_text("#document-title")
    assert "140/90" in page.inner_text("#passage-text")
    assert "诊断" in page.inner_text("#passage-source")
