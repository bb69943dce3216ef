"""The clinician portal's pages, PDF and API with the Django test client over real cpgQA guideline passages.

Reports shown on pages are built from real verification of items over the real passages (no model call); the stream
and plain post run the real service over a set with nothing to retrieve (no model call either); one report is made by
the real local model through the API, and its invariants (grounding, ownership, shape) are checked, not its content.
"""

from __future__ import annotations

import re

import pypdfium2
import pytest
from django.test import Client

from assistant.clinical.apis import ClinicalReportOutputSerializer
from assistant.clinical.export import DISCLAIMER_EN, DISCLAIMER_ZH
from assistant.clinical.reply import SECTIONS, DraftItem
from assistant.clinical.services import item_verify, report_sections
from assistant.grounding.reply import Citation
from assistant.models import ClinicalReport
from bench.datasets.cpgqa import cpgqa_evaluation_set
from bench.datasets.portal import cpgqa_opioid_passages
from ingestion.models import Chunk, Collection, Document
from tests.factories import collection_grant, ingest_documents, user_create

pytestmark = pytest.mark.django_db
THRESHOLD = 0.40
SLOWER = "reduce opioid by 5 to 20% every 4 weeks"
FASTER = "reduce opioid by 10 to 20% every week"
UNSUPPORTED_SIGN = "crushing chest pain radiating to the left arm"
TIMINGS = {
    "retrieval_ms": 41.0,
    "ttft_ms": 900.0,
    "first_item_ms": 2400.0,
    "generation_ms": 5000.0,
    "total_ms": 5100.0,
    "input_tokens": 1500,
    "reasoning_tokens": 80,
    "answer_tokens": 200,
}


def _cpgqa_passage(phrase: str) -> dict:
    corpus, _ = cpgqa_evaluation_set()
    return next(p for p in corpus if phrase in p["text"])


@pytest.fixture
def taper_chunks() -> list[Chunk]:
    """The real slower- and faster-taper passages, stored with a section and pages so their display is checked."""
    collection = collection_grant(Collection.objects.create(name="opioids"))
    chunks = []
    for ordinal, phrase in enumerate((SLOWER, FASTER)):
        passage = _cpgqa_passage(phrase)
        document = Document.objects.create(
            collection=collection, title=passage["title"], original_name="cpg.txt", status=Document.Status.INDEXED
        )
        chunks.append(
            Chunk.objects.create(
                document=document,
                collection=collection,
                ordinal=ordinal,
                text=passage["text"],
                section_path="Tapering > Slower and faster taper",
                page_start=12,
                page_end=12 + ordinal,
                char_start=0,
                char_end=len(passage["text"]),
            )
        )
    return chunks


def _user(name: str):
    return user_create(name, password="a-long-test-password")


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _report(*, user, chunks: list[Chunk], with_supported: bool = True) -> ClinicalReport:
    """A stored report whose items went through the real verification against the real passages."""
    drafts = [
        DraftItem(
            "red_flags",
            0,
            {"sign": UNSUPPORTED_SIGN, "action": "give aspirin and call cardiology"},
            [Citation(2, quote="")],
        ),
    ]
    if with_supported:
        drafts += [
            DraftItem(
                "examinations",
                0,
                {"name": "Slower taper over months or years", "reason": "Slower taper is the most common taper"},
                [Citation(1, quote="Slower Taper is done over months or years")],
            ),
            DraftItem(
                "medications",
                0,
                {"drug": "opioid, slower taper", "dosing": SLOWER, "contraindications": ""},
                [Citation(1, quote=SLOWER)],
            ),
        ]
    items = [item_verify(item=draft, passages=chunks, threshold=THRESHOLD) for draft in drafts]
    assert [item["supported"] for item in items] == [False] + [True] * (len(items) - 1)  # what the test relies on
    report = ClinicalReport.objects.create(
        user=user,
        complaint="Chronic low back pain on long-term opioid therapy, asking about tapering.",
        age=58,
        sex="male",
        history="Morphine SR for 4 years.",
        medications="morphine SR 60 mg every 12 hours",
        language="en",
        sections=report_sections(items),
        passages=[c.id for c in chunks],
        reasoning="The passages describe slower and faster tapers.",
        model="qwen2.5-coder-0.5b",
        timings=TIMINGS,
    )
    report.collections.set([chunks[0].collection_id])
    return report


