"""The model server down, with LLM_MODEL set and left at its default ("the server's first model", which has to be
looked up on the server): every entry (ask page and its stream, REST, OpenAI-compatible, clinician portal, policy
form, and their APIs) gives the same clear "model server unavailable" outcome with the question and the passages
kept, never a server error."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from assistant.demo.sample_set import sample_set_write
from assistant.models import Answer, ClinicalReport, PolicyMatchRecord
from ingestion.models import Collection
from tests.factories import ingest_file

pytestmark = pytest.mark.django_db

UNAVAILABLE_EN = "model server is unavailable or timed out"
UNAVAILABLE_ZH = "模型服务暂时不可用或超时"
FRAME = re.compile(r"event: (\w+)\ndata: (.*?)\n\n", re.DOTALL)
POLICY_FORM = {
    "province": "广东省", "city": "深圳市", "industry": "软件和信息技术服务业", "enterprise_type": "有限责任公司",
    "size": "small", "employees": "120",
}  # fmt: skip


@pytest.fixture
def sample(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


@pytest.fixture(params=["", "deepseek-r1"], ids=["LLM_MODEL unset", "LLM_MODEL set"])
def server_down(request: pytest.FixtureRequest, settings) -> Iterator[None]:
    with socket.socket() as probe:  # bound then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        settings.LLM_BASE_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    settings.LLM_MODEL, settings.LLM_TIMEOUT_S = request.param, 2
    yield


@pytest.fixture
def client() -> Client:
    client = Client(raise_request_exception=False)  # a server error must show as a 500, not as a test exception
    client.force_login(User.objects.create_superuser("faults", password="pw-faults"))
    return client


def _events(response) -> list[tuple[str, dict]]:
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content).decode()
    return [(kind, json.loads(data)) for kind, data in FRAME.findall(body)]


def test_ask_page_stream_and_rest_api(sample: Collection, server_down: None, client: Client) -> None:
    posted = client.post("/", {"question": "Which antibiotics treat community-acquired pneumonia?",
                               "collections": [sample.id]})
    assert posted.status_code == 302, posted.content[:300]
    page = client.get(posted["Location"])
    assert page.status_code == 200 and UNAVAILABLE_EN in page.content.decode()

    streamed = client.post("/answers/stream/", {"question": "高血压的诊断标准是什么？", "collections": [sample.id]})
    events = _events(streamed)
    kinds = [kind for kind, _ in events]
    assert kinds == ["retrieval", "error", "done"] and events[0][1]["passages"]
    assert UNAVAILABLE_ZH in events[1][1]["message"] and events[2][1]["answer"]["grounded"] is False

    api = client.post("/api/answers/", {"question": "What is the target?", "collections": [sample.name]},
                      content_type="application/json")
    assert api.status_code == 201 and UNAVAILABLE_EN in api.json()["text"]
    for answer in Answer.objects.all():  # the question and the passages are kept with the error
        assert answer.question and answer.passages and answer.error and not answer.grounded


def test_openai_compatible_api(sample: Collection, server_down: None, client: Client) -> None:
    body = {"model": "sample", "messages": [{"role": "user", "content": "What is the target blood pressure?"}]}
    completion = client.post("/v1/chat/completions", body, content_type="application/json")
    assert completion.status_code == 200, completion.content[:300]
    assert UNAVAILABLE_EN in completion.json()["choices"][0]["message"]["content"]

    streamed = client.post("/v1/chat/completions", {**body, "stream": True}, content_type="application/json")
    assert streamed.status_code == 200
    text = b"".join(streamed.streaming_content).decode()
    assert UNAVAILABLE_EN in text and '"server_error"' in text and text.endswith("data: [DONE]\n\n")


def test_clinician_portal_and_its_api(sample: Collection, server_down: None, client: Client) -> None:
    events = _events(client.post("/clinical/stream/", {"complaint": "头痛，血压160/100 mmHg",
                                                       "collections": [sample.id]}))
    assert [kind for kind, _ in events] == ["retrieval", "error", "done"]
    assert UNAVAILABLE_ZH in events[1][1]["message"] and "主诉" in events[1][1]["message"]

    api = client.post("/api/clinical-reports/", {"complaint": "fever and cough", "collections": [sample.name]},
                      content_type="application/json")
    assert api.status_code == 201 and api.json()["error"]
    for report in ClinicalReport.objects.all():
        assert report.complaint and report.passages and report.error


def test_policy_form_and_its_api(sample: Collection, server_down: None, client: Client) -> None:
    events = _events(client.post("/policies/stream/", {**POLICY_FORM, "collections": [sample.id]}))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done" and "error" in kinds
    assert all(UNAVAILABLE_ZH in data["message"] or UNAVAILABLE_EN in data["message"]
               for kind, data in events if kind == "error")

    api = client.post("/api/policy-matches/", {"city": "深圳市", "size": "small", "collections": [sample.name]},
                      content_type="application/json")
    assert api.status_code == 201, api.content[:300]
    for record in PolicyMatchRecord.objects.all():
        assert record.profile and record.error
