from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from assistant.answers.selectors import collections_askable
from ingestion.models import Collection
from retrieval.access import Reader


class AskForm(forms.Form):
    question = forms.CharField(
        label=_("Question"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    collections = forms.ModelMultipleChoiceField(
        label=_("Document sets"), queryset=Collection.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, user: Reader, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Only the sets this user may read are offered, and a posted id of another set is an invalid choice.
        queryset = collections_askable(user=user)
        self.fields["collections"].queryset = queryset
        if not self.is_bound:
            self.initial.setdefault("collections", list(queryset.values_list("id", flat=True)))
