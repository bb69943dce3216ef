"""Against a real vLLM CPU server with the default local model: cited answers over the sample set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from assistant.services import NO_EVIDENCE_TEXT, question_answer
from ingestion.models import Chunk, Collection
from ingestion.sample_set import SAMPLE_QUESTIONS, sample_set_write
from tests.factories import ingest_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample_collection(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


@pytest.mark.parametrize("question", [q for q in SAMPLE_QUESTIONS if q.get("demo")], ids=lambda q: q["document"])
def test_answer_citations_resolve_to_retrieved_passages(
    local_llm: str, sample_collection: Collection, question: dict
) -> None:
    answer = question_answer(question=question["question"], collection_ids=[sample_collection.id])

    assert answer.grounded, f"model reply was: {answer.raw_reply!r}"
    assert answer.citations and answer.timings["generation_ms"] > 0
    cited_ids = [c["chunk_id"] for c in answer.citations]
    assert set(cited_ids) <= set(answer.passages)  # every citation names a passage that was retrieved and shown
    for citation in answer.citations:
        assert answer.passages[citation["number"] - 1] == citation["chunk_id"]
        chunk = Chunk.objects.select_related("document").get(id=citation["chunk_id"])
        assert (citation["document_title"], citation["section_path"]) == (chunk.document.title, chunk.section_path)
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} == {c["number"] for c in answer.citations}
    cited_text = " ".join(Chunk.objects.filter(id__in=cited_ids).values_list("text", flat=True))
    assert question["expected_phrase"] in cited_text


def test_question_the_documents_do_not_answer_gets_no_guess(local_llm: str, sample_collection: Collection) -> None:
    answer = question_answer(question="What is the capital of France?", collection_ids=[sample_collection.id])
    assert not answer.grounded, answer.raw_reply
    assert answer.text == NO_EVIDENCE_TEXT["en"] and answer.citations == []


def test_api_answers_with_citations(local_llm: str, sample_collection: Collection) -> None:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create_user("doctor"))
    question = next(q for q in SAMPLE_QUESTIONS if q.get("demo") and q["question"].isascii())

    response = client.post("/api/answers/", {"question": question["question"], "collections": ["sample"]},
                           format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grounded"] and body["citations"][0]["document_title"].startswith("Sample Guideline")
    assert all(s["citations"] for s in body["statements"] if s["method"] != "unsupported")
    assert client.get(f"/api/answers/{body['id']}/").json()["text"] == body["text"]
    assert client.post("/api/answers/", {"question": "x", "collections": ["nope"]}, format="json").status_code == 400
