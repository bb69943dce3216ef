"""Through the web pages in headless Chromium: sign in, ask, watch the answer stream in, open a cited quote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from assistant.demo.sample_set import sample_set_write
from assistant.models import Answer
from ingestion.models import Chunk, Collection, Document
from tests.factories import collection_grant, ingest_file, user_create

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = "/usr/bin/chromium"



@pytest.mark.django_db(transaction=True)
def test_ask_watch_the_answer_stream_and_open_a_cited_quote(local_llm: str, live_server, browser: Browser,
                                                            tmp_path: Path) -> None:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    user_create("clinician", password="a-long-test-password")
    page = browser.new_page(bypass_csp=True)  # wait_for_function evaluates strings, which the pages' CSP refuses
    page.set_default_timeout(180_000)  # one answer from the CPU model takes seconds to a minute
    streamed_requests = []
    page.on("request", lambda request: streamed_requests.append(request.url) if "/answers/stream/" in request.url
            else None)

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # the ask page needs a signed-in user
    page.fill("#id_username", "clinician")
    page.fill("#id_password", "a-long-test-password")
    page.click("#sign-in")
    page.wait_for_url(f"{live_server.url}/")

    page.fill("#id_question", "高血压的诊断标准是什么？")
    page.click("#ask-form button[type=submit]")
    # The page stays put and builds the answer from the stream: retrieval first, then text, then the final answer.
    page.wait_for_selector("#live:not([hidden])")
    page.wait_for_function("document.getElementById('live-status').textContent.includes('ms')")
    page.wait_for_function("document.getElementById('live-answer-text').textContent.length > 0")
    provisional = page.inner_text("#live-answer-text")
    page.wait_for_selector("#live-saved:not([hidden])")
    assert page.url == f"{live_server.url}/" and streamed_requests == [f"{live_server.url}/answers/stream/"]
    assert provisional and page.locator("#live-error").is_hidden()

    answer = Answer.objects.latest("created_at")
    assert answer.grounded, answer.raw_reply
    final = page.inner_text("#live-answer-text")
    assert "140" in final and page.locator("#live-answer-text.final a.cite").count() > 0
    if answer.reasoning:  # folded until opened
        reasoning = page.locator("details#live-reasoning")
        assert reasoning.is_visible() and reasoning.get_attribute("open") is None
        assert "推理过程" in page.inner_text("#live-reasoning summary")
        reasoning.locator("summary").click()
        assert page.inner_text("#live-reasoning-text").strip() == answer.reasoning
    assert page.get_attribute("#live-answer-link", "href") == f"/answers/{answer.id}/"

    cite = page.locator("#live-answer-text a.cite").first
    number = int(cite.get_attribute("data-cite"))
    cited = next(c for s in answer.statements if s["supported"] for c in s["citations"] if c["number"] == number)
    cite.click()
    page.wait_for_url("**/passages/*/?q=*")
    chunk = Chunk.objects.select_related("document").get(id=cited["chunk_id"])
    assert chunk.document.title in page.inner_text("#document-title")
    assert page.inner_text("#passage-text") == chunk.text
    assert page.inner_text("#passage-text mark.quote") == cited["quote"] == chunk.text[
        cited["quote_start"]:cited["quote_end"]]
    assert chunk.section_path.split(" > ")[0] in page.inner_text("#passage-source")

    page.goto(f"{live_server.url}/answers/{answer.id}/")  # the saved answer: same citations, reasoning folded
    assert page.locator("#answer-text a.cite").count() > 0
    assert "140/90" in " ".join(Chunk.objects.filter(id__in=[c["chunk_id"] for c in answer.citations])
                                .values_list("text", flat=True))
    if answer.reasoning:
        assert page.locator("details#reasoning").get_attribute("open") is None
    assert "total" in page.inner_text("#timings")


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_form_posts_and_redirects_to_the_saved_answer(live_server, browser: Browser) -> None:
    """No model call: the set's one document has no passages, so nothing is retrieved and nothing is generated."""
    collection = collection_grant(Collection.objects.create(name="empty set"))
    Document.objects.create(collection=collection, original_name="blank.txt", status=Document.Status.INDEXED)
    user_create("reader", password="a-long-test-password")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "reader")
    page.fill("#id_password", "a-long-test-password")
    page.click("#sign-in")
    page.wait_for_url(f"{live_server.url}/")

    page.fill("#id_question", "高血压的诊断标准是什么？")
    page.click("#ask-form button[type=submit]")
    page.wait_for_url("**/answers/*/")

    answer = Answer.objects.get()
    assert page.url == f"{live_server.url}/answers/{answer.id}/" and not answer.grounded
    assert page.inner_text("#answer-text") == answer.text  # "the documents do not answer this", in Chinese
    context.close()
