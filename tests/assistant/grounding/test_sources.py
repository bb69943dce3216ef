"""Which source is in force, and where cited sources disagree, through the real grounded run on real documents.

An answer over two editions of 《公共数据资源授权运营实施规范》 (the real trial text of cn_laws and its final edition,
written on it as in tests/ingestion/test_editions.py): the prompt tells the model which passage is superseded, the
stored answer notes it with the edition in force, the REST and OpenAI-compatible responses carry it, the pages show
it. Disagreements on two real laws: 《个人信息保护法》 and 《数据安全法》 fine the persons directly responsible
differently. The model's reply is written by the test (which sentence it cites is what the notes depend on).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from django.test import Client

from assistant.answers.apis import AnswerOutputSerializer
from assistant.answers.services import question_answer
from assistant.grounding.sources import disagreements_find
from assistant.openai.serializers import chat_completion
from ingestion.models import Chunk, Collection, Document
from tests.factories import ingest_bytes, user_create
from tests.ingestion.test_editions import FINAL_TITLE, final_edition_text, ingest_trial
from tests.scripted_llm import ScriptedReply, prompt_sentences, scripted_llm

pytestmark = pytest.mark.django_db
QUESTION = "公共数据资源授权运营的运营机构应当符合哪些要求？"


def _use(server, settings) -> None:
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.LLM_MODEL, settings.LLM_REASONING = "scripted", "off"


@pytest.fixture
def editions(shared_data: Path) -> tuple[Document, Document]:
    trial = ingest_trial(shared_data, "specifications")
    final = ingest_bytes(name="spec_final.txt", content=final_edition_text(shared_data).encode(),
                         collection="specifications")
    assert final.status == Document.Status.INDEXED
    return trial, final


def test_an_answer_citing_the_superseded_edition_says_which_is_in_force(
    editions: tuple[Document, Document], settings
) -> None:
    trial, final = editions
    prompts: list[str] = []

    def cite_the_trial(body: dict) -> ScriptedReply:
        prompt = "\n".join(m["content"] for m in body["messages"] if isinstance(m.get("content"), str))
        prompts.append(prompt)
        sentences = prompt_sentences(body)
        # The first passage of the trial (the superseded edition), by its header line in the prompt.
        number = next(line.split("]")[0].lstrip("[") for line in prompt.splitlines()
                      if line.startswith("[") and f"已被《{FINAL_TITLE}》取代" in line)
        cite = max((i for i in sentences if i.startswith(f"{number}.")), key=lambda i: len(sentences[i]))
        return ScriptedReply(json.dumps({"statements": [{"text": sentences[cite], "cite": [cite]}]},
                                        ensure_ascii=False))

    reader = user_create("reader")
    with scripted_llm(cite_the_trial) as server:
        _use(server, settings)
        answer = question_answer(question=QUESTION, collection_ids=[trial.collection_id], user=reader)

    # The edition in force comes first in the prompt; the trial's passages are there, marked.
    passages = [Chunk.objects.get(id=i).document_id for i in answer.passages]
    assert passages[0] == final.id and trial.id in passages
    assert any(f"已被《{FINAL_TITLE}》取代" in line for line in prompts[0].splitlines())

    assert answer.grounded
    (note,) = answer.sources["superseded"]
    assert (note["document_id"], note["cited"]) == (trial.id, True)
    assert note["by"]["document_id"] == final.id and note["by"]["kind"] == "edition"
    assert note["by"]["issued_on"] == date(2026, 3, 1).isoformat()
    assert note["passage_numbers"] == [n for n, d in enumerate(passages, start=1) if d == trial.id]
    (citation,) = answer.citations
    assert citation["superseded_by"]["document_title"] == FINAL_TITLE

    # REST and OpenAI-compatible responses carry it.
    rest = AnswerOutputSerializer(answer).data
    assert rest["sources"]["superseded"][0]["by"]["document_id"] == final.id
    assert rest["citations"][0]["superseded_by"]["superseded"] is True
    completion = chat_completion(answer=rest, model="yiju", created=0)
    assert completion["yiju"]["sources"]["superseded"][0]["document_id"] == trial.id

    # The answer page and the trial's passage page say so, in Chinese and in English.
    client = Client()
    client.force_login(reader)
    page = client.get(f"/answers/{answer.id}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"《{trial.title}》已被《{FINAL_TITLE}》取代" in page and "请以现行文件为准" in page
    english = client.get(f"/answers/{answer.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "was superseded by" in english and "check the document in force" in english
    passage = client.get(f"/passages/{citation['chunk_id']}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="document-superseded"' in passage and "Not in force" in passage
    in_force = client.get(f"/documents/{final.id}/")
    assert in_force.status_code == 302 and Chunk.objects.get(
        id=int(in_force["Location"].rstrip("/").rsplit("/", 1)[1])).document_id == final.id


def test_a_reader_who_cannot_read_the_newer_edition_is_told_nothing(
    editions: tuple[Document, Document], settings
) -> None:
    """The final edition moved to a set granted to no group (admins only): a reader of the trial's set is not told
    of it, neither in the notes nor in the citations."""
    trial, final = editions
    other = Collection.objects.create(name="final only")
    Document.objects.filter(id=final.id).update(collection=other)
    Chunk.objects.filter(document=final).update(collection=other)
    reader = user_create("reader")

    def cite_first(body: dict) -> ScriptedReply:
        sentences = prompt_sentences(body)
        cite = max(sentences, key=lambda i: len(sentences[i]))
        return ScriptedReply(json.dumps({"statements": [{"text": sentences[cite], "cite": [cite]}]},
                                        ensure_ascii=False))

    with scripted_llm(cite_first) as server:
        _use(server, settings)
        answer = question_answer(question=QUESTION, collection_ids=[trial.collection_id], user=reader)
    assert answer.grounded and answer.sources["superseded"] == []
    assert all(c["superseded_by"] is None for c in answer.citations)


def test_two_real_laws_fining_the_responsible_persons_differently_are_flagged(shared_data: Path) -> None:
    laws = {}
    for key, issued in (("pip_law", date(2021, 8, 20)), ("data_sec_law", date(2021, 6, 10))):
        document = ingest_bytes(name=f"{key}.txt", collection="laws",
                                content=(shared_data / "cn_laws" / f"{key}.txt").read_bytes())
        assert document.status == Document.Status.INDEXED and document.issued_on == issued, document.issued_on
        laws[key] = document
    pip_sentence = "对直接负责的主管人员和其他直接责任人员处十万元以上一百万元以下罚款"
    dsl_sentence = "对直接负责的主管人员和其他直接责任人员处一万元以上十万元以下罚款"

    def cited(key: str, sentence: str) -> tuple[Chunk, dict]:
        chunk = next(c for c in Chunk.objects.filter(document=laws[key]).select_related("document")
                     if sentence in c.text)
        start = chunk.text.index(sentence)
        return chunk, {"chunk_id": chunk.id, "quote": chunk.text[start:start + len(sentence)] + "。"}

    (pip_chunk, pip_citation), (dsl_chunk, dsl_citation) = cited("pip_law", pip_sentence), cited(
        "data_sec_law", dsl_sentence)
    (found,) = disagreements_find(chunks=[pip_chunk, dsl_chunk], citations=[pip_citation, dsl_citation])
    assert {v["value"] for v in found["values"]} == {"十万元以上一百万元以下", "一万元以上十万元以下"}
    assert [v["number"] for v in found["values"]] == [1, 2] and found["dimension"] == "money"
    assert found["newer_document_id"] == laws["pip_law"].id  # 2021-08-20 against 2021-06-10
    assert "罚款" in found["subject"]
    # One document never disagrees with itself, and equal values are no disagreement.
    assert disagreements_find(chunks=[pip_chunk], citations=[pip_citation, pip_citation]) == []
    same = {"chunk_id": dsl_chunk.id, "quote": pip_sentence + "。"}
    assert disagreements_find(chunks=[pip_chunk, dsl_chunk], citations=[pip_citation, same]) == []
