from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.selectors import collections_askable


class AskForm(forms.Form):
    question = forms.CharField(
        label=_("Question"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    collections = forms.ModelMultipleChoiceField(
        label=_("Document sets"), queryset=collections_askable(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        queryset = collections_askable()
        self.fields["collections"].queryset = queryset
        if not self.is_bound:
            self.initial.setdefault("collections", list(queryset.values_list("id", flat=True)))