def _pdf_text(content: bytes) -> str:
    pdf = pypdfium2.PdfDocument(content)
    return "".join(page.get_textpage().get_text_range() for page in pdf)


def _squeezed(text: str) -> str:
    """Without whitespace: a PDF line may break a quote anywhere."""
    return re.sub(r"\s+", "", text)


def test_portal_needs_sign_in_and_offers_the_form_with_every_set_checked(taper_chunks) -> None:
    assert Client().get("/clinical/").url.startswith("/accounts/login/")
    other = Collection.objects.create(name="empty, not offered")
    html = _signed_in(_user("doctor")).get("/clinical/").content.decode()

    for name in ("complaint", "age", "sex", "vitals", "history", "medications"):
        assert f'name="{name}"' in html
    collection = taper_chunks[0].collection
    assert re.search(rf'<input type="checkbox" name="collections" value="{collection.id}"[^>]* checked', html)
    assert f'value="{other.id}"' not in html  # no indexed document: nothing to ground a report on
    assert 'data-stream-url="/clinical/stream/"' in html and 'id="live"' in html
    assert DISCLAIMER_EN in html and DISCLAIMER_ZH in html
    assert "Differential diagnosis" in html and "Red flags" in html


def test_portal_in_chinese() -> None:
    client = _signed_in(_user("doctor"))
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/clinical/"})
    html = client.get("/clinical/").content.decode()
    for label in (
        "临床医生门户",
        "主诉",
        "生命体征",
        "目前用药",
        "指南集",
        "鉴别诊断",
        "推荐检查",
        "用药参考",
        "危险征象",
    ):
        assert label in html, label
    assert "Chief complaint" not in html and DISCLAIMER_EN in html and DISCLAIMER_ZH in html


def test_report_page_links_each_quote_and_sets_unsupported_items_apart(taper_chunks) -> None:
    user = _user("doctor")
    report = _report(user=user, chunks=taper_chunks)
    client = _signed_in(user)

    html = client.get(f"/clinical/reports/{report.id}/").content.decode()

    medication = report.sections["medications"][0]
    citation = medication["citations"][0]
    assert taper_chunks[0].text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] == SLOWER
    link = f'href="/passages/{taper_chunks[0].id}/?q={citation["quote_start"]}-{citation["quote_end"]}"'
    recommendations = re.search(r'<ol class="items" id="report-items-medications">(.*?)</ol>', html, re.S).group(1)
    assert link in recommendations and f'<q class="quote">{SLOWER}</q>' in recommendations
    assert f"《{taper_chunks[0].document.title}》, Tapering &gt; Slower and faster taper, p. 12" in recommendations
    assert 'id="report-items-examinations"' in html
    assert 'id="report-items-differential"' not in html and 'id="report-items-red_flags"' not in html

    unsupported = re.search(r'<section class="unsupported-box" id="unsupported">(.*?)</section>', html, re.S).group(1)
    assert "1 item not supported by the guidelines" in unsupported and UNSUPPORTED_SIGN in unsupported
    assert "/passages/" not in unsupported and "指南未支持" in unsupported
    assert UNSUPPORTED_SIGN not in html.replace(unsupported, "")  # never among the recommendations

    assert re.search(r'<details class="reasoning" id="reasoning">', html)  # folded: no `open`
    assert "slower and faster tapers" in html
    timings = html[html.index('id="timings"') :]
    for shown in (
        "qwen2.5-coder-0.5b",
        "first item 2400 ms",
        "total 5100 ms",
        "first token 900 ms",
        "generation 5000 ms",
        "answer tokens 200",
        "retrieval 41 ms",
    ):
        assert shown in timings, shown
    assert "Where the time went" in timings
    assert "@media print" in html and 'onclick="window.print()"' in html
    assert DISCLAIMER_EN in html and DISCLAIMER_ZH in html
    assert f'href="/clinical/reports/{report.id}/pdf/"' in html

    passage = client.get(f"/passages/{taper_chunks[0].id}/?q={citation['quote_start']}-{citation['quote_end']}")
    assert f'<mark class="quote" id="quote">{SLOWER}</mark>' in passage.content.decode()


