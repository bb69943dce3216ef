"""Parsing of each supported format into blocks, checked through the structure built from them."""

from __future__ import annotations

import hashlib
import math
import re
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingestion.parsing.document import document_parse
from ingestion.parsing.pdf_layout import LayoutItem, Region, layout_regions
from ingestion.structure import document_structure
from ingestion.types import Block, IngestionError, ParsedDocument
from tests.ingestion.test_structure import assert_offsets_exact

if TYPE_CHECKING:
    from PIL import Image


def parse_and_structure(path: Path, file_type: str | None = None) -> tuple[list[Block], ParsedDocument]:
    title, blocks, page_count = document_parse(path=path, file_type=file_type)
    document = document_structure(title=title, blocks=blocks, page_count=page_count)
    assert_offsets_exact(document)
    return blocks, document


def segment_containing(document: ParsedDocument, needle: str):
    matches = [segment for segment in document.segments if needle in segment.text]
    assert len(matches) == 1, f"{needle!r} found in {len(matches)} segments"
    return matches[0]


# --- plain text --------------------------------------------------------------------------------------------

CHINESE_RULES = (
    "示例管理办法\n\n第一章　总　则\n\n第一条　为了规范管理，制定本办法。\n第二条\n　本办法适用于全体员工。\n"
)


