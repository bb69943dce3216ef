"""Values two sources state differently: quantities (doses, durations, ages, percentages, blood pressure, money,
dates, concentrations) found in a passage, and the pairs across two passages that give different values for the same
quantity about the same subject.

Why: grounded answers quote several documents; when a 2008 guideline offers induction at 41 weeks and a 2013 one at
41+0 to 42+0, or one law caps a fine at 一百万元 and another at 五十万元, the reader must be told rather than given one
of them as the answer. Only numbers with a unit count (a bare "3" is a list item, a section or a count), article
numbers (第十二条), grades, levels, recommendation numbers and years inside citations are left out, values are
compared in one base unit per dimension (1 g and 1000 mg agree), and a value inside the other side's range is not a
disagreement; two explicit ranges with different ends are (screening ages 50-74 vs 50-69).

Measured on real pairs in bench/disagreements.py (bench/README.md, "Disagreements between sources").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jieba

from vectorstore.analysis import CHINESE_STOPWORDS, CJK, tokenize

SPECIFIC = frozenset({"pressure", "blood_pressure", "concentration", "bmi", "rate"})  # one such value per passage
PASSAGE_THRESHOLD = 0.3  # Dice of the whole passages' terms for those (tuned on the dev split)
SUBJECT_THRESHOLD = 0.55  # Dice similarity of the clauses' content terms (tuned on the dev split)
TOLERANCE = 0.02  # relative difference under which two values are the same


@dataclass(frozen=True)
class Quantity:
    text: str
    dimension: str
    unit: str
    low: float
    high: float
    start: int
    end: int
    subject: frozenset[str]


@dataclass(frozen=True)
class ValueConflict:
    a: Quantity
    b: Quantity
    subject: tuple[str, ...]
    score: float


# ---------------------------------------------------------------- numbers

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_SMALL = {"十": 10, "百": 100, "千": 1000}
CN_BIG = {"万": 10_000, "亿": 100_000_000}
CN_NUM = "[零〇一二两三四五六七八九十百千]+"
NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"


def chinese_number(text: str) -> float:
    """二十 -> 20, 一百 -> 100, 五千 -> 5000, 三 -> 3 (万/亿 handled by the unit)."""
    total = section = 0
    digit = 0
    for char in text:
        if char in CN_DIGITS:
            digit = CN_DIGITS[char]
        elif char in CN_SMALL:
            section += (digit or 1) * CN_SMALL[char]
            digit = 0
        elif char in CN_BIG:
            total += (section + digit) * CN_BIG[char]
            section = digit = 0
    return float(total + section + digit)


def _number(text: str) -> float:
    text = text.strip()
    if re.fullmatch(NUM, text):
        return float(text.replace(",", ""))
    return chinese_number(text)


# ---------------------------------------------------------------- units: pattern -> (dimension, unit, factor to base)

UNITS: list[tuple[str, str, str, float]] = [
    (r"mm\s?Hg", "pressure", "mmHg", 1.0),
    (r"%|percent|per cent", "percent", "%", 1.0),
    (r"mg/kg", "dose", "mg/kg", 1.0),
    (r"(?:mg|g)/d[Ll]", "concentration", "g/L", 0.0),  # factor set in _unit()
    (r"g/(?:litre|liter|L)", "concentration", "g/L", 1.0),
    (r"ng/m[Ll]|µg/L|ug/L", "concentration", "ng/mL", 1.0),
    (r"m[Ll]/min(?:/1\.73\s?m\s?2)?", "rate", "mL/min", 1.0),
    (r"kg/m\s?2", "bmi", "kg/m2", 1.0),
    (r"mg", "dose", "mg", 1.0),
    (r"(?:µg|mcg)", "dose", "mg", 0.001),
    (r"g(?![a-zA-Z])", "dose", "mg", 1000.0),
    (r"IU|units?", "dose", "IU", 1.0),
    (r"Gy", "radiation", "Gy", 1.0),
    (r"kcal", "energy", "kcal", 1.0),
    (r"cm", "length", "mm", 10.0),
    (r"mm", "length", "mm", 1.0),
    (r"hours?|hrs?|h(?![a-zA-Z])", "duration", "day", 1 / 24),
    (r"days?", "duration", "day", 1.0),
    (r"weeks?", "duration", "day", 7.0),
    (r"months?", "duration", "day", 30.4),
    (r"years?|yrs?", "duration", "day", 365.25),
    (r"pack[- ]years?", "exposure", "pack-year", 1.0),
    (r"亿元", "money", "yuan", 1e8),
    (r"万元", "money", "yuan", 1e4),
    (r"元", "money", "yuan", 1.0),
    (r"个?工作日", "working_days", "working day", 1.0),
    (r"日|天", "duration", "day", 1.0),
    (r"个?小时", "duration", "day", 1 / 24),
    (r"周岁|岁", "age", "year", 1.0),
    (r"个月", "duration", "day", 30.4),
    (r"年", "duration", "day", 365.25),
    (r"倍", "ratio", "x", 1.0),
]
UNIT_RE = "|".join(f"(?:{pattern})" for pattern, _, _, _ in UNITS)
_UNIT_COMPILED = [(re.compile(f"(?:{p})$", re.I if not CJK.search(p) else 0), d, u, f) for p, d, u, f in UNITS]

VALUE = rf"(?:{NUM}|{CN_NUM})"
CONNECT = r"\s*(?:to|-|–|—|~|～|至|and)\s*"
QUANTITY = re.compile(
    rf"(?P<pct>百分之(?P<pv>{CN_NUM}|{NUM}))"
    rf"|(?P<bp>(?P<sys>\d{{2,3}})/(?P<dia>\d{{2,3}})\s?mm\s?Hg)"
    rf"|(?P<lo>{VALUE})\s*(?P<lounit>{UNIT_RE})?\s*以上\s*(?P<hi>{VALUE})\s*(?P<hiunit>{UNIT_RE})以下"
    rf"|(?P<v1>{VALUE})(?:\+\d)?(?:{CONNECT}(?P<v2>{VALUE})(?:\+\d)?)?(?:\s*|-)(?P<unit>{UNIT_RE})(?![a-zA-Z])",
    re.I,
)
AGE_BEFORE = re.compile(r"(?:aged?|ages|age of|≥|>|<|≤|older than|younger than)\s*(?:between\s*)?$", re.I)
AGE_AFTER = re.compile(r"^\s*(?:of age|old|and older|or older|and younger|or younger|-?old)", re.I)
CITATION = re.compile(r"\[\d{4}\]|\(\d{4}\)|\b(?:19|20)\d{2}\s*[;:]|et al", re.I)
NOT_A_QUANTITY = re.compile(
    r"第$|(?:grade|level|stage|class|variant|recommendation|table|figure|ref\.?|no\.?)\s*$", re.I
)
CN_DATE = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日")


def _unit(unit_text: str) -> tuple[str, str, float]:
    for pattern, dimension, unit, factor in _UNIT_COMPILED:
        if pattern.match(unit_text.strip()):
            if unit == "g/L" and factor == 0.0:
                factor = 0.01 if unit_text.lower().startswith("mg") else 10.0
            return dimension, unit, factor
    return "count", unit_text, 1.0


# ---------------------------------------------------------------- subject terms

CLAUSE_BREAK = re.compile(r"[。；;.!?\n]")
COMMA = re.compile(r"[，,、：:()（）\[\]]")
UNIT_WORDS = frozenset(
    [*tokenize("years year months weeks days hours mg percent"), "mm", "hg", "kg", "ml", "gy", "ng", "dl", "iu", "m"]
)
# who a sentence is about, shared by most sentences of a guideline: not evidence that two values are the same quantity
POPULATION_WORDS = frozenset(
    tokenize("adults adult aged age ages older younger women men patients people persons children individuals between")
)
# groups a value may be stated for separately: two passages about different ones do not disagree
POPULATIONS = {
    "adult": re.compile(r"\badults?\b", re.I),
    "child": re.compile(r"\b(?:child|children|paediatric|pediatric|infants?|neonates?|adolescents?)\b", re.I),
}
CN_NOISE = set("万元日年月天个以上以下不超过") | set("以上 以下 万元 工作日 小时 个月 超过 或者 并处 造成".split())
# the tier of a statutory penalty, worded several ways: one shared term per tier (〔〕 marks such terms)
CN_TIERS = [
    (re.compile(r"拒不改正"), "〔拒不改正〕"),
    (re.compile(r"情节特别严重|特别严重"), "〔特别严重〕"),
    (re.compile(r"情节严重|严重后果|后果严重"), "〔严重〕"),
]
CN_TIER_WORDS = frozenset({"拒不改正", "改正", "情节严重", "严重后果", "后果严重", "情节特别严重", "特别严重"})
CN_PERSONS = re.compile(r"主管人员|责任人员")  # the fine on the responsible persons, not on the organisation
CN_CEILING_AFTER = re.compile(r"^\s*(?:以下|以内)")
CN_CEILING_BEFORE = re.compile(r"(?:不超过|不得超过|最高)\s*$")
CN_SENTENCE_BREAK = re.compile(r"[。\n]")
CN_CONDITION = re.compile(r"[^，,；;。\n]*的(?=[，,])")


def _terms(text: str) -> set[str]:
    terms: set[str] = set()
    for token in tokenize(re.sub(r"[\u3400-\u9fff]+", " ", text)):
        if not re.search(r"\d", token) and token not in UNIT_WORDS | POPULATION_WORDS and len(token) > 1:
            terms.add(token)
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        for word in jieba.lcut(run):
            if (
                len(word) >= 2
                and word not in CHINESE_STOPWORDS
                and word not in CN_NOISE
                and not re.fullmatch(f"{CN_NUM}[万元亿日年月天个倍]*|百分之.*", word)
            ):
                terms.add(word)
    return terms


def _subject(text: str, start: int, end: int) -> frozenset[str]:
    """Content terms of the clause holding the quantity and of the clause before it (the condition it depends on)."""
    left = max((m.end() for m in CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    right_match = CLAUSE_BREAK.search(text, end)
    right = right_match.start() if right_match else len(text)
    commas_before = [m.end() for m in COMMA.finditer(text, left, start)]
    clause_start = commas_before[-2] if len(commas_before) >= 2 else left
    comma_after = COMMA.search(text, end, right)
    clause_end = comma_after.start() if comma_after else right
    terms = _terms(text[clause_start:start] + " " + text[end:clause_end])
    if CJK.search(text[clause_start:clause_end]):
        condition = _cn_condition(text, start)
        if condition:  # the condition stands for the clause before: the tier, not the other penalties
            own_start = commas_before[-1] if commas_before else left
            terms = _terms(text[own_start:start] + " " + text[end:clause_end]) - CN_TIER_WORDS | condition
            persons = CN_PERSONS.search(text, own_start, clause_end)
            terms.add("〔人员〕" if persons else "〔单位〕")
    return frozenset(terms)


def _cn_condition(text: str, start: int) -> set[str]:
    """The condition a Chinese penalty depends on (拒不改正的，… 情节严重的，…): the last clause ending in 的 before the
    amount in its sentence (up to 。), with its tier as one canonical term."""
    sentence_start = max((m.end() for m in CN_SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    conditions = list(CN_CONDITION.finditer(text, sentence_start, start))
    if not conditions:
        return set()
    condition = conditions[-1].group(0)
    tiers = {tier for pattern, tier in CN_TIERS if pattern.search(condition)}
    return (_terms(condition) - CN_TIER_WORDS) | tiers


# ---------------------------------------------------------------- extraction


def quantities_find(text: str) -> list[Quantity]:
    """Every quantity with a unit in the text, with its value in the dimension's base unit and its subject terms."""
    found: list[Quantity] = []
    for match in QUANTITY.finditer(text):
        start, end = match.span()
        before = text[max(0, start - 20) : start]
        if NOT_A_QUANTITY.search(before):
            continue
        if match.group("pct"):
            value = _number(match.group("pv"))
            dimension, unit, low, high = "percent", "%", value, value
        elif match.group("bp"):
            value = float(match.group("sys")) * 1000 + float(match.group("dia"))
            dimension, unit, low, high = "blood_pressure", "mmHg", value, value
        elif match.group("lo"):
            dimension, unit, factor = _unit(match.group("hiunit"))
            low_factor = _unit(match.group("lounit"))[2] if match.group("lounit") else factor
            low, high = _number(match.group("lo")) * low_factor, _number(match.group("hi")) * factor
        else:
            dimension, unit, factor = _unit(match.group("unit"))
            low = _number(match.group("v1")) * factor
            high = _number(match.group("v2")) * factor if match.group("v2") else low
            if match.group("v2") and high < low:
                low, high = high, low
            after = text[end : end + 16]
            if not match.group("v2") and (CN_CEILING_AFTER.match(after) or CN_CEILING_BEFORE.search(before)):
                low = 0.0  # 一百万元以下, 不超过三十日: a ceiling, compared by its upper end
            is_years = dimension == "duration" and factor == 365.25
            if is_years and (AGE_BEFORE.search(before) or AGE_AFTER.match(after)):
                dimension, unit, low, high = "age", "year", low / 365.25, high / 365.25
        found.append(Quantity(match.group(0), dimension, unit, low, high, start, end, _subject(text, start, end)))
    for match in CN_DATE.finditer(text):
        value = float(f"{match.group('y')}{int(match.group('m')):02d}{int(match.group('d')):02d}")
        start, end = match.span()
        found = [q for q in found if q.end <= start or q.start >= end]
        found.append(Quantity(match.group(0), "date", "yyyymmdd", value, value, start, end, _subject(text, start, end)))
    cited = [m.span() for m in CITATION.finditer(text)]
    found = [q for q in found if not any(s <= q.start < e for s, e in cited)]
    return sorted(found, key=lambda q: q.start)