def test_report_without_supported_items_says_so_and_lists_the_passages_read(taper_chunks) -> None:
    user = _user("doctor")
    report = _report(user=user, chunks=taper_chunks, with_supported=False)

    html = _signed_in(user).get(f"/clinical/reports/{report.id}/").content.decode()

    assert "The selected guidelines support no recommendation for this patient." in html
    closest = re.search(r'<ol class="plain" id="closest-passages">(.*?)</ol>', html, re.S).group(1)
    assert all(f"/passages/{chunk.id}/" in closest for chunk in taper_chunks)
    assert 'class="items"' not in html and UNSUPPORTED_SIGN in html


def test_reports_are_their_author_s_only(taper_chunks) -> None:
    report = _report(user=_user("author"), chunks=taper_chunks)
    stranger = _signed_in(_user("stranger"))
    for url in (
        f"/clinical/reports/{report.id}/",
        f"/clinical/reports/{report.id}/pdf/",
        f"/api/clinical-reports/{report.id}/",
    ):
        assert stranger.get(url).status_code == 404, url
        anonymous = Client().get(url)
        assert anonymous.status_code in (302, 401, 403), url
    assert stranger.get("/api/clinical-reports/").json() == []
    assert f"/clinical/reports/{report.id}/" not in stranger.get("/clinical/reports/").content.decode()


def test_history_lists_the_user_s_reports_newest_first(taper_chunks) -> None:
    user = _user("doctor")
    older = _report(user=user, chunks=taper_chunks)
    newer = _report(user=user, chunks=taper_chunks, with_supported=False)
    newer.complaint = "Opioid withdrawal symptoms after a fast taper"
    newer.save()
    _report(user=_user("someone else"), chunks=taper_chunks)

    html = _signed_in(user).get("/clinical/reports/").content.decode()

    rows = re.findall(r'<tr data-report="(\d+)">', html)
    assert rows == [str(newer.id), str(older.id)]
    assert f'href="/clinical/reports/{newer.id}/"' in html and "Opioid withdrawal symptoms" in html


def test_pdf_carries_the_supported_items_quotes_and_the_disclaimer(taper_chunks) -> None:
    user = _user("doctor")
    report = _report(user=user, chunks=taper_chunks)

    response = _signed_in(user).get(f"/clinical/reports/{report.id}/pdf/")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"yiju-clinical-report-{report.id}.pdf" in response["Content-Disposition"]
    text = _squeezed(_pdf_text(response.content))
    quotes = [
        c["quote"] for s in SECTIONS for item in report.sections[s] if item["supported"] for c in item["citations"]
    ]
    assert len(quotes) == 2
    for quote in quotes:
        assert _squeezed(quote) in text, quote
    for expected in (
        f"《{taper_chunks[0].document.title}》",
        "Medicationreferences",
        "Differentialdiagnosis",
        "Chroniclowbackpain",
        "qwen2.5-coder-0.5b",
        _squeezed(DISCLAIMER_EN),
        DISCLAIMER_ZH,
    ):
        assert _squeezed(expected) in text, expected
    assert _squeezed(UNSUPPORTED_SIGN) not in text and "1item(s)thepassagesdonotsupportwereleftout" in text


def test_pdf_labels_follow_the_interface_language(taper_chunks) -> None:
    user = _user("doctor")
    report = _report(user=user, chunks=taper_chunks)
    client = _signed_in(user)
    client.post("/i18n/setlang/", {"language": "zh-hans"})

    text = _squeezed(_pdf_text(client.get(f"/clinical/reports/{report.id}/pdf/").content))

    assert "临床报告" in text and "用药参考" in text and _squeezed(SLOWER) in text


