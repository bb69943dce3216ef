"""Turn parsed blocks into a ParsedDocument: the full text plus body segments under their section paths.

Section path = the stack of open headings, outermost first, e.g. ("第三章 个人信息跨境提供的规则", "第三十八条").
Headings come from the format (Block.heading_level) or from numbering patterns on plain lines
(see structure_patterns). Text before the first heading gets the empty path (): the document title is
carried separately by ParsedDocument.title, so repeating it in every path would add nothing.

Guarantees: text[seg.char_start:seg.char_end] == seg.text; every non-whitespace character that is not part
of a heading lies in exactly one segment; heading labels are in no segment.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.structure_patterns import (
    RANK_TIAO,
    can_be_absorbed_title,
    match_line_heading,
    normalize_label,
)
from ingestion.types import Block, ParsedDocument, Segment

MAX_TITLE_CHARS = 200
# With this many headings marked by the format itself, the document has its own outline and numbered lines
# (一、/（一）/1.) are more likely list items than headings. One explicit heading is usually just the title.
MIN_EXPLICIT_HEADINGS_FOR_OWN_OUTLINE = 2
_TRIM_CHARS = "\u200b\ufeff"  # zero-width space and BOM: invisible, so not text worth a segment


@dataclass(frozen=True)
class _Unit:
    """One unit of structure: a line of a body block, or a whole explicit-heading block."""

    start: int
    end: int
    page: int | None
    heading_level: int | None


@dataclass
class _OpenSpan:
    start: int
    end: int
    section_path: tuple[str, ...]
    page: int | None


def document_structure(*, title: str, blocks: list[Block], page_count: int | None) -> ParsedDocument:
    """Build the full text (blocks joined with "\\n") and its body segments, one per (section path, page) run."""
    text = "\n".join(block.text for block in blocks)
    units = _units_of(blocks)
    explicit_heading_count = sum(1 for block in blocks if block.heading_level is not None and block.text.strip())
    segments = _segments_of(
        text=text,
        units=units,
        numbered_headings=explicit_heading_count < MIN_EXPLICIT_HEADINGS_FOR_OWN_OUTLINE,
    )
    return ParsedDocument(
        title=normalize_label(title) or _first_line(text),
        text=text,
        segments=segments,
        page_count=page_count,
    )


def _first_line(text: str) -> str:
    for line in text.split("\n"):
        label = normalize_label(line)
        if label:
            return label[:MAX_TITLE_CHARS]
    return ""


def _units_of(blocks: list[Block]) -> list[_Unit]:
    """Explicit headings stay whole; body blocks are split into lines because numbering lives on lines."""
    units: list[_Unit] = []
    offset = 0
    for block in blocks:
        if block.heading_level is not None:
            units.append(_Unit(offset, offset + len(block.text), block.page, block.heading_level))
        else:
            line_start = offset
            for line in block.text.split("\n"):
                units.append(_Unit(line_start, line_start + len(line), block.page, None))
                line_start += len(line) + 1
        offset += len(block.text) + 1  # the "\n" joining blocks
    return units


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in _TRIM_CHARS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _TRIM_CHARS):
        end -= 1
    return start, end


def _segments_of(*, text: str, units: list[_Unit], numbered_headings: bool) -> list[Segment]:
    heading_stack: list[tuple[int, str]] = []  # (rank, label), outermost first
    segments: list[Segment] = []
    open_span: _OpenSpan | None = None

    def close_span() -> None:
        nonlocal open_span
        if open_span is not None:
            segments.append(
                Segment(
                    text=text[open_span.start : open_span.end],
                    section_path=open_span.section_path,
                    page=open_span.page,
                    char_start=open_span.start,
                    char_end=open_span.end,
                )
            )
            open_span = None

    def open_heading(rank: int, label: str) -> None:
        close_span()  # body after a heading never joins body before it, even under an equal path
        while heading_stack and heading_stack[-1][0] >= rank:
            heading_stack.pop()
        heading_stack.append((rank, label))

    def add_body(start: int, end: int, page: int | None) -> None:
        nonlocal open_span
        start, end = _trimmed(text, start, end)
        if start >= end:
            return
        section_path = tuple(label for _, label in heading_stack)
        if open_span is not None and open_span.section_path == section_path and open_span.page == page:
            open_span.end = end  # what lies between is the "\n" (and whitespace) of the full text
            return
        close_span()
        open_span = _OpenSpan(start, end, section_path, page)

    index = 0
    while index < len(units):
        unit = units[index]
        index += 1
        line = text[unit.start : unit.end]
        if unit.heading_level is not None:
            label = normalize_label(line)
            if label:
                open_heading(unit.heading_level, label)
            continue

        inside_article = any(rank == RANK_TIAO for rank, _ in heading_stack)
        heading = match_line_heading(line, inside_article=inside_article, numbered_headings=numbered_headings)
        if heading is None:
            add_body(unit.start, unit.end, unit.page)
            continue

        label = heading.label
        if heading.wants_title:
            title_index = _next_nonblank_unit(text=text, units=units, index=index)
            if title_index is not None:
                candidate = units[title_index]
                candidate_line = text[candidate.start : candidate.end]
                if (
                    candidate.heading_level is None
                    and candidate.page == unit.page
                    and can_be_absorbed_title(candidate_line)
                ):
                    # "第一章" / "总 则" on separate lines read as one heading "第一章 总 则".
                    label = f"{label} {normalize_label(candidate_line)}"
                    index = title_index + 1
        open_heading(heading.rank, label)
        if heading.body_offset is not None:
            add_body(unit.start + heading.body_offset, unit.end, unit.page)
    close_span()
    return segments


def _next_nonblank_unit(*, text: str, units: list[_Unit], index: int) -> int | None:
    while index < len(units):
        unit = units[index]
        start, end = _trimmed(text, unit.start, unit.end)
        if start < end:
            return index
        index += 1
    return None
