"""Read an uploaded file into blocks of text in reading order: txt, Markdown, HTML, DOCX and PDF.

Every failure a document can cause by its content (empty, unsupported, encrypted, corrupt, scanned) raises
IngestionError with a reason an administrator can act on.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ingestion.structure_patterns import match_line_heading, normalize_label, starts_with_numbering
from ingestion.types import Block, IngestionError

logger = logging.getLogger(__name__)

FILE_TYPES_BY_SUFFIX = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
}
SUPPORTED_FILE_TYPES = ("txt", "md", "html", "docx", "pdf")
MAX_TITLE_CHARS = 200

_INVISIBLE_CHARS = "\ufeff\u200b"  # BOM and zero-width space: stray copies survive in copied web text


def document_parse(*, path: Path, file_type: str | None = None) -> tuple[str, list[Block], int | None]:
    """Parse a file into (title guess, blocks in reading order, page count or None).

    file_type is one of SUPPORTED_FILE_TYPES; None infers it from the file name's extension.
    The title guess may be "" when the format carries none (plain text); structure falls back to the first line.
    """
    if file_type is None:
        file_type = _file_type_from_suffix(path)
    else:  # tolerate aliases a caller may pass: "markdown", ".htm", "PDF"
        file_type = FILE_TYPES_BY_SUFFIX.get("." + file_type.lower().lstrip("."), file_type.lower())
    if file_type not in SUPPORTED_FILE_TYPES:
        raise IngestionError(f"Unsupported file type '{file_type}'; supported: {', '.join(SUPPORTED_FILE_TYPES)}")
    try:
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise IngestionError(f"File not found: {path.name}") from error
    if size == 0:
        raise IngestionError("File is empty (0 bytes)")

    parsers = {
        "txt": _text_parse,
        "md": _markdown_parse,
        "html": _html_parse,
        "docx": _docx_parse,
        "pdf": _pdf_parse,
    }
    title, blocks, page_count = parsers[file_type](path)
    if not blocks:
        raise IngestionError(f"No text found in this {file_type.upper()} file")
    return normalize_label(title)[:MAX_TITLE_CHARS], blocks, page_count


def _file_type_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FILE_TYPES_BY_SUFFIX:
        return FILE_TYPES_BY_SUFFIX[suffix]
    if suffix == ".doc":
        raise IngestionError("Legacy Word .doc files are not supported; save the file as .docx and upload it again")
    shown = suffix or "(no extension)"
    raise IngestionError(f"Unsupported file type {shown}; supported: .txt, .md, .html, .docx, .pdf")


# --- plain text --------------------------------------------------------------------------------------------


def _decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK/GB2312), else charset-normalizer's guess."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    import charset_normalizer  # last resort only: its guesses on short texts are unreliable

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise IngestionError("File is not readable text (unknown character encoding or binary content)")
    return str(best)


def _text_of_file(path: Path) -> str:
    text = _decode_text(path.read_bytes())
    if "\x00" in text:
        raise IngestionError("File looks binary, not text (it contains NUL bytes)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _clean_line(line: str) -> str:
    return line.strip().strip(_INVISIBLE_CHARS).strip()


def _text_parse(path: Path) -> tuple[str, list[Block], int | None]:
    # One block per non-empty line: lines are the natural unit of Chinese legal text (第X条 starts a line).
    blocks = [Block(text=cleaned) for line in _text_of_file(path).split("\n") if (cleaned := _clean_line(line))]
    return "", blocks, None


# --- Markdown ----------------------------------------------------------------------------------------------

_MD_ATX_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_MD_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)\s*$")
_MD_FENCE_RE = re.compile(r"^ {0,3}(```|~~~)")
_MD_TABLE_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MD_THEMATIC_BREAK_RE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_MD_INLINE_RULES = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # link -> its text
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
)


def _markdown_inline(text: str) -> str:
    for pattern, replacement in _MD_INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


def _markdown_table_row(line: str) -> str | None:
    """Table row "| a | b |" -> "a | b"; the "|---|" separator row -> None."""
    if _MD_TABLE_SEPARATOR_RE.match(line):
        return None
    cells = [_markdown_inline(cell.strip()) for cell in line.strip().strip("|").split("|")]
    return " | ".join(cells)


def _markdown_parse(path: Path) -> tuple[str, list[Block], int | None]:
    lines = _text_of_file(path).split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter: metadata, not content
        closing = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
        if closing is not None:
            lines = lines[closing + 1 :]

    blocks: list[Block] = []
    fence_lines: list[str] | None = None
    previous_was_paragraph = False
    for line in lines:
        if fence_lines is not None:
            if _MD_FENCE_RE.match(line):
                if code := "\n".join(fence_lines).strip("\n"):
                    blocks.append(Block(text=code))
                fence_lines = None
            else:
                fence_lines.append(line.rstrip())
            continue
        if _MD_FENCE_RE.match(line):
            fence_lines = []
            previous_was_paragraph = False
            continue
        stripped = _clean_line(line)
        setext = _MD_SETEXT_RE.match(line)
        if setext and previous_was_paragraph and blocks:
            # "Title\n=====": the line before was a heading all along
            level = 1 if setext.group(1).startswith("=") else 2
            blocks[-1] = Block(text=blocks[-1].text, heading_level=level)
            previous_was_paragraph = False
            continue
        previous_was_paragraph = False
        if not stripped or _MD_THEMATIC_BREAK_RE.match(line):
            continue
        heading = _MD_ATX_HEADING_RE.match(line)
        if heading:
            if heading_text := _markdown_inline((heading.group(2) or "").strip()):
                blocks.append(Block(text=heading_text, heading_level=len(heading.group(1))))
            continue
        if stripped.startswith("|"):
            if row := _markdown_table_row(stripped):
                blocks.append(Block(text=row))
            continue
        text = _markdown_inline(re.sub(r"^(>\s?)+", "", stripped)).strip()
        if text:
            blocks.append(Block(text=text))
            previous_was_paragraph = True
    if fence_lines:  # unclosed fence: keep the code rather than lose it
        blocks.append(Block(text="\n".join(fence_lines).strip("\n")))

    title = next((block.text for block in blocks if block.heading_level == 1), "")
    return title, blocks, None


# --- HTML --------------------------------------------------------------------------------------------------

_HTML_DROPPED_TAGS = (
    "script", "style", "noscript", "template", "nav", "aside", "svg", "iframe", "button", "select", "object",
)  # fmt: skip
_HTML_PAGE_CHROME_TAGS = ("header", "footer")  # dropped unless inside an article/section/main
_HTML_CHROME_ROLES = ("navigation", "banner", "contentinfo", "search", "complementary")
_HTML_BLOCK_TAGS = frozenset(
    (
        "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "figure",
        "figcaption", "address", "center", "table", "tbody", "thead", "tfoot", "caption", "form", "fieldset",
        "details", "summary", "body", "html", "hr",
    )
)  # fmt: skip
_HTML_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
_HTML_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_WHITESPACE_RUN_RE = re.compile(r"[ \t\r\n\f\v\u00a0\u3000\u200b\ufeff]+")


def _collapse_whitespace(text: str) -> str:
    return _WHITESPACE_RUN_RE.sub(" ", text).strip()


def _decode_html(data: bytes) -> str:
    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        declared = _HTML_META_CHARSET_RE.search(data[:4096])
        if declared:
            encoding = declared.group(1).decode("ascii").lower()
            # Pages labelled gb2312/gbk routinely contain GB18030-only characters; the superset decodes them all.
            if encoding in ("gb2312", "gbk", "x-gbk"):
                encoding = "gb18030"
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                pass  # wrong or unknown label: fall back to detection
    return _decode_text(data)


def _html_parse(path: Path) -> tuple[str, list[Block], int | None]:
    import lxml.html

    markup = _decode_html(path.read_bytes())
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)  # lxml refuses str input that declares an encoding
    try:
        root = lxml.html.document_fromstring(markup)
    except Exception as error:  # lxml raises ParserError/ValueError on documents it cannot build a tree from
        raise IngestionError(f"HTML cannot be parsed: {error}") from error

    page_title = _collapse_whitespace(root.findtext(".//title") or "")
    content_root = _html_content_root(root)
    _html_drop_chrome(content_root)
    collector = _HtmlBlockCollector()
    collector.walk(content_root)
    collector.flush()
    blocks = collector.blocks
    first_h1 = next((block.text for block in blocks if block.heading_level == 1), "")
    return page_title or first_h1, blocks, None


def _html_content_root(root: Any) -> Any:
    """<main> (or role=main) when the page marks it, else a sole <article>, else <body>."""
    for candidate in root.xpath("//main | //*[@role='main']"):
        return candidate
    articles = root.xpath("//article")
    if len(articles) == 1:
        return articles[0]
    body = root.find("body")
    return body if body is not None else root


def _html_drop_chrome(content_root: Any) -> None:
    doomed = list(content_root.iter(*_HTML_DROPPED_TAGS))
    for element in content_root.iter(*_HTML_PAGE_CHROME_TAGS):
        if not any(ancestor.tag in ("article", "section", "main") for ancestor in element.iterancestors()):
            doomed.append(element)
    for element in content_root.iter():
        if not isinstance(element.tag, str):
            continue
        role = (element.get("role") or "").lower()
        style = (element.get("style") or "").replace(" ", "").lower()
        hidden = element.get("hidden") is not None or element.get("aria-hidden") == "true"
        if role in _HTML_CHROME_ROLES or hidden or "display:none" in style:
            doomed.append(element)
    for element in doomed:
        if element is not content_root and element.getparent() is not None:
            element.drop_tree()  # keeps the element's tail text, which belongs to the parent


class _HtmlBlockCollector:
    """Walks the element tree, turning block-level elements into Blocks and gathering inline text between them."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._inline_parts: list[str] = []

    def flush(self) -> None:
        if text := _collapse_whitespace("".join(self._inline_parts)):
            self.blocks.append(Block(text=text))
        self._inline_parts.clear()

    def _add_text(self, text: str | None) -> None:
        if text:
            self._inline_parts.append(text)

    def walk(self, element: Any) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if not tag:  # comment or processing instruction: only its tail is content
            return
        if tag == "br":
            self.flush()  # Chinese government pages separate paragraphs with <br>
            return
        if tag in _HTML_HEADING_LEVELS:
            self.flush()
            if text := _collapse_whitespace(element.text_content()):
                self.blocks.append(Block(text=text, heading_level=_HTML_HEADING_LEVELS[tag]))
            return
        if tag == "pre":
            self.flush()
            if text := element.text_content().strip("\n").rstrip():
                self.blocks.append(Block(text=text))
            return
        if tag == "tr" and not self._is_layout_row(element):
            self.flush()
            cells = [_collapse_whitespace(cell.text_content()) for cell in element if cell.tag in ("td", "th")]
            if any(cells):
                self.blocks.append(Block(text=" | ".join(cells)))
            return
        is_block = tag in _HTML_BLOCK_TAGS or tag in ("tr", "td", "th")
        if is_block:
            self.flush()
        self._add_text(element.text)
        for child in element:
            self.walk(child)
            self._add_text(child.tail)
        if is_block:
            self.flush()

    @staticmethod
    def _is_layout_row(row: Any) -> bool:
        # Old sites lay whole pages out in tables; a cell holding paragraphs or tables is layout, not data.
        return any(
            descendant.tag in ("p", "div", "table", "br", "ul", "ol", *_HTML_HEADING_LEVELS)
            for cell in row
            for descendant in cell.iterdescendants()
            if isinstance(descendant.tag, str)
        )


