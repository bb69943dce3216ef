from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.grounding.forms import ReadableCollectionsForm


class AskForm(ReadableCollectionsForm):
    question = forms.CharField(
        label=_("Question"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    field_order = ["question", "collections"]
