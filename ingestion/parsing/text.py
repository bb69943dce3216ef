"""Plain text, Markdown and HTML into blocks of text in reading order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingestion.parsing.common import clean_line, collapse_whitespace, decode_text, table_row_text
from ingestion.types import Block, IngestionError

# --- plain text --------------------------------------------------------------------------------------------


def _text_of_file(path: Path) -> str:
    text = decode_text(path.read_bytes())
    if "\x00" in text:
        raise IngestionError("File looks binary, not text (it contains NUL bytes)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_parse(*, path: Path) -> tuple[str, list[Block], int | None]:
    # One block per non-empty line: lines are the natural unit of Chinese legal text (第X条 starts a line).
    blocks = [Block(text=cleaned) for line in _text_of_file(path).split("\n") if (cleaned := clean_line(line))]
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
    return table_row_text(cells)


def markdown_parse(*, path: Path) -> tuple[str, list[Block], int | None]:
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
        stripped = clean_line(line)
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
    return decode_text(data)


def html_parse(*, path: Path) -> tuple[str, list[Block], int | None]:
    import lxml.html

    markup = _decode_html(path.read_bytes())
    markup = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)  # lxml refuses str input that declares an encoding
    try:
        root = lxml.html.document_fromstring(markup)
    except Exception as error:  # lxml raises ParserError/ValueError on documents it cannot build a tree from
        raise IngestionError(f"HTML cannot be parsed: {error}") from error

    page_title = collapse_whitespace(root.findtext(".//title") or "")
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
        if text := collapse_whitespace("".join(self._inline_parts)):
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
            if text := collapse_whitespace(element.text_content()):
                self.blocks.append(Block(text=text, heading_level=_HTML_HEADING_LEVELS[tag]))
            return
        if tag == "pre":
            self.flush()
            if text := element.text_content().strip("\n").rstrip():
                self.blocks.append(Block(text=text))
            return
        if tag == "tr" and not self._is_layout_row(element):
            self.flush()
            cells = [collapse_whitespace(cell.text_content()) for cell in element if cell.tag in ("td", "th")]
            if any(cells):
                self.blocks.append(Block(text=table_row_text(cells)))
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
