"""The clinician portal's form: the chief complaint, optional patient facts, and the guideline sets to use."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.grounding.forms import ReadableCollectionsField, ReadableCollectionsForm

SEX_CHOICES = [("", "—"), ("female", _("Female")), ("male", _("Male")), ("other", _("Other"))]


class ClinicalReportForm(ReadableCollectionsForm):
    complaint = forms.CharField(
        label=_("Chief complaint"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}),
        help_text=_("Free text, in Chinese or English."),
    )
    age = forms.IntegerField(label=_("Age"), required=False, min_value=0, max_value=130)
    sex = forms.ChoiceField(label=_("Sex"), required=False, choices=SEX_CHOICES)
    vitals = forms.CharField(label=_("Vital signs"), required=False, max_length=500)
    history = forms.CharField(
        label=_("History"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    medications = forms.CharField(
        label=_("Current medications"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    collections = ReadableCollectionsField(label=_("Guideline sets"))

    def report_arguments(self) -> dict:
        """The cleaned fields as clinical_report_stream/create take them."""
        data = self.cleaned_data
        return {
            "complaint": data["complaint"],
            "collection_ids": self.collection_ids(),
            "age": data["age"],
            "sex": data["sex"],
            "vitals": data["vitals"],
            "history": data["history"],
            "medications": data["medications"],
        }
