"""What a policy match is made of: items (conditions and benefits) with their verified citation and rule status, a
policy with its items, and the ranked result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from assistant.policies.profile import BusinessProfile
from assistant.policies.rules import MET, NOT_MET, UNKNOWN


@dataclass
class PolicyItem:
    """A condition or benefit as extracted, its citation verified; conditions carry the rule check."""

    kind: str  # "condition" / "benefit"
    text: str
    supported: bool
    support: float
    citation: dict | None  # verified citation (VerifiedCitation as dict) plus "clause": 《文件名》第X条
    status: str = ""  # conditions: met / not_met / unknown; "" for benefits and unsupported conditions
    reason: str = ""
    missing: str = ""


@dataclass
class PolicyMatch:
    document_id: int
    document_title: str
    conditions: list[PolicyItem] = field(default_factory=list)
    benefits: list[PolicyItem] = field(default_factory=list)
    unsupported: list[PolicyItem] = field(default_factory=list)  # excluded from the decision
    passages: list[dict] = field(default_factory=list)
    timings: dict[str, float | int | None] = field(default_factory=dict)
    error: str = ""

    def counts(self) -> dict[str, int]:
        statuses = [c.status for c in self.conditions]
        return {s: statuses.count(s) for s in (MET, NOT_MET, UNKNOWN)}

    @property
    def all_met(self) -> bool:
        return bool(self.conditions) and all(c.status == MET for c in self.conditions)

    def rank_key(self) -> tuple[int, int, int, int]:
        """All met first, then fewest unknown, then fewest not met; a policy with no verified condition tells the
        business nothing about its eligibility, so it comes after those that do."""
        counts = self.counts()
        return (0 if self.all_met else 1, 0 if self.conditions else 1, counts[UNKNOWN], counts[NOT_MET])

    def to_qualify(self) -> list[str]:
        """What the business would need to do or show: each unmet condition's why, each unknown's missing fact."""
        needs = [f"不满足：{c.text}（{c.reason}）" for c in self.conditions if c.status == NOT_MET]
        needs += [f"待确认：{c.text}（{c.reason}）" for c in self.conditions if c.status == UNKNOWN]
        return needs

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(counts=self.counts(), all_met=self.all_met, to_qualify=self.to_qualify())
        return data


@dataclass
class PolicyMatchResult:
    profile: BusinessProfile
    policies: list[PolicyMatch]  # ranked
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    sources: dict[str, list[dict]] = field(default_factory=dict)  # grounding/sources.py: replaced, disagreeing


def policy_dict_rank_key(policy: dict) -> tuple[int, int, int, int]:
    """PolicyMatch.rank_key for a stored policy dict."""
    return policy_match_from_dict(policy).rank_key()


def policy_match_from_dict(data: dict) -> PolicyMatch:
    """A stored policy (PolicyMatch.as_dict()) back as a PolicyMatch, for the exports."""
    items = {key: [PolicyItem(**{f: raw.get(f) for f in PolicyItem.__dataclass_fields__ if f in raw})
                   for raw in data.get(key) or []] for key in ("conditions", "benefits", "unsupported")}
    return PolicyMatch(
        document_id=data["document_id"], document_title=data["document_title"], passages=data.get("passages") or [],
        timings=data.get("timings") or {}, error=data.get("error") or "", **items,
    )
