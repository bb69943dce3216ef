"""How verified statements become the answer text: markers after supported ones, unsupported ones flagged or removed."""

from __future__ import annotations

from assistant.answers.services import answer_text
from assistant.grounding.verification import VerifiedCitation, VerifiedStatement


def _statement(index: int, text: str, numbers: list[int]) -> VerifiedStatement:
    citations = [VerifiedCitation(n, 10 + n, 1, "Guide", "", None, None, "q", 0, 1, True, 0.9) for n in numbers]
    return VerifiedStatement(index, text, bool(numbers), 0.9 if numbers else 0.1,
                             "cited" if numbers else "unsupported", citations)


STATEMENTS = [_statement(0, "Offer amoxicillin.", [2, 1, 2]), _statement(1, "Paris is in France.", []),
              _statement(2, "Treat for 5 days", [3])]


def test_unsupported_statements_are_flagged_when_marking(settings) -> None:
    settings.ANSWER_UNSUPPORTED = "mark"
    assert answer_text(statements=STATEMENTS, language="en") == (
        "Offer amoxicillin [2][1]. Paris is in France (not supported by the documents). Treat for 5 days [3]."
    )


def test_unsupported_statements_are_left_out_when_removing(settings) -> None:
    settings.ANSWER_UNSUPPORTED = "remove"
    assert answer_text(statements=STATEMENTS, language="en") == "Offer amoxicillin [2][1]. Treat for 5 days [3]."


def test_chinese_statements_join_without_spaces(settings) -> None:
    settings.ANSWER_UNSUPPORTED = "mark"
    statements = [_statement(0, "收缩压≥140 mmHg可诊断为高血压。", [1]), _statement(1, "巴黎是法国首都", [])]
    assert answer_text(statements=statements, language="zh") == (
        "收缩压≥140 mmHg可诊断为高血压[1]。巴黎是法国首都（文档不支持此句）。"
    )
