"""Shared fixtures: isolated index and media folders per test, the shared real data, a local vLLM per session, a
Milvus Lite server per session and the search engine a test runs on, and headless Chromium for the tests through the
web pages."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, sync_playwright

from vectorstore.milvus_lite import MilvusStartFailed, free_port, milvus_lite_start, milvus_lite_stop

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
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus Lite gRPC server (the package's own `milvus-lite server`) on a free port, for the session; the
    SEARCH_ENGINE value that points at it. Fails, never skips, when it cannot start."""
    directory = tmp_path_factory.mktemp("milvus")
    port = free_port()
    try:
        process = milvus_lite_start(data_dir=directory / "data", port=port, log_path=directory / "server.log")
    except MilvusStartFailed as error:
        pytest.fail(f"the Milvus Lite server could not start: {error}")
    yield f"milvus://127.0.0.1:{port}"
    milvus_lite_stop(process)


def _milvus_used(request: pytest.FixtureRequest, settings) -> Iterator[str]:
    """SEARCH_ENGINE on the session's Milvus Lite, with collections of this test's own, dropped after it."""
    from ingestion.index import milvus_collections_drop

    settings.SEARCH_ENGINE = request.getfixturevalue("milvus_server")
    settings.MILVUS_COLLECTION_PREFIX = prefix = f"test_{uuid.uuid4().hex[:12]}"
    yield settings.SEARCH_ENGINE
    milvus_collections_drop(prefix=prefix)


@pytest.fixture(params=["embedded", "milvus"])
def search_engine(request: pytest.FixtureRequest, settings) -> Iterator[str]:
    """Runs the test once on each search engine; the value is SEARCH_ENGINE's."""
    if request.param == "embedded":
        settings.SEARCH_ENGINE = "embedded"
        yield "embedded"
        return
    yield from _milvus_used(request, settings)


@pytest.fixture
def milvus_engine(request: pytest.FixtureRequest, settings) -> Iterator[str]:
    """The test runs on Milvus only."""
    yield from _milvus_used(request, settings)


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

