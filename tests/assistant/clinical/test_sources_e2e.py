"""The clinician report flags sources that disagree, in headless Chromium, over two real guidelines: the American
Cancer Society's (NGC ngc-10823: screening mammography "starting at age 45 years") and the USPSTF's (ngc-10904:
"biennial screening during ages 50 to 74 years").

Everything is the real path (ingestion, retrieval, the streamed report, verification, the stored report, the pages)
except the model's reply, which the test writes: an item citing each guideline's sentence, as the model would when
it cites both. Which sentences the 0.5B model cites is not repeatable; the flag is what is tested here.
"""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import Browser

from assistant.models import ClinicalReport
from bench.datasets.ngc import ngc_guidelines, ngc_markdown
from bench.datasets.portal import SourceDocument
from ingestion.models import Collection, Document
from tests.factories import ingest_documents, user_create
from tests.scripted_llm import ScriptedReply, prompt_sentences, scripted_llm

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
PASSWORD = "a-long-test-password"
EARLY, LATER = "starting at age 45 years", "during ages 50 to 74 years"
COMPLAINT = ("46-year-old woman at average risk of breast cancer: start screening mammography at 45, or biennial "
             "screening mammography for women aged 50 to 74?")


@pytest.fixture
def screening_guidelines(shared_data) -> Collection:
    wanted = {"ngc-10823", "ngc-10904"}
    documents = [SourceDocument(f"{g.doc_id}.md", ngc_markdown(guideline=g).encode(), g.doc_id)
                 for g in ngc_guidelines() if g.doc_id in wanted]
    assert len(documents) == 2
    return ingest_documents(documents=documents, collection="breast screening")


def _report_citing_both(body: dict) -> ScriptedReply:
    """Two examinations, each restating the sentence it cites: the ACS's age 45, the USPSTF's ages 50 to 74."""
    sentences = prompt_sentences(body)
    items = []
    for phrase, name in ((EARLY, "Screening mammography from age 45"), (LATER, "Biennial screening mammography")):
        cite = next(i for i, sentence in sentences.items() if phrase in sentence)
        items.append({"name": name, "reason": sentences[cite], "cite": [cite]})
    report = {"differential": [], "examinations": items, "medications": [], "red_flags": []}
    return ScriptedReply(json.dumps(report))


@pytest.mark.django_db(transaction=True)
def test_the_report_flags_the_guidelines_disagreeing_on_the_screening_age_live_and_saved(
    live_server, browser: Browser, screening_guidelines: Collection, settings, tmp_path
) -> None:
    user_create("clinician", password=PASSWORD)
    acs, uspstf = Document.objects.get(external_id="ngc-10823"), Document.objects.get(external_id="ngc-10904")
    assert uspstf.issued_on > acs.issued_on  # 2016 against 2015: the USPSTF's is the newer
    with scripted_llm(_report_citing_both) as server:
        settings.LLM_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
        settings.LLM_MODEL, settings.LLM_REASONING = "scripted", "off"
        page = browser.new_page(bypass_csp=True)
        page.set_default_timeout(120_000)
        base = live_server.url
        page.goto(f"{base}/clinical/")
        page.fill("#id_username", "clinician")
        page.fill("#id_password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/clinical/")
        page.fill("#id_complaint", COMPLAINT)
        page.fill("#id_age", "46")
        page.select_option("#id_sex", "female")
        page.click("#clinical-form button[type=submit]")
        page.wait_for_selector("#live-saved:not([hidden])")

        # Live: both items are recommendations, and the flag names both values, both guidelines and the newer.
        assert page.locator("#live-items-examinations > li").count() == 2
        flag = page.locator("#live-sources .disagreement")
        assert flag.count() == 1
        values = [page.locator("#live-sources .disagreement-value").nth(i).inner_text() for i in range(2)]
        assert any(v.startswith("45 years") and acs.title in v for v in values), values
        assert any(v.startswith("50 to 74 years") and uspstf.title in v for v in values), values
        newer = page.locator("#live-sources .disagreement-value.newer")
        assert newer.count() == 1 and uspstf.title in newer.inner_text() and "newer" in newer.inner_text()
        page.screenshot(path=str(tmp_path / "clinical-disagreement-live.png"), full_page=True)

        report = ClinicalReport.objects.get()
        (disagreement,) = report.sources["disagreements"]
        assert disagreement["newer_document_id"] == uspstf.id and disagreement["dimension"] == "age"

        # Saved, in Chinese: the same flag, its words translated, each value linking to its passage.
        with page.expect_navigation():
            page.select_option("header select[name=language]", "zh-hans")
        page.goto(f"{base}/clinical/reports/{report.id}/")
        saved = page.locator("#sources-notes .disagreement")
        assert saved.count() == 1 and "来源之间不一致" in saved.inner_text() and "较新" in saved.inner_text()
        link = saved.locator("li.newer a")
        assert link.inner_text() == uspstf.title
        page.screenshot(path=str(tmp_path / "clinical-disagreement-saved-zh.png"), full_page=True)
        link.click()
        assert page.inner_text("#document-title") == uspstf.title
