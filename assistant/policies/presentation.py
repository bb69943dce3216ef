"""How a stored policy match is shown (pages and PDF): labels in the interface language, links to cited clauses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from assistant.grounding.citations import citation_url
from assistant.policies.profile import SIZE_LABELS
from assistant.policies.rules import MET, NOT_MET, UNKNOWN


def status_label(status: str) -> str:
    return {MET: _("Met"), NOT_MET: _("Not met"), UNKNOWN: _("Unknown")}.get(status, status)


def missing_label(missing: str) -> str:
    """The profile fact a condition needs and the form did not get ("" when the clause needs a person's review)."""
    labels = {
        "province": _("Province"),
        "city": _("City"),
        "district": _("District"),
        "region": _("Region"),
        "industry": _("Industry"),
        "enterprise_type": _("Enterprise type"),
        "size": _("Size"),
        "founded": _("Founding date"),
        "employees": _("Employees"),
        "annual_revenue": _("Annual revenue"),
        "rd_ratio": _("R&D spending ratio"),
        "certificates": _("Certificates"),
    }
    return labels.get(missing, missing)


def profile_rows(profile: dict) -> list[tuple[str, str]]:
    """The profile's given facts as (label, value) rows in form order, in the units the form asks for."""
    rows: list[tuple[str, str]] = []
    region = " ".join(p for p in (profile.get("province"), profile.get("city"), profile.get("district")) if p)
    if region:
        rows.append((_("Region"), region))
    for key, label in (("industry", _("Industry")), ("enterprise_type", _("Enterprise type"))):
        if profile.get(key):
            rows.append((label, str(profile[key])))
    if profile.get("size"):
        rows.append((_("Size"), SIZE_LABELS.get(profile["size"], profile["size"])))
    if profile.get("founded"):
        rows.append((_("Founding date"), str(profile["founded"])))
    if profile.get("employees") is not None:
        rows.append((_("Employees"), str(profile["employees"])))
    if profile.get("annual_revenue") is not None:
        revenue = float(profile["annual_revenue"])
        rows.append((_("Annual revenue"), f"{revenue / 10_000:g} 万元 ({revenue:,.0f} yuan)"))
    if profile.get("rd_ratio") is not None:
        rows.append((_("R&D spending ratio"), f"{float(profile['rd_ratio']) * 100:g}%"))
    if profile.get("certificates"):
        rows.append((_("Certificates"), "、".join(profile["certificates"])))
    if profile.get("notes"):
        rows.append((_("Notes"), str(profile["notes"])))
    return rows


@dataclass(frozen=True)
class PolicyItemView:
    text: str
    status: str  # met / not_met / unknown; "" for benefits
    status_label: str
    reason: str
    missing: str  # the missing fact's label
    clause: str
    quote: str
    url: str  # the passage page with the quote marked


@dataclass(frozen=True)
class PolicyView:
    rank: int
    document_id: int
    title: str
    counts: dict[str, int]
    all_met: bool
    conditions: list[PolicyItemView]
    benefits: list[PolicyItemView]
    needs: list[PolicyItemView]  # not met or unknown: what the business would need to qualify
    unsupported_count: int
    left_out: list[PolicyItemView]  # unsupported by their clause, or no condition on the applicant: with the reason
    error: str
    timings: dict  # clause_retrieval_ms, ttft_ms, generation_ms, answer_tokens, check_ms, total_ms


def _item_view(item: dict) -> PolicyItemView:
    citation = item.get("citation") or {}
    return PolicyItemView(
        text=item["text"],
        status=item.get("status") or "",
        status_label=status_label(item.get("status") or ""),
        reason=item.get("reason") or "",
        missing=missing_label(item.get("missing") or ""),
        clause=citation.get("clause", ""),
        quote=citation.get("quote", ""),
        url=citation_url(citation=citation) if citation.get("chunk_id") else "",
    )


def policies_for_display(policies: Iterable[dict]) -> list[PolicyView]:
    """Stored policies (in rank order) with their items' labels and citation links."""
    views = []
    for rank, policy in enumerate(policies, start=1):
        conditions = [_item_view(c) for c in policy.get("conditions") or []]
        views.append(
            PolicyView(
                rank=rank,
                document_id=policy["document_id"],
                title=policy["document_title"],
                counts=policy.get("counts") or {},
                all_met=bool(policy.get("all_met")),
                conditions=conditions,
                benefits=[_item_view(b) for b in policy.get("benefits") or []],
                needs=[c for c in conditions if c.status in (NOT_MET, UNKNOWN)],
                unsupported_count=len(policy.get("unsupported") or []),
                left_out=[_item_view(u) for u in policy.get("unsupported") or []],
                error=policy.get("error") or "",
                timings=policy.get("timings") or {},
            )
        )
    return views
