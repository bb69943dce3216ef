"""The policy-matching form in headless Chromium: sign in, switch to Chinese, fill a small enterprise's profile,
watch the checked conditions stream in, open a cited clause with its quote marked, read the saved match in English;
and, without JavaScript, the form posts and redirects to the stored match."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from assistant.demo.sample_set import SME_POLICY_FILE_NAME, SME_POLICY_TITLE, sample_set_write
from assistant.models import PolicyMatchRecord
from ingestion.models import Chunk, Collection
from tests.factories import ingest_file, user_create

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a-long-test-password"
STATUS_LABELS = {
    "zh-hans": {"met": "符合", "not_met": "不符合", "unknown": "待确认"},
    "en": {"met": "Met", "not_met": "Not met", "unknown": "Unknown"},
}
# Records, in order, when a checked condition first appears and when the saved result's link is shown.
ORDER_OBSERVER = """() => {
  window.policyOrder = [];
  new MutationObserver(() => {
    const log = window.policyOrder;
    if (!log.includes("condition") && document.querySelector("#live-policies li.condition, #live-policies .benefit"))
      log.push("condition");
    if (!log.includes("saved") && !document.getElementById("live-saved").hidden) log.push("saved");
  }).observe(document.getElementById("live"), {childList: true, subtree: true, attributes: true});
}"""



@pytest.fixture
def sme_policy(tmp_path: Path) -> Collection:
    paths = {p.name: p for p in sample_set_write(directory=tmp_path / "sample")}
    ingest_file(path=paths[SME_POLICY_FILE_NAME], collection="policies")
    return Collection.objects.get(name="policies")


def _sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/policies/")
    assert "/accounts/login/" in page.url  # the form needs a signed-in user
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base_url}/policies/")


def _switch_language(page: Page, code: str, expected: str) -> None:
    with page.expect_navigation():
        page.select_option("select[name=language]", code)
    page.wait_for_function(f"document.body.innerText.includes({expected!r})")


@pytest.mark.django_db(transaction=True)
def test_fill_the_form_watch_conditions_stream_in_and_open_a_cited_clause(
    local_llm: str, live_server, browser: Browser, sme_policy: Collection
) -> None:
    user_create("owner", password=PASSWORD)
    page = browser.new_page(bypass_csp=True)  # wait_for_function evaluates strings, which the pages' CSP refuses
    page.set_default_timeout(240_000)  # the CPU model checks a policy in tens of seconds
    streamed = []
    page.on("request", lambda r: streamed.append(r.url) if "/policies/stream/" in r.url else None)
    _sign_in(page, live_server.url, "owner")

    _switch_language(page, "zh-hans", "查找匹配的政策")
    assert "省份" in page.inner_text("#policy-form") and "Province" not in page.inner_text("#policy-form")
    page.fill("#id_province", "广东省")
    page.fill("#id_city", "深圳市")
    page.fill("#id_district", "南山区")
    page.fill("#id_industry", "软件和信息技术服务业")
    page.select_option("#id_enterprise_type", "有限责任公司")
    page.select_option("#id_size", "small")
    page.fill("#id_founded", "2020-03-01")
    page.fill("#id_employees", "120")
    page.fill("#id_annual_revenue_wan", "8000")
    page.fill("#id_rd_percent", "5")
    page.check('input[name=certificates][value="高新技术企业"]')
    assert page.is_checked(f'input[name=collections][value="{sme_policy.id}"]')
    page.evaluate(ORDER_OBSERVER)
    page.click("#policy-form button[type=submit]")

    # The page stays put and builds the result from the stream: candidates, then each checked policy, then done.
    page.wait_for_selector("#live:not([hidden])")
    page.wait_for_function("document.getElementById('live-status').textContent.includes('ms')")
    page.wait_for_selector("#live-saved:not([hidden])")
    assert page.url == f"{live_server.url}/policies/" and streamed == [f"{live_server.url}/policies/stream/"]
    assert page.locator("#live-error").is_hidden(), page.inner_text("#live-error")

    record = PolicyMatchRecord.objects.latest("created_at")
    assert record.language == "zh-hans" and not record.error and record.profile["employees"] == 120
    assert record.profile["annual_revenue"] == 80_000_000 and record.profile["rd_ratio"] == pytest.approx(0.05)
    policy = next(p for p in record.policies if p["document_title"] == SME_POLICY_TITLE)
    items = [*policy["conditions"], *policy["benefits"]]
    assert items, policy  # the model found at least one clause to cite; what it says is not asserted
    if policy["conditions"]:
        assert page.evaluate("window.policyOrder") == ["condition", "saved"]  # conditions came before the end
    shown = page.locator(f'#live-policies article.policy[data-document-id="{policy["document_id"]}"]')
    statuses = shown.locator("li.condition")
    assert statuses.count() == len(policy["conditions"])
    for index, condition in enumerate(policy["conditions"]):
        row = statuses.nth(index)
        assert row.get_attribute("data-status") == condition["status"]
        assert row.locator(".status").inner_text() == STATUS_LABELS["zh-hans"][condition["status"]]
    assert shown.locator("a.clause-link").count() == len(items)
    assert "ms" in shown.locator(".policy-timings").inner_text()  # the policy's time, broken down
    assert page.get_attribute("#live-match-link", "href") == f"/policies/matches/{record.id}/"

    link = shown.locator("a.clause-link").first
    shown_quote = shown.locator("q.quote").first.inner_text()
    match = re.search(r"/passages/(\d+)/\?q=(\d+)-(\d+)$", link.get_attribute("href"))
    assert match and link.inner_text() == items[0]["citation"]["clause"]
    link.click()
    page.wait_for_url("**/passages/*/?q=*")
    chunk = Chunk.objects.select_related("document").get(id=int(match.group(1)))
    quote = chunk.text[int(match.group(2)) : int(match.group(3))]
    assert chunk.document.title in page.inner_text("#document-title")
    assert page.inner_text("#passage-text mark.quote") == quote == items[0]["citation"]["quote"]
    # The passage keeps its line breaks (pre-wrap); the quote in the result flows as one line (<q>).
    assert " ".join(quote.split()) == " ".join(shown_quote.split())

    # The saved match, read in English: same items, same statuses, exports linked.
    page.goto(f"{live_server.url}/policies/matches/{record.id}/")
    _switch_language(page, "en", "Policies, best fit first")
    saved = page.locator(f'#policies article.policy[data-document-id="{policy["document_id"]}"]')
    assert saved.locator("a.clause-link").count() == len(items)
    for index, condition in enumerate(policy["conditions"]):
        assert saved.locator("li.condition .status").nth(index).inner_text() == STATUS_LABELS["en"][condition["status"]]
    assert page.get_attribute("#csv-link", "href") == f"/policies/matches/{record.id}/csv/"
    assert page.get_attribute("#pdf-link", "href") == f"/policies/matches/{record.id}/pdf/"
    page.close()


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_form_posts_and_redirects_to_the_stored_match(
    live_server, browser: Browser, sme_policy: Collection, settings
) -> None:
    """No model answers (nothing listens on the port): the stored match keeps the profile and says why."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_TIMEOUT_S = f"http://127.0.0.1:{port}/v1", "qwen", 5
    user_create("plain", password=PASSWORD)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, live_server.url, "plain")

    page.fill("#id_city", "深圳市")
    page.select_option("#id_size", "micro")
    page.click("#policy-form button[type=submit]")
    page.wait_for_url("**/policies/matches/*/")

    record = PolicyMatchRecord.objects.get()
    assert page.url == f"{live_server.url}/policies/matches/{record.id}/"
    assert record.profile["city"] == "深圳市" and record.error
    assert "深圳市" in page.inner_text("#profile") and page.locator("#match-error").is_visible()
    context.close()
