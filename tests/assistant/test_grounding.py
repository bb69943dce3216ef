"""Statements are kept only where a passage supports them; reasoning is split from the answer."""

from __future__ import annotations

from types import SimpleNamespace

from assistant.grounding import answer_ground, support_score
from assistant.llm.client import reply_split

PASSAGES = [
    SimpleNamespace(text="高血压的诊断标准：非同日3次测量诊室血压，收缩压≥140 mmHg和（或）舒张压≥90 mmHg。"),
    SimpleNamespace(text="For adults treated at home, offer oral amoxicillin 1 g three times daily for 5 days."),
    SimpleNamespace(text="The CURB-65 score gives one point for each of 5 criteria."),
]


def test_cited_statement_supported_by_its_passage_is_kept_with_its_citation() -> None:
    grounded = answer_ground(answer="Offer oral amoxicillin 1 g three times daily [2].", passages=PASSAGES,
                             threshold=0.5)
    [statement] = grounded.statements
    assert statement.citations == [2] and statement.method == "model"
    assert grounded.text == "Offer oral amoxicillin 1 g three times daily [2]."


def test_wrong_citation_is_moved_to_the_passage_that_supports_the_statement() -> None:
    grounded = answer_ground(answer="诊室血压≥140/90 mmHg可诊断为高血压[3]。", passages=PASSAGES, threshold=0.5)
    [statement] = grounded.statements
    assert statement.citations == [1] and statement.method == "matched"
    assert grounded.text == "诊室血压≥140/90 mmHg可诊断为高血压[1]。"


def test_unsupported_and_invalid_citations_are_removed_and_counted() -> None:
    answer = "Offer amoxicillin 1 g three times daily [2][7]. Paris is the capital of France [1]. 2+2 = 4 [3]."
    grounded = answer_ground(answer=answer, passages=PASSAGES, threshold=0.5)

    assert grounded.invalid_citation_count == 1
    assert [s.method for s in grounded.statements] == ["model", "unsupported", "unsupported"]
    assert grounded.text == "Offer amoxicillin 1 g three times daily [2]."


def test_support_score_counts_shared_terms() -> None:
    assert support_score("oral amoxicillin three times daily", PASSAGES[1].text) == 1.0
    assert support_score("intravenous ceftriaxone", PASSAGES[1].text) == 0.0
    assert 0 < support_score("收缩压≥140 mmHg 提示肾病", PASSAGES[0].text) < 1


def test_reasoning_is_split_from_the_answer() -> None:
    from_field = reply_split(content="The dose is 1 g [1].", reasoning_content="Passage 1 gives the dose.")
    assert (from_field.reasoning, from_field.answer) == ("Passage 1 gives the dose.", "The dose is 1 g [1].")

    think_block = reply_split(content="<think>Look at [2].</think>\n\nAnswer here [2].")
    assert (think_block.reasoning, think_block.answer) == ("Look at [2].", "Answer here [2].")

    # R1's chat template opens <think> itself, so replies often carry only the closing tag.
    closing_only = reply_split(content="Weighing passages.\n</think>\nFinal [1].")
    assert (closing_only.reasoning, closing_only.answer) == ("Weighing passages.", "Final [1].")
    assert reply_split(content="Plain answer [1].").reasoning == ""
