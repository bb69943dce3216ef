"""Resolve the [n] markers of an answer to the passages they name; drop and count those that name none."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ingestion.models import Chunk

# [1], [1, 2], [1，2], 【1】 - small models mix these forms.
CITATION_MARK = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、;；]\s*\d+)*)\s*[\]】]")


@dataclass(frozen=True)
class Citation:
    number: int
    chunk_id: int
    document_id: int
    document_title: str
    section_path: str
    page_start: int | None
    page_end: int | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CitedAnswer:
    text: str  # the answer with invalid markers removed
    citations: list[Citation]  # each cited passage once, in order of first mention
    invalid_citation_count: int


def citations_resolve(*, answer: str, passages: Sequence[Chunk]) -> CitedAnswer:
    citations: dict[int, Citation] = {}
    invalid = 0

    def keep_valid(match: re.Match[str]) -> str:
        nonlocal invalid
        valid: list[int] = []
        for raw in re.split(r"\s*[,，、;；]\s*", match.group(1)):
            number = int(raw)
            if 1 <= number <= len(passages):
                valid.append(number)
                if number not in citations:
                    chunk = passages[number - 1]
                    citations[number] = Citation(
                        number=number,
                        chunk_id=chunk.id,
                        document_id=chunk.document_id,
                        document_title=chunk.document.title,
                        section_path=chunk.section_path,
                        page_start=chunk.page_start,
                        page_end=chunk.page_end,
                    )
            else:
                invalid += 1
        return "".join(f"[{n}]" for n in valid)

    text = CITATION_MARK.sub(keep_valid, answer)
    text = re.sub(r"[ \t]+([。．.，,；;])", r"\1", text).strip()
    return CitedAnswer(text=text, citations=list(citations.values()), invalid_citation_count=invalid)