# --- DOCX --------------------------------------------------------------------------------------------------

_DOCX_HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_DOCX_TITLE_STYLES = ("title", "标题")


def _docx_parse(path: Path) -> tuple[str, list[Block], int | None]:
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
                if not (text := _clean_line(paragraph.text)):
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
    title = _clean_line(document.core_properties.title or "") or first_title_like
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
        cells = [_collapse_whitespace(_Cell(tc, table).text) for tc in row.tc_lst]
        if any(cells):
            rows.append(Block(text=" | ".join(cells)))
    return rows


# --- PDF ---------------------------------------------------------------------------------------------------

_PDF_PAGE_NUMBER_RE = re.compile(
    r"^(?:[-–—\s]*\d{1,4}[-–—\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|"
    r"(?:page\s*)?\d{1,4}\s*(?:/|of)\s*\d{1,4}|page\s*\d{1,4})$",
    re.IGNORECASE,
)
_PDF_EDGE_LINES = 2  # running headers/footers live in the first/last lines of a page
_PDF_REPEATED_SHARE = 0.6
_CJK_CHAR_RE = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _pdf_parse(path: Path) -> tuple[str, list[Block], int | None]:
    page_count, metadata_title, outline = _pdf_outline_and_metadata(path)
    page_lines = _pdf_page_lines(path)
    if not any(page_lines):
        raise IngestionError("PDF has no text layer (scanned?); OCR is not available")
    _pdf_drop_running_lines(page_lines)

    outline_keys = {key for _, title, _ in outline if (key := _heading_key(title))}
    blocks: list[Block] = []
    for page_number, lines in enumerate(page_lines, start=1):
        paragraphs = _pdf_paragraphs(lines, outline_keys=outline_keys)
        blocks.extend(Block(text=text, page=page_number) for text in paragraphs)
    blocks = _pdf_apply_outline(blocks, outline)
    title = metadata_title or next((title for level, title, _ in outline if level == 0), "")
    return title, blocks, page_count


