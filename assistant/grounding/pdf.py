"""PDF export of a report or a policy match, in Chinese and English, with no font files to ship or download.

ReportLab draws the text in Adobe's STSong-Light, a CID font every PDF reader carries for Simplified Chinese (it
covers Latin too), so the file is small and needs nothing on the server beyond the pure-Python package. Callers
describe the document as a list of blocks; this module only lays them out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Paragraph, SimpleDocTemplate, Spacer

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

BlockKind = Literal["heading", "subheading", "paragraph", "item", "quote", "note"]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@dataclass(frozen=True)
class PdfBlock:
    """One laid-out piece: a heading, a paragraph, a list item, a cited quote (indented, grey) or a small note."""

    kind: BlockKind
    text: str


def _style(kind: BlockKind, *, cjk: bool) -> ParagraphStyle:
    sizes = {"heading": 14, "subheading": 11.5, "paragraph": 10, "item": 10, "quote": 9, "note": 8.5}
    size = sizes[kind]
    return ParagraphStyle(
        kind,
        fontName=FONT,
        fontSize=size,
        leading=size * 1.45,
        spaceBefore={"heading": 8, "subheading": 6}.get(kind, 1.5),
        spaceAfter={"heading": 4, "subheading": 2}.get(kind, 1.5),
        leftIndent={"item": 4 * mm, "quote": 9 * mm}.get(kind, 0),
        textColor={"quote": colors.HexColor("#3d4557"), "note": colors.HexColor("#6b7385")}.get(kind, colors.black),
        # CJK wrapping breaks between any two characters; Latin text must break at spaces only.
        wordWrap="CJK" if cjk else None,
    )


def pdf_render(*, title: str, blocks: Sequence[PdfBlock], footer: str = "") -> bytes:
    """An A4 PDF: the title, then the blocks in order; `footer` is printed small at the foot of every page."""
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, title=title, author="Yiju", leftMargin=18 * mm, rightMargin=18 * mm,
        topMargin=16 * mm, bottomMargin=18 * mm,
    )
    story: list = [Paragraph(escape(title), _style("heading", cjk=bool(CJK.search(title)))), Spacer(1, 2 * mm)]
    for block in blocks:
        text = escape(block.text).replace("\n", "<br/>")
        if block.kind == "item":
            text = f"• {text}"
        story.append(Paragraph(text, _style(block.kind, cjk=bool(CJK.search(block.text)))))

    def page_footer(canvas: Canvas, doc: BaseDocTemplate) -> None:  # ReportLab's page callback
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#6b7385"))
        canvas.drawString(18 * mm, 10 * mm, f"{footer}  ·  {doc.page}" if footer else str(doc.page))
        canvas.restoreState()

    document.build(story, onFirstPage=page_footer, onLaterPages=page_footer)
    return out.getvalue()
