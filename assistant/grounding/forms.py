"""The document-set choice every feature's form has: only the sets the user may read and that have something
indexed are offered (all checked at first), and a posted id of another set is an invalid choice."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ingestion.models import Collection
from retrieval.access import Reader, collections_askable


class ReadableCollectionsField(forms.ModelMultipleChoiceField):
    def __init__(self, *, label: str = _("Document sets"), **kwargs: object) -> None:
        super().__init__(label=label, queryset=Collection.objects.none(), widget=forms.CheckboxSelectMultiple,
                         **kwargs)


class ReadableCollectionsForm(forms.Form):
    """A form with a `collections` field offering what `user` may read; subclasses may relabel the field."""

    collections = ReadableCollectionsField()

    def __init__(self, *args: object, user: Reader, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        queryset = collections_askable(user=user)  # evaluated per form: sets indexed since start-up appear
        self.fields["collections"].queryset = queryset
        if not self.is_bound:
            self.initial.setdefault("collections", list(queryset.values_list("id", flat=True)))

    def collection_ids(self) -> list[int]:
        return [c.id for c in self.cleaned_data["collections"]]
