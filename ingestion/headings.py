"""Patterns found on plain lines: headings (Chinese legal/policy numbering, English regulations, numbered
headings and rules) and recommendation statements with their grades (clinical guidelines).

Each recognised heading gets a rank; a lower rank is an outer level. Ranks of explicit headings
(Block.heading_level 1..9) sit above every pattern rank, so pattern headings nest inside them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# Outermost first: 第X编 > 第X分编 > 第X章 > 第X节 > 第X条 > 一、 > （一） > 1. > 1.2 > 1.2.3 ...
# English regulations share the ranks: Part > Subpart > Chapter > Article / § / Rule / Sec.
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
_EN_DIVISION_RANKS = {"part": RANK_BIAN, "subpart": RANK_FENBIAN, "chapter": RANK_ZHANG}

# \s covers the ideographic space U+3000 and tabs, both common in these texts.
# "第一百二十条之一" is an article inserted by amendment; "第一条【立法目的】…" carries an annotated title.
_ARTICLE_RE = re.compile(rf"^\s*(第{_CN_NUMERAL}条(?:之{_CN_NUMERAL})?)(?=\s|$|【)\s*")
_DIVISION_RE = re.compile(rf"^\s*第{_CN_NUMERAL}(分编|编|章|节)(.*)$")
_CN_ENUM_RE = re.compile(r"^\s*[一二三四五六七八九十百]+、(.*)$")
_CN_PAREN_ENUM_RE = re.compile(r"^\s*[（(][一二三四五六七八九十百]+[)）]\s*(.*)$")
# "1. Intro", "1、总体要求", "2.3 Opioid dosing", "2.3. Opioid dosing"; the title must start with a letter or CJK.
_ARABIC_RE = re.compile(r"^\s*(\d{1,3}(?:[.．]\d{1,3})*)([.．、]?)(\s*)([^\W\d_].*)$")
# A numbered rule carries its text on the same line: "14.2.3 The applicant shall …", "4.2.1　对于……".
# The text must open like a sentence (capital, CJK, bracket or quote): "3.5 mg daily" is a decimal, not a rule.
_RULE_RE = re.compile(r"^\s*(\d{1,3}(?:[.．]\d{1,3})+)[.．]?\s+(?=[A-Z\u3400-\u9fff(（\[【“\"'‘])")
# English regulation units that are cited like 第X条: "Article 5", "§ 164.312", "Rule 14.2", "Sec. 2."; the text
# after the number opens with a capital (a title or the rule's text), so "Article 5 of the Act" stays body.
_EN_ARTICLE_RE = re.compile(
    r"^\s*((?:Article|ARTICLE|Art\.)\s+\d+[a-z]?|§{1,2}\s*\d+(?:[.\-–]\d+)*[a-z]?|(?:Rule|RULE)\s+\d+(?:\.\d+)*[A-Za-z]?"
    r"|(?:Sec\.|SEC\.)\s*\d+[a-z]?)(?=\s|$|[.:–—-])[.:–—-]?\s*(?=$|[A-Z(\[“\"])"
)
_EN_DIVISION_RE = re.compile(
    r"^\s*(Part|PART|Subpart|SUBPART|Chapter|CHAPTER)\s+(\d{1,4}[A-Z]?|[IVXLC]{1,7}|[A-Z])(?=\s|$|[.:–—-])"
    r"[.:–—-]?\s*(?=$|[A-Z“\"])"
)

_NUMBERING_START_RE = re.compile(r"^\s*\d{1,3}(?:[.．]\d{1,3})*(?:[.．、]|\s)")
_HEADING_NUMBER_RE = re.compile(r"^\s*(\d{1,3}(?:[.．]\d{1,3})*)(?:[.．、]|\s|$)")
# List items inside an article or a recommendation: （一） 一、 1. 1) (a) ① - •
_LIST_ITEM_RE = re.compile(
    r"^\s*(?:[（(](?:[一二三四五六七八九十百零〇]+|\d{1,3}|[a-zA-Z]|[ivx]{1,4})[)）]|[一二三四五六七八九十]+、"
    r"|\d{1,3}[.．、)）](?!\d)|[a-z][.)]\s|[①-⑳]|[-•·*▪●○]\s?)"
)

SENTENCE_END_PUNCTUATION = "。；;：:，,！？!?."
_INNER_PUNCTUATION = "。；;：:，,！？!?"
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACE_RUN_RE = re.compile(r"[\s\u200b\ufeff]+")

MAX_CJK_HEADING_CHARS = 40
MAX_LATIN_HEADING_CHARS = 80  # English headings carry more characters per word
MAX_ABSORBED_TITLE_CHARS = 30
MAX_ABSORBED_LATIN_TITLE_CHARS = 80  # "Principles relating to processing of personal data" under "Article 5"
MAX_EN_DIVISION_CHARS = 160  # "Subpart C—Security Standards for the Protection of Electronic Protected Health …"


@dataclass(frozen=True)
class LineHeading:
    """A heading recognised on one line of text."""

    rank: int
    label: str
    # Offset in the line where body text starts (article lines like "第一条　为了…"); None: the whole line is heading.
    body_offset: int | None = None
    # A bare "第一章" whose title sits on the next line (some sources break it there).
    wants_title: bool = False
    # (14, 2, 3) for "14.2.3 …": lets later numbered rules check that they continue the open numbering.
    number: tuple[int, ...] | None = None


def normalize_label(text: str) -> str:
    """Collapse whitespace runs (incl. U+3000, tabs, zero-width chars) to one space so labels read cleanly."""
    return _SPACE_RUN_RE.sub(" ", text).strip()


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def _is_short(text: str) -> bool:
    limit = MAX_CJK_HEADING_CHARS if _CJK_RE.search(text) else MAX_LATIN_HEADING_CHARS
    return len(text) <= limit


def is_title_like(text: str) -> bool:
    """Short and not ending like a sentence: how headings differ from list items and body lines."""
    text = normalize_label(text)
    return bool(text) and _is_short(text) and text[-1] not in SENTENCE_END_PUNCTUATION


def _is_title_with_final_stop(line: str, rest: str) -> bool:
    # Chinese notices often end their 一、/（一） headings with "。" ("一、明确定价范围和管理权限。") and the CFR
    # ends its section titles with "." ("§ 164.312 Technical safeguards."); accept one final stop when
    # nothing else in the line reads like a sentence.
    if is_title_like(line):
        return True
    rest = normalize_label(rest)
    return (
        _is_short(normalize_label(line))
        and rest[-1:] in ("。", ".")
        and not any(mark in rest[:-1] for mark in _INNER_PUNCTUATION)
    )


def _number_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.split(r"[.．]", text))


def heading_number(label: str) -> tuple[int, ...] | None:
    """The leading number of a heading label ("2. Eligibility" -> (2,), "2.3 Dosing" -> (2, 3)), if any."""
    match = _HEADING_NUMBER_RE.match(label)
    return _number_of(match.group(1)) if match else None


def _continues_numbering(number: tuple[int, ...], open_numbers: Collection[tuple[int, ...]]) -> bool:
    # "2.4 …" continues when "2." or a "2.x" is open; a random "3.5 …" under "2.1" does not.
    parent = number[:-1]
    return any(len(open_number) >= len(parent) and open_number[: len(parent)] == parent for open_number in open_numbers)


def _is_english_title(rest: str, *, final_stop: bool) -> bool:
    # "Technical safeguards." ends a CFR section title with a stop, "DEFINITIONS." a US statute's; elsewhere a
    # stop ends a sentence ("Rule 14.3 The court may direct another method.").
    rest = normalize_label(rest)
    if final_stop or rest.isupper():
        rest = rest.removesuffix(".")
    return bool(rest) and len(rest) <= MAX_EN_DIVISION_CHARS and rest[-1] not in SENTENCE_END_PUNCTUATION


def _opens_numbering(number: tuple[int, ...], open_numbers: Collection[tuple[int, ...]]) -> bool:
    # A first "x.1" may open numbering whose parent heading is missing, but only going forward: "1.3.1" after "2.1"
    # is a stray number, not a new section.
    return number[-1] == 1 and all(number > open_number for open_number in open_numbers)


def _next_top_number(number: tuple[int, ...], open_numbers: Collection[tuple[int, ...]]) -> bool:
    tops = [open_number[0] for open_number in open_numbers]
    return number[0] == (max(tops) + 1 if tops else 1)


def _english_unit(line: str) -> LineHeading | None:
    """Article 5 / § 164.312 / Rule 14.2 (rank of 第X条) and Part / Subpart / Chapter headings."""
    unit = _EN_ARTICLE_RE.match(line)
    if unit:
        rest = line[unit.end() :]
        if not rest.strip():
            return LineHeading(rank=RANK_TIAO, label=normalize_label(line), wants_title=True)
        if _is_english_title(rest, final_stop=unit.group(1).startswith("§")):
            return LineHeading(rank=RANK_TIAO, label=normalize_label(line))
        if rest[:1].isupper() or rest[:1] in '([“"':
            # the unit's text follows on the same line, like "第一条　为了…"
            return LineHeading(rank=RANK_TIAO, label=normalize_label(unit.group(1)), body_offset=unit.end())
        return None
    division = _EN_DIVISION_RE.match(line)
    if division:
        rest = line[division.end() :]
        if not rest.strip() or _is_english_title(rest, final_stop=False):
            rank = _EN_DIVISION_RANKS[division.group(1).lower()]
            return LineHeading(rank=rank, label=normalize_label(line), wants_title=not rest.strip())
    return None


def match_line_heading(
    line: str,
    *,
    inside_article: bool,
    numbered_headings: bool,
    open_numbers: Collection[tuple[int, ...]] = (),
) -> LineHeading | None:
    """Recognise a heading on a line of body text; None when the line is body.

    inside_article: a 第X条 is open, so 一、/（一）/1. lines are the article's list items, not headings.
    numbered_headings: whether 一、/（一）/1. lines may be headings at all (off when the format has its own outline).
    open_numbers: numbers of the open numbered headings; a numbered rule ("2.4 The applicant …") must continue
    them, which tells rules from decimals and dates that happen to start a line.
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

    english = _english_unit(line)
    if english is not None:
        return english

    if inside_article:
        return None

    rule = _RULE_RE.match(line)
    if rule and not is_title_like(line):
        number = _number_of(rule.group(1))
        # Under a format's own outline only a rule that continues a numbered heading counts; in plain text a
        # first rule ("1.1", "2.1") may also open the numbering.
        if _continues_numbering(number, open_numbers) or (numbered_headings and _opens_numbering(number, open_numbers)):
            return LineHeading(
                rank=RANK_ARABIC_BASE + len(number), label=rule.group(1), body_offset=rule.end(), number=number
            )
        return None

    if not numbered_headings:
        return None

    cn_enum = _CN_ENUM_RE.match(line)
    if cn_enum:
        if normalize_label(cn_enum.group(1)) and _is_title_with_final_stop(line, cn_enum.group(1)):
            return LineHeading(rank=RANK_CN_ENUM, label=normalize_label(line))
        return None

    cn_paren = _CN_PAREN_ENUM_RE.match(line)
    if cn_paren:
        if normalize_label(cn_paren.group(1)) and _is_title_with_final_stop(line, cn_paren.group(1)):
            return LineHeading(rank=RANK_CN_PAREN_ENUM, label=normalize_label(line))
        return None

    arabic = _ARABIC_RE.match(line)
    if arabic and is_title_like(line):
        number_text, separator, space = arabic.group(1), arabic.group(2), arabic.group(3)
        number = _number_of(number_text)
        # "1.5倍…" is a number in text: a dotted heading needs a space or dot. A single number needs "." / "、",
        # or a space when it is the next top-level number ("1 范围", "2 规范性引用文件" in standards and guidelines;
        # "2 型糖尿病" out of sequence stays body).
        if len(number) > 1 and not separator and not space:
            return None
        if len(number) == 1 and not separator and (not space or not _next_top_number(number, open_numbers)):
            return None
        # "3.5 Millionen" under "2.1" is a decimal: a dotted heading continues the open numbering or opens one.
        if (
            len(number) > 1
            and open_numbers
            and not _continues_numbering(number, open_numbers)
            and not _opens_numbering(number, open_numbers)
        ):
            return None
        return LineHeading(rank=RANK_ARABIC_BASE + len(number), label=normalize_label(line), number=number)
    return None


