"""Heading patterns found on plain lines: Chinese legal/policy numbering and numbered English headings.

Each recognised heading gets a rank; a lower rank is an outer level. Ranks of explicit headings
(Block.heading_level 1..9) sit above every pattern rank, so pattern headings nest inside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Outermost first: 第X编 > 第X分编 > 第X章 > 第X节 > 第X条 > 一、 > （一） > 1. > 1.2 > 1.2.3 ...
RANK_BIAN = 10
RANK_FENBIAN = 11
RANK_ZHANG = 12
RANK_JIE = 13
RANK_TIAO = 14
RANK_CN_ENUM = 15  # 一、
RANK_CN_PAREN_ENUM = 16  # （一）
RANK_ARABIC_BASE = 16  # "1." -> 17, "1.2" -> 18, "1.2.3" -> 19

_CN_NUMERAL = "[零一二三四五六七八九十百千万〇两0-9０-９]+"
_DIVISION_RANKS = {"编": RANK_BIAN, "分编": RANK_FENBIAN, "章": RANK_ZHANG, "节": RANK_JIE}

# \s covers the ideographic space U+3000 and tabs, both common in these texts.
# "第一百二十条之一" is an article inserted by amendment; "第一条【立法目的】…" carries an annotated title.
_ARTICLE_RE = re.compile(rf"^\s*(第{_CN_NUMERAL}条(?:之{_CN_NUMERAL})?)(?=\s|$|【)\s*")
_DIVISION_RE = re.compile(rf"^\s*第{_CN_NUMERAL}(分编|编|章|节)(.*)$")
_CN_ENUM_RE = re.compile(r"^\s*[一二三四五六七八九十百]+、(.*)$")
_CN_PAREN_ENUM_RE = re.compile(r"^\s*[（(][一二三四五六七八九十百]+[)）]\s*(.*)$")
# "1. Intro", "1、总体要求", "2.3 Opioid dosing", "2.3. Opioid dosing"; the title must start with a letter or CJK.
_ARABIC_RE = re.compile(r"^\s*(\d{1,3}(?:[.．]\d{1,3})*)([.．、]?)(\s*)([^\W\d_].*)$")

_NUMBERING_START_RE = re.compile(r"^\s*\d{1,3}(?:[.．]\d{1,3})*(?:[.．、]|\s)")

SENTENCE_END_PUNCTUATION = "。；;：:，,！？!?."
_INNER_PUNCTUATION = "。；;：:，,！？!?"
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACE_RUN_RE = re.compile(r"[\s\u200b\ufeff]+")

MAX_CJK_HEADING_CHARS = 40
MAX_LATIN_HEADING_CHARS = 80  # English headings carry more characters per word
MAX_ABSORBED_TITLE_CHARS = 30


@dataclass(frozen=True)
class LineHeading:
    """A heading recognised on one line of text."""

    rank: int
    label: str
    # Offset in the line where body text starts (article lines like "第一条　为了…"); None: the whole line is heading.
    body_offset: int | None = None
    # A bare "第一章" whose title sits on the next line (some sources break it there).
    wants_title: bool = False


def normalize_label(text: str) -> str:
    """Collapse whitespace runs (incl. U+3000, tabs, zero-width chars) to one space so labels read cleanly."""
    return _SPACE_RUN_RE.sub(" ", text).strip()


def _is_short(text: str) -> bool:
    limit = MAX_CJK_HEADING_CHARS if _CJK_RE.search(text) else MAX_LATIN_HEADING_CHARS
    return len(text) <= limit


def is_title_like(text: str) -> bool:
    """Short and not ending like a sentence: how headings differ from list items and body lines."""
    text = normalize_label(text)
    return bool(text) and _is_short(text) and text[-1] not in SENTENCE_END_PUNCTUATION


def _is_cn_enum_title(line: str, rest: str) -> bool:
    # Chinese notices often end their 一、/（一） headings with "。" ("一、明确定价范围和管理权限。");
    # accept one final "。" when nothing else in the line reads like a sentence.
    if is_title_like(line):
        return True
    rest = normalize_label(rest)
    return (
        _is_short(normalize_label(line))
        and rest.endswith("。")
        and not any(mark in rest[:-1] for mark in _INNER_PUNCTUATION)
    )


def match_line_heading(line: str, *, inside_article: bool, numbered_headings: bool) -> LineHeading | None:
    """Recognise a heading on a line of body text; None when the line is body.

    inside_article: a 第X条 is open, so 一、/（一）/1. lines are the article's list items, not headings.
    numbered_headings: whether 一、/（一）/1. lines may be headings at all (off when the format has its own outline).
    """
    article = _ARTICLE_RE.match(line)
    if article:
        body_offset = article.end() if article.end() < len(line.rstrip()) else None
        return LineHeading(rank=RANK_TIAO, label=article.group(1), body_offset=body_offset)

    division = _DIVISION_RE.match(line)
    if division and is_title_like(line):
        rest = division.group(2)
        return LineHeading(
            rank=_DIVISION_RANKS[division.group(1)],
            label=normalize_label(line),
            wants_title=not normalize_label(rest),
        )

    if inside_article or not numbered_headings:
        return None

    cn_enum = _CN_ENUM_RE.match(line)
    if cn_enum:
        if normalize_label(cn_enum.group(1)) and _is_cn_enum_title(line, cn_enum.group(1)):
            return LineHeading(rank=RANK_CN_ENUM, label=normalize_label(line))
        return None

    cn_paren = _CN_PAREN_ENUM_RE.match(line)
    if cn_paren:
        if normalize_label(cn_paren.group(1)) and _is_cn_enum_title(line, cn_paren.group(1)):
            return LineHeading(rank=RANK_CN_PAREN_ENUM, label=normalize_label(line))
        return None

    arabic = _ARABIC_RE.match(line)
    if arabic and is_title_like(line):
        number, separator, space = arabic.group(1), arabic.group(2), arabic.group(3)
        depth = len(re.split(r"[.．]", number))
        # "1 Introduction" or "1.5倍…" are too ambiguous: a single number needs "." / "、", a dotted one a space or dot.
        if (depth == 1 and not separator) or (depth > 1 and not separator and not space):
            return None
        return LineHeading(rank=RANK_ARABIC_BASE + depth, label=normalize_label(line))
    return None


def can_be_absorbed_title(line: str) -> bool:
    """Whether a line can complete a bare "第一章" as its title: short, no sentence punctuation, not a heading."""
    text = normalize_label(line)
    return (
        0 < len(text) <= MAX_ABSORBED_TITLE_CHARS
        and not any(mark in text for mark in SENTENCE_END_PUNCTUATION)
        and match_line_heading(text, inside_article=False, numbered_headings=True) is None
    )


def starts_with_numbering(line: str) -> bool:
    """Whether a line opens with structure or list numbering (第X条, 第X章, 一、, （一）, 1.); the PDF parser
    keeps such lines out of merged paragraphs so headings and list items stay on their own lines."""
    patterns = (_ARTICLE_RE, _DIVISION_RE, _CN_ENUM_RE, _CN_PAREN_ENUM_RE, _NUMBERING_START_RE)
    return any(pattern.match(line) for pattern in patterns)
