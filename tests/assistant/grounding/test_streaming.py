"""The answer page's event stream: server-sent event framing and order, over the sample set with the local model."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from django.test import Client

from assistant.demo.sample_set import SAMPLE_QUESTIONS, sample_set_write
from assistant.models import Answer
from ingestion.models import Chunk, Collection
from tests.factories import ingest_file, user_create

pytestmark = pytest.mark.django_db
FRAME = re.compile(r"event: (retrieval|reasoning|answer|statement|done|error)\ndata: (.+)\n\n", re.DOTALL)


@pytest.fixture
def sample_collection(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


@pytest.fixture
def client_signed_in() -> Client:
    client = Client()
    client.force_login(user_create("clinician"))
    return client


def test_stream_needs_a_signed_in_post(sample_collection: Collection) -> None:
    client = Client()
    response = client.post("/answers/stream/", {"question": "x", "collections": [sample_collection.id]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(user_create("someone"))
    assert client.get("/answers/stream/").status_code == 405


def test_invalid_question_is_one_error_event(client_signed_in: Client, sample_collection: Collection) -> None:
    response = client_signed_in.post("/answers/stream/", {"question": "", "collections": [sample_collection.id]})

    assert response.status_code == 400 and response["Content-Type"].startswith("text/event-stream")
    frames = FRAME.findall(b"".join(response.streaming_content).decode())
    assert [kind for kind, _ in frames] == ["error"]
    assert "question" in json.loads(frames[0][1])["errors"]


def test_stream_sends_retrieval_reasoning_answer_statements_then_done(
    local_llm: str, client_signed_in: Client, sample_collection: Collection
) -> None:
    question = next(q for q in SAMPLE_QUESTIONS if q["question"] == "高血压的诊断标准是什么？")
    started = time.perf_counter()
    response = client_signed_in.post("/answers/stream/",
                                     {"question": question["question"], "collections": [sample_collection.id]})

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    pieces, arrived_ms = [], []
    for piece in response.streaming_content:  # one frame per piece, each sent as soon as it is made
        pieces.append(piece.decode())
        arrived_ms.append((time.perf_counter() - started) * 1000)
    frames = [FRAME.fullmatch(piece) for piece in pieces]
    assert all(frames), [p for p, f in zip(pieces, frames, strict=True) if not f][:3]
    events = [(f.group(1), json.loads(f.group(2))) for f in frames]
    kinds = [kind for kind, _ in events]

    assert kinds[0] == "retrieval" and kinds[-1] == "done" and "error" not in kinds, kinds
    assert kinds.count("done") == 1 and "answer" in kinds and "statement" in kinds
    assert arrived_ms[0] < arrived_ms[-1] - 1000  # retrieval is out long before the answer is done
    if "reasoning" in kinds:  # the model reasons before it answers
        assert max(i for i, k in enumerate(kinds) if k == "reasoning") < kinds.index("answer")

    retrieval = events[0][1]
    assert retrieval["retrieval_ms"] > 0 and [p["number"] for p in retrieval["passages"]] == list(
        range(1, len(retrieval["passages"]) + 1))
    statements = [data for kind, data in events if kind == "statement"]
    assert [s["index"] for s in statements] == list(range(len(statements)))
    for statement in statements:
        for citation in statement["citations"]:
            chunk = Chunk.objects.get(id=citation["chunk_id"])
            assert chunk.text[citation["quote_start"]:citation["quote_end"]] == citation["quote"]
            assert retrieval["passages"][citation["number"] - 1]["chunk_id"] == chunk.id

    done = events[-1][1]
    answer = Answer.objects.get(id=done["answer_id"])
    assert done["answer"]["id"] == answer.id and done["answer"]["text"] == answer.text
    assert answer.passages == [p["chunk_id"] for p in retrieval["passages"]]
    assert answer.reasoning == "".join(d["delta"] for k, d in events if k == "reasoning").strip()
    assert answer.grounded, answer.raw_reply
    assert question["expected_phrase"] in " ".join(
        Chunk.objects.get(id=c["chunk_id"]).text for c in answer.citations)
    streamed_answer = "".join(d["delta"] for k, d in events if k == "answer")
    assert all(s["text"].strip()[:4] in streamed_answer for s in statements)
