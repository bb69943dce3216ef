"""A policy's clauses as conditions and benefits: the extracted items read, each quote verified like an answer's
statement, each supported condition split into its list items and checked against the profile by rules (never the
model), and the clauses that are no condition on the applicant (definitions, an authority's duties) set apart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from django.conf import settings

from assistant.grounding.reply import Citation, DraftStatement, citation_read, citations_read, json_object_closed
from assistant.grounding.sentences import PassageSentences
from assistant.grounding.verification import Span, quote_locate, statement_verify
from assistant.policies.profile import BusinessProfile
from assistant.policies.results import PolicyItem
from assistant.policies.rules import MET, NOT_MET, ConditionCheck, condition_check
from ingestion.models import Chunk

LIST_ITEM = re.compile(r"[（(][一二三四五六七八九十]{1,3}[)）]")


LIST_MARKER = re.compile(r"^(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十\d]{1,2}[、.．])\s*")


TITLE_ARTICLE = re.compile(
    r"(?<=..)第[零〇一二两三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十\d]+)?$"
)


ARTICLE = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十\d]+)?$")


def clause_label(chunk: Chunk) -> str:
    """《文件名》第X条 (with its 款 when the article was split), or the section path when there is no article."""
    path = [p.strip() for p in chunk.section_path.split(Chunk.SECTION_SEPARATOR) if p.strip()]
    for index, part in enumerate(path):
        if ARTICLE.match(part):
            section = "".join(path[index : index + 2])
            break
    else:
        section = " ".join(path[-1:])
    title = chunk.document.title
    single_article = TITLE_ARTICLE.search(title)
    if single_article and not section:  # one article filed as its own document, named after it
        return f"《{title[: single_article.start()]}》{single_article.group(0)}"
    return f"《{title}》{section}"


def policy_reply_parse(text: str) -> dict[str, list[dict]]:
    """The model's reply read tolerantly (wrapped, or cut short): conditions and benefits with their citations. An
    item the token limit cut off (the reply's JSON never closed) is left out: it is no finished statement."""
    parsed, closed = json_object_closed(text)
    read: dict[str, list[dict]] = {"conditions": [], "benefits": []}
    if not isinstance(parsed, dict):
        return read
    present = [key for key in parsed if key in read and isinstance(parsed[key], list)]
    for position, key in enumerate(present):
        raws = parsed[key]
        if not closed and position == len(present) - 1:
            raws = raws[:-1]
        for raw in raws:
            if isinstance(raw, dict) and isinstance(raw.get("text"), str) and raw["text"].strip():
                read[key].append({"text": raw["text"].strip(), "citations": _item_citations(raw)})
    return read


def _item_citations(raw: dict) -> list[Citation]:
    """An item's cited sentence ids, or (servers without the schema, older replies) its own "passage" and "quote"."""
    if isinstance(raw.get("citations"), list) and all(isinstance(c, Citation) for c in raw["citations"]):
        return raw["citations"]
    cited = citations_read(raw)
    legacy = citation_read({"passage": raw.get("passage"), "quote": raw.get("quote")})
    return cited or ([legacy] if legacy else [])


def policy_items_check(
    *, extracted: dict[str, list[dict]], chunks: Sequence[Chunk], profile: BusinessProfile, today: date
) -> tuple[list[PolicyItem], list[PolicyItem], list[PolicyItem]]:
    """(conditions, benefits, unsupported): each item's quote verified like an answer's statement; a supported
    condition is checked by rules on the clause text it quotes, which is the document's, not the model's words."""
    threshold = settings.CITATION_SUPPORT_THRESHOLD
    sentences = PassageSentences.of(chunks)
    kept: dict[str, list[PolicyItem]] = {"conditions": [], "benefits": []}
    unsupported: list[PolicyItem] = []
    seen: set[tuple[str, str]] = set()
    checked_spans: set[tuple[int, int, int]] = set()
    for key, kind in (("conditions", "condition"), ("benefits", "benefit")):
        for index, raw in enumerate(extracted[key]):
            if (kind, raw["text"]) in seen:
                continue  # small models repeat an item
            seen.add((kind, raw["text"]))
            draft = DraftStatement(text=raw["text"], citations=_item_citations(raw))
            verified = statement_verify(index=index, draft=draft, passages=chunks, threshold=threshold,
                                        sentences=sentences)
            citation = None
            if verified.citations:
                cited = verified.citations[0]
                citation = {**asdict(cited), "clause": clause_label(chunks[cited.number - 1])}
            item = PolicyItem(kind=kind, text=verified.text, supported=verified.supported,
                              support=verified.support, citation=citation)
            if not verified.supported or citation is None:
                unsupported.append(item)
                continue
            if kind == "benefit":
                kept[key].append(item)
                continue
            chunk = chunks[citation["number"] - 1]
            for span in condition_spans(text=item.text, citation=citation, chunk=chunk):
                clause = chunk.text[span.start : span.end]
                not_a_condition = applicant_condition_missing(passage=chunk.text, start=span.start, clause=clause)
                if not_a_condition:
                    unsupported.append(PolicyItem(
                        kind=kind, text=clause, supported=True, support=item.support,
                        citation={**citation, "quote": clause, "quote_start": span.start, "quote_end": span.end,
                                  "quote_spans": [(span.start, span.end)]},
                        reason=not_a_condition,
                    ))
                    continue
                checked = condition_check(text=clause, profile=profile, today=today)
                if exclusion_clause(passage=chunk.text, start=span.start):
                    checked = exclusion_check(checked)
                # The model's words stand for the clause only where they are about that clause: a model text
                # spanning a whole article over a quote of one of its items would show a status it was not given.
                own_words = (span.start == citation["quote_start"] and span.end == citation["quote_end"]
                             and len(item.text) <= 2 * len(clause) + 20 and len(LIST_ITEM.findall(item.text)) < 2)
                part = PolicyItem(
                    kind=kind, text=item.text if own_words else clause,
                    supported=True, support=item.support,
                    citation={**citation, "quote": clause, "quote_start": span.start, "quote_end": span.end,
                              "quote_spans": [(span.start, span.end)]},
                    status=checked.status, reason=checked.reason, missing=checked.missing,
                )
                if (chunk.id, span.start, span.end) not in checked_spans:  # two items quoting one clause
                    checked_spans.add((chunk.id, span.start, span.end))
                    kept[key].append(part)
    return kept["conditions"], kept["benefits"], unsupported


# A clause states a condition on the applicant when it is an item under "应当符合下列条件" (or "下列情形") or says
# what the applicant must be, have or meet; one whose subject is an authority, or everyone, binds someone else.
LIST_LEAD_IN = re.compile(r"(?:下列|以下)(?:条件|情形|要求)|条件如下")


CONDITION_WORDS = re.compile(
    r"条件|资格|具备|具有|符合|满足|申请|登记|不低于|不少于|不超过|不高于|以上|以下|持有|取得|认定|注册|成立|年满|满\d"
)


DEFINITION = re.compile(r"^[^。；]{0,30}?(?:，|,)?是指|本(?:办法|条例|规范|规定|法|措施|通知)所称")


AUTHORITY_SUBJECT = re.compile(
    r"^[^，。；：]{0,16}?(?:登记机构|实施机构|数据管理部门|人民政府|主管部门|有关部门|监管部门|征收机构|行政管理部门|"
    r"网信部门|公安机关|任何单位和个人|任何组织和个人|任何单位|任何个人)"
)


def applicant_condition_missing(*, passage: str, start: int, clause: str) -> str:
    """Why the clause is no condition the applicant must meet ("" when it is one): the model lists a passage's
    procedures and the authority's duties as "conditions" too, and a rule check of those would mislead."""
    lead_in = passage[max(0, start - 200) : start]
    if LIST_LEAD_IN.search(lead_in) and LIST_ITEM.match(clause.lstrip()):
        return ""
    if DEFINITION.search(clause):
        return "不是申请条件：此条是用语的定义"
    subject = AUTHORITY_SUBJECT.match(LIST_MARKER.sub("", clause.lstrip()))
    if subject:
        return f"不是对申请者的条件：此条约束的是{subject.group(0)[-8:]}"
    if not CONDITION_WORDS.search(clause):
        return "不是申请条件：此条未写出申请者须具备或满足的要求"
    return ""


EXCLUSION = re.compile(r"不予(?:支持|受理|资助|补助|奖励)|不得(?:申请|申报|享受)")


def exclusion_clause(*, passage: str, start: int) -> bool:
    """The clause is one of an article's excluding situations ("有下列情形之一的企业，不予支持：（一）…"), so meeting
    it rules the business out: read in the passage before the clause, where the article's lead-in stands."""
    lead_in = passage[:start]
    return bool(EXCLUSION.search(lead_in)) and bool(re.search(r"下列情形|以下情形", lead_in))


def exclusion_check(checked: ConditionCheck) -> ConditionCheck:
    """An excluding situation turned into the condition to meet: matching it is not met, not matching it is met."""
    if checked.status == MET:
        return ConditionCheck(NOT_MET, f"属于不予支持的情形：{checked.reason}")
    if checked.status == NOT_MET:
        return ConditionCheck(MET, f"不属于不予支持的情形：{checked.reason}")
    return checked


def _locate_ignoring_space(*, text: str, passage: str) -> Span | None:
    """Where `text` occurs in the passage when line breaks are ignored: models copy a listed article onto one line."""
    kept = [(index, char) for index, char in enumerate(passage) if not char.isspace()]
    needle = "".join(char for char in text if not char.isspace())
    if len(needle) < 2:
        return None
    at = "".join(char for _, char in kept).find(needle)
    if at < 0:
        return None
    return Span(kept[at][0], kept[at + len(needle) - 1][0] + 1)


def condition_spans(*, text: str, citation: dict, chunk: Chunk) -> list[Span]:
    """The clause text a condition is checked on, as spans of the chunk: the verified quote, widened to the model's
    own condition text when that is copied from the passage (small models copy the whole article), and cut into its
    （一）（二）… items when it lists several, so that each listed condition is checked and cited on its own."""
    span = Span(citation["quote_start"], citation["quote_end"])
    copied = quote_locate(quote=text, passage=chunk.text) or _locate_ignoring_space(text=text, passage=chunk.text)
    if copied is not None and copied.end - copied.start > span.end - span.start:
        span = copied
    body = chunk.text[span.start : span.end]
    markers = [m.start() for m in LIST_ITEM.finditer(body)]
    if len(markers) < 2:
        return [span]
    ends = [*markers[1:], len(body)]
    parts = []
    for start, end in zip(markers, ends, strict=True):
        piece = body[start:end]
        trimmed = len(piece.rstrip())
        parts.append(Span(span.start + start, span.start + start + trimmed))
    return parts
