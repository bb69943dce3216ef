"""The saved answer page and the passage page, rendered from stored answers over real passages (no model call)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from assistant.answers.apis import AnswerOutputSerializer
from assistant.grounding.citations import statements_for_display
from assistant.models import Answer
from ingestion.models import Chunk, Collection, Document
from tests.factories import collection_grant, user_create

pytestmark = pytest.mark.django_db

PASSAGE_TEXT = "诊室血压≥140/90 mmHg 可诊断为高血压。<b>家庭血压</b>≥135/85 mmHg 亦可参考。"
QUOTE = "诊室血压≥140/90 mmHg 可诊断为高血压"


@pytest.fixture
def chunks() -> list[Chunk]:
    collection = collection_grant(Collection.objects.create(name="指南"))
    document = Document.objects.create(collection=collection, title="高血压示例指南", original_name="g.md",
                                       status=Document.Status.INDEXED)
    texts = [PASSAGE_TEXT, "第二段：生活方式干预。", "Third passage about sodium.", "Fourth passage."]
    return [
        Chunk.objects.create(document=document, collection=collection, ordinal=i, text=text,
                             section_path="第二章 诊断 > 2.1 标准", page_start=3, page_end=4,
                             char_start=i * 100, char_end=i * 100 + len(text))
        for i, text in enumerate(texts)
    ]


@pytest.fixture
def client_signed_in() -> Client:
    client = Client()
    client.force_login(user_create("reader"))
    return client


def _citation(chunk: Chunk, number: int, quote: str) -> dict:
    start = chunk.text.index(quote)
    return {"number": number, "chunk_id": chunk.id, "document_id": chunk.document_id,
            "document_title": chunk.document.title, "section_path": chunk.section_path, "page_start": 3,
            "page_end": 4, "quote": quote, "quote_start": start, "quote_end": start + len(quote),
            "quote_found": True, "support": 0.9}


def _answer(chunks: list[Chunk], user, *, grounded: bool) -> Answer:
    cited = _citation(chunks[0], 1, QUOTE)
    statements = [
        {"index": 0, "text": "诊室血压≥140/90 mmHg 可诊断为高血压。", "supported": True, "support": 0.9,
         "method": "cited", "citations": [cited]},
        {"index": 1, "text": "每天应服用三种降压药。", "supported": False, "support": 0.1, "method": "unsupported",
         "citations": [_citation(chunks[1], 2, "生活方式干预")]},
    ]
    return Answer.objects.create(
        user=user, question="高血压的诊断标准是什么？", language="zh", grounded=grounded,
        text="诊室血压≥140/90 mmHg 可诊断为高血压[1]。" if grounded else "所选文档中没有找到能回答这个问题的依据。",
        passages=[c.id for c in chunks], citations=[{k: cited[k] for k in list(cited)[:7]}] if grounded else [],
        statements=statements if grounded else [], supported_share=0.5 if grounded else None,
        unsupported_statement_count=1 if grounded else 0, reasoning="先看诊断标准一节。",
        model="qwen", timings={"retrieval_ms": 12.5, "ttft_ms": 800.0, "reasoning_tokens": 40, "answer_tokens": 30,
                               "total_ms": 4321.0},
    )


def test_answer_page_links_each_citation_to_its_quote_and_marks_unsupported(chunks, client_signed_in) -> None:
    answer = _answer(chunks, get_user_model().objects.get(), grounded=True)

    html = client_signed_in.get(f"/answers/{answer.id}/").content.decode()

    start = PASSAGE_TEXT.index(QUOTE)
    assert f'href="/passages/{chunks[0].id}/?q={start}-{start + len(QUOTE)}"' in html
    unsupported = re.search(r'<span class="statement unsupported">(.*?)</span></span>', html, re.S).group(1)
    assert "每天应服用三种降压药" in unsupported and "not supported by the documents" in unsupported
    assert "/passages/" not in unsupported  # flagged, not linked to the evidence that fell short
    supported = re.search(r'<span class="statement supported">(.*?)</span>', html, re.S).group(1)
    # the marker before the closing punctuation, as in the answer text; no space before it in Chinese
    assert ">[1]</a>。" in supported and "诊断为高血压<a" in supported
    assert '<details class="reasoning" id="reasoning">' in html and "先看诊断标准一节。" in html
    timings = re.search(r'<p class="timings" id="timings">(.*?)</p>', html, re.S).group(1)
    for figure in ("12.5 ms", "800.0 ms", "40", "30", "4321.0 ms"):
        assert figure in timings
    assert "50%" in html  # supported share


def test_ungrounded_answer_page_lists_the_closest_passages(chunks, client_signed_in) -> None:
    answer = _answer(chunks, get_user_model().objects.get(), grounded=False)

    html = client_signed_in.get(f"/answers/{answer.id}/").content.decode()

    assert 'class="answer no-evidence"' in html and "没有找到能回答这个问题的依据" in html
    closest = re.search(r'<ol class="plain" id="closest-passages">(.*?)</ol>', html, re.S).group(1)
    assert [int(i) for i in re.findall(r'/passages/(\d+)/', closest)] == [c.id for c in chunks[:3]]


def test_answer_serializer_closest_passages_only_when_not_grounded(chunks) -> None:
    grounded = AnswerOutputSerializer(_answer(chunks, None, grounded=True)).data
    ungrounded = AnswerOutputSerializer(_answer(chunks, None, grounded=False)).data

    assert grounded["closest_passages"] == [] and grounded["supported_share"] == 0.5
    assert "verdict" in grounded
    assert [p["chunk_id"] for p in ungrounded["closest_passages"]] == [c.id for c in chunks[:3]]
    assert ungrounded["closest_passages"][0] == {
        "number": 1, "chunk_id": chunks[0].id, "document_id": chunks[0].document_id, "document_title": "高血压示例指南",
        "section_path": "第二章 诊断 > 2.1 标准", "page_start": 3, "page_end": 4, "issued_as": "",
        "superseded_by": None}


def test_passage_page_marks_the_quoted_span(chunks, client_signed_in) -> None:
    start = PASSAGE_TEXT.index(QUOTE)

    html = client_signed_in.get(f"/passages/{chunks[0].id}/?q={start}-{start + len(QUOTE)}").content.decode()

    assert f'<mark class="quote" id="quote">{QUOTE}</mark>' in html
    assert "&lt;b&gt;家庭血压&lt;/b&gt;" in html  # the passage's text is escaped around the mark
    assert "高血压示例指南" in html and "第二章 诊断 &gt; 2.1 标准" in html and "pp. 3-4" in html


@pytest.mark.parametrize("query", ["", "abc", "9-3", "5-", "-1-4"])
def test_passage_page_without_a_valid_span_marks_nothing(chunks, client_signed_in, query: str) -> None:
    html = client_signed_in.get(f"/passages/{chunks[0].id}/?q={query}").content.decode()
    assert "<mark" not in html and "诊室血压≥140/90" in html


def test_passage_page_span_past_the_end_is_cut_to_the_text(chunks, client_signed_in) -> None:
    html = client_signed_in.get(f"/passages/{chunks[2].id}/?q=6-999").content.decode()
    assert '<div class="passage" id="passage-text">Third <mark class="quote" id="quote">passage about sodium.</mark>' \
           '</div>' in html


def test_latin_statements_keep_a_space_before_their_markers(chunks) -> None:
    cited = _citation(chunks[2], 3, "sodium")
    english, chinese = statements_for_display(
        statements=[{"index": 0, "text": "Limit sodium.", "supported": True, "citations": [cited]},
                    {"index": 1, "text": "限制钠盐。", "supported": True, "citations": [cited]}],
        citations=[],
    )
    assert (english.body, english.marker_gap, english.closing) == ("Limit sodium", " ", ".")
    assert (chinese.body, chinese.marker_gap, chinese.closing) == ("限制钠盐", "", "。")
    assert english.citations[0].url == f"/passages/{chunks[2].id}/?q=20-26"
