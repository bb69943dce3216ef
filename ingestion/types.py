"""Plain data passed along the ingestion path: parse -> structure -> chunk -> embed -> index."""

from __future__ import annotations

from dataclasses import dataclass, field


class IngestionError(Exception):
    """Bad input: the document fails with this message as its reason; never retried."""


@dataclass(frozen=True)
class Block:
    """One paragraph-like run of text as the parser found it, in reading order."""

    text: str
    page: int | None = None  # 1-based; None for formats without pages
    heading_level: int | None = None  # set when the format itself marks a heading (md #, h1-h6, DOCX Heading N)


@dataclass(frozen=True)
class Segment:
    """Body text under one section path on one page; offsets index into ParsedDocument.text."""

    text: str
    section_path: tuple[str, ...]
    page: int | None
    char_start: int
    char_end: int
    # Starts a new section even when the segment before has the same path and only whitespace lies between:
    # two recommendations in a row with the same grade share a label but must never share a chunk.
    new_section: bool = False


@dataclass
class ParsedDocument:
    title: str
    text: str  # the whole extracted text; segment and chunk offsets refer to it
    segments: list[Segment] = field(default_factory=list)
    page_count: int | None = None
