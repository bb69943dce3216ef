"""The model server unreachable: the question and its retrieval are kept, the reader is told, nothing is guessed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from assistant.answers.services import answer_stream
from assistant.demo.sample_set import sample_set_write
from assistant.models import Answer
from ingestion.models import Collection
from retrieval.access import OPERATOR
from tests.factories import ingest_file

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as probe:  # bound then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_model_server_keeps_question_and_passages(tmp_path: Path, settings) -> None:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    settings.LLM_BASE_URL, settings.LLM_MODEL = f"http://127.0.0.1:{_closed_port()}/v1", "deepseek-r1"
    settings.LLM_TIMEOUT_S = 5

    events = list(answer_stream(user=OPERATOR, question="高血压的诊断标准是什么？",
                                collection_ids=[Collection.objects.get(name="sample").id]))

    assert [e.kind for e in events] == ["retrieval", "error", "done"]
    assert "模型服务暂时不可用" in events[1].data["message"]
    answer = Answer.objects.get(id=events[-1].data["answer_id"])
    assert not answer.grounded and answer.text == events[1].data["message"] and "Connection" in answer.error
    assert len(answer.passages) == len(events[0].data["passages"]) > 0


def test_a_saturated_model_server_queues_the_question_and_says_its_place(tmp_path: Path, settings) -> None:
    """Every generation slot taken: the reader hears the place in line (in the question's language) right after the
    passages, nothing is sent to the server until a slot frees, and then the answer goes ahead (here to a server
    that is down, so it ends with the kept question and passages, not a lost request)."""
    from assistant.grounding.llm.slots import generation_slot

    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    settings.LLM_BASE_URL, settings.LLM_MODEL = f"http://127.0.0.1:{_closed_port()}/v1", "deepseek-r1"
    settings.LLM_TIMEOUT_S, settings.LLM_MAX_CONCURRENT = 5, 1

    with generation_slot() as busy:
        assert list(busy.wait()) == []
        stream = answer_stream(user=OPERATOR, question="What is the first-line antibiotic for pneumonia at home?",
                               collection_ids=[Collection.objects.get(name="sample").id])
        retrieval, queued = next(stream), next(stream)
        assert retrieval.kind == "retrieval" and queued.kind == "queued"
        assert queued.data["ahead"] == 0 and "busy" in queued.data["message"]
    events = list(stream)
    assert [e.kind for e in events] == ["error", "done"]
    answer = Answer.objects.get(id=events[-1].data["answer_id"])
    assert "Connection" in answer.error and answer.question.startswith("What is the first-line")
    assert len(answer.passages) == len(retrieval.data["passages"]) > 0
