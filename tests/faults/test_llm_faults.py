"""The model server down or slow: the reader gets a clear message, the retrieved passages are still shown, and the
question is kept with them; nothing waits forever."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from assistant.answers.services import answer_stream
from assistant.demo.sample_set import sample_set_write
from assistant.models import Answer
from ingestion.models import Collection
from retrieval.access import OPERATOR
from tests.factories import ingest_file
from tests.faults.stalling_server import StallingServer

pytestmark = pytest.mark.django_db

QUESTION_ZH = "高血压的诊断标准是什么？"
QUESTION_EN = "Which antibiotics treat community-acquired pneumonia?"


@pytest.fixture
def sample(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


@pytest.fixture
def model_server(request: pytest.FixtureRequest, settings) -> Iterator[StallingServer | None]:
    """The model server as the test's parameter has it: "down" (nothing listens), "silent" or "headers" (stalls)."""
    settings.LLM_MODEL, settings.LLM_TIMEOUT_S = "deepseek-r1", 2
    if request.param == "down":
        with socket.socket() as probe:  # bound then released: nothing listens there
            probe.bind(("127.0.0.1", 0))
            settings.LLM_BASE_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
        yield None
        return
    server = StallingServer(mode=request.param)
    settings.LLM_BASE_URL = server.base_url
    yield server
    server.close()


@pytest.mark.parametrize("model_server", ["silent", "headers"], indirect=True)
def test_slow_model_server_times_out_with_a_clear_message_keeping_question_and_passages(
    sample: Collection, model_server: StallingServer
) -> None:
    events = list(answer_stream(user=OPERATOR, question=QUESTION_ZH, collection_ids=[sample.id]))

    assert model_server.requested.is_set()  # the request reached the server, which then stalled
    assert [e.kind for e in events] == ["retrieval", "error", "done"]
    assert events[0].data["passages"], "retrieval is shown although the model never answers"
    assert "模型服务暂时不可用或超时" in events[1].data["message"]
    answer = Answer.objects.get(id=events[-1].data["answer_id"])
    assert answer.question == QUESTION_ZH and not answer.grounded
    assert answer.text == events[1].data["message"] and "Timeout" in answer.error
    assert answer.passages == [p["chunk_id"] for p in events[0].data["passages"]]


@pytest.mark.parametrize("model_server", ["down", "silent"], indirect=True)
def test_answer_api_with_the_model_server_down_or_slow_returns_the_passages_and_keeps_the_question(
    sample: Collection, model_server: StallingServer | None
) -> None:
    user = User.objects.create_superuser("faults-api", password="pw-faults-api")
    client = Client()
    client.force_login(user)

    response = client.post("/api/answers/", {"question": QUESTION_EN, "collections": [sample.name]},
                           content_type="application/json")

    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["grounded"] is False and "model server is unavailable or timed out" in body["text"]
    assert body["closest_passages"], "the reader still sees what retrieval found"
    stored = Answer.objects.get(id=body["id"])
    assert stored.question == QUESTION_EN and stored.user == user and stored.error
