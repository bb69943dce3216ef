"""The clinician portal's form: the chief complaint, optional patient facts, and the guideline sets to use."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.answers.selectors import collections_askable
from ingestion.models import Collection
from retrieval.access import Reader

SEX_CHOICES = [("", "—"), ("female", _("Female")), ("male", _("Male")), ("other", _("Other"))]


class ClinicalReportForm(forms.Form):
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
    collections = forms.ModelMultipleChoiceField(
        label=_("Guideline sets"), queryset=Collection.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, user: Reader, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Only the sets this user may read are offered, and a posted id of another set is an invalid choice.
        queryset = collections_askable(user=user)  # evaluated per form: sets indexed since start-up appear
        self.fields["collections"].queryset = queryset
        if not self.is_bound:
            self.initial.setdefault("collections", list(queryset.values_list("id", flat=True)))

    def report_arguments(self) -> dict:
        """The cleaned fields as clinical_report_stream/create take them."""
        data = self.cleaned_data
        return {
            "complaint": data["complaint"],
            "collection_ids": [c.id for c in data["collections"]],
            "age": data["age"],
            "sex": data["sex"],
            "vitals": data["vitals"],
            "history": data["history"],
            "medications": data["medications"],
        }
