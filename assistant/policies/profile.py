"""A business's profile as the policy-matching form collects it, validated before any matching runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

SIZES = ("micro", "small", "medium", "large")
SIZE_LABELS = {"micro": "微型企业", "small": "小型企业", "medium": "中型企业", "large": "大型企业"}


class ProfileInvalid(ValueError):
    """The profile cannot be matched; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class BusinessProfile:
    province: str = ""
    city: str = ""
    district: str = ""
    industry: str = ""
    enterprise_type: str = ""  # 有限责任公司, 股份有限公司, 个体工商户, 合伙企业 ...
    size: str = ""  # one of SIZES, or "" when not given
    founded: date | None = None
    employees: int | None = None
    annual_revenue: float | None = None  # yuan, last year
    rd_ratio: float | None = None  # R&D spending / revenue, 0..1 (3% is 0.03)
    certificates: list[str] = field(default_factory=list)
    notes: str = ""

    def region(self) -> str:
        return "".join(part for part in (self.province, self.city, self.district) if part)


def profile_validate(*, profile: BusinessProfile, today: date | None = None) -> BusinessProfile:
    """The profile back when it is usable; ProfileInvalid naming every bad field otherwise."""
    today = today or date.today()
    errors: dict[str, str] = {}
    if profile.size and profile.size not in SIZES:
        errors["size"] = _("must be one of %(sizes)s") % {"sizes": ", ".join(SIZES)}
    if profile.founded is not None and profile.founded > today:
        errors["founded"] = _("cannot be in the future")
    if profile.employees is not None and (isinstance(profile.employees, bool) or profile.employees < 0):
        errors["employees"] = _("must be a whole number, 0 or more")
    if profile.annual_revenue is not None and profile.annual_revenue < 0:
        errors["annual_revenue"] = _("must be 0 or more (yuan)")
    if profile.rd_ratio is not None and not 0 <= profile.rd_ratio <= 1:
        errors["rd_ratio"] = _("is a share of revenue between 0 and 1 (3%% is 0.03)") % {}
    if any(not isinstance(c, str) or not c.strip() for c in profile.certificates):
        errors["certificates"] = _("each certificate must be a non-empty name")
    if not (profile.province or profile.city or profile.industry or profile.enterprise_type or profile.size):
        errors["profile"] = _("give at least the region, industry, enterprise type or size")
    if errors:
        raise ProfileInvalid(errors)
    return profile


def profile_as_dict(profile: BusinessProfile) -> dict[str, Any]:
    """The profile as stored and sent (JSON): the founding date in ISO form."""
    data = asdict(profile)
    data["founded"] = profile.founded.isoformat() if profile.founded else None
    return data


def profile_from_dict(data: dict[str, Any]) -> BusinessProfile:
    """A stored profile back; keys it does not know are ignored, so older records still read."""
    known = {name: data[name] for name in BusinessProfile.__dataclass_fields__ if name in data}
    if known.get("founded"):
        known["founded"] = date.fromisoformat(known["founded"])
    known["certificates"] = list(known.get("certificates") or [])
    return BusinessProfile(**known)
