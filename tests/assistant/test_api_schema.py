"""The OpenAPI schema: served, valid, free of generator warnings, describing every API operation with its bodies;
the docs pages served without a CDN; stored answers, reports and matches read back in the shapes it declares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import Browser
from rest_framework.authtoken.models import Token

from assistant.answers.services import passage_dict
from assistant.demo.sample_set import sample_set_write
from assistant.grounding.reply import Citation, DraftStatement
from assistant.grounding.verification import statement_verify
from assistant.models import Answer, ClinicalReport, PolicyMatchRecord
from ingestion.models import Chunk, Collection
from tests.assistant.openapi_client import CONFORMANCE_CHECKS, api_schema_fixture, bearer, wsgi_app_fixture  # noqa: F401 - fixtures
from tests.factories import ingest_file, user_create

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/answers/", "post"): ("Ask", "Answer"),
    ("/api/answers/{answer_id}/", "get"): (None, "Answer"),
    ("/api/clinical-reports/", "get"): (None, "ClinicalReport"),
    ("/api/clinical-reports/", "post"): ("ClinicalReportCreate", "ClinicalReport"),
    ("/api/clinical-reports/{report_id}/", "get"): (None, "ClinicalReport"),
    ("/api/policy-matches/", "get"): (None, "PolicyMatch"),
    ("/api/policy-matches/", "post"): ("PolicyMatchCreate", "PolicyMatch"),
    ("/api/policy-matches/{match_id}/", "get"): (None, "PolicyMatch"),
    ("/v1/chat/completions", "post"): ("ChatCompletionRequest", "ChatCompletion"),
    ("/v1/models", "get"): (None, "ModelList"),
    ("/api/search/", "get"): (None, "SearchResponse"),
}


def _schema_json(client: Client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


def _refs(node: object) -> set[str]:
    """Every component named anywhere under the node."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_schema_generates_valid_without_warnings(tmp_path: Path) -> None:
    # --fail-on-warn: a view whose bodies spectacular has to guess at fails here instead of in a vague schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/answers/" in (tmp_path / "schema.yaml").read_text()


