"""The structured answer the model is asked for, and how its reply is read back.

The model answers as JSON: a list of statements, each citing the ids of the passage sentences it rests on ("cite":
["2.3"]; grounding/sentences.py), and for yes/no questions a verdict. vLLM constrains decoding to the schema
(`response_format`), in which the ids are an enum of those given, so no citation can name a sentence that does not
exist. For servers without constrained decoding the same reply is read by a tolerant parser: JSON found anywhere in
the text, even cut short (older {"passage", "quote"} citations too), else prose with [n] or [n.m] markers.

A statement is finished only when its JSON object has closed (or, in prose, its sentence has ended before the reply
did): what a token limit, the reasoning budget or a repetition stop cut off is never read as a statement.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.utils.json import parse_partial_json

from assistant.grounding.sentences import sentence_id_read

VERDICTS = ("yes", "no", "maybe")
MAX_STATEMENTS = 8
MAX_CITATIONS = 3
CLOSING_PUNCTUATION = "。！？!?；;."

# A statement made of verdict words only claims nothing: the small model sometimes lists "Yes", "No", "Maybe".
VERDICT_WORD = re.compile(r"yes|no|maybe|是|否|可能", re.IGNORECASE)
BARE_VERDICT = re.compile(rf"^\W*(?:(?:{VERDICT_WORD.pattern})\W*)+$", re.IGNORECASE)  # "Yes", "Yes/No/Maybe", "否。"
BARE_VERDICT_MEANING = {"是": "yes", "否": "no", "可能": "maybe"}
def cite_schema(sentence_ids: list[str]) -> dict[str, Any]:
    """The ids a statement may cite: one to MAX_CITATIONS of those given."""
    return {"type": "array", "minItems": 1, "maxItems": MAX_CITATIONS,
            "items": {"type": "string", "enum": sentence_ids} if sentence_ids else {"type": "string"}}


def statements_schema(sentence_ids: list[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "maxItems": MAX_STATEMENTS,
        "items": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "cite": cite_schema(sentence_ids)},
            "required": ["text", "cite"],
            "additionalProperties": False,
        },
    }


def answer_schema(*, yes_no: bool, sentence_ids: list[str]) -> dict[str, Any]:
    """Statements with quoted citations, then, for a yes/no question only, the verdict.

    Measured with the small local model: a verdict written first drew it into the empty answer whose prefix it shares
    (LeCoQA yes/no questions abstained 19 of 23 times against 11), and a "not applicable" field on other questions
    did the same (cpgQA abstained 15% against 2.5%). A reply stopped early keeps its verdict through `verdict_prefix`.
    """
    properties: dict[str, Any] = {"statements": statements_schema(sentence_ids)}
    if yes_no:
        properties["verdict"] = {"type": "string", "enum": list(VERDICTS)}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def verdict_prefix(statements: list[DraftStatement]) -> str:
    """The reply up to its verdict's value, for a model stopped early to complete just that."""
    body = [{"text": s.text, "cite": [c.id for c in s.citations]} for s in statements]
    return json.dumps({"statements": body}, ensure_ascii=False)[:-1] + ', "verdict": "'


def verdict_read(completion: str) -> str:
    """The verdict a completed prefix gives: yes, no, maybe, or "" when it gives none."""
    word = re.match(r"\s*([a-z]+)", completion.lower())
    return word.group(1) if word and word.group(1) in VERDICTS else ""


def response_format(*, yes_no: bool = False, sentence_ids: list[str] | None = None) -> dict[str, Any]:
    """OpenAI's `response_format` for the answer schema, which vLLM turns into constrained decoding."""
    schema = answer_schema(yes_no=yes_no, sentence_ids=sentence_ids or [])
    return {"type": "json_schema", "json_schema": {"name": "cited_answer", "schema": schema, "strict": True}}


@dataclass(frozen=True)
class Citation:
    """What a statement cites: a sentence of a passage (both 1-based), or, from servers without the schema, a
    passage with the words the model copied from it (`sentence` None)."""

    passage: int
    sentence: int | None = None
    quote: str = ""

    @property
    def id(self) -> str:
        return f"{self.passage}.{self.sentence}" if self.sentence is not None else str(self.passage)


@dataclass(frozen=True)
class DraftStatement:
    """A statement as the model wrote it, before verification."""

    text: str
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class DraftAnswer:
    statements: list[DraftStatement]
    verdict: str  # "yes" / "no" / "maybe", or "" when not a yes/no question or not given
    complete: bool  # the reply's JSON has closed (prose: the reply ended); else the last statement may be cut
    parsed_as: str  # "json" or "prose"


MARKER = re.compile(r"[\[【]\s*(\d+(?:\.\d+)?(?:\s*[,，、;；]\s*\d+(?:\.\d+)?)*)\s*[\]】]")
MARKERS = r"(?:\s*[\[【]\s*\d+(?:\.\d+)?(?:\s*[,，、;；]\s*\d+(?:\.\d+)?)*\s*[\]】])*"
# A sentence runs to 。！？!?；; or a full stop before a space, and keeps the markers after it.
SENTENCE = re.compile(rf".+?(?:[。！？!?；;]|\.(?=\s|$)|\n|$){MARKERS}", re.DOTALL)
NO_ANSWER_PROSE = re.compile(r"\bNO_ANSWER\b")