def _pdf_outline_and_metadata(path: Path) -> tuple[int, str, list[tuple[int, str, int | None]]]:
    """Open with PDFium: page count, metadata title, outline [(level 0-based, title, page index)].

    PDFium's error codes tell encrypted from damaged files, which gives the admin a usable reason.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        message = str(error)
        if "password" in message.lower():
            raise IngestionError(
                "PDF cannot be opened: it is password-protected (encrypted); upload an unprotected copy"
            ) from error
        raise IngestionError(f"PDF cannot be opened: the file is damaged or not a PDF ({message})") from error
    try:
        page_count = len(document)
        metadata_title = _clean_line(document.get_metadata_dict().get("Title", "") or "")
        metadata_title = re.sub(r"^Microsoft Word - ", "", metadata_title)  # printer-driver noise, not a title
        outline: list[tuple[int, str, int | None]] = []
        for bookmark in document.get_toc():
            destination = bookmark.get_dest()
            page_index = destination.get_index() if destination is not None else None
            if bookmark_title := normalize_label(bookmark.get_title()):
                outline.append((bookmark.level, bookmark_title, page_index))
    finally:
        document.close()
    return page_count, metadata_title, outline


def _pdf_page_lines(path: Path) -> list[list[dict[str, Any]]]:
    """Text lines per page with their positions (pdfplumber), in reading order."""
    import pdfplumber

    pages: list[list[dict[str, Any]]] = []
    try:
        with pdfplumber.open(path) as pdf:
            for page_number, page in enumerate(pdf.pages, start=1):
                try:
                    lines = page.dedupe_chars().extract_text_lines(strip=True, return_chars=False)
                except Exception as error:  # one broken page should not lose the rest of the document
                    logger.warning(
                        "PDF %s: page %d skipped, its text cannot be read: %s", path.name, page_number, error
                    )
                    lines = []
                pages.append([line for line in lines if _clean_line(line["text"])])
    except IngestionError:
        raise
    except Exception as error:  # pdfminer raises many exception types on malformed files
        raise IngestionError(f"PDF cannot be opened: the file is damaged ({error})") from error
    return pages


def _pdf_drop_running_lines(page_lines: list[list[dict[str, Any]]]) -> None:
    """Remove bare page numbers and headers/footers repeated at the page edges of most pages (in place)."""

    def edge_indexes(lines: list[dict[str, Any]]) -> set[int]:
        count = len(lines)
        return set(range(min(_PDF_EDGE_LINES, count))) | set(range(max(0, count - _PDF_EDGE_LINES), count))

    def running_key(text: str) -> str:
        return re.sub(r"\d+", "#", normalize_label(text))  # "Page 3 of 9" and "Page 4 of 9" are the same footer

    pages_with_key: Counter[str] = Counter()
    for lines in page_lines:
        pages_with_key.update({running_key(lines[index]["text"]) for index in edge_indexes(lines)})
    threshold = max(2, _PDF_REPEATED_SHARE * len(page_lines))
    repeated = {key for key, count in pages_with_key.items() if count >= threshold}

    for page_index, lines in enumerate(page_lines):
        edges = edge_indexes(lines)
        page_lines[page_index] = [
            line
            for index, line in enumerate(lines)
            if index not in edges
            or not (_PDF_PAGE_NUMBER_RE.match(normalize_label(line["text"])) or running_key(line["text"]) in repeated)
        ]


def _pdf_paragraphs(lines: list[dict[str, Any]], *, outline_keys: set[str]) -> list[str]:
    """Join wrapped lines into paragraphs: a line that reaches the right margin continues on the next line.

    Headings stay lines of their own so structure can find them: lines starting with numbering (第X条, 一、, 1.)
    start a new paragraph, and a line that is a heading as a whole (or an outline title) never absorbs the next.
    """
    if not lines:
        return []
    left = min(line["x0"] for line in lines)
    right = max(line["x1"] for line in lines)
    paragraphs: list[str] = []
    current = _clean_line(lines[0]["text"])
    for previous, line in itertools.pairwise(lines):
        text = _clean_line(line["text"])
        previous_height = previous["bottom"] - previous["top"]
        char_width = (previous["x1"] - previous["x0"]) / max(1, len(previous["text"]))
        reaches_margin = previous["x1"] >= right - max(0.05 * (right - left), 2 * char_width)
        same_size = abs((line["bottom"] - line["top"]) - previous_height) <= 0.25 * previous_height
        close_below = 0 <= line["top"] - previous["bottom"] <= 0.7 * previous_height
        # a line that is a heading as a whole ("1. Introduction", "第一章 总则") never continues on the next line
        previous_heading = match_line_heading(current, inside_article=False, numbered_headings=True)
        previous_is_heading = _heading_key(current) in outline_keys or (
            previous_heading is not None and previous_heading.body_offset is None
        )
        is_heading = starts_with_numbering(text) or _heading_key(text) in outline_keys
        if reaches_margin and same_size and close_below and not previous_is_heading and not is_heading:
            current = _join_wrapped(current, text)
        else:
            paragraphs.append(current)
            current = text
    paragraphs.append(current)
    return paragraphs


def _join_wrapped(first: str, second: str) -> str:
    if re.search(r"[A-Za-z]-$", first) and second[:1].islower():
        return first[:-1] + second  # hyphenated word split across lines
    if _CJK_CHAR_RE.match(first[-1:]) or _CJK_CHAR_RE.match(second[:1]):
        return first + second  # Chinese has no spaces between words
    return f"{first} {second}"


def _heading_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def _pdf_apply_outline(blocks: list[Block], outline: list[tuple[int, str, int | None]]) -> list[Block]:
    """Mark blocks whose text matches an outline (bookmark) title as headings at the bookmark's level."""
    matched_index = -1
    for level, title, page_index in outline:
        key = _heading_key(title)
        if not key:
            continue
        for index in range(matched_index + 1, len(blocks)):
            block = blocks[index]
            if page_index is not None and block.page != page_index + 1:
                continue
            if block.heading_level is None and _heading_key(block.text) == key:
                blocks[index] = Block(text=block.text, page=block.page, heading_level=level + 1)
                matched_index = index
                break
    return blocks
