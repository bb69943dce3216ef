"""Text helpers shared by the format parsers: decoding, line cleaning, joining wrapped lines."""

from __future__ import annotations

import re

from ingestion.types import IngestionError

INVISIBLE_CHARS = "\ufeff\u200b"  # BOM and zero-width space: stray copies survive in copied web text
CJK_CHAR_RE = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")
_WHITESPACE_RUN_RE = re.compile(r"[ \t\r\n\f\v\u00a0\u3000\u200b\ufeff]+")


def decode_text(data: bytes) -> str:
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


def clean_line(line: str) -> str:
    return line.strip().strip(INVISIBLE_CHARS).strip()


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE_RUN_RE.sub(" ", text).strip()


def join_wrapped(first: str, second: str) -> str:
    """Join a line with its continuation: no space in Chinese, none inside a hyphenated word, else one space."""
    if not first or not second:
        return first or second
    if re.search(r"[A-Za-z]-$", first) and second[:1].islower():
        return first[:-1] + second  # hyphenated word split across lines
    if CJK_CHAR_RE.match(first[-1:]) or CJK_CHAR_RE.match(second[:1]):
        return first + second  # Chinese has no spaces between words
    return f"{first} {second}"


def table_row_text(cells: list[str]) -> str:
    """One table row as one line: cells joined by " | " (the same in every format, so chunks read alike)."""
    return " | ".join(cells)