# ---------------------------------------------------------------- conflicts


def _same(x: float, y: float) -> bool:
    return abs(x - y) <= TOLERANCE * max(abs(x), abs(y), 1e-9)


def values_differ(a: Quantity, b: Quantity) -> bool:
    """Single vs single: different values. Range vs range: different ends. Single vs range: outside it."""
    a_range, b_range = not _same(a.low, a.high), not _same(b.low, b.high)
    if a_range and b_range and (a.low == 0 or b.low == 0):  # a ceiling (X以下) against a range: the upper ends
        return not _same(a.high, b.high)
    if a_range and b_range:
        return not (_same(a.low, b.low) and _same(a.high, b.high))
    if a_range:
        return not (a.low * (1 - TOLERANCE) <= b.low <= a.high * (1 + TOLERANCE))
    if b_range:
        return not (b.low * (1 - TOLERANCE) <= a.low <= b.high * (1 + TOLERANCE))
    return not _same(a.low, b.low)


def _similarity(x: frozenset[str], y: frozenset[str]) -> float:
    """Dice of the content terms; two Chinese penalties of the same tier (拒不改正, 情节严重) on the same addressee
    (the organisation, or its responsible persons) are the same quantity whatever the rest of the wording."""
    if not x or not y:
        return 0.0
    marks_x, marks_y = {t for t in x if t.startswith("〔")}, {t for t in y if t.startswith("〔")}
    tiers_x, tiers_y = marks_x - {"〔人员〕", "〔单位〕"}, marks_y - {"〔人员〕", "〔单位〕"}
    if tiers_x & tiers_y and marks_x - tiers_x == marks_y - tiers_y:
        return 1.0
    return 2 * len(x & y) / (len(x) + len(y))