# At the start of the question or of a clause after a colon ("Serovar specific immunity: does it exist?").
YES_NO_EN = re.compile(
    r"(?:^|[:;]\s*)(?:is|are|was|were|do|does|did|can|could|should|shall|will|would|has|have|had|may|might|must)\b",
    re.I,
)
YES_NO_ZH = re.compile(r"吗[？?]?\s*$|是否|能否|可否|是不是|有没有|能不能|可不可以|会不会|要不要")


def is_yes_no_question(question: str) -> bool:
    """Whether a verdict applies: "Is/Does/Should ...?" in English, 吗/是否/能否... in Chinese."""
    return bool(YES_NO_EN.search(question.strip()) or YES_NO_ZH.search(question))


def json_object_read(text: str, *, complete: bool = True) -> Any:
    """The JSON object a reply holds from its first "{": whole, wrapped in prose or a code fence, or (while
    streaming, or cut short) partial; None where there is none."""
    return json_object_closed(text, complete=complete)[0]


def json_object_closed(text: str, *, complete: bool = True) -> tuple[Any, bool]:
    """json_object_read's object, and whether it closed (decoded whole rather than completed from a cut text)."""
    start = text.find("{")
    if start < 0:
        return None, False
    body = text[start:].strip().removesuffix("```").strip()
    if complete:
        try:
            return json.JSONDecoder().raw_decode(body)[0], True
        except json.JSONDecodeError:
            pass
    return parse_partial_json(body), False


def passage_number(value: Any) -> int | None:
    """A cited passage number as the model wrote it (an integer or digits), else None."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def citation_read(value: Any) -> Citation | None:
    """One cited id ("2.3", or a bare passage number) or an older {"passage", "quote"}; None if malformed."""
    if isinstance(value, dict):
        number = passage_number(value.get("passage"))
        quote = value.get("quote")
        return Citation(passage=number, quote=quote if isinstance(quote, str) else "") if number is not None else None
    sentence = sentence_id_read(value)
    if sentence is not None:
        return Citation(passage=sentence[0], sentence=sentence[1])
    number = passage_number(value)
    return Citation(passage=number) if number is not None else None


def citations_read(raw: dict) -> list[Citation]:
    """A reply item's citations: its "cite" ids, else its older "citations"; malformed ones are dropped."""
    cited = raw.get("cite") if isinstance(raw.get("cite"), list) else raw.get("citations")
    return [c for c in (citation_read(value) for value in (cited if isinstance(cited, list) else [])) if c]


def _statement_from(raw: Any) -> DraftStatement | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        return None
    return DraftStatement(text=raw["text"].strip(), citations=citations_read(raw))


def _verdict_from(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) and value.strip().lower() in VERDICTS else ""


def _bare_verdict(statements: list[DraftStatement]) -> str:
    """A verdict written as a statement ("Yes", "否") where the schema's verdict is missing, when they all agree; a
    model that lists "Yes", "No", "Maybe" as statements has given none (the verdict completion then asks for it)."""
    words = {
        BARE_VERDICT_MEANING.get(word, word.lower())
        for s in statements if BARE_VERDICT.match(s.text) for word in VERDICT_WORD.findall(s.text)
    }
    return words.pop() if len(words) == 1 else ""


def prose_statements(text: str) -> list[DraftStatement]:
    """Sentences of a prose reply, each citing the passages its [n] markers name (no quotes)."""
    statements = []
    for match in SENTENCE.finditer(text):
        raw = match.group(0)
        body = re.sub(r"\s+([。，,；;！？!?.])", r"\1", MARKER.sub("", raw)).strip()
        if not body:
            continue
        cited = [citation_read(n) for m in MARKER.finditer(raw) for n in re.split(r"\s*[,，、;；]\s*", m.group(1))]
        statements.append(DraftStatement(text=body, citations=list(dict.fromkeys(c for c in cited if c))))
    return statements


def answer_parse(text: str, *, complete: bool = True) -> DraftAnswer:
    """The model's reply as statements: JSON (whole, partial, or wrapped in prose or a code fence), else prose."""
    if "{" in text:
        candidate, closed = json_object_closed(text, complete=complete)
        if isinstance(candidate, dict) and ("statements" in candidate or not complete):
            raw_statements = candidate.get("statements") or []
            statements = [s for s in (_statement_from(r) for r in raw_statements) if s is not None]
            claims = [s for s in statements if not BARE_VERDICT.match(s.text)]
            verdict = _verdict_from(candidate.get("verdict")) or _bare_verdict(statements)
            return DraftAnswer(claims, verdict, closed, "json")
        if not complete:
            return DraftAnswer([], "", False, "json")
    if NO_ANSWER_PROSE.search(text):
        return DraftAnswer([], "", complete, "prose")
    return DraftAnswer(prose_statements(text), "", complete, "prose")


def finished_statements(draft: DraftAnswer) -> list[DraftStatement]:
    """The statements that can no longer change: all of them once the reply is complete, else all but the last."""
    return draft.statements if draft.complete else draft.statements[:-1]
