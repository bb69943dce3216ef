"""The policy-matching form, its event stream, the stored match page, history, CSV and PDF exports and the API, over
the sample SME policy. Display and export tests store results built without the model from real clauses of the
ingested policy; the streamed run uses the local model and asserts only structure and grounding."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import socket
from datetime import date
from pathlib import Path

import pypdfium2
import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from rest_framework.authtoken.models import Token

from assistant.demo.sample_set import SME_POLICY_FILE_NAME, SME_POLICY_TITLE, sample_set_write
from assistant.models import PolicyMatchRecord
from assistant.policies.clauses import policy_items_check
from assistant.policies.forms import PolicyProfileForm
from assistant.policies.profile import BusinessProfile, profile_as_dict, profile_from_dict
from assistant.policies.results import PolicyMatch, PolicyMatchResult, policy_match_from_dict
from assistant.policies.rules import MET, NOT_MET, UNKNOWN
from assistant.policies.selectors import policy_matches_of_user
from assistant.policies.services import policy_match_record_create
from ingestion.models import Chunk, Collection
from retrieval.access import OPERATOR
from tests.factories import ingest_file, user_create

pytestmark = pytest.mark.django_db
FRAME = re.compile(r"event: (retrieval|policy|done|error)\ndata: ([^\n]+)\n\n")
TODAY = date(2026, 11, 30)
SMALL = BusinessProfile(
    province="广东省", city="深圳市", district="南山区", industry="软件和信息技术服务业",
    enterprise_type="有限责任公司", size="small", founded=date(2020, 3, 1), employees=120,
    annual_revenue=8_000_0000, rd_ratio=0.05, certificates=["高新技术企业"],
)  # fmt: skip
# The same small enterprise as the form takes it: revenue in 万元, R&D as a percentage.
SMALL_FORM = {
    "province": "广东省", "city": "深圳市", "district": "南山区", "industry": "软件和信息技术服务业",
    "enterprise_type": "有限责任公司", "size": "small", "founded": "2020-03-01", "employees": "120",
    "annual_revenue_wan": "8000", "rd_percent": "5", "certificates": ["高新技术企业"],
}  # fmt: skip
CLAUSE_LINK = re.compile(r'<a class="clause-link" href="/passages/(\d+)/\?q=(\d+)-(\d+)">([^<]+)</a> <q class="quote">')
CONDITION = re.compile(r'<li class="condition status-(\w+)" data-status="\1"><span class="status">([^<]+)</span>')


@pytest.fixture
def sme_policy(tmp_path: Path) -> Collection:
    paths = {p.name: p for p in sample_set_write(directory=tmp_path / "sample")}
    ingest_file(path=paths[SME_POLICY_FILE_NAME], collection="policies")
    return Collection.objects.get(name="policies")


@pytest.fixture
def owner() -> AbstractBaseUser:
    return user_create("owner")


@pytest.fixture
def client_signed_in(owner: AbstractBaseUser) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def unreachable_llm(settings) -> str:
    with socket.socket() as probe:  # bound then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_TIMEOUT_S = f"http://127.0.0.1:{port}/v1", "qwen", 5
    return settings.LLM_BASE_URL


def _article(collection: Collection, article: str) -> Chunk:
    return Chunk.objects.select_related("document").get(collection=collection, section_path__endswith=f"> {article}")


def _sme_match(collection: Collection) -> PolicyMatch:
    """The sample policy's 第四条 conditions and 第七条 benefit as the checks make them, from quotes given here."""
    article_4, article_7 = _article(collection, "第四条"), _article(collection, "第七条")
    extracted = {
        "conditions": [{"text": re.sub(r"\s+", "", article_4.text), "passage": 1, "quote": "职工人数不超过300人"}],
        "benefits": [
            {"text": "研发费用补助最高不超过50万元", "passage": 2, "quote": "单个企业每年补助金额最高不超过50万元"}
        ],
    }  # fmt: skip
    conditions, benefits, unsupported = policy_items_check(
        extracted=extracted, chunks=[article_4, article_7], profile=SMALL, today=TODAY
    )
    return PolicyMatch(
        document_id=article_4.document_id, document_title=SME_POLICY_TITLE, conditions=conditions,
        benefits=benefits, unsupported=unsupported, timings={"total_ms": 1.0},
    )  # fmt: skip


@pytest.fixture
def stored_match(sme_policy: Collection, owner: AbstractBaseUser) -> PolicyMatchRecord:
    """Two policies stored in the wrong order: the one without conditions must be ranked after the SME policy."""
    empty = PolicyMatch(document_id=0, document_title="无条件的示例通知")
    result = PolicyMatchResult(profile=SMALL, policies=[empty, _sme_match(sme_policy)], model="test-model",
                               timings={"retrieval_ms": 12.5, "total_ms": 40.0})  # fmt: skip
    return policy_match_record_create(result=result, collection_ids=[sme_policy.id], user=owner, language="en")


