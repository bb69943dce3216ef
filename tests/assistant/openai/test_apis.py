"""The OpenAI-compatible endpoint through the real `openai` client against a live server."""

from __future__ import annotations

import re
from pathlib import Path

import openai
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from assistant.demo.sample_set import SAMPLE_QUESTIONS, sample_set_write
from assistant.models import Answer
from ingestion.models import Chunk, Collection, Document
from tests.factories import collection_grant, ingest_file, user_create

MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture
def token() -> str:
    return Token.objects.create(user=user_create("client-app")).key


@pytest.fixture
def client(live_server, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0, timeout=300)


@pytest.fixture
def sample_collection(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


def _assert_citations_are_quotes_of_the_collection(citations: list[dict], collection: Collection) -> None:
    assert citations
    for citation in citations:
        chunk = Chunk.objects.select_related("document").get(id=citation["chunk_id"])
        assert chunk.collection_id == collection.id
        assert (citation["document_title"], citation["section_path"]) == (chunk.document.title, chunk.section_path)
        assert citation["quotes"], citation
        for quote in citation["quotes"]:
            assert quote["quote"] and quote["quote"] in chunk.text
            assert chunk.text[quote["quote_start"]:quote["quote_end"]] == quote["quote"]


@pytest.mark.django_db(transaction=True)
def test_models_lists_askable_sets(client: openai.OpenAI) -> None:
    askable = collection_grant(Collection.objects.create(name="guidelines"))
    Document.objects.create(collection=askable, original_name="a.md", status=Document.Status.INDEXED)
    Collection.objects.create(name="empty")  # nothing indexed yet: not askable

    assert [m.id for m in client.models.list()] == ["yiju", "guidelines"]


@pytest.mark.django_db(transaction=True)
def test_unknown_model_is_a_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="no-such-set", messages=[{"role": "user", "content": "hi"}])
    error = raised.value.body
    assert raised.value.status_code == 404
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert "no-such-set" in error["message"]

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="yiju", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"collections": ["missing"]})


@pytest.mark.django_db(transaction=True)
def test_bad_key_is_a_401_in_openai_shape(live_server) -> None:
    bad = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="not-a-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        bad.models.list()
    assert raised.value.status_code == 401 and set(raised.value.body) == {"message", "type", "param", "code"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "x", "messages": []}, "messages"),
        ({"model": "x", "messages": [{"role": "system", "content": "be brief"}]}, "messages"),
        ({"model": "x", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": "perhaps"}, "stream"),
    ],
)
def test_bad_body_is_a_400_in_openai_shape(body: dict, param: str) -> None:
    api = APIClient()
    api.force_authenticate(user_create("someone"))

    response = api.post("/v1/chat/completions", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == param


@pytest.mark.django_db(transaction=True)
def test_completion_answers_with_cited_quotes(local_llm: str, client: openai.OpenAI,
                                              sample_collection: Collection) -> None:
    question = next(q for q in SAMPLE_QUESTIONS if q.get("demo") and q["question"].isascii())

    completion = client.chat.completions.create(
        model="sample",
        messages=[{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hi."}, {"role": "user", "content": question["question"]}],
    )

    extra = completion.model_extra
    yiju = extra["yiju"]
    answer = Answer.objects.get(id=yiju["answer_id"])
    assert answer.question == question["question"]  # the last user message is the question
    message = completion.choices[0].message
    assert completion.object == "chat.completion" and completion.model == "sample"
    assert message.content == answer.text and message.model_extra["reasoning_content"] == answer.reasoning
    assert yiju["grounded"], answer.raw_reply
    assert yiju["supported_share"] == answer.supported_share and yiju["statements"] == answer.statements
    assert yiju["timings"]["total_ms"] == answer.timings["total_ms"]
    citations = extra["citations"]
    _assert_citations_are_quotes_of_the_collection(citations, sample_collection)
    assert {int(n) for n in MARKER.findall(message.content)} == {c["number"] for c in citations}
    assert question["expected_phrase"] in " ".join(Chunk.objects.get(id=c["chunk_id"]).text for c in citations)
    assert completion.usage.completion_tokens > 0


@pytest.mark.django_db(transaction=True)
def test_streamed_completion_sends_reasoning_content_and_citations(local_llm: str, client: openai.OpenAI,
                                                                   sample_collection: Collection) -> None:
    question = next(q for q in SAMPLE_QUESTIONS if q["question"] == "高血压的诊断标准是什么？")

    chunks = list(client.chat.completions.create(
        model="yiju", messages=[{"role": "user", "content": question["question"]}], stream=True,
        extra_body={"collections": ["sample"]},
    ))

    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and all(c.choices[0].finish_reason is None for c in chunks[:-1])
    yiju, citations = last.model_extra["yiju"], last.model_extra["citations"]
    answer = Answer.objects.get(id=yiju["answer_id"])
    assert yiju["grounded"], answer.raw_reply
    assert content == answer.text == yiju["text"]  # the statements streamed add up to the stored answer
    assert reasoning.strip() == answer.reasoning
    _assert_citations_are_quotes_of_the_collection(citations, sample_collection)
    assert {int(n) for n in MARKER.findall(content)} == {c["number"] for c in citations}
