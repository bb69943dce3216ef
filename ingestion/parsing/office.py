"""Word .docx into blocks of text in document order: paragraphs with heading levels, table rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingestion.parsing.common import clean_line, collapse_whitespace, table_row_text
from ingestion.types import Block, IngestionError

# --- DOCX --------------------------------------------------------------------------------------------------

_DOCX_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_DOCX_TITLE_STYLES = ("title", "标题")


def docx_parse(*, path: Path) -> tuple[str, list[Block], int | None]:
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as error:  # python-docx raises zipfile, KeyError and package errors on damaged files
        raise IngestionError(f"DOCX cannot be opened: not a valid Word .docx file ({error})") from error

    blocks: list[Block] = []
    first_title_like = ""

    def add_body_children(parent_element: Any) -> None:
        nonlocal first_title_like
        for child in parent_element.iterchildren():
            if child.tag == qn("w:p"):
                paragraph = Paragraph(child, document._body)
                if not (text := clean_line(paragraph.text)):
                    continue
                level = _docx_heading_level(paragraph, qn)
                blocks.append(Block(text=text, heading_level=level))
                if level == 1 and not first_title_like:
                    first_title_like = text
            elif child.tag == qn("w:tbl"):
                blocks.extend(_docx_table_rows(Table(child, document._body)))
            elif child.tag == qn("w:sdt"):  # content controls wrap ordinary paragraphs and tables
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    add_body_children(content)

    add_body_children(document.element.body)
    title = clean_line(document.core_properties.title or "") or first_title_like
    return title, blocks, None


def _docx_heading_level(paragraph: Any, qn: Any) -> int | None:
    """Heading level from the style name ("Heading 2", "标题 2", "Title") or an outline level on the paragraph/style."""
    style = paragraph.style
    while style is not None:
        name = (style.name or "").strip()
        if name.lower() in _DOCX_TITLE_STYLES:
            return 1
        if match := _DOCX_HEADING_STYLE_RE.match(name):
            return int(match.group(1))
        style = style.base_style
    for element in (paragraph._p, *_docx_style_elements(paragraph.style)):
        properties = element.find(qn("w:pPr"))
        outline = properties.find(qn("w:outlineLvl")) if properties is not None else None
        if outline is not None:
            value = outline.get(qn("w:val"))
            if value is not None and value.isdigit() and int(value) < 9:  # 9 means "body text"
                return int(value) + 1
    return None


def _docx_style_elements(style: Any) -> list[Any]:
    elements = []
    while style is not None:
        elements.append(style.element)
        style = style.base_style
    return elements


def _docx_table_rows(table: Any) -> list[Block]:
    from docx.table import _Cell

    rows: list[Block] = []
    for row in table._tbl.tr_lst:
        # tc_lst holds each physical cell once, so horizontally merged cells are not repeated
        cells = [collapse_whitespace(_Cell(tc, table).text) for tc in row.tc_lst]
        if any(cells):
            rows.append(Block(text=table_row_text(cells)))
    return rows
