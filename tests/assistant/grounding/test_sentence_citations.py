"""Statements cite passage sentences by id, and only finished statements are ever shown: through the real grounded run
(retrieval over the ingested sample set, verification, the stored answer) with a scripted model server that replies
as a model cut short, copying or citing wrongly would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.answers.services import answer_stream, question_answer
from assistant.demo.sample_set import sample_set_write
from assistant.grounding.citations import citation_url
from assistant.grounding.prompts import passages_block
from assistant.grounding.sentences import PassageSentences, sentence_spans
from assistant.models import Answer
from ingestion.models import Chunk, Collection
from retrieval.access import OPERATOR
from tests.factories import ingest_file
from tests.scripted_llm import ScriptedReply, prompt_sentences, scripted_llm

pytestmark = pytest.mark.django_db

QUESTION = "Which antibiotics treat community-acquired pneumonia?"


@pytest.fixture
def sample(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


def _use(server, settings, *, reasoning: str = "off", budget: int | None = None) -> None:
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.LLM_MODEL, settings.LLM_REASONING, settings.LLM_REASONING_BUDGET = "scripted", reasoning, budget


def _statements_json(statements: list[dict]) -> str:
    return json.dumps({"statements": statements}, ensure_ascii=False)


def _longest(sentences: dict[str, str]) -> tuple[str, str]:
    """A sentence with enough to say (so that verification can hold it), and its id."""
    sentence_id = max(sentences, key=lambda key: len(sentences[key]))
    return sentence_id, sentences[sentence_id]


def test_sentences_split_chinese_and_english_and_join_short_fragments() -> None:
    text = ("第一条 为了规范管理，制定本办法。本办法适用于全市；\n（一）\n企业应当依法登记。"
            "Take 500 mg daily. Then stop!")
    parts = [text[s.start : s.end] for s in sentence_spans(text)]
    assert parts == ["第一条 为了规范管理，制定本办法。", "本办法适用于全市；", "（一）\n企业应当依法登记。",
                     "Take 500 mg daily.", "Then stop!"]


def test_the_prompt_numbers_each_sentence_as_the_schema_allows_it(sample: Collection) -> None:
    chunks = list(Chunk.objects.filter(collection=sample).select_related("document")[:2])
    block = passages_block(chunks=chunks, nonce="n0nce")
    ids = PassageSentences.of(chunks).ids()
    assert ids and all(f"[{sentence_id}] " in block for sentence_id in ids)
    assert "[1.1] " in block and "[2.1] " in block


def test_a_statement_cites_a_sentence_and_its_quote_is_that_sentence(sample: Collection, settings) -> None:
    def script(body: dict) -> ScriptedReply:
        cite, sentence = _longest(prompt_sentences(body))
        assert cite in json.dumps(body["response_format"]), "the ids given are the schema's enum"
        return ScriptedReply(_statements_json([{"text": sentence, "cite": [cite]},
                                               {"text": "Nothing here says so at all.", "cite": ["9.9"]}]))

    with scripted_llm(script) as server:
        _use(server, settings)
        answer = question_answer(question=QUESTION, collection_ids=[sample.id], user=OPERATOR)

    shown = answer.statements[0]
    assert shown["supported"] and shown["method"] == "cited"
    citation = shown["citations"][0]
    chunk = Chunk.objects.get(id=citation["chunk_id"])
    assert citation["quote"] == chunk.text[citation["quote_start"] : citation["quote_end"]]
    assert " ".join(citation["quote"].split()) == shown["text"]  # the cited sentence, exactly
    assert answer.invalid_citation_count == 1  # "9.9" names no sentence given


def test_sentences_cited_apart_are_quoted_apart(sample: Collection, settings) -> None:
    """Two non-adjacent sentences of one passage: the quote joins them with " … " and never shows the one between."""
    picked: dict[str, str] = {}

    def script(body: dict) -> ScriptedReply:
        sentences = prompt_sentences(body)
        number = next(n for n in ("1", "2", "3", "4", "5")
                      if all(f"{n}.{i}" in sentences for i in (1, 2, 3)))
        picked.update({i: sentences[f"{number}.{i}"] for i in ("1", "2", "3")})
        return ScriptedReply(_statements_json([{"text": f"{picked['1']} {picked['3']}",
                                                "cite": [f"{number}.1", f"{number}.3"]}]))

    with scripted_llm(script) as server:
        _use(server, settings)
        answer = question_answer(question=QUESTION, collection_ids=[sample.id], user=OPERATOR)

    citation = answer.statements[0]["citations"][0]
    chunk = Chunk.objects.get(id=citation["chunk_id"])
    first, third = ([chunk.text[s:e] for s, e in citation["quote_spans"]] + ["", ""])[:2]
    assert len(citation["quote_spans"]) == 2
    assert " ".join(first.split()) == picked["1"] and " ".join(third.split()) == picked["3"]
    assert citation["quote"] == f"{first} … {third}"
    assert " ".join(picked["2"].split()) not in " ".join(citation["quote"].split())
    spans = ",".join(f"{s}-{e}" for s, e in citation["quote_spans"])
    assert citation_url(citation=citation).endswith(f"?q={spans}")


def test_a_statement_cut_at_the_token_limit_is_never_shown(sample: Collection, settings) -> None:
    def script(body: dict) -> ScriptedReply:
        sentences = prompt_sentences(body)
        cite, sentence = _longest(sentences)
        whole = {"text": sentence, "cite": [cite]}
        cut = _statements_json([whole, {"text": sentence, "cite": [cite]}])
        cut = cut[: cut.rindex(sentence) + len(sentence) // 2]  # the second statement stops mid-sentence
        return ScriptedReply(cut, finish_reason="length")

    with scripted_llm(script) as server:
        _use(server, settings)
        answer = question_answer(question=QUESTION, collection_ids=[sample.id], user=OPERATOR)

    assert len(answer.statements) == 1 and answer.statements[0]["supported"]
    assert answer.timings["unfinished_statements"] == 1
    half = answer.statements[0]["text"][: len(answer.statements[0]["text"]) // 2]
    assert answer.text.count(half) == 1  # the cut copy is nowhere in what is shown


def test_a_statement_copying_reasoning_the_budget_cut_is_never_shown(sample: Collection, settings) -> None:
    copied: list[str] = []

    def script(body: dict) -> ScriptedReply:
        sentences = prompt_sentences(body)
        cite, sentence = _longest(sentences)
        unfinished = sentence.rstrip(".。!?！？;；")[: int(len(sentence) * 0.8)].rstrip()
        if body.get("stop"):  # the reasoning request, stopped at </think> or cut by the budget
            return ScriptedReply(f"The passage says: {unfinished}", finish_reason="length")
        copied.append(unfinished)
        # The copy first, so that it is complete in the stream before the answer ends, then a whole sentence.
        return ScriptedReply(_statements_json([{"text": unfinished, "cite": [cite]},
                                               {"text": sentence, "cite": [cite]}]))

    with scripted_llm(script) as server:
        _use(server, settings, reasoning="prompted", budget=20)
        events = list(answer_stream(question=QUESTION, collection_ids=[sample.id], user=OPERATOR))

    answer = Answer.objects.get(id=events[-1].data["answer_id"])
    assert copied and answer.timings["reasoning_truncated"] is True
    assert [s["text"] for s in answer.statements] != [] and copied[0] not in [s["text"] for s in answer.statements]
    assert all(e.data["text"] != copied[0] for e in events if e.kind == "statement")  # never shown, even streaming
    assert answer.timings["unfinished_statements"] == 1 and answer.grounded
