"""Reading the model's reply back: constrained JSON, JSON cut short while streaming, JSON in prose, plain prose."""

from __future__ import annotations

import json

from assistant.grounding.reply import (
    answer_parse,
    finished_statements,
    is_yes_no_question,
    response_format,
    verdict_prefix,
    verdict_read,
)

REPLY = {
    "statements": [
        {"text": "Offer amoxicillin 1 g three times daily.", "citations": [{"passage": 2, "quote": "amoxicillin 1 g"}]},
        {
            "text": "Treat for 5 days.",
            "citations": [{"passage": 2, "quote": "for 5 days"}, {"passage": 1, "quote": ""}],
        },
    ],
    "verdict": "not_applicable",
}


def test_complete_json_reads_statements_citations_and_quotes() -> None:
    draft = answer_parse(json.dumps(REPLY))
    assert draft.parsed_as == "json" and draft.complete and draft.verdict == ""
    assert [s.text for s in draft.statements] == ["Offer amoxicillin 1 g three times daily.", "Treat for 5 days."]
    assert [(c.passage, c.quote) for c in draft.statements[1].citations] == [(2, "for 5 days"), (1, "")]


def test_json_cut_short_gives_only_statements_that_can_no_longer_change() -> None:
    text = json.dumps(REPLY)
    cut = text[: text.index("Treat for") + 5]
    draft = answer_parse(cut, complete=False)
    assert [s.text for s in draft.statements] == ["Offer amoxicillin 1 g three times daily.", "Treat"]
    assert [s.text for s in finished_statements(draft)] == ["Offer amoxicillin 1 g three times daily."]
    assert answer_parse(text[:5], complete=False).statements == []


def test_json_inside_prose_or_a_code_fence_is_found() -> None:
    fenced = "Here is the answer:\n```json\n" + json.dumps({**REPLY, "verdict": "Yes"}) + "\n```"
    draft = answer_parse(fenced)
    assert draft.parsed_as == "json" and len(draft.statements) == 2 and draft.verdict == "yes"


def test_prose_with_markers_is_the_fallback() -> None:
    draft = answer_parse("收缩压≥140 mmHg可诊断为高血压【1，2】。治疗以生活方式为先[3]。")
    assert draft.parsed_as == "prose"
    assert [(s.text, [c.passage for c in s.citations]) for s in draft.statements] == [
        ("收缩压≥140 mmHg可诊断为高血压。", [1, 2]),
        ("治疗以生活方式为先。", [3]),
    ]
    assert answer_parse("NO_ANSWER").statements == []


def test_malformed_citations_are_dropped_not_fatal() -> None:
    text = json.dumps(
        {
            "statements": [
                {"text": "A b c.", "citations": [{"passage": "x"}, {"passage": "3"}, "junk"]},
                {"no_text": 1},
            ],
            "verdict": "perhaps",
        }
    )
    draft = answer_parse(text)
    assert [(c.passage, c.quote) for c in draft.statements[0].citations] == [(3, "")]
    assert len(draft.statements) == 1 and draft.verdict == ""


def test_schema_asks_a_verdict_after_the_statements_only_of_yes_no_questions() -> None:
    yes_no, other = response_format(yes_no=True), response_format(yes_no=False)
    assert yes_no["type"] == other["type"] == "json_schema"
    schema = yes_no["json_schema"]["schema"]
    assert list(schema["properties"]) == schema["required"] == ["statements", "verdict"]
    assert schema["properties"]["verdict"]["enum"] == ["yes", "no", "maybe"]
    assert other["json_schema"]["schema"]["required"] == ["statements"]


def test_a_reply_stopped_early_is_completed_up_to_its_verdict() -> None:
    draft = answer_parse(json.dumps(REPLY), complete=False)
    prefix = verdict_prefix(finished_statements(draft))
    assert prefix.endswith(', "verdict": "')
    completed = answer_parse(prefix + 'no"}')
    assert completed.verdict == "no" and [s.text for s in completed.statements] == [draft.statements[0].text]
    assert verdict_read(' Maybe"}') == "maybe" and verdict_read("not sure") == ""


def test_yes_no_questions_in_both_languages() -> None:
    assert is_yes_no_question("Does tapering reduce harm?")
    assert is_yes_no_question("Should opioids be avoided in pregnancy?")
    assert is_yes_no_question("个体工商户可以申请补贴吗？") and is_yes_no_question("是否需要复查血压")
    assert is_yes_no_question("Serovar specific immunity to Neisseria gonorrhoeae: does it exist?")
    assert not is_yes_no_question("What is the first-line antibiotic?")
    assert not is_yes_no_question("Which patients is this dose for?")
    assert not is_yes_no_question("高血压的诊断标准是什么？")


def test_statements_that_are_only_verdict_words_claim_nothing() -> None:
    """Seen with the local model: "Yes", "No", "Maybe" written as statements, each citing a passage."""
    quote = {"passage": 1, "quote": "offer oral amoxicillin"}
    echoed = json.dumps({"statements": [{"text": t, "citations": [quote]} for t in ("Yes", "No", "Yes/No/Maybe")]})
    assert answer_parse(echoed).statements == [] and answer_parse(echoed).verdict == ""  # no claim, no verdict
    inline = json.dumps({"statements": [{"text": "是。", "citations": [quote]},
                                        {"text": "成人应口服阿莫西林治疗。", "citations": [quote]}]})
    draft = answer_parse(inline)
    assert [s.text for s in draft.statements] == ["成人应口服阿莫西林治疗。"] and draft.verdict == "yes"
    # "No" inside a real statement is a word of it, and the schema's own verdict wins.
    stated = json.dumps({"statements": [{"text": "No dose change is needed", "citations": [quote]}], "verdict": "no"})
    assert [s.text for s in answer_parse(stated).statements] == ["No dose change is needed"]
