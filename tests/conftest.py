"""Shared fixtures: isolated index and media folders per test, the shared real data, a local vLLM per session, and
headless Chromium for the tests through the web pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def isolated_storage(tmp_path: Path, settings) -> Path:
    """Each test gets its own FAISS index folder and uploaded-file folder."""
    settings.INDEX_DIR = tmp_path / "index"
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"the shared real data is expected at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def local_llm() -> Iterator[str]:
    """A real vLLM CPU server with the default local model, shared by the tests that generate answers."""
    from assistant.grounding.llm import client

    if settings.LLM_BASE_URL:
        yield settings.LLM_BASE_URL
        return
    endpoint = client.llm_endpoint()
    yield endpoint.base_url
    client.local_server_stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, one per test module."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()