def can_be_absorbed_title(line: str) -> bool:
    """Whether a line can complete a bare "第一章" as its title: short, no sentence punctuation, not a heading."""
    text = normalize_label(line)
    limit = MAX_ABSORBED_TITLE_CHARS if has_cjk(text) else MAX_ABSORBED_LATIN_TITLE_CHARS
    return (
        0 < len(text) <= limit
        and not any(mark in text for mark in SENTENCE_END_PUNCTUATION)
        and match_line_heading(text, inside_article=False, numbered_headings=True) is None
    )


def is_list_item(line: str) -> bool:
    """Whether a line opens with list numbering: （一） 一、 1. 1) (a) ① - •."""
    return bool(_LIST_ITEM_RE.match(line))


def ends_sentence(line: str) -> bool:
    """Whether a line ends a sentence (so the next line starts a new paragraph, 款 or statement)."""
    return line.rstrip()[-1:] in ("。", "！", "？", ".", "!", "?")


def starts_with_numbering(line: str) -> bool:
    """Whether a line opens with structure or list numbering (第X条, 第X章, 一、, （一）, 1., Article 5, § 1,
    Recommendation 3, 推荐意见3); the PDF parser keeps such lines out of merged paragraphs so headings, list
    items and recommendations stay on their own lines."""
    patterns = (
        _ARTICLE_RE,
        _DIVISION_RE,
        _CN_ENUM_RE,
        _CN_PAREN_ENUM_RE,
        _NUMBERING_START_RE,
        _EN_ARTICLE_RE,
        _EN_DIVISION_RE,
    )
    if any(pattern.match(line) for pattern in patterns):
        return True
    markers = find_recommendation_markers(line)
    return bool(markers) and not line[: markers[0].start].strip()