def test_schema_describes_every_operation_with_its_bodies_and_errors() -> None:
    schema = _schema_json(Client())
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == set(OPERATIONS)
    for (path, method), (request_component, response_component) in OPERATIONS.items():
        operation = schema["paths"][path][method]
        success = "201" if method == "post" and path.startswith("/api/") else "200"
        assert response_component in _refs(operation["responses"][success]), (path, method)
        assert {"401", "403", "429"} <= set(operation["responses"]), (path, method)
        if path != "/api/search/":  # retrieval/apis.py declares its own
            assert "Retry-After" in operation["responses"]["429"]["headers"], (path, method)
        if request_component:
            assert request_component in _refs(operation["requestBody"]), (path, method)
        if request_component or path == "/api/search/":
            assert "400" in operation["responses"], (path, method)
        if "{" in path:
            assert "404" in operation["responses"], (path, method)
            assert operation["parameters"][0]["schema"]["type"] == "integer"
        assert {"bearerAuth"} <= {name for requirement in operation["security"] for name in requirement}
    components = schema["components"]["schemas"]
    statement = components["Statement"]["properties"]
    assert statement["citations"]["items"]["$ref"].endswith("/VerifiedCitation")
    assert {"quote", "quote_start", "quote_end", "quote_found", "support"} <= set(
        components["VerifiedCitation"]["properties"]
    )
    assert set(components["ClinicalSections"]["properties"]) == {"differential", "examinations", "medications",
                                                                 "red_flags"}
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        **schema["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"
    }
    streamed = schema["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(streamed) == {"application/json", "text/event-stream"}


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_from_this_server(page: str) -> None:
    response = Client().get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "cdn." not in html and "https://" not in html  # the sidecar's files, not a CDN
    assets = [part.split('"')[0] for part in html.split('src="')[1:]]
    assert assets and all(asset.startswith("/static/") for asset in assets), assets


@pytest.mark.django_db(transaction=True)
def test_docs_pages_render_under_the_content_security_policy(live_server, browser: Browser) -> None:
    """In Chromium: both pages draw every operation from the schema, and the CSP refuses nothing they load."""
    for path, operation in [("/api/docs/", ".opblock-summary"), ("/api/redoc/", "text=Ask a question")]:
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda message, refused=refused: refused.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector(operation, state="attached", timeout=30_000)
        assert page.get_by_text("Ask a question of document sets").count() >= 1, path
        # Redoc's bundle shows its vendor's logo from their CDN; the CSP keeping that out is the point.
        refused = [text for text in refused if "cdn.redoc.ly/redoc/logo-mini.svg" not in text]
        assert not refused, (path, refused)
        page.close()


@pytest.fixture
def sample_collection(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


def _grounded_answer(*, user, collection: Collection) -> Answer:
    """An answer as the service stores one, its statements verified for real against indexed passages."""
    chunks = list(Chunk.objects.filter(collection=collection).select_related("document").order_by("id")[:3])
    sentence = chunks[0].text.split("\n")[-1][:120]
    verified = [
        statement_verify(index=0, draft=DraftStatement(sentence, [Citation(1, quote=sentence)]), passages=chunks,
                         threshold=0.4),
        statement_verify(index=1, draft=DraftStatement("The moon is made of cheese.", [Citation(2, quote="cheese")]),
                         passages=chunks, threshold=0.4),
    ]
    answer = Answer.objects.create(
        user=user, question="What does the guideline say?", text="…", grounded=True, passages=[c.id for c in chunks],
        statements=[s.as_dict() for s in verified], supported_share=0.5,
        citations=[passage_dict(number=1, chunk=chunks[0])], timings={"retrieval_ms": 12.5, "ttft_ms": None},
    )
    answer.collections.set([collection.id])
    return answer


def test_stored_records_read_back_as_the_schema_says(sample_collection: Collection, api_schema) -> None:
    user = user_create("reader")
    token = Token.objects.create(user=user).key
    answer = _grounded_answer(user=user, collection=sample_collection)
    assert answer.statements[0]["supported"] and answer.statements[0]["citations"]  # a real citation to check
    ungrounded = Answer.objects.create(user=user, question="?", text="no", passages=answer.passages)
    report = ClinicalReport.objects.create(
        user=user, complaint="chest pain", age=None, passages=answer.passages,
        sections={"differential": [{"section": "differential", "diagnosis": "x", **answer.statements[0]}]},
    )
    match = PolicyMatchRecord.objects.create(user=user, profile={"city": "深圳"}, policies=[{
        "document_id": 1, "document_title": "t", "conditions": [], "benefits": [], "unsupported": [],
        "passages": [], "timings": {}, "error": "", "counts": {"met": 0}, "all_met": False, "to_qualify": [],
    }])
    reads = [
        ("/api/answers/{answer_id}/", {"answer_id": answer.id}),
        ("/api/answers/{answer_id}/", {"answer_id": ungrounded.id}),
        ("/api/clinical-reports/{report_id}/", {"report_id": report.id}),
        ("/api/clinical-reports/", {}),
        ("/api/policy-matches/{match_id}/", {"match_id": match.id}),
        ("/api/policy-matches/", {}),
        ("/v1/models", {}),
    ]
    for path, parameters in reads:
        case = api_schema[path]["GET"].Case(path_parameters=parameters, headers=bearer(token))
        response = case.call()
        assert response.status_code == 200, (path, response.text[:300])
        case.validate_response(response, checks=CONFORMANCE_CHECKS)
    body = Client(headers=bearer(token)).get(f"/api/answers/{ungrounded.id}/").json()
    assert body["closest_passages"] and body["closest_passages"][0]["chunk_id"] == answer.passages[0]