HEAD_STOP = re.compile(r"[,;:.()]|\s(?:and|or|but|in|for|to|with|of|after|before|within|from|at|on|by|if|when)\s")


def _head(text: str, q: Quantity) -> set[str]:
    """The content terms right after an English quantity, up to the clause's end: what it measures (100-g glucose
    load)."""
    stop = HEAD_STOP.search(text, q.end)
    return _terms(text[q.end : stop.start() if stop else q.end + 60])


def _score(text_a: str, qa: Quantity, text_b: str, qb: Quantity, found_b: list[Quantity]) -> float:
    """Subject similarity; raised to the threshold when both name the same thing right after the value, or when each
    passage holds one value of a specific kind (a blood pressure, a haemoglobin) and the passages are on one topic."""
    score = _similarity(qa.subject, qb.subject)
    if score < SUBJECT_THRESHOLD and len(_head(text_a, qa) & _head(text_b, qb)) >= 2:
        return SUBJECT_THRESHOLD
    if score < SUBJECT_THRESHOLD and qa.dimension in SPECIFIC:
        same_kind = [q for q in found_b if q.dimension == qa.dimension and q.unit == qa.unit]
        passages = _similarity(frozenset(_terms(text_a)), frozenset(_terms(text_b)))
        if len(same_kind) == 1 and passages >= PASSAGE_THRESHOLD:
            return SUBJECT_THRESHOLD
    return score