def test_stream_of_an_invalid_form_is_one_error_event() -> None:
    response = _signed_in(_user("doctor")).post("/clinical/stream/", {"complaint": "", "age": "-3"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("event: error\n") and '"complaint"' in body and '"age"' in body
    assert '"collections"' in body


@pytest.fixture
def set_without_passages() -> Collection:
    """A set whose one indexed document has no passages: nothing is retrieved, so the model is never asked."""
    collection = collection_grant(Collection.objects.create(name="empty guideline set"))
    Document.objects.create(collection=collection, original_name="blank.txt", status=Document.Status.INDEXED)
    return collection


def test_stream_events_and_plain_post_save_the_report(set_without_passages) -> None:
    user = _user("doctor")
    client = _signed_in(user)
    form = {
        "complaint": "慢性腰痛，长期使用阿片类药物",
        "age": "61",
        "sex": "female",
        "vitals": "BP 130/80",
        "collections": [set_without_passages.id],
    }

    response = client.post("/clinical/stream/", form)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    frames = b"".join(response.streaming_content).decode().strip().split("\n\n")
    assert [frame.split("\n")[0] for frame in frames] == ["event: retrieval", "event: done"]
    streamed = ClinicalReport.objects.get()
    assert streamed.user == user and streamed.age == 61 and streamed.sex == "female" and streamed.language == "zh"
    assert f'"report_id": {streamed.id}' in frames[1]

    posted = client.post("/clinical/", form)
    report = ClinicalReport.objects.exclude(id=streamed.id).get()
    assert posted.status_code == 302 and posted.url == f"/clinical/reports/{report.id}/"
    html = client.get(posted.url).content.decode()
    assert "慢性腰痛" in html and "BP 130/80" in html and "The selected guidelines support no recommendation" in html
    assert client.post("/clinical/", {"complaint": ""}).status_code == 200  # the form again, with its errors


def test_api_rejects_invalid_payloads_with_field_errors(taper_chunks) -> None:
    client = _signed_in(_user("doctor"))
    cases = [
        ({"collections": ["opioids"]}, "complaint"),
        ({"complaint": "back pain"}, "collections"),
        ({"complaint": "back pain", "collections": ["no such set"]}, "collections"),
        ({"complaint": "back pain", "collections": ["99999999999999"]}, "collections"),
        ({"complaint": "back pain", "collections": ["opioids"], "age": -1}, "age"),
        ({"complaint": "back pain", "collections": ["opioids"], "sex": "unknown"}, "sex"),
    ]
    for payload, field in cases:
        response = client.post("/api/clinical-reports/", payload, content_type="application/json")
        assert response.status_code == 400 and field in response.json(), (payload, response.content)
    assert ClinicalReport.objects.count() == 0
    assert Client().post("/api/clinical-reports/", {}, content_type="application/json").status_code in (401, 403)


def test_api_lists_and_reads_the_user_s_reports(taper_chunks) -> None:
    user = _user("doctor")
    first = _report(user=user, chunks=taper_chunks)
    second = _report(user=user, chunks=taper_chunks, with_supported=False)
    client = _signed_in(user)

    listed = client.get("/api/clinical-reports/").json()
    assert [r["id"] for r in listed] == [second.id, first.id]
    detail = client.get(f"/api/clinical-reports/{first.id}/").json()
    assert detail == ClinicalReportOutputSerializer(first).data and tuple(detail["sections"]) == SECTIONS
    assert detail["recommendation_count"] == 2 and listed[0]["recommendation_count"] == 0




@pytest.fixture
def opioid_collection(shared_data) -> Collection:
    """Real cpgQA passages on long-term opioid therapy and tapering, through real ingestion (embedded, indexed)."""
    return ingest_documents(documents=cpgqa_opioid_passages(limit=20), collection="opioids")


def test_api_creates_a_grounded_report_with_the_local_model(local_llm: str, opioid_collection: Collection) -> None:
    user = _user("doctor")
    client = _signed_in(user)

    response = client.post(
        "/api/clinical-reports/",
        {
            "complaint": "Chronic low back pain on long-term opioid therapy, asking about tapering.",
            "age": 58,
            "sex": "male",
            "medications": "morphine SR 60 mg every 12 hours",
            "collections": [str(opioid_collection.id)],
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    created = response.json()
    report = ClinicalReport.objects.get(id=created["id"])
    assert report.user == user and created["collections"] == [opioid_collection.id] and not created["error"]
    assert tuple(created["sections"]) == SECTIONS and created["model"] and created["passages"]
    assert created["timings"]["total_ms"] >= created["timings"]["retrieval_ms"] > 0
    supported = [item for s in SECTIONS for item in created["sections"][s] if item["supported"]]
    assert created["recommendation_count"] == len(supported)
    for item in supported:  # the model's content varies; the grounds of whatever it recommends must hold
        assert item["citations"]
        for citation in item["citations"]:
            chunk = Chunk.objects.get(id=citation["chunk_id"])
            assert chunk.collection_id == opioid_collection.id
            assert chunk.text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] != ""
    for item in (item for s in SECTIONS for item in created["sections"][s] if not item["supported"]):
        assert item["citations"] == []
    assert client.get(f"/api/clinical-reports/{report.id}/").json() == created
    assert client.get("/api/clinical-reports/").json()[0]["id"] == report.id
