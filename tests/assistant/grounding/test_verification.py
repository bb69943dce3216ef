"""Each statement checked against the passage it cites: the quote located, the support measured, the threshold held."""

from __future__ import annotations

import pytest

from assistant.grounding.reply import Citation, DraftStatement
from assistant.grounding.support import CALIBRATED_THRESHOLD
from assistant.grounding.verification import quote_locate, statement_verify
from ingestion.models import Chunk, Collection, Document

PNEUMONIA = (
    "For adults with low-severity community-acquired pneumonia who are treated at home, offer oral amoxicillin "
    "1 g three times daily for 5 days. Reassess after 48 hours if symptoms do not improve."
)
HYPERTENSION = (
    "在未使用降压药物的情况下，非同日3次测量诊室血压，收缩压≥140 mmHg和（或）舒张压≥90 mmHg，可诊断为高血压。"
)
UNRELATED = "Hospital visiting hours are from 9 am to 8 pm every day, and two visitors may stay at a time."


@pytest.fixture
def passages(db) -> list[Chunk]:
    collection = Collection.objects.create(name="verify")
    chunks = []
    for index, (title, text) in enumerate(
        [("Pneumonia guideline", PNEUMONIA), ("高血压指南", HYPERTENSION), ("Visitor policy", UNRELATED)]
    ):
        document = Document.objects.create(
            collection=collection,
            title=title,
            original_name=f"{index}.txt",
            sha256=f"{index:064d}",
            status=Document.Status.INDEXED,
        )
        chunks.append(
            Chunk.objects.create(
                document=document,
                collection=collection,
                ordinal=0,
                text=text,
                char_start=0,
                char_end=len(text),
                section_path="3. Recommendations" if index == 0 else "",
            )
        )
    return chunks


def test_quote_is_located_despite_width_case_spacing_and_ellipsis() -> None:
    span = quote_locate(quote="Offer  ORAL amoxicillin", passage=PNEUMONIA)
    assert span is not None and PNEUMONIA[span.start : span.end] == "offer oral amoxicillin"
    fullwidth = quote_locate(quote="收缩压≥１４０ mmHg", passage=HYPERTENSION)
    assert fullwidth is not None and HYPERTENSION[fullwidth.start : fullwidth.end] == "收缩压≥140 mmHg"
    joined = quote_locate(quote="offer oral amoxicillin ... for 5 days", passage=PNEUMONIA)
    assert joined is not None and PNEUMONIA[joined.start : joined.end].endswith("for 5 days")
    assert quote_locate(quote="offer oral doxycycline", passage=PNEUMONIA) is None
    assert quote_locate(quote="for 5 days ... offer oral amoxicillin", passage=PNEUMONIA) is None  # out of order


def test_statement_with_a_true_quote_is_supported_by_its_citation(passages: list[Chunk]) -> None:
    draft = DraftStatement(
        "Adults treated at home should get oral amoxicillin 1 g three times daily for 5 days.",
        [Citation(1, quote="offer oral amoxicillin 1 g three times daily for 5 days")],
    )
    verified = statement_verify(index=0, draft=draft, passages=passages, threshold=CALIBRATED_THRESHOLD)
    assert verified.supported and verified.method == "cited"
    (citation,) = verified.citations
    assert citation.quote_found and citation.chunk_id == passages[0].id
    assert passages[0].text[citation.quote_start : citation.quote_end] == citation.quote
    assert (citation.document_title, citation.section_path) == ("Pneumonia guideline", "3. Recommendations")


def test_invented_quote_is_replaced_by_the_sentence_that_supports_the_statement(passages: list[Chunk]) -> None:
    draft = DraftStatement("Reassess after 48 hours if symptoms do not improve.", [Citation(1, quote="reassess daily")])
    verified = statement_verify(index=0, draft=draft, passages=passages, threshold=CALIBRATED_THRESHOLD)
    (citation,) = verified.citations
    assert verified.supported and not citation.quote_found
    assert citation.quote == "Reassess after 48 hours if symptoms do not improve."


def test_wrong_passage_number_is_corrected_to_the_supporting_passage(passages: list[Chunk]) -> None:
    draft = DraftStatement("收缩压≥140 mmHg和（或）舒张压≥90 mmHg可诊断为高血压。", [Citation(3, quote="")])
    verified = statement_verify(index=0, draft=draft, passages=passages, threshold=CALIBRATED_THRESHOLD)
    assert verified.supported and verified.method == "matched"
    assert [c.number for c in verified.citations] == [2]


def test_changed_dose_or_unrelated_claim_is_unsupported(passages: list[Chunk]) -> None:
    for text in [
        "Offer oral amoxicillin 3 g three times daily for 10 days.",
        "Visitors must bring a negative influenza test to the ward.",
    ]:
        draft = DraftStatement(text, [Citation(1, quote="offer oral amoxicillin"), Citation(3, quote="")])
        verified = statement_verify(index=0, draft=draft, passages=passages, threshold=CALIBRATED_THRESHOLD)
        assert not verified.supported and verified.method == "unsupported" and verified.citations == []


def test_too_little_to_check_and_invalid_numbers(passages: list[Chunk]) -> None:
    verified = statement_verify(
        index=0,
        draft=DraftStatement("Yes.", [Citation(1, quote="offer")]),
        passages=passages,
        threshold=CALIBRATED_THRESHOLD,
    )
    assert not verified.supported
    draft = DraftStatement("Offer oral amoxicillin 1 g three times daily.", [Citation(9), Citation(1)])
    verified = statement_verify(index=0, draft=draft, passages=passages, threshold=CALIBRATED_THRESHOLD)
    assert verified.supported and verified.invalid_citations == 1
