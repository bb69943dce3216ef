"""Check a policy condition's clause text against a business profile, by rules: met, not met (why) or unknown.

The check must be reproducible, so no model judges it: a small parser reads thresholds on employees, revenue, R&D
ratio and company age (不低于3%, 300人以下, 成立满1年, 2亿元), required certificates, legal-person status, size class
and region. A clause is split at ；，、 into parts; any part not met makes the condition not met, any part the rules
cannot read or the profile lacks the fact for makes it unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from assistant.policies.profile import BusinessProfile

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
NEEDS_REVIEW = "needs review"

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMBER = r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+)"
# Comparators before the number (不低于3%) and after it (300人以下); 以上/以下 include the number, 超过/低于 do not.
BEFORE = {"不低于": ">=", "不少于": ">=", "不小于": ">=", "达到": ">=", "满": ">=", "不超过": "<=", "不高于": "<=",
          "不多于": "<=", "不大于": "<=", "最高": "<=", "超过": ">", "高于": ">", "多于": ">", "大于": ">",
          "低于": "<", "少于": "<", "小于": "<", "不足": "<", "不满": "<", "未满": "<"}
AFTER = {"以上": ">=", "及以上": ">=", "以下": "<=", "及以下": "<=", "以内": "<="}
BEFORE_RE = "|".join(sorted(map(re.escape, BEFORE), key=len, reverse=True))
AFTER_RE = "|".join(sorted(map(re.escape, AFTER), key=len, reverse=True))
PART_SPLIT = re.compile(r"[；;，,。、：:\n]|(?:并且|并|且)(?=[具持在未被有])")
LIST_MARK = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十\d]+[、.．])\s*")

CERTIFICATES = {
    "高新技术企业": ("高新技术企业",),
    "专精特新": ("专精特新",),
    "科技型中小企业": ("科技型中小企业",),
    "小巨人": ("小巨人",),
}
LEAD_IN = re.compile(r"下列(?:条件|情形)")
LEAD_IN_TEXT = re.compile(r"^[^（(]*?下列(?:条件|情形)[^：:（(]*[：:]")
LOCAL_AREA = re.compile(r"本市|本省|本区|本县|辖区|注册在")


def cn_number(text: str) -> float:
    """'3' → 3, '3.5' → 3.5, '三' → 3, '十二' → 12, '三百' → 300, '一千五百' → 1500."""
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total, digit = 0, 0
    for char in text:
        if char in CN_DIGITS:
            digit = CN_DIGITS[char]
        elif char in CN_UNITS:
            total += (digit or 1) * CN_UNITS[char]
            digit = 0
        else:
            raise ValueError(f"not a number: {text!r}")
    return float(total + digit)


@dataclass(frozen=True)
class Threshold:
    op: str  # ">=", ">", "<=", "<"
    value: float

    def holds(self, actual: float) -> bool:
        return {">=": actual >= self.value, ">": actual > self.value, "<=": actual <= self.value,
                "<": actual < self.value}[self.op]

    def label(self, unit: str = "") -> str:
        words = {">=": "不低于", ">": "高于", "<=": "不超过", "<": "低于"}[self.op]
        return f"{words}{_plain(self.value)}{unit}"


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def threshold_find(text: str, unit: str) -> Threshold | None:
    """The first threshold on a number followed by `unit` (a regex), e.g. unit=r"人" in 职工人数不超过300人."""
    pattern = re.compile(rf"(?P<before>{BEFORE_RE})?\s*{NUMBER}\s*(?P<unit>{unit})\s*(?P<after>{AFTER_RE})?")
    for match in pattern.finditer(text):
        op = BEFORE.get(match.group("before") or "") or AFTER.get(match.group("after") or "")
        if op is None:
            continue
        try:
            value = cn_number(match.group(2))
        except ValueError:
            continue
        return Threshold(op, value * _unit_scale(match.group("unit")))
    return None


def _unit_scale(unit: str) -> float:
    if unit.startswith("亿"):
        return 1e8
    if unit.startswith("万"):
        return 1e4
    return 1.0


@dataclass(frozen=True)
class ConditionCheck:
    status: str  # met / not_met / unknown
    reason: str  # why (not met), which fact is missing or "needs review" (unknown), what was checked (met)
    missing: str = ""  # the profile field that would settle an unknown, "" when it needs a person to review

    def as_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason, "missing": self.missing}


def _years_between(start: date, end: date) -> float:
    return (end - start).days / 365.25


def part_check(*, text: str, profile: BusinessProfile, today: date) -> ConditionCheck | None:
    """One part of a condition, or None when no rule reads it."""
    if re.search(r"研发|研究开发|R&D", text) and (at := threshold_find(text.replace("百分之", ""), r"%|％")):
        if profile.rd_ratio is None:
            return ConditionCheck(UNKNOWN, f"研发投入占比{at.label('%')}：未填写研发投入占营业收入比例", "rd_ratio")
        ok = at.holds(profile.rd_ratio * 100)
        return ConditionCheck(MET if ok else NOT_MET,
                              f"研发投入占比{_plain(round(profile.rd_ratio * 100, 2))}%，要求{at.label('%')}")
    if re.search(r"营业收入|营收|销售收入|销售额|年收入|主营业务收入", text) and (
            at := threshold_find(text, r"亿元|万元|元")):
        if profile.annual_revenue is None:
            return ConditionCheck(UNKNOWN, f"营业收入{at.label('元')}：未填写年营业收入", "annual_revenue")
        return ConditionCheck(MET if at.holds(profile.annual_revenue) else NOT_MET,
                              f"年营业收入{_plain(profile.annual_revenue)}元，要求{at.label('元')}")
    if re.search(r"职工|员工|从业人员|人数|雇员|用工", text) and (at := threshold_find(text, r"人|名")):
        if profile.employees is None:
            return ConditionCheck(UNKNOWN, f"职工人数{at.label('人')}：未填写职工人数", "employees")
        return ConditionCheck(MET if at.holds(profile.employees) else NOT_MET,
                              f"职工人数{profile.employees}人，要求{at.label('人')}")
    if re.search(r"成立|注册|登记|设立|经营", text) and (at := threshold_find(text, r"年|周年")):
        if profile.founded is None:
            return ConditionCheck(UNKNOWN, f"成立年限{at.label('年')}：未填写成立日期", "founded")
        years = _years_between(profile.founded, today)
        return ConditionCheck(MET if at.holds(years) else NOT_MET,
                              f"成立{years:.1f}年，要求{at.label('年')}")
    for certificate, words in CERTIFICATES.items():
        if any(w in text for w in words):
            held = any(certificate in c for c in profile.certificates)
            return ConditionCheck(MET if held else NOT_MET,
                                  f"{'持有' if held else '未持有'}{certificate}认定/证书")
    if "法人" in text:
        kind = profile.enterprise_type
        if not kind:
            return ConditionCheck(UNKNOWN, "要求具有独立法人资格：未填写企业类型", "enterprise_type")
        if re.search(r"个体工商户|个人独资|合伙|分公司", kind):
            return ConditionCheck(NOT_MET, f"要求具有独立法人资格，{kind}不具有法人资格")
        if re.search(r"公司|法人|集团", kind):
            return ConditionCheck(MET, f"{kind}具有独立法人资格")
        return ConditionCheck(UNKNOWN, f"要求具有独立法人资格：{kind}是否为法人{NEEDS_REVIEW}", "")
    if size := _size_check(text=text, profile=profile):
        return size
    return _region_check(text=text, profile=profile)


def _size_check(*, text: str, profile: BusinessProfile) -> ConditionCheck | None:
    wanted = None
    if re.search(r"中小微企业|中小企业", text):
        wanted = {"micro", "small", "medium"}
    elif re.search(r"小微企业", text):
        wanted = {"micro", "small"}
    elif re.search(r"大型企业", text):
        wanted = {"large"}
    if wanted is None:
        return None
    if not profile.size:
        return ConditionCheck(UNKNOWN, "要求的企业规模：未填写企业规模", "size")
    ok = profile.size in wanted
    from assistant.policies.profile import SIZE_LABELS

    return ConditionCheck(MET if ok else NOT_MET, f"企业规模为{SIZE_LABELS[profile.size]}，"
                          f"{'属于' if ok else '不属于'}条件要求的规模")


def _region_check(*, text: str, profile: BusinessProfile) -> ConditionCheck | None:
    """Met when the clause names the profile's province, city or district; a clause about "本市"/"本省" (the issuing
    government's own area) is unknown: which area that is needs a person, and naming other places is too loose a
    signal to rule a business out."""
    ours = [p for p in (profile.province, profile.city, profile.district) if p]
    for part in ours:
        if part in text or (len(part.rstrip("省市区县")) >= 2 and part.rstrip("省市区县") in text):
            return ConditionCheck(MET, f"所在地区{profile.region()}属于条件所指地区{part}")
    if LOCAL_AREA.search(text):
        if not ours:
            return ConditionCheck(UNKNOWN, "要求注册在政策所属地区：未填写所在地区", "region")
        return ConditionCheck(UNKNOWN, f"要求注册在政策所属地区：{profile.region()}是否属于该地区{NEEDS_REVIEW}", "")
    return None


def condition_parts(text: str) -> list[str]:
    body = LIST_MARK.sub("", LEAD_IN_TEXT.sub("", text.strip()))
    return [p.strip() for p in PART_SPLIT.split(body) if p and p.strip()]


def condition_check(*, text: str, profile: BusinessProfile, today: date | None = None) -> ConditionCheck:
    """The condition checked part by part: not met if any part is not, met if every part is, else unknown."""
    today = today or date.today()
    checks: list[ConditionCheck] = []
    for part in condition_parts(text):
        if LEAD_IN.search(part):
            continue  # "应当同时符合下列条件：" introduces the conditions, it is not one
        checked = part_check(text=part, profile=profile, today=today)
        checks.append(checked or ConditionCheck(UNKNOWN, f"“{part}”：{NEEDS_REVIEW}", ""))
    if not checks:
        return ConditionCheck(UNKNOWN, NEEDS_REVIEW, "")
    failed = [c for c in checks if c.status == NOT_MET]
    if failed:
        return ConditionCheck(NOT_MET, "；".join(c.reason for c in failed))
    open_ = [c for c in checks if c.status == UNKNOWN]
    if open_:
        return ConditionCheck(UNKNOWN, "；".join(c.reason for c in open_),
                              ",".join(dict.fromkeys(c.missing for c in open_ if c.missing)))
    return ConditionCheck(MET, "；".join(c.reason for c in checks))
