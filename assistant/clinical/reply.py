"""The clinical report the model is asked for, and how its reply is read back item by item.

Four ranked sections, each a list of items that cite passage sentences by id, as the answer's statements do
(assistant/grounding/reply.py): vLLM constrains decoding to the schema, the ids to those given, and the same tolerant
partial-JSON parsing reads the reply while it streams, so each item can be verified as soon as the model has moved
past it. An item the token limit cut off is never read as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.grounding.reply import Citation, DraftStatement, citations_read, cite_schema, json_object_closed

# Few, short items, both enforced by the grammar: the whole reply must fit settings.LLM_MAX_TOKENS (512 by default).
# Measured with the small local model: unbounded, it wrote one "supporting_findings" on and on (restating the patient)
# until the limit, or repeated an item, and never reached the later sections.
MAX_ITEMS = {"differential": 2, "examinations": 2, "medications": 1, "red_flags": 1}
MAX_FIELD_CHARS = 100

# section -> the item's text fields, in the order they are joined into the text that is verified.
SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "differential": ("diagnosis", "supporting_findings"),
    "examinations": ("name", "reason"),
    "medications": ("drug", "dosing", "contraindications"),
    "red_flags": ("sign", "action"),
}
SECTIONS = tuple(SECTION_FIELDS)

def _section_schema(section: str, sentence_ids: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": "string", "maxLength": MAX_FIELD_CHARS} for name in SECTION_FIELDS[section]
    }
    properties["cite"] = cite_schema(sentence_ids)
    return {
        "type": "array",
        "maxItems": MAX_ITEMS[section],
        "items": {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        },
    }


def clinical_schema(sentence_ids: list[str]) -> dict[str, Any]:
    properties = {section: _section_schema(section, sentence_ids) for section in SECTION_FIELDS}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def clinical_response_format(*, sentence_ids: list[str]) -> dict[str, Any]:
    """OpenAI's `response_format` for the report schema (constrained decoding on vLLM)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "clinical_report", "schema": clinical_schema(sentence_ids), "strict": True},
    }


@dataclass(frozen=True)
class DraftItem:
    """An item as the model wrote it, before verification."""

    section: str
    index: int
    fields: dict[str, str]
    citations: list[Citation] = field(default_factory=list)

    def text(self) -> str:
        """What is verified: "diagnosis: supporting findings", "drug dosing contraindications", ..."""
        head, *rest = [self.fields.get(name, "").strip() for name in SECTION_FIELDS[self.section]]
        tail = " ".join(part for part in rest if part)
        if self.section == "medications":
            return " ".join(part for part in (head, tail) if part)
        return f"{head}: {tail}" if head and tail else head or tail

    def as_statement(self) -> DraftStatement:
        return DraftStatement(text=self.text(), citations=list(self.citations))


def _item_from(section: str, index: int, raw: Any) -> DraftItem | None:
    if not isinstance(raw, dict):
        return None
    fields = {name: raw[name].strip() for name in SECTION_FIELDS[section] if isinstance(raw.get(name), str)}
    if not any(fields.values()):
        return None
    return DraftItem(section=section, index=index, fields=fields, citations=citations_read(raw))


def report_parse(text: str, *, complete: bool = True) -> list[DraftItem]:
    """The items a reply holds so far, in reply order; while streaming, only those the model has moved past.

    An item is final once another item or section follows it in the reply; all are once the reply's JSON has closed.
    A reply that ended without closing (cut at the token limit) leaves its last item unfinished, and out.
    """
    candidate, closed = json_object_closed(text, complete=complete)
    if not isinstance(candidate, dict):
        return []
    present = [key for key in candidate if key in SECTION_FIELDS and isinstance(candidate[key], list)]
    items: list[DraftItem] = []
    for position, section in enumerate(present):
        raws = candidate[section]
        if not closed and position == len(present) - 1:
            raws = raws[:-1]  # the last item of the section being written may still grow
        for index, raw in enumerate(raws):
            item = _item_from(section, index, raw)
            if item is not None:
                items.append(item)
    return items