def _events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    frames = FRAME.findall(body)
    assert "".join(f"event: {k}\ndata: {d}\n\n" for k, d in frames) == body  # every frame well formed
    return [(kind, json.loads(data)) for kind, data in frames]


def _assert_grounded(policies: list[dict]) -> None:
    """Every kept condition and benefit quotes its clause exactly, and each condition has a checked status."""
    for policy in policies:
        for item in [*policy["conditions"], *policy["benefits"]]:
            citation = item["citation"]
            chunk = Chunk.objects.select_related("document").get(id=citation["chunk_id"])
            quoted = chunk.text[citation["quote_start"] : citation["quote_end"]]
            assert citation["quote"] and quoted == citation["quote"]
            assert citation["clause"].startswith(f"《{chunk.document.title}》")
        for condition in policy["conditions"]:
            assert condition["status"] in (MET, NOT_MET, UNKNOWN) and condition["reason"]
    keys = [policy_match_from_dict(p).rank_key() for p in policies]
    assert keys == sorted(keys)  # all met first, then fewest unknown


def test_profile_round_trips_through_storage() -> None:
    assert profile_from_dict(json.loads(json.dumps(profile_as_dict(SMALL)))) == SMALL
    assert profile_from_dict({"city": "深圳市", "unknown_key": 1}) == BusinessProfile(city="深圳市")


def test_form_takes_wan_yuan_and_percent_and_other_certificates(sme_policy: Collection) -> None:
    form = PolicyProfileForm({**SMALL_FORM, "certificates_other": "ISO9001、小巨人", "collections": [sme_policy.id]},
                             user=OPERATOR)
    assert form.is_valid(), form.errors
    profile = form.profile()
    assert profile.annual_revenue == 80_000_000 and profile.rd_ratio == pytest.approx(0.05)
    assert profile.certificates == ["高新技术企业", "ISO9001", "小巨人"] and profile.founded == date(2020, 3, 1)
    assert form.collection_ids() == [sme_policy.id]


