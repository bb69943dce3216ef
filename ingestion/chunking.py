"""Split a structured document into passages that never straddle a section boundary."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ingestion.types import ParsedDocument, Segment

# Where a passage may end when a section is too long: after a sentence, else after a clause, else anywhere.
SENTENCE_END = re.compile(r"[。！？!?；;]\s*|[.](?=\s)\s*|\n+")
CLAUSE_END = re.compile(r"[，,、：:]\s*|\s+")


@dataclass(frozen=True)
class ChunkDraft:
    text: str
    section_path: tuple[str, ...]
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int


def document_chunk(*, document: ParsedDocument, max_chars: int, overlap_chars: int) -> list[ChunkDraft]:
    """Group segments by section (across page breaks) and cut each section into passages of at most max_chars."""
    if overlap_chars >= max_chars:
        raise ValueError("overlap_chars must be smaller than max_chars")
    drafts: list[ChunkDraft] = []
    for section in _sections(document=document):
        drafts.extend(_section_chunk(document=document, section=section, max_chars=max_chars, overlap=overlap_chars))
    return [_without_title(draft, title=document.title) for draft in drafts]


def _without_title(draft: ChunkDraft, *, title: str) -> ChunkDraft:
    """A top heading that only repeats the document's title says nothing a citation does not already say."""
    path = draft.section_path
    if path and title and path[0].strip() == title.strip():
        return replace(draft, section_path=path[1:])
    return draft


def _sections(*, document: ParsedDocument) -> list[list[Segment]]:
    """Runs of consecutive segments with one section path and only whitespace between them (a segment marked
    new_section starts a run of its own)."""
    runs: list[list[Segment]] = []
    for segment in document.segments:
        if not segment.text.strip():
            continue
        previous = runs[-1][-1] if runs else None
        if (
            previous is not None
            and not segment.new_section
            and previous.section_path == segment.section_path
            and not document.text[previous.char_end : segment.char_start].strip()
        ):
            runs[-1].append(segment)
        else:
            runs.append([segment])
    return runs


def _page_at(*, section: list[Segment], offset: int) -> int | None:
    page = section[0].page
    for segment in section:
        if segment.char_start <= offset:
            page = segment.page
    return page


def _section_chunk(
    *, document: ParsedDocument, section: list[Segment], max_chars: int, overlap: int
) -> list[ChunkDraft]:
    start, end = section[0].char_start, section[-1].char_end
    spans: list[tuple[int, int]] = []
    cursor = start
    while cursor < end:
        cut = end if end - cursor <= max_chars else _cut_point(document.text, cursor, cursor + max_chars)
        spans.append((cursor, cut))
        if cut >= end:
            break
        # Overlap so a statement cut in two is still whole in one passage; restart at a sentence if possible.
        cursor = max(_restart_point(document.text, cut - overlap, cut), cursor + 1)
    drafts = []
    for span_start, span_end in spans:
        span_start, span_end = _trim(document.text, span_start, span_end)
        if span_end <= span_start:
            continue
        drafts.append(
            ChunkDraft(
                text=document.text[span_start:span_end],
                section_path=section[0].section_path,
                page_start=_page_at(section=section, offset=span_start),
                page_end=_page_at(section=section, offset=span_end - 1),
                char_start=span_start,
                char_end=span_end,
            )
        )
    return drafts


def _cut_point(text: str, start: int, limit: int) -> int:
    window = text[start:limit]
    floor = len(window) // 2  # never cut so early that passages become tiny
    for pattern in (SENTENCE_END, CLAUSE_END):
        ends = [m.end() for m in pattern.finditer(window) if m.end() >= floor]
        if ends:
            return start + ends[-1]
    return limit


def _restart_point(text: str, lower: int, upper: int) -> int:
    window = text[lower:upper]
    match = SENTENCE_END.search(window)
    if match and match.end() < len(window):
        return lower + match.end()
    return lower


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
