"""What a document's text says about its place among editions: the work it is an edition of, who issued it, and the
clauses by which it repeals, replaces or amends another document.

Read at ingestion, from the text alone; the links themselves are made in ingestion/relations.py once the document
is searchable. Why by the work's title and issuer: guidelines and policies are re-issued under the same name with
a year or an edition word changed (《中国高血压防治指南（2018年修订版）》, 《…2024年版》, "(2nd edition)", "（试行）"
and the final text), and two different bodies' documents of one title are different works (the NGC's SOGC and NICE
guidelines both called "Induction of labour"), so a matching title alone never links them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

HEAD_CHARS = 3000
LABEL_SEARCH_CHARS = 200_000  # a labelled issuer may come late (the NGC lists the developer after the methods)
MIN_WORK_TITLE_CHARS = 4  # after normalising: shorter titles ("指南", "Notice") name no particular work

# Years and edition words removed from a title to leave the work's name. Order matters: the longest forms first.
_EDITION_WORDS = [
    r"[（(\[【]?\s*(?:19|20)\d{2}\s*年?\s*(?:修订|修正|更新|增补|第[一二三四五六七八九十\d]+)?\s*版?\s*[）)\]】]?",
    r"[（(]\s*(?:试行|暂行|征求意见稿|送审稿|修订稿|修订版|修订|第[一二三四五六七八九十\d]+版)\s*[）)]",
    r"第[一二三四五六七八九十\d]+版|修订版|试行版|(?<=\S)修订本",
    r"\b(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|new|revised|updated)"
    r"\s+(?:edition|ed\.|version|revision|update)",
    r"\b(?:edition|version|revision|update|revised|draft)\b",
    r"\b(?:19|20)\d{2}\b",
]
_EDITION_PATTERN = re.compile("|".join(f"(?:{pattern})" for pattern in _EDITION_WORDS), re.IGNORECASE)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def work_key(text: str) -> str:
    """Text without years, edition words, brackets, punctuation and spaces, case-folded: what work titles are
    compared by (a work title is found inside the work key of a citation that names it)."""
    text = unicodedata.normalize("NFKC", text or "").strip().strip("《》")
    return _NOT_WORD.sub("", _EDITION_PATTERN.sub(" ", text)).casefold()


def work_title(title: str) -> str:
    """The work a title names: its work key, or empty when too little is left to name a particular work."""
    key = work_key(title)
    return key if len(key) >= MIN_WORK_TITLE_CHARS else ""


def years_named(text: str) -> set[int]:
    return {int(year) for year in _YEAR.findall(text)}


# --- issuer -------------------------------------------------------------------------------------------------------

_ISSUER_LABEL = re.compile(
    r"^\s*(?:#{1,6}\s*)?(?:发文机关|发布机关|发布机构|发布单位|制定机关|制定机构|颁布机关|issued by|issuer|publisher|"
    r"guideline developer\(s\)|guideline developer|developer\(s\)|developed by)\s*[:：]?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
# A line of its own naming a body, as the head of a Chinese official document does ("国家卫生健康委员会办公厅").
_BODY_LINE = re.compile(
    r"^[\u4e00-\u9fff、 ]{3,40}(?:部|委员会|委|局|署|办公厅|办公室|国务院|政府|学会|协会|分会|中心|总局)$"
)


def issuer_find(text: str) -> str:
    """Who issued the document: a labelled line anywhere ("发文机关：", "Issued by:", the NGC's "Guideline
    Developer(s)" heading followed by its text), else a line of its own naming a body in the head. Empty when none
    is found."""
    lines = [line.strip() for line in (text or "")[:LABEL_SEARCH_CHARS].splitlines()]
    for number, line in enumerate(lines):
        match = _ISSUER_LABEL.match(line)
        if not match:
            continue
        rest = match.group("rest").strip()
        if not rest:  # the label is a heading; the issuer is the next line with text
            rest = next((following for following in lines[number + 1:] if following), "")
        return _issuer_clean(rest)
    for line in [line.strip() for line in (text or "")[:HEAD_CHARS].splitlines()][1:30]:
        if _BODY_LINE.match(line):
            return _issuer_clean(line)
    return ""


def _issuer_clean(text: str) -> str:
    # The NGC writes "Society of ... - Medical Specialty Society": the kind of body after the dash is not its name.
    text = re.split(r"\s+-\s+", text, maxsplit=1)[0]
    return text.strip(" .;；。")[:200]


def issuer_key(issuer: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", issuer or "")).casefold()


def issuers_compatible(first: str, second: str) -> bool:
    """Editions of one work come from one body: equal issuers, one naming the other ("国家卫生健康委员会" and
    "国家卫生健康委员会办公厅"), or one unknown."""
    a, b = issuer_key(first), issuer_key(second)
    return not a or not b or a == b or a in b or b in a


# --- repeal, replacement and amendment clauses ----------------------------------------------------------------------

REPLACES = "replaces"
AMENDS = "amends"

_CHINESE_NAMED = re.compile(r"《([^《》]{2,120})》")
_CHINESE_REPEAL = re.compile(r"同时废止|予以废止|不再执行|停止执行|同时失效|废止")
_CHINESE_AMEND = re.compile(r"修改|修正")
# "This guideline replaces …", "This document supersedes …", "This guideline updates a previous version: …": the
# document speaks of itself, so "updates to this guideline" and "do not replace the guidance" are not clauses.
_ENGLISH_SELF = (
    r"\b(?:this\s+(?:(?!(?:in|of|for|on|at|to|with|by|from|future)\b)[\w-]+\s+){0,4}?"
    r"|the\s+(?:guideline|guidance|recommendation|document|standard|policy)\s+)"
)
_ENGLISH_REPLACE = re.compile(
    _ENGLISH_SELF + r"(?:replaces|supersedes|supercedes|updates|is an update (?:of|to))(?:\s*:\s*|\s+)"
    r"(?:(?:a|the|its)\s+)?(?:(?:previous|earlier|prior)\s+(?:versions?|editions?)\s*)?:?\s*(?P<named>.+)",
    re.IGNORECASE,
)
_ENGLISH_AMEND = re.compile(_ENGLISH_SELF + r"amends(?:\s*:\s*|\s+)(?P<named>.+)", re.IGNORECASE)


@dataclass(frozen=True)
class SourceClause:
    """A sentence by which a document repeals, replaces or amends another, with what it names."""

    kind: str  # REPLACES or AMENDS
    sentence: str
    named: str  # the named document as written: a 《title》, or the English text after the verb
    years: frozenset[int]  # years the sentence gives for the named document, when it gives any


def source_clauses_find(text: str) -> list[SourceClause]:
    """Repeal, replacement and amendment clauses anywhere in the text, in order, each named document once."""
    clauses: list[SourceClause] = []
    seen: set[tuple[str, str]] = set()
    sentences = _sentences(text or "")
    for number, sentence in enumerate(sentences):
        following = " ".join(sentences[number + 1 : number + 3])
        for clause in _chinese_clauses(sentence) or _english_clauses(sentence, following=following):
            if (clause.kind, clause.named) not in seen:
                seen.add((clause.kind, clause.named))
                clauses.append(clause)
    return clauses


def _sentences(text: str) -> list[str]:
    """Chinese text by sentence; other text by line, since an English clause names its document in a citation
    ("updates a previous version: Crane J. Induction of labour at term. … 2001") whose full stops end no sentence."""
    if re.search(r"[\u4e00-\u9fff]", text):
        return [s.strip() for s in re.findall(r"[^。！？；\n]+[。！？；]?", text) if s.strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _chinese_clauses(sentence: str) -> list[SourceClause]:
    names = _CHINESE_NAMED.findall(sentence)
    if not names:
        return []
    if _CHINESE_REPEAL.search(sentence):
        kind = REPLACES
    elif _CHINESE_AMEND.search(sentence) and re.search(r"(?:对|关于修改|修改|修正)《", sentence):
        kind = AMENDS
    else:
        return []
    if kind == REPLACES and "原《" in sentence:
        names = re.findall(r"原《([^《》]{2,120})》", sentence)  # "本办法自…施行，原《…》同时废止": only the old one
    return [SourceClause(kind=kind, sentence=sentence[:1000], named=name, years=frozenset(years_named(name)))
            for name in names]


_NAMED_LEAD = re.compile(
    r"^(?:(?:a|the|its|two|three)\s+)?(?:(?:previous|previously\s+\w+|earlier|prior)\s+)?"
    r"(?:versions?|editions?|guidelines?)?\s*:?\s*",
    re.IGNORECASE,
)


def _english_clauses(line: str, *, following: str = "") -> list[SourceClause]:
    """A clause of the line; one ending at the verb ("This guideline updates previous versions:") names its
    documents on the next lines."""
    for kind, pattern in ((REPLACES, _ENGLISH_REPLACE), (AMENDS, _ENGLISH_AMEND)):
        match = pattern.search(line)
        if match is None:
            continue
        if len(_NAMED_LEAD.sub("", match.group("named")).strip()) < MIN_WORK_TITLE_CHARS and following:
            line = f"{line} {following}"
            match = pattern.search(line)
        named = _NAMED_LEAD.sub("", match.group("named")).strip() if match else ""
        if match and len(named) >= MIN_WORK_TITLE_CHARS:
            # The sentence shown starts where the one holding the verb does and runs to the end of the line.
            starts = [m.end() for m in re.finditer(r"[.!?]\s+(?=[A-Z])", line[: match.start()])]
            return [SourceClause(kind=kind, sentence=line[(starts[-1] if starts else 0):][:1000], named=named[:500],
                                 years=frozenset(years_named(named)))]
    return []


def clause_names_title(*, clause: SourceClause, title: str) -> bool:
    """Whether the clause names a document of this title: the 《title》 as written, or, for an English clause, the
    title (without its final full stop) inside the text after the verb, matched on word boundaries."""
    title_text = unicodedata.normalize("NFKC", title or "").strip().strip("《》").rstrip(".。 ")
    named = unicodedata.normalize("NFKC", clause.named)
    if not title_text:
        return False
    if re.search(r"[\u4e00-\u9fff]", title_text):
        return named.strip() == title_text or (
            work_title(named) != "" and work_title(named) == work_title(title_text) and bool(clause.years)
        )
    if len(title_text) < 10:
        return False  # a short English title ("Asthma") inside a citation names nothing in particular
    pattern = r"(?<![\w])" + re.escape(title_text.casefold()) + r"(?![\w])"
    return re.search(pattern, named.casefold()) is not None
