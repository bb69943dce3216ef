"""The policy-matching form: a business profile in the units people know (万元, percent) and the policy sets."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.grounding.forms import ReadableCollectionsField, ReadableCollectionsForm
from assistant.policies.profile import BusinessProfile, ProfileInvalid, profile_validate

# Values are the Chinese names the rules read (a 个体工商户 is no legal person); labels follow the interface.
ENTERPRISE_TYPES = [
    ("", "—"),
    ("有限责任公司", _("Limited liability company (有限责任公司)")),
    ("股份有限公司", _("Joint-stock company (股份有限公司)")),
    ("个人独资企业", _("Sole proprietorship (个人独资企业)")),
    ("合伙企业", _("Partnership (合伙企业)")),
    ("个体工商户", _("Individual business (个体工商户)")),
    ("农民专业合作社", _("Farmers' cooperative (农民专业合作社)")),
]
SIZE_CHOICES = [
    ("", "—"),
    ("micro", _("Micro")),
    ("small", _("Small")),
    ("medium", _("Medium")),
    ("large", _("Large")),
]
CERTIFICATE_CHOICES = [
    ("高新技术企业", _("High-tech enterprise (高新技术企业)")),
    ("专精特新", _("Specialised and innovative SME (专精特新)")),
    ("科技型中小企业", _("Tech-based SME (科技型中小企业)")),
    ("小巨人", _("Little giant (小巨人)")),
]
TEN_THOUSAND = Decimal(10_000)
# ProfileInvalid names the profile's fields; the form shows each error on the input it comes from.
PROFILE_FIELD_OF = {
    "annual_revenue": "annual_revenue_wan",
    "rd_ratio": "rd_percent",
    "certificates": "certificates_other",
    "profile": None,
}


def _names(text: str) -> list[str]:
    """Free-text certificate names: one per comma, 、, semicolon or line."""
    for separator in "，、；;\n":
        text = text.replace(separator, ",")
    return [name.strip() for name in text.split(",") if name.strip()]


class PolicyProfileForm(ReadableCollectionsForm):
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    district = forms.CharField(label=_("District"), max_length=50, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    enterprise_type = forms.ChoiceField(label=_("Enterprise type"), choices=ENTERPRISE_TYPES, required=False)
    size = forms.ChoiceField(label=_("Size"), choices=SIZE_CHOICES, required=False)
    founded = forms.DateField(label=_("Founding date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    employees = forms.IntegerField(label=_("Employees"), min_value=0, required=False)
    annual_revenue_wan = forms.DecimalField(
        label=_("Annual revenue last year, in 万元 (10,000 yuan)"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        required=False,
        help_text=_("8000 means 80 million yuan."),
    )
    rd_percent = forms.DecimalField(
        label=_("R&D spending (percent of revenue)"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        required=False,
        help_text=_("5 means 5%."),
    )
    certificates = forms.MultipleChoiceField(
        label=_("Certificates"), choices=CERTIFICATE_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    certificates_other = forms.CharField(
        label=_("Other certificates"), max_length=300, required=False, help_text=_("Separate names with commas.")
    )
    notes = forms.CharField(label=_("Notes"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    collections = ReadableCollectionsField(label=_("Policy sets to search"))

    def clean(self) -> dict:
        cleaned = super().clean()
        # The profile's own checks run even when another field failed, so every error shows at once.
        try:
            cleaned["profile"] = profile_validate(profile=self.profile_of(cleaned))
        except ProfileInvalid as invalid:
            for name, message in invalid.errors.items():
                field = PROFILE_FIELD_OF.get(name, name if name in self.fields else None)
                if field is None or field not in self.errors:
                    self.add_error(field, message)
        return cleaned

    @staticmethod
    def profile_of(cleaned: dict) -> BusinessProfile:
        revenue, rd_percent = cleaned.get("annual_revenue_wan"), cleaned.get("rd_percent")
        certificates = list(cleaned.get("certificates") or [])
        certificates += [c for c in _names(cleaned.get("certificates_other") or "") if c not in certificates]
        return BusinessProfile(
            province=cleaned.get("province", "").strip(),
            city=cleaned.get("city", "").strip(),
            district=cleaned.get("district", "").strip(),
            industry=cleaned.get("industry", "").strip(),
            enterprise_type=cleaned.get("enterprise_type", ""),
            size=cleaned.get("size", ""),
            founded=cleaned.get("founded"),
            employees=cleaned.get("employees"),
            annual_revenue=None if revenue is None else float(revenue * TEN_THOUSAND),
            rd_ratio=None if rd_percent is None else float(rd_percent / 100),
            certificates=certificates,
            notes=cleaned.get("notes", "").strip(),
        )

    def profile(self) -> BusinessProfile:
        """The validated profile (call after is_valid())."""
        return self.cleaned_data["profile"]
