"""The document-set list every feature's API takes: names or ids, each one the caller may read."""

from __future__ import annotations

from rest_framework import serializers

from retrieval.access import collection_readable_lookup


class ReadableCollectionsField(serializers.ListField):
    """Names or ids of sets the caller may read, validated to their ids. A set they may not read is reported as
    missing (its existence is not told). The serializer's context carries the user: {"user": request.user}."""

    default_error_messages = {"unknown": "No document set named {value!r}."}

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("help_text", "Document sets, by name or id.")
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_internal_value(self, data: object) -> list[int]:
        values = super().to_internal_value(data)
        user = self.context["user"]
        ids = []
        for value in values:
            collection = collection_readable_lookup(value=value, user=user)
            if collection is None:
                raise serializers.ValidationError(self.error_messages["unknown"].format(value=value))
            ids.append(collection.id)
        return ids