def _populations(text: str) -> set[str]:
    return {name for name, pattern in POPULATIONS.items() if pattern.search(text)}


def value_conflicts(text_a: str, text_b: str) -> list[ValueConflict]:
    """Pairs of quantities, one from each text, of the same dimension and comparable unit, whose values differ,
    about the same subject. At most one conflict per quantity of text_a (the best-matching one)."""
    groups_a, groups_b = _populations(text_a), _populations(text_b)
    if groups_a and groups_b and not groups_a & groups_b:  # adults in one, children in the other
        return []
    found_b = quantities_find(text_b)
    conflicts: list[ValueConflict] = []
    found_a = quantities_find(text_a)
    for qa in found_a:
        candidates = [qb for qb in found_b if qb.dimension == qa.dimension and qb.unit == qa.unit]
        if not candidates:
            continue
        if qa.dimension in SPECIFIC and sum(q.dimension == qa.dimension and q.unit == qa.unit for q in found_a) > 1:
            found_single = []  # the passage-level rule holds for one such value per passage only
        else:
            found_single = found_b

        def rank(qb: Quantity, qa: Quantity = qa, found: list[Quantity] = found_single) -> tuple[float, bool]:
            return _score(text_a, qa, text_b, qb, found), not values_differ(qa, qb)

        # the best subject match; on a tie an agreeing value wins (the same quantity stated the same way)
        best = max(candidates, key=rank)
        score = rank(best)[0]
        if score >= SUBJECT_THRESHOLD and values_differ(qa, best):
            shared = tuple(sorted(qa.subject & best.subject, key=lambda t: (-len(t), t)))
            conflicts.append(ValueConflict(qa, best, shared, round(score, 3)))
    return conflicts