def test_text_gb18030_is_decoded_and_structured(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_bytes(CHINESE_RULES.encode("gb18030"))

    blocks, document = parse_and_structure(path)

    assert [block.text for block in blocks][:3] == [
        "示例管理办法",
        "第一章　总　则",
        "第一条　为了规范管理，制定本办法。",
    ]
    assert document.title == "示例管理办法"  # plain text has no title of its own: the first line
    assert segment_containing(document, "为了规范管理").section_path == ("第一章 总 则", "第一条")
    assert segment_containing(document, "适用于全体员工").section_path == ("第一章 总 则", "第二条")
    assert document.page_count is None


def test_text_utf8_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "notes.text"
    path.write_bytes(b"\xef\xbb\xbf" + "第一条 内容一。\r\n\r\n第二条 内容二。\r\n".encode())

    blocks, document = parse_and_structure(path)

    assert [block.text for block in blocks] == ["第一条 内容一。", "第二条 内容二。"]
    assert [segment.text for segment in document.segments] == ["内容一。", "内容二。"]


def test_file_type_argument_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_text("# Heading\n\nBody text.\n", encoding="utf-8")

    blocks, _ = parse_and_structure(path, file_type="md")
    markdown_alias_blocks, _ = parse_and_structure(path, file_type="markdown")

    assert blocks[0] == Block(text="Heading", heading_level=1)
    assert markdown_alias_blocks == blocks


# --- Markdown ----------------------------------------------------------------------------------------------

MARKDOWN = """---
title: ignored front matter
---
# Opioid Prescribing Guideline

Intro paragraph with **bold** and *italic* and a [link](https://example.org).

## Recommendations

### Opioid dosing

- Start low and go slow.
1. Review after `4 weeks`.

| Drug | Dose |
|------|------|
| Morphine | 5 mg |

```
code block line
```

Setext Section
--------------

Last paragraph.
"""


def test_markdown_headings_tables_and_inline_markup(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")

    blocks, document = parse_and_structure(path)
    texts = [block.text for block in blocks]

    assert document.title == "Opioid Prescribing Guideline"
    assert not any("front matter" in text for text in texts)
    assert "Intro paragraph with bold and italic and a link." in texts
    assert Block(text="Opioid dosing", heading_level=3) in blocks
    assert "Drug | Dose" in texts and "Morphine | 5 mg" in texts
    assert not any(set(text) <= set("|- ") for text in texts)  # the |---| separator row is gone
    assert "code block line" in texts
    assert Block(text="Setext Section", heading_level=2) in blocks

    dosing = segment_containing(document, "Start low")
    assert dosing.section_path == ("Opioid Prescribing Guideline", "Recommendations", "Opioid dosing")
    # an ordered list item in a document with its own outline stays body text
    assert "1. Review after 4 weeks." in dosing.text
    assert segment_containing(document, "Last paragraph").section_path == (
        "Opioid Prescribing Guideline",
        "Setext Section",
    )


# --- HTML --------------------------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="gbk"><title>数据管理办法 - 示例网站</title>
<style>body { color: red }</style><script>var tracking = 1;</script></head>
<body>
<header><div class="logo">示例网站首页</div></header>
<nav><ul><li>首页</li><li>政策</li></ul></nav>
<div id="content">
  <h1>数据管理办法</h1>
  <p>为了规范数据管理，<b>制定</b>本办法。</p>
  <h2>适用范围</h2>
  <p>第一段<br>第二段</p>
  <ul><li>列表项一</li><li>列表项二</li></ul>
  <table><tr><th>名称</th><th>说明</th></tr><tr><td>数据</td><td>记录</td></tr></table>
  <pre>preformatted
  text</pre>
  <div style="display: none">隐藏内容</div>
  <!-- comment -->
</div>
<aside>相关链接</aside>
<footer>版权所有 示例网站</footer>
</body></html>
"""


def test_html_main_content_without_page_chrome(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(HTML_PAGE.encode("gbk"))

    blocks, document = parse_and_structure(path)
    texts = [block.text for block in blocks]

    assert document.title == "数据管理办法 - 示例网站"
    for noise in ("示例网站首页", "首页", "政策", "相关链接", "版权所有", "tracking", "color", "隐藏内容", "comment"):
        assert not any(noise in text for text in texts), noise
    assert Block(text="数据管理办法", heading_level=1) in blocks
    assert "为了规范数据管理，制定本办法。" in texts
    assert texts[texts.index("第一段") + 1] == "第二段"  # <br> separates paragraphs
    assert "列表项一" in texts and "名称 | 说明" in texts and "数据 | 记录" in texts
    assert "preformatted\n  text" in texts
    assert segment_containing(document, "列表项二").section_path == ("数据管理办法", "适用范围")


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body><main><h1>Policy</h1><p>Text.</p></main><p>outside</p></body></html>", "utf-8")

    blocks, document = parse_and_structure(path)

    assert document.title == "Policy"
    assert [block.text for block in blocks] == ["Policy", "Text."]  # <main> wins over the rest of <body>


# --- DOCX --------------------------------------------------------------------------------------------------


def test_docx_headings_and_tables_in_document_order(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document_file = docx.Document()
    document_file.add_paragraph("Clinical Handbook", style="Title")
    document_file.add_paragraph("Preface text.")
    document_file.add_heading("Dosing", level=1)
    document_file.add_paragraph("Before the table.")
    table = document_file.add_table(rows=2, cols=2)
    for row_index, values in enumerate((("Drug", "Dose"), ("Morphine", "5 mg"))):
        for column_index, value in enumerate(values):
            table.cell(row_index, column_index).text = value
    document_file.add_paragraph("After the table.")
    document_file.add_heading("Children", level=2)
    document_file.add_paragraph("Half the adult dose.")
    chinese_heading = document_file.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    document_file.add_paragraph("儿童用药", style=chinese_heading)
    document_file.add_paragraph("")  # empty paragraphs carry no text
    document_file.add_paragraph("减半。")
    path = tmp_path / "handbook.docx"
    document_file.save(str(path))

    blocks, document = parse_and_structure(path)
    texts = [block.text for block in blocks]

    assert document.title == "Clinical Handbook"
    assert texts == [
        "Clinical Handbook",
        "Preface text.",
        "Dosing",
        "Before the table.",
        "Drug | Dose",
        "Morphine | 5 mg",
        "After the table.",
        "Children",
        "Half the adult dose.",
        "儿童用药",
        "减半。",
    ]
    assert [block.heading_level for block in blocks if block.heading_level] == [1, 1, 2, 2]
    table_segment = segment_containing(document, "Morphine | 5 mg")
    assert table_segment.section_path == ("Dosing",)
    assert table_segment.text == "Before the table.\nDrug | Dose\nMorphine | 5 mg\nAfter the table."
    assert segment_containing(document, "Half the adult").section_path == ("Dosing", "Children")
    assert segment_containing(document, "减半").section_path == ("Dosing", "儿童用药")


def test_docx_title_from_core_properties(tmp_path: Path) -> None:
    import docx

    document_file = docx.Document()
    document_file.core_properties.title = "Property Title"
    document_file.add_paragraph("Only body text.")
    path = tmp_path / "plain.docx"
    document_file.save(str(path))

    _, document = parse_and_structure(path)

    assert document.title == "Property Title"
    assert document.segments[0].section_path == ()


def test_docx_that_is_a_damaged_zip_fails_clearly(tmp_path: Path) -> None:
    import docx

    document_file = docx.Document()
    document_file.add_paragraph("Soon cut short.")
    whole = tmp_path / "whole.docx"
    document_file.save(str(whole))
    path = tmp_path / "broken.docx"
    path.write_bytes(whole.read_bytes()[:200])  # a ZIP's start, without its directory: a broken download

    with pytest.raises(IngestionError, match="DOCX cannot be opened"):
        document_parse(path=path)


# --- PDF ---------------------------------------------------------------------------------------------------

_PASSWORD_PADDING = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    i = j = 0
    output = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        output.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(output)


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _pdf_text(text: str, chinese: bool) -> str:
    return f"<{text.encode('utf-16-be').hex()}>" if chinese else _pdf_string(text)


_SONG_FONT = (
    "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [<< /Type /Font"
    " /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1)"
    " /Supplement 2 >> /FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6"
    " /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
    " /DW 1000 >>] >>"
)


PageImage = tuple[float, float, float, float, "Image.Image"]  # x, y, width, height on the page (points), picture


def build_pdf(
    pages: list[list[tuple[float, float, str]]],
    *,
    outline: list[tuple[str, int]] | None = None,
    title: str | None = None,
    user_password: str | None = None,
    chinese: bool = False,
    rules: dict[int, list[tuple[float, float, float, float]]] | None = None,
    images: dict[int, PageImage] | None = None,
    page_size: tuple[float, float] = (612, 792),
) -> bytes:
    """A minimal valid PDF, written by hand: 12pt text at (x, y) per page, optional outline and password.

    Latin text uses Helvetica; chinese=True uses STSong-Light, a standard CJK font readers know without embedding
    (text as UTF-16 through the UniGB-UCS2-H CMap). Encryption is the standard 40-bit RC4 handler (revision 2),
    enough for readers to demand the password. rules draws straight lines (x0, y0, x1, y1) on a page (table
    borders); images places one grayscale picture on a page (a scanned page when the page has no text).
    """
    rules = rules or {}
    images = images or {}
    objects: dict[int, bytes | tuple[str, bytes]] = {}  # a tuple is a stream: (extra dictionary entries, data)
    font_id, pages_id, catalog_id = 1, 2, 3
    next_id = 4
    page_ids = []
    for page_index, lines in enumerate(pages):
        content = "".join(f"BT /F1 12 Tf {x} {y} Td {_pdf_text(text, chinese)} Tj ET\n" for x, y, text in lines)
        content += "".join(f"0.5 w {x0} {y0} m {x1} {y1} l S\n" for x0, y0, x1, y1 in rules.get(page_index, []))
        if not lines and page_index not in rules and page_index not in images:
            content = "72 72 m 300 300 l S\n"  # a drawing, no text
        page_id, content_id = next_id, next_id + 1
        next_id += 2
        resources = f"/Font << /F1 {font_id} 0 R >>"
        if page_index in images:
            x, y, width, height, picture = images[page_index]
            gray = picture.convert("L")
            image_id = next_id
            next_id += 1
            objects[image_id] = (
                f"/Type /XObject /Subtype /Image /Width {gray.width} /Height {gray.height} /ColorSpace /DeviceGray"
                " /BitsPerComponent 8 /Filter /FlateDecode",
                zlib.compress(gray.tobytes()),
            )
            resources += f" /XObject << /Im1 {image_id} 0 R >>"
            content = f"q {width} 0 0 {height} {x} {y} cm /Im1 Do Q\n" + content
        page_ids.append(page_id)
        objects[content_id] = ("", content.encode("latin-1"))
        objects[page_id] = (
            f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {page_size[0]} {page_size[1]}] "
            f"/Resources << {resources} >> /Contents {content_id} 0 R >>"
        ).encode()
    objects[font_id] = (_SONG_FONT if chinese else "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>").encode()
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids)
    objects[pages_id] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    catalog = f"<< /Type /Catalog /Pages {pages_id} 0 R"
    if outline:
        outlines_id = next_id
        item_ids = list(range(outlines_id + 1, outlines_id + 1 + len(outline)))
        next_id = item_ids[-1] + 1
        objects[outlines_id] = (
            f"<< /Type /Outlines /First {item_ids[0]} 0 R /Last {item_ids[-1]} 0 R /Count {len(item_ids)} >>"
        ).encode()
        for position, (item_title, page_index) in enumerate(outline):
            links = f" /Prev {item_ids[position - 1]} 0 R" if position else ""
            links += f" /Next {item_ids[position + 1]} 0 R" if position + 1 < len(item_ids) else ""
            objects[item_ids[position]] = (
                f"<< /Title {_pdf_string(item_title)} /Parent {outlines_id} 0 R{links} "
                f"/Dest [{page_ids[page_index]} 0 R /XYZ 0 792 0] >>"
            ).encode()
        catalog += f" /Outlines {outlines_id} 0 R"
    objects[catalog_id] = (catalog + " >>").encode()
    info_id = None
    if title:
        info_id = next_id
        next_id += 1
        objects[info_id] = f"<< /Title {_pdf_string(title)} >>".encode()

    file_id = hashlib.md5(b"yiju-test").digest()
    encryption_key = None
    trailer_extra = f" /ID [<{file_id.hex()}> <{file_id.hex()}>]"
    if user_password is not None:
        padded_user = (user_password.encode("latin-1") + _PASSWORD_PADDING)[:32]
        owner_key = hashlib.md5(padded_user).digest()[:5]  # owner password = user password
        owner_entry = _rc4(owner_key, padded_user)
        permissions = -4
        encryption_key = hashlib.md5(padded_user + owner_entry + struct.pack("<i", permissions) + file_id).digest()[:5]
        user_entry = _rc4(encryption_key, _PASSWORD_PADDING)
        encrypt_id = next_id
        objects[encrypt_id] = (
            f"<< /Filter /Standard /V 1 /R 2 /O <{owner_entry.hex()}> /U <{user_entry.hex()}> /P {permissions} >>"
        ).encode()
        trailer_extra += f" /Encrypt {encrypt_id} 0 R"

    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for object_id in sorted(objects):
        offsets[object_id] = len(output)
        body = objects[object_id]
        if isinstance(body, tuple):
            entries, stream = body
            if encryption_key is not None:
                object_key = hashlib.md5(encryption_key + object_id.to_bytes(3, "little") + b"\x00\x00").digest()
                stream = _rc4(object_key[:10], stream)
            body = f"<< {entries} /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
        output += f"{object_id} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_offset = len(output)
    size = max(objects) + 1
    output += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for object_id in range(1, size):
        output += f"{offsets[object_id]:010d} 00000 n \n".encode()
    info = f" /Info {info_id} 0 R" if info_id else ""
    output += f"trailer\n<< /Size {size} /Root {catalog_id} 0 R{info}{trailer_extra} >>\n".encode()
    output += f"startxref\n{xref_offset}\n%%EOF\n".encode()
    return bytes(output)


def _guideline_pages() -> list[list[tuple[float, float, str]]]:
    def page(number: int, body: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
        return [(72, 760, "ACME Opioid Guideline 2024"), *body, (280, 40, f"Page {number} of 2")]

    return [
        page(
            1,
            [
                (72, 700, "Introduction"),
                (72, 676, "This guideline covers adults with chronic pain in primary care settings."),
                (72, 662, "It replaces the edition of 2016."),
                (72, 636, "Scope"),
                (72, 612, "Patients under 18 are out of scope."),
            ],
        ),
        page(
            2,
            [
                (72, 700, "Patients in palliative care keep their current plans."),
                (72, 676, "Opioid dosing"),
                (72, 652, "Start at the lowest effective dose."),
            ],
        ),
    ]


def test_pdf_pages_outline_headings_and_running_lines(tmp_path: Path) -> None:
    path = tmp_path / "guideline.pdf"
    outline = [("Introduction", 0), ("Scope", 0), ("Opioid dosing", 1)]
    path.write_bytes(build_pdf(_guideline_pages(), outline=outline, title="Opioid Guideline"))

    blocks, document = parse_and_structure(path)
    texts = [block.text for block in blocks]

    assert document.title == "Opioid Guideline"
    assert document.page_count == 2
    assert not any("ACME" in text or text.startswith("Page ") for text in texts)  # running header and footer
    # a line reaching the right margin continues on the next line: one paragraph
    assert (
        "This guideline covers adults with chronic pain in primary care settings. It replaces the edition of 2016."
        in texts
    )
    assert [(block.text, block.heading_level) for block in blocks if block.heading_level] == [
        ("Introduction", 1),
        ("Scope", 1),
        ("Opioid dosing", 1),
    ]
    scope_page_1 = segment_containing(document, "under 18")
    scope_page_2 = segment_containing(document, "palliative care")
    assert (scope_page_1.section_path, scope_page_1.page) == (("Scope",), 1)
    assert (scope_page_2.section_path, scope_page_2.page) == (("Scope",), 2)  # new page, new segment
    dosing = segment_containing(document, "lowest effective dose")
    assert (dosing.section_path, dosing.page) == (("Opioid dosing",), 2)


def test_pdf_without_outline_uses_numbered_headings(tmp_path: Path) -> None:
    path = tmp_path / "numbered.pdf"
    lines = [(72, 700, "1. Introduction"), (72, 680, "Opening text."), (72, 650, "1.1 Scope"), (72, 630, "Adults.")]
    path.write_bytes(build_pdf([lines]))

    _, document = parse_and_structure(path)

    assert document.title == "1. Introduction"  # no metadata title: the first line
    assert segment_containing(document, "Adults").section_path == ("1. Introduction", "1.1 Scope")
    assert segment_containing(document, "Adults").page == 1


def test_pdf_chinese_law_with_article_across_pages(tmp_path: Path) -> None:
    path = tmp_path / "law.pdf"
    page_1 = [
        (72, 700, "第三章　个人信息跨境提供的规则"),
        (72, 676, "第三十八条　个人信息处理者因业务等需要，确需向境外提供个人信息的，应"),
        (72, 660, "当具备下列条件之一："),
        (280, 40, "- 1 -"),
    ]
    page_2 = [
        (72, 700, "（一）通过国家网信部门组织的安全评估；"),
        (72, 676, "第三十九条　个人信息处理者向境外提供个人信息的，应当告知个人。"),
        (280, 40, "- 2 -"),
    ]
    path.write_bytes(build_pdf([page_1, page_2], chinese=True))

    blocks, document = parse_and_structure(path)
    texts = [block.text for block in blocks]

    # the wrapped article line joins its continuation without a space; bare page numbers are gone
    assert "第三十八条 个人信息处理者因业务等需要，确需向境外提供个人信息的，应当具备下列条件之一：" in texts
    assert not any(text.startswith("-") for text in texts)
    chapter = "第三章 个人信息跨境提供的规则"
    article_page_1 = segment_containing(document, "因业务等需要")
    article_page_2 = segment_containing(document, "安全评估")
    assert (article_page_1.section_path, article_page_1.page) == ((chapter, "第三十八条"), 1)
    assert (article_page_2.section_path, article_page_2.page) == ((chapter, "第三十八条"), 2)
    assert segment_containing(document, "应当告知个人").section_path == (chapter, "第三十九条")


def test_pdf_that_is_corrupt_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref or trailer")

    with pytest.raises(IngestionError, match=r"PDF cannot be opened: .*damaged"):
        document_parse(path=path)


def test_pdf_with_password_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(build_pdf(_guideline_pages(), user_password="secret"))

    with pytest.raises(IngestionError, match=r"PDF cannot be opened: it is password-protected"):
        document_parse(path=path)


def helvetica_lines(
    text: str, *, x: float, y: float, width: float, leading: float = 14
) -> list[tuple[float, float, str]]:
    """Text wrapped greedily into lines of at most width points of 12pt Helvetica, from (x, y) downwards."""
    from pdfminer.fontmetrics import FONT_METRICS  # the metrics PDF readers use for the standard font

    widths = FONT_METRICS["Helvetica"][1]
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and sum(widths[char] for char in candidate) * 12 / 1000 <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return [(x, y - index * leading, line) for index, line in enumerate(lines)]


def chinese_lines(text: str, *, x: float, y: float, chars_per_line: int) -> list[tuple[float, float, str]]:
    """Chinese text cut into lines of chars_per_line characters (each exactly 12pt wide), 16pt apart."""
    cut = [text[start : start + chars_per_line] for start in range(0, len(text), chars_per_line)]
    return [(x, y - index * 16, line) for index, line in enumerate(cut)]


def ruled_table(*, x: list[float], y: list[float], skip: set[tuple[int, int]] = frozenset()) -> list[tuple]:
    """Border lines of a grid with column edges x and row edges y (top to bottom, PDF coordinates).

    skip holds (row, column edge index) pairs whose vertical border is not drawn: those cells are merged.
    """
    rules = [(x[0], y_value, x[-1], y_value) for y_value in y]
    for edge, x_value in enumerate(x):
        for row in range(len(y) - 1):
            if (row, edge) not in skip:
                rules.append((x_value, y[row], x_value, y[row + 1]))
    return rules


def test_pdf_table_rows_are_blocks_in_reading_order(tmp_path: Path) -> None:
    path = tmp_path / "dosing.pdf"
    page_1 = [(72, 700, "1. Dosing"), (72, 676, "Doses for adults are listed below.")]
    cells = [
        (76, 585, "Drug"), (176, 585, "Dose"),  # header cell "Dose" spans two columns (merged cell)
        (76, 565, "Morphine"), (176, 565, "5 mg"), (276, 565, "oral"),
        (76, 545, "Codeine"), (176, 545, "30 mg"),  # an empty cell keeps its place
    ]  # fmt: skip
    page_2 = [
        (72, 700, "Review the dose after four weeks."),
        *cells,
        (72, 500, "2. Monitoring"),
        (72, 476, "Check breathing after each dose."),
    ]
    grid = ruled_table(x=[72, 172, 272, 372], y=[600, 580, 560, 540], skip={(0, 2)})
    path.write_bytes(build_pdf([page_1, page_2], rules={1: grid}))

    blocks, document = parse_and_structure(path)

    assert [(block.text, block.page) for block in blocks] == [
        ("1. Dosing", 1),
        ("Doses for adults are listed below.", 1),
        ("Review the dose after four weeks.", 2),
        ("Drug | Dose", 2),
        ("Morphine | 5 mg | oral", 2),
        ("Codeine | 30 mg | ", 2),
        ("2. Monitoring", 2),
        ("Check breathing after each dose.", 2),
    ]  # each cell's words once: never again as an ordinary line
    table_segment = segment_containing(document, "Morphine | 5 mg")
    assert (table_segment.section_path, table_segment.page) == (("1. Dosing",), 2)


def test_pdf_chinese_table_cell_with_wrapped_lines(tmp_path: Path) -> None:
    path = tmp_path / "table_cn.pdf"
    lines = [
        (72, 700, "第一条　用药剂量见下表。"),
        (76, 650, "药品"), (176, 650, "用法"),
        (76, 625, "吗啡"), (176, 625, "口服，每次五毫"), (176, 611, "克。"),  # one cell, two lines
        (72, 560, "第二条　用药后观察呼吸。"),
    ]  # fmt: skip
    grid = ruled_table(x=[72, 172, 372], y=[665, 640, 605])
    path.write_bytes(build_pdf([lines], rules={0: grid}, chinese=True))

    blocks, document = parse_and_structure(path)

    assert [block.text for block in blocks] == [
        "第一条 用药剂量见下表。",  # the text layer gives an ideographic space as a plain one
        "药品 | 用法",
        "吗啡 | 口服，每次五毫克。",
        "第二条 用药后观察呼吸。",
    ]
    assert segment_containing(document, "吗啡 | 口服").section_path == ("第一条",)


def test_pdf_ruled_box_of_one_column_is_text_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "boxed.pdf"
    lines = [(72, 700, "Before the box."), (80, 660, "Warning: check allergies first."), (72, 600, "After the box.")]
    frame = ruled_table(x=[72, 400], y=[680, 640])
    path.write_bytes(build_pdf([lines], rules={0: frame}))

    blocks, _ = parse_and_structure(path)

    assert [block.text for block in blocks] == ["Before the box.", "Warning: check allergies first.", "After the box."]


LEFT_COLUMN = (
    "Community acquired pneumonia in adults is assessed with a severity score before any decision about "
    "the place of care is made, and the score is recorded in the notes of every patient."
)
RIGHT_COLUMN = (
    "Antibiotics are started within four hours of the diagnosis, and the choice of drug follows the local "
    "guidance on resistance, which the pharmacy reviews once a year."
)


def test_pdf_two_columns_read_left_column_first_under_a_full_width_title(tmp_path: Path) -> None:
    path = tmp_path / "columns.pdf"
    title = "Pneumonia in Adults: Diagnosis and Management of Community Infections"
    left = helvetica_lines(LEFT_COLUMN, x=72, y=680, width=216)
    right = helvetica_lines(RIGHT_COLUMN, x=324, y=680, width=216)
    assert len(left) >= 4 and len(right) >= 4 and left[0][1] == right[0][1]  # baselines side by side
    page = [(72, 730, title), *left, *right, (300, 40, "1")]
    path.write_bytes(build_pdf([page]))

    blocks, _ = parse_and_structure(path)
    texts = [block.text for block in blocks]

    assert texts[0] == title
    # however the lines are grouped into paragraphs, the words come in column order: left column, then right
    assert " ".join(texts) == f"{title} {LEFT_COLUMN} {RIGHT_COLUMN}"
    assert {block.page for block in blocks} == {1}


def test_pdf_chinese_columns_paragraph_continues_into_the_next_column(tmp_path: Path) -> None:
    path = tmp_path / "columns_cn.pdf"
    title = "关于进一步加强医疗机构感染预防与控制工作的通知（示例文本）"
    first = "第一条　医疗机构应当建立感染管理委员会，明确各部门职责，定期研究解决感染管理工作中的重大问题。"
    second = (
        "第二条　医务人员应当严格执行手卫生规范，在接触患者前后、进行无菌操作前以及接触患者体液后进行手卫生，"
        "并做好记录，接受检查。"
    )
    third = "第三条　本通知自印发之日起施行。"
    # left column: the first article, then two full lines of the second, which goes on at the top of the right one
    left = chinese_lines(first, x=72, y=690, chars_per_line=18)
    second_left = chinese_lines(second[: 18 * 2], x=72, y=690 - 16 * len(left), chars_per_line=18)
    right = chinese_lines(second[18 * 2 :], x=324, y=690, chars_per_line=18)
    right += chinese_lines(third, x=324, y=690 - 16 * len(right), chars_per_line=18)
    page = [(126, 730, title), *left, *second_left, *right, (300, 40, "- 1 -")]
    path.write_bytes(build_pdf([page], chinese=True))

    blocks, document = parse_and_structure(path)

    assert [block.text for block in blocks] == [title, *(text.replace("　", " ") for text in (first, second, third))]
    assert segment_containing(document, "手卫生规范").section_path == ("第二条",)


def test_pdf_three_columns(tmp_path: Path) -> None:
    path = tmp_path / "three.pdf"
    texts = ["第一条　" + "左栏内容" * 10, "第二条　" + "中栏内容" * 10, "第三条　" + "右栏内容" * 10]
    page = [
        line
        for column, text in enumerate(texts)
        for line in chinese_lines(text, x=60 + 172 * column, y=700, chars_per_line=12)
    ]
    path.write_bytes(build_pdf([page], chinese=True))

    blocks, _ = parse_and_structure(path)

    assert [block.text for block in blocks] == [text.replace("　", " ") for text in texts]


def test_pdf_single_column_with_short_lines_and_signature_is_not_split(tmp_path: Path) -> None:
    path = tmp_path / "notice.pdf"
    body = "为进一步规范药品采购管理，现将有关事项通知如下，请各单位认真贯彻执行，确保各项要求落实到位。"
    form = [
        ("姓　　名：", "张三"),
        ("科　　室：", "心血管内科"),
        ("职　　称：", "主任医师"),
        ("联系电话：", "12345678"),
    ]
    page = [
        *chinese_lines(body, x=72, y=700, chars_per_line=36),
        # a form: labels aligned by ideographic spaces, values beside them, over most of the page
        *[(72, 640 - 40 * row, label) for row, (label, _) in enumerate(form)],
        *[(192, 640 - 40 * row, value) for row, (_, value) in enumerate(form)],
        # the issuer and date, aligned right at the foot
        (396, 300, "示例市卫生健康委员会"),
        (420, 284, "二〇二四年一月一日"),
    ]
    path.write_bytes(build_pdf([page], chinese=True))

    blocks, _ = parse_and_structure(path)

    assert [block.text for block in blocks] == [
        body,
        "姓 名： 张三",
        "科 室： 心血管内科",
        "职 称： 主任医师",
        "联系电话： 12345678",
        "示例市卫生健康委员会",
        "二〇二四年一月一日",
    ]


# --- files that cannot be ingested -------------------------------------------------------------------------


def line_words(x0: float, x1: float, top: float, *, size: float = 10) -> list[LayoutItem]:
    """Words of one text line from x0 to x1: 30pt words, 4pt spaces (the last word ends at x1)."""
    words = []
    x = x0
    while x < x1:
        words.append(LayoutItem(x, top, min(x + 30, x1), top + size))
        x += 34
    return words


def column_page(sections: list[str], *, poke: bool = False) -> tuple[list[LayoutItem], dict[str, list[float]]]:
    """Words of a page made of sections top to bottom: "full" (a full-width line) or "columns" (12 lines in each
    of two columns, 72-290 and 322-540). Returns the words and the top of the lines of each part, by name."""
    items: list[LayoutItem] = []
    tops: dict[str, list[float]] = {}
    top = 50.0
    for number, kind in enumerate(sections):
        if kind == "full":
            items += line_words(72, 540, top)
            tops[f"full{number}"] = [top]
            top += 14
        else:
            column_tops = [top + 14 * row for row in range(12)]
            for row, line_top in enumerate(column_tops):
                # the first left line may reach a little past the others, into the gutter
                items += line_words(72, 300 if poke and row == 0 else 290, line_top)
                items += line_words(322, 540, line_top)
            tops[f"columns{number}"] = column_tops
            top += 14 * 12
        top += 10
    return items, tops


def region_of(regions: list[Region], x: float, y: float) -> int:
    return next(
        index for index, region in enumerate(regions) if region.x0 <= x < region.x1 and region.top <= y < region.bottom
    )


def test_layout_single_column_is_one_region() -> None:
    items = [word for row in range(30) for word in line_words(72, 540 if row % 5 else 300, 50 + 14 * row)]

    assert layout_regions(items) == [Region(-math.inf, -math.inf, math.inf, math.inf)]


@pytest.mark.parametrize("poke", [False, True])
def test_layout_full_width_parts_and_column_sections_in_reading_order(poke: bool) -> None:
    items, tops = column_page(["full", "columns", "full", "columns"], poke=poke)

    regions = layout_regions(items)

    # title, left, right, the full-width line between the sections, left, right: each part its own region
    order = [
        region_of(regions, 100, tops["full0"][0] + 5),
        region_of(regions, 100, tops["columns1"][0] + 5),
        region_of(regions, 400, tops["columns1"][0] + 5),
        region_of(regions, 100, tops["full2"][0] + 5),
        region_of(regions, 100, tops["columns3"][0] + 5),
        region_of(regions, 400, tops["columns3"][0] + 5),
    ]
    assert order == sorted(order) and len(set(order)) == 6
    assert region_of(regions, 100, tops["columns1"][-1] + 5) == order[1]  # the whole left column, top to bottom
    assert [regions[index].in_column for index in order] == [False, True, True, False, True, True]


def _zip_bytes(members: dict[str, str]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


_PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "guideline.pdf",
            _zip_bytes({"notes.txt": "hello"}),
            "The file is named .pdf but its content is not a PDF (looks like a ZIP archive).",
        ),
        (
            "guideline.pdf",
            b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
            "The file is named .pdf but its content is not a PDF (looks like an HTML page).",
        ),
        (
            "handbook.docx",
            _zip_bytes({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}),
            "The file is named .docx but its content is not a Word .docx document "
            "(looks like an Excel .xlsx workbook).",
        ),
        (
            "handbook.docx",
            b"this is not a zip archive",
            "The file is named .docx but its content is not a Word .docx document (looks like plain text).",
        ),
        (
            "handbook.docx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
            "The file is named .docx but its content is not a Word .docx document (looks like a legacy Microsoft "
            "Office file (.doc, .xls or .ppt)); save it as .docx and upload it again.",
        ),
        ("notes.txt", _PNG_BYTES, "The file is named .txt but its content is not text (looks like a PNG image)."),
        (
            "guide.md",
            build_pdf([[(72, 700, "Hello")]]),
            "The file is named .md but its content is not text (looks like a PDF document).",
        ),
        (
            "page.html",
            b"GIF89a\x01\x00\x01\x00",
            "The file is named .html but its content is not text (looks like a GIF image).",
        ),
        (
            "notes.txt",
            b"text that turns into \x00\x01\x02 binary data",
            "The file is named .txt but its content is not text (looks like binary data).",
        ),
    ],
)
def test_content_that_does_not_match_its_extension_fails_clearly(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(IngestionError, match=re.escape(reason)):
        document_parse(path=path)


def test_content_check_names_the_declared_type_when_the_name_differs(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(_zip_bytes({"a.txt": "a"}))

    with pytest.raises(IngestionError, match=re.escape("The file is given as type pdf but its content is not a PDF")):
        document_parse(path=path, file_type="pdf")


def test_pdf_with_bytes_before_its_header_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "prefixed.pdf"
    # some mail gateways and web exports put a few bytes before %PDF-; readers accept it in the first kilobyte
    path.write_bytes(b"\r\n" * 100 + build_pdf([[(72, 700, "Text after a prefix.")]]))

    blocks, _ = parse_and_structure(path)

    assert [block.text for block in blocks] == ["Text after a prefix."]


def test_utf16_text_with_byte_order_mark_is_text(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes("第一条 内容。\n".encode("utf-16"))  # NUL bytes, but text: the BOM says so

    blocks, _ = parse_and_structure(path)

    assert [block.text for block in blocks] == ["第一条 内容。"]


def test_zero_byte_file_fails(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")

    with pytest.raises(IngestionError, match=r"empty \(0 bytes\)"):
        document_parse(path=path)


@pytest.mark.parametrize(("name", "reason"), [("sheet.xlsx", r"Unsupported file type \.xlsx"), ("old.doc", r"\.docx")])
def test_unsupported_extension_fails(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"some bytes")

    with pytest.raises(IngestionError, match=reason):
        document_parse(path=path)


def test_whitespace_only_text_fails(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\u3000\n\n", encoding="utf-8")

    with pytest.raises(IngestionError, match="No text found"):
        document_parse(path=path)


def test_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(IngestionError, match="File not found"):
        document_parse(path=tmp_path / "gone.txt")