def chinese_numeral(number: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 105 -> 一百零五, 110 -> 一百一十: how laws number 条 and 款."""
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    if number < 20:
        return "十" + (digits[number % 10] if number % 10 else "")
    if number < 100:
        return digits[number // 10] + "十" + (digits[number % 10] if number % 10 else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        if rest == 0:
            tail = ""
        elif rest < 10:
            tail = "零" + digits[rest]
        else:
            tail = digits[rest // 10] + "十" + (digits[rest % 10] if rest % 10 else "")
        return digits[hundreds] + "百" + tail
    return str(number)


# --- recommendations and their grades ----------------------------------------------------------------------

# "推荐意见3：…", "【推荐意见2】…", "推荐 2.1 …", "共识意见1：…"; a bare "推荐" needs a number ("推荐使用…" is prose).
_REC_NUMBER = r"(?:\d{1,3}(?:[.．-]\d{1,3})*[a-z]?|[一二三四五六七八九十]{1,3})"
_REC_MARKER_CN_RE = re.compile(
    rf"\s*[【\[]?(?:(?P<word>推荐意见|推荐建议|共识意见|专家共识)\s*(?P<number>{_REC_NUMBER})?"
    rf"|(?P<bare>推荐)\s*(?P<bare_number>\d{{1,3}}(?:[.．]\d{{1,3}})*))\s*(?P<close>[】\]])?"
    r"(?P<separator>\s*[：:．.、]\s*|\s+|$|(?<=[】\]]))"
)
# "Recommendation 4: …", "Recommendation 1.1. …", "Recommendation : …", "Recommendation 3" (a heading-like line).
_REC_MARKER_EN_RE = re.compile(
    r"\s*(?P<word>Recommendation|RECOMMENDATION)(?![sS])\s*(?P<number>\d{1,3}(?:\.\d{1,3})*[a-z]?)?"
    r"(?P<separator>\s*[.:：]\s*|\s+|$)"
)
_SENTENCE_BREAK_RE = re.compile(r"[。！？；]\s*")

# Bracketed grades at the end of a statement: "(Grade B)", "（1A）", "[1B]", "【证据等级：B，推荐强度：强】".
_BRACKETED_RE = re.compile(r"[(（\[【]\s*([^()（）\[\]【】\n]{1,120}?)\s*[)）\]】]")
# Codes are case-sensitive: "(a)" and "(i)" number list items, "(A)" and "(I)" grade.
_GRADE_CODE_RE = re.compile(
    r"[1-5][A-Da-d][+-]?|[A-D][+-]?|[ⅠⅡⅢⅣ](?:[a-cA-C])?(?:\s*[,，、]\s*[A-C])?"
    r"|(?:I{1,3}|IV)(?:[-–]?(?:[a-cA-C]|[1-3][A-C]?))?(?:\s*[,，、;]\s*[A-D])?"
    r"|[12]\s*\|\s*[+O⊕○]{4}"
)
_GRADE_TERM_RE = re.compile(
    r"GPP|EO|Expert Opinion|Good Practice Point|Practice Point|Clinical Principle|Consensus|Not Graded"
    r"|Insufficient Evidence",
    re.IGNORECASE,
)
# A bare code grades the statement it closes; inside a sentence "(a)" or "(B)" marks an item.
_AFTER_CODE_RE = re.compile(r"\s*(?:[.。;；,，]\s*)?(?:$|[(（\[【]|(?<=[.。;；])\s*\S)")
# A bare letter is a grade only when it does not define a word: "low (C)" in a rating scheme is no statement.
_DEFINED_WORD_RE = re.compile(r"(?:high|moderate|low|strong|weak|good|fair|poor|insufficient|or|and)\s*$", re.I)
_GRADE_KEYWORD_CN_RE = re.compile(
    r"证据(?:等级|级别|水平|质量|分级)|推荐(?:等级|强度|级别|分级|类别)|[强弱]推荐|[A-D]级证据|级推荐|[ⅠⅡⅢⅣIV]+类推荐"
)
_GRADE_KEYWORD_EN_RE = re.compile(
    r"\b(?:grade[sd]?|level|class|strength|quality|evidence|recommendation|LOE|LE|GR|SOR|BEL|GoR)\b", re.IGNORECASE
)
_GRADE_VALUE_EN_RE = re.compile(
    r"\b(?:[1-5][a-d]?[+-]{0,2}|[A-D][+-]?|I{1,3}[ab]?|IV|U|strong|weak|moderate|conditional|high|low|very low"
    r"|insufficient|GPP|consensus|expert opinion)\b",
    re.IGNORECASE,
)
# GRADE wording: "Strong recommendation, moderate-quality evidence", "Conditional recommendation, low quality of
# evidence", "Weak For", "Strong; Low", "strong, low".
_GRADE_WORDING = (
    r"(?:(?:strong|weak|conditional|discretionary)\s+recommendations?(?:\s+(?:for|against)\b[^,;.()\n]{0,50})?"
    r"(?:\s*[,;]\s*(?:based\s+on\s+)?(?:high|moderate|low|very[- ]low)[- ](?:quality|certainty)(?:\s+of)?"
    r"(?:\s+(?:the\s+)?evidence)?)?"
    r"|(?:strong|weak|conditional)\s*(?:for|against)"
    r"|(?:strong|weak|conditional)\s*[,;]\s*(?:high|moderate|low|very low)"
    r"|(?:high|moderate|low|very[- ]low)[- ]quality\s+(?:of\s+)?evidence)"
)
_GRADE_WORDING_RE = re.compile(_GRADE_WORDING, re.IGNORECASE)
# The same, or "Quality of evidence: low; strength of recommendation: weak", "证据等级：B，推荐强度：强", as the
# statement's closing sentence without brackets.
_TRAILING_GRADE_RE = re.compile(
    r"(?:^|(?<=[.。!?！？;；])\s*)\s*(?P<grade>"
    + _GRADE_WORDING
    + r"|(?:(?:grade|level|strength|quality|class|certainty)\s+of\s+(?:the\s+)?(?:evidence|recommendations?)"
    r"|(?:evidence|recommendation)\s+(?:grade|level|strength|quality))\s*[:=]\s*"
    r"[^.\n]{1,100}?"
    r"|(?:证据|推荐)(?:等级|级别|强度|质量|水平)\s*[:：]\s*[^。\n]{1,60}?)"
    r"\s*[.。]?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Grade:
    """A grade notation in a line: [start, end) covers its brackets; text is what a label shows."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class RecommendationMarker:
    """What opens a recommendation statement in a line: "推荐意见3：", "Recommendation 4:"."""

    start: int  # where the marker begins in the line
    body_start: int  # where the statement's text begins: after the marker, or the line's end for a heading-like line
    label: str  # "推荐意见3", "Recommendation 4", or the whole heading-like line
    heading_like: bool  # the line is only a marker (and a short title): the statement follows on the next lines


_GRADING_WORDS = frozenset(
    "grade grades graded level levels class strength strong weak moderate conditional discretionary high low very "
    "quality certainty evidence recommendation recommendations rec for against the use using intervention based "
    "and expert opinion consensus insufficient benefit benefits harm harms outweigh effectiveness statement type "
    "best practice point not good fair poor panel option standard guideline".split()
)


def _is_grade_content(content: str, *, before: str, after: str) -> bool:
    content = normalize_label(content)
    if _GRADE_TERM_RE.fullmatch(content):
        return True
    if _GRADE_CODE_RE.fullmatch(content):
        if not _AFTER_CODE_RE.match(after):
            return False
        # "low (C)" defines a letter; "Smith et al., 2010 [1b]" rates a cited study, not the statement
        return not (len(content) <= 2 and (_DEFINED_WORD_RE.search(before) or re.search(r"\d{4}[a-z]?\s*$", before)))
    if _GRADE_KEYWORD_CN_RE.search(content):
        return True
    if _GRADE_WORDING_RE.fullmatch(content):
        return True
    if len(content) > 120 or re.match(r"(?:see|e\.g\.|i\.e\.|eg)\b", content, re.IGNORECASE):
        return False
    # A year says when the text was added ("[2008]", "[new 2014]"), a share is a result ("3% grade 3"), a range
    # ("A-C", "I-III") names a scale: none of them grades a statement.
    if re.search(
        r"\b(?:19|20)\d\d\b|%|\b[A-D]\s*[-–]\s*[A-E]\b|\bI+V?\s*[-–]\s*I*V?I*\b|\b\d[a-c]?\s*[-–]\s*\d", content
    ):
        return False
    if not (_GRADE_KEYWORD_EN_RE.search(content) and _GRADE_VALUE_EN_RE.search(content)):
        return False
    if re.search(r"\bgrade\s*[3-9]", content, re.IGNORECASE):
        return False  # "(grade 3 or 4)" grades a toxicity or a tumour; recommendations are graded 1-2 or A-D
    # "(rarely used to support a Strong Recommendation)" explains a grade; a grade names one in grading words.
    words = re.findall(r"[A-Za-z]+", content)
    return sum(1 for word in words if word.lower() not in _GRADING_WORDS and len(word) > 2) <= 2


def find_grades(line: str) -> list[Grade]:
    """Grade notations in a line: bracketed ones anywhere, unbracketed ones as the line's closing sentence."""
    grades = [
        Grade(match.start(), match.end(), normalize_label(match.group(1)))
        for match in _BRACKETED_RE.finditer(line)
        if _is_grade_content(match.group(1), before=line[: match.start()], after=line[match.end() :])
        # a bracket opening a line that goes on labels a definition ("(C) Low: Further research …")
        and (line[: match.start()].strip() or not line[match.end() :].strip(" 。.;；"))
    ]
    trailing = _TRAILING_GRADE_RE.search(line)
    # "Strong recommendation" alone on a line is a term being defined, not a grade: a grade without brackets
    # closes a statement on its line or names both strength and quality.
    if (
        trailing
        and (line[: trailing.start("grade")].strip() or re.search(r"[,;:：=，；]", trailing.group("grade")))
        and not any(grade.end > trailing.start("grade") for grade in grades)
    ):
        text = normalize_label(trailing.group("grade")).rstrip("。.")
        grades.append(Grade(trailing.start("grade"), trailing.end("grade"), text))
    return grades


def is_grade_only(line: str) -> bool:
    """A line that holds nothing but a grade ("（证据等级：B，推荐强度：强）", "Quality of evidence: low; …")."""
    text = line.strip()
    grades = find_grades(text)
    return bool(grades) and grades[0].start == 0 and not text[grades[-1].end :].strip(" 。.;；")


def find_recommendation_markers(line: str) -> list[RecommendationMarker]:
    """Markers opening recommendation statements: at the line's start, or (Chinese) after a sentence end."""
    starts = [0] + [match.end() for match in _SENTENCE_BREAK_RE.finditer(line) if match.end() < len(line)]
    markers: list[RecommendationMarker] = []
    for position in starts:
        match = _REC_MARKER_CN_RE.match(line, position) or (
            _REC_MARKER_EN_RE.match(line, position) if position == 0 else None
        )
        if match is None:
            continue
        word = match.group("word") or match.group("bare")
        number = match.groupdict().get("number") or match.groupdict().get("bare_number") or ""
        separator = match.group("separator")
        rest = line[match.end() :]
        has_separator = bool(separator.strip() or match.groupdict().get("close"))  # "【推荐意见2】" is closed
        if position > 0 and not has_separator:
            continue  # mid-line, only "推荐意见：" / "推荐意见2：" is unambiguous
        if not number and not has_separator and rest.strip():
            continue  # "推荐意见采用以下分级", "Recommendation based on …": prose, not a marker
        if not has_cjk(word) and rest.strip() and not (rest[:1].isupper() or rest[:1] in '([“"'):
            continue
        if has_cjk(word) and re.match(r"[a-z0-9]", rest):
            continue  # "推荐 2.5 mg …" is a dose
        if match.groupdict().get("bare") and not has_separator and "." not in number and "．" not in number:
            continue  # "推荐 2 种方案" counts; "推荐 2.1 …" and "推荐3：" number a recommendation
        number = number.replace("．", ".")
        label = f"{word}{number}" if has_cjk(word) else normalize_label(f"{word} {number}")
        # "Recommendation 2: Positive Result and Follow-up" (or a question) titles the statements below it; after
        # "推荐意见3：" any text is the statement itself, short or not.
        heading_like = position == 0 and (
            not rest.strip() or (not has_cjk(word) and is_title_like(rest.rstrip(" ?")) and not find_grades(rest))
        )
        if heading_like:
            label = normalize_label(line).rstrip(":：")
            markers.append(RecommendationMarker(match.start(), len(line), label, True))
        else:
            start = match.start() + (len(match.group()) - len(match.group().lstrip()))
            markers.append(RecommendationMarker(start, match.end(), label, False))
    return markers


def is_recommendation_heading(label: str) -> bool:
    """Whether a heading label is only a recommendation marker ("Recommendation 4", "推荐意见3")."""
    markers = find_recommendation_markers(label)
    return bool(markers) and markers[0].heading_like and markers[0].start == 0


def recommendation_label(*, label: str, grades: list[str], chinese: bool) -> str:
    """The label with its grades: "推荐意见3（1A）", "Recommendation 4 (Grade B)"."""
    distinct = list(dict.fromkeys(grade for grade in grades if grade))
    if not distinct:
        return label
    if chinese:
        return f"{label}（{'；'.join(distinct)}）"
    return f"{label} ({'; '.join(distinct)})"


UNNUMBERED_RECOMMENDATION_LABELS = {True: "推荐意见", False: "Recommendation"}