def test_form_page_needs_sign_in_and_speaks_both_languages(client_signed_in: Client, sme_policy: Collection) -> None:
    anonymous = Client().get("/policies/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    english = client_signed_in.get("/policies/").content.decode()
    for text in ("Province", "Enterprise type", "万元", "R&amp;D spending (percent of revenue)",
                 "Policy sets to search", 'value="高新技术企业"', 'value="专精特新"', 'value="科技型中小企业"',
                 'value="小巨人"', f'value="{sme_policy.id}"', 'data-stream-url="/policies/stream/"'):
        assert text in english, text
    client_signed_in.post("/i18n/setlang/", {"language": "zh-hans", "next": "/policies/"})
    chinese = client_signed_in.get("/policies/").content.decode()
    for text in ("省份", "企业类型", "研发投入", "查找匹配的政策", "要检索的政策集"):
        assert text in chinese, text
    assert "Province" not in chinese


def test_profile_errors_are_shown_on_their_fields(client_signed_in: Client, sme_policy: Collection) -> None:
    nothing = client_signed_in.post("/policies/", {"notes": "想了解补贴", "collections": [sme_policy.id]})
    assert nothing.status_code == 200
    assert "give at least the region, industry, enterprise type or size" in nothing.content.decode()
    future = client_signed_in.post("/policies/", {**SMALL_FORM, "founded": "2999-01-01", "rd_percent": "150",
                                                  "collections": [sme_policy.id]})  # fmt: skip
    page = future.content.decode()
    founded = re.search(r'<div class="field" id="field-founded">.*?</div>', page, re.DOTALL).group(0)
    assert "cannot be in the future" in founded
    rd = re.search(r'<div class="field" id="field-rd_percent">.*?</div>', page, re.DOTALL).group(0)
    assert "errorlist" in rd
    assert not PolicyMatchRecord.objects.exists()


def test_stream_of_an_invalid_form_is_one_error_event_with_field_errors(
    client_signed_in: Client, sme_policy: Collection
) -> None:
    assert client_signed_in.get("/policies/stream/").status_code == 405
    response = client_signed_in.post("/policies/stream/", {**SMALL_FORM, "employees": "-3", "collections": []})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/event-stream")
    events = _events(response)
    assert [kind for kind, _ in events] == ["error"]
    assert set(events[0][1]["errors"]) == {"employees", "collections"}


def test_stored_match_page_ranks_and_links_every_quote_to_its_clause(
    client_signed_in: Client, stored_match: PolicyMatchRecord
) -> None:
    assert [p["document_title"] for p in stored_match.policies] == [SME_POLICY_TITLE, "无条件的示例通知"]
    response = client_signed_in.get(f"/policies/matches/{stored_match.id}/")
    page = response.content.decode()
    assert page.index(SME_POLICY_TITLE) < page.index("无条件的示例通知")
    policy = stored_match.policies[0]
    statuses = [(status, html.unescape(label)) for status, label in CONDITION.findall(page)]
    assert statuses == [(c["status"], {MET: "Met", NOT_MET: "Not met", UNKNOWN: "Unknown"}[c["status"]])
                        for c in policy["conditions"]]  # fmt: skip
    assert {MET, UNKNOWN} <= {s for s, _ in statuses}  # 职工人数 met; 依法纳税 needs review
    links = CLAUSE_LINK.findall(page)
    assert len(links) == len(policy["conditions"]) + len(policy["benefits"]) > 0
    for chunk_id, start, end, clause in links:
        chunk = Chunk.objects.get(id=chunk_id)
        quote = chunk.text[int(start) : int(end)]
        assert f'{clause}</a> <q class="quote">{html.escape(quote)}</q>' in page
        assert re.fullmatch(rf"《{re.escape(SME_POLICY_TITLE)}》第[四七]条", html.unescape(clause))
    assert "What you would need to qualify" in page and "Needs review" in page  # 依法纳税 and 近三年 are for a person
    # The clause link opens the passage with exactly the quote marked.
    chunk_id, start, end, _ = links[0]
    passage = client_signed_in.get(f"/passages/{chunk_id}/?q={start}-{end}").content.decode()
    marked = re.search(r'<mark class="quote" id="quote">(.*?)</mark>', passage, re.DOTALL).group(1)
    assert html.unescape(marked) == Chunk.objects.get(id=chunk_id).text[int(start) : int(end)]


def test_matches_are_their_owners_only(stored_match: PolicyMatchRecord, client_signed_in: Client) -> None:
    other = Client()
    other.force_login(user_create("other"))
    for suffix in ("", "csv/", "pdf/"):
        assert other.get(f"/policies/matches/{stored_match.id}/{suffix}").status_code == 404
        assert client_signed_in.get(f"/policies/matches/{stored_match.id}/{suffix}").status_code == 200
    assert other.get(f"/api/policy-matches/{stored_match.id}/").status_code == 404
    assert other.get("/api/policy-matches/").json() == []
    assert f"/policies/matches/{stored_match.id}/" not in other.get("/policies/matches/").content.decode()
    history = client_signed_in.get("/policies/matches/").content.decode()
    assert f"/policies/matches/{stored_match.id}/" in history and SME_POLICY_TITLE in history


def test_csv_export_opens_in_excel_with_a_row_per_item_in_rank_order(
    client_signed_in: Client, stored_match: PolicyMatchRecord
) -> None:
    response = client_signed_in.get(f"/policies/matches/{stored_match.id}/csv/")
    assert response["Content-Type"] == "text/csv; charset=utf-8" and "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel reads as UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    policy = stored_match.policies[0]
    assert rows[0][:4] == ["rank", "policy", "fit", "kind"]
    items = [*policy["conditions"], *policy["benefits"], *policy["unsupported"]]
    assert [(r[0], r[1], r[4], r[8]) for r in rows[1:]] == [
        ("1", SME_POLICY_TITLE, i["text"], (i["citation"] or {}).get("quote", "")) for i in items
    ]
    assert {r[5] for r in rows[1:] if r[3] == "condition"} <= {"符合", "不符合", "待确认"}


def test_pdf_export_holds_the_ranked_policies_statuses_clauses_and_quotes(
    client_signed_in: Client, stored_match: PolicyMatchRecord
) -> None:
    response = client_signed_in.get(f"/policies/matches/{stored_match.id}/pdf/")
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(response.content)
    text = "".join(page.get_textpage().get_text_range() for page in pdf)
    flat = re.sub(r"\s+", "", text)
    assert "Policy match" in text and "Business profile" in text and "深圳市" in flat
    assert flat.index(SME_POLICY_TITLE) < flat.index("无条件的示例通知")  # rank order
    policy = stored_match.policies[0]
    for item in [*policy["conditions"], *policy["benefits"]]:
        assert re.sub(r"\s+", "", item["citation"]["clause"]) in flat
        assert re.sub(r"\s+", "", item["citation"]["quote"]) in flat
    assert "[Met]" in text and "[Unknown]" in text
    client_signed_in.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = pypdfium2.PdfDocument(client_signed_in.get(f"/policies/matches/{stored_match.id}/pdf/").content)
    chinese_text = re.sub(r"\s+", "", "".join(page.get_textpage().get_text_range() for page in chinese))
    assert "[符合]" in chinese_text and "企业画像" in chinese_text


def test_unreachable_model_server_keeps_the_profile_and_the_error(
    client_signed_in: Client, sme_policy: Collection, unreachable_llm: str
) -> None:
    """Without JavaScript the form posts and redirects to the stored match, which says what went wrong."""
    response = client_signed_in.post("/policies/", {**SMALL_FORM, "collections": [sme_policy.id]})
    record = PolicyMatchRecord.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/policies/matches/{record.id}/"
    assert record.profile == profile_as_dict(SMALL) and list(record.collections.all()) == [sme_policy]
    assert "Connect" in record.error and [p["document_title"] for p in record.policies] == [SME_POLICY_TITLE]
    assert record.policies[0]["conditions"] == [] and record.policies[0]["error"]
    page = client_signed_in.get(response["Location"]).content.decode()
    assert 'id="match-error"' in page and "深圳市" in page

    streamed = _events(client_signed_in.post("/policies/stream/", {**SMALL_FORM, "collections": [sme_policy.id]}))
    assert [kind for kind, _ in streamed] == ["retrieval", "error", "policy", "done"]
    assert streamed[-1][1]["match"]["error"] and PolicyMatchRecord.objects.count() == 2


def test_api_validates_creates_lists_and_reads_back(
    client_signed_in: Client, sme_policy: Collection, owner: AbstractBaseUser, unreachable_llm: str
) -> None:
    bad = client_signed_in.post("/api/policy-matches/", {"size": "tiny", "collections": ["nope"]},
                                content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()) == {"size", "collections"}
    invalid = client_signed_in.post(
        "/api/policy-matches/", {"city": "深圳市", "rd_ratio": 3, "founded": "2999-01-01", "collections": ["policies"]},
        content_type="application/json",
    )
    assert invalid.status_code == 400 and set(invalid.json()) == {"rd_ratio", "founded"}
    nothing = client_signed_in.post("/api/policy-matches/", {"notes": "x", "collections": ["policies"]},
                                    content_type="application/json")  # fmt: skip
    assert nothing.status_code == 400 and "non_field_errors" in nothing.json()
    assert Client().get("/api/policy-matches/").status_code in (401, 403)

    payload = {**profile_as_dict(SMALL), "collections": ["policies"], "max_policies": 1}
    created = client_signed_in.post("/api/policy-matches/", payload, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    record = PolicyMatchRecord.objects.get(id=body["id"])
    assert record.user == owner and body["profile"] == profile_as_dict(SMALL) == record.profile
    assert body["collections"] == [sme_policy.id] and body["error"] and len(body["policies"]) == 1
    assert client_signed_in.get(f"/api/policy-matches/{record.id}/").json() == body
    assert [r["id"] for r in client_signed_in.get("/api/policy-matches/").json()] == [record.id]
    assert list(policy_matches_of_user(user=owner)) == [record]
    token = Token.objects.create(user=owner)  # an API key, as `manage.py drf_create_token` makes it
    with_key = Client().get(f"/api/policy-matches/{record.id}/", HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert with_key.status_code == 200 and with_key.json()["id"] == record.id


def test_stream_checks_each_policy_as_it_comes_then_stores_the_ranked_match(
    local_llm: str, client_signed_in: Client, sme_policy: Collection, owner: AbstractBaseUser
) -> None:
    """One run with the local model: the events arrive in order, what is shown is grounded, the record is stored."""
    response = client_signed_in.post("/policies/stream/", {**SMALL_FORM, "collections": [sme_policy.id]})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/event-stream")
    events = _events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done" and "error" not in kinds, events
    candidates = [p["document_id"] for p in events[0][1]["policies"]]
    assert [data["document_id"] for kind, data in events if kind == "policy"] == candidates
    assert SME_POLICY_TITLE in [p["document_title"] for p in events[0][1]["policies"]]
    done = events[-1][1]
    record = PolicyMatchRecord.objects.get(id=done["match_id"])
    assert record.user == owner and record.policies == done["match"]["policies"] and record.model
    assert record.profile == profile_as_dict(SMALL) and not record.error
    _assert_grounded(record.policies)
    page = client_signed_in.get(f"/policies/matches/{record.id}/").content.decode()
    assert len(CLAUSE_LINK.findall(page)) == sum(len(p["conditions"]) + len(p["benefits"]) for p in record.policies)
    assert page.count('class="timings policy-timings"') == len(record.policies)  # where each policy's time went

