from __future__ import annotations

from rest_framework import serializers

from assistant.models import Answer
from ingestion.models import Collection


class AskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=2000)
    collections = serializers.ListField(child=serializers.CharField(), min_length=1, help_text="Names or ids.")

    def validate_collections(self, values: list[str]) -> list[int]:
        ids = []
        for value in values:
            collection = Collection.objects.filter(name=value).first()
            if collection is None and value.isdigit():
                collection = Collection.objects.filter(id=int(value)).first()
            if collection is None:
                raise serializers.ValidationError(f"No document set named {value!r}.")
            ids.append(collection.id)
        return ids


class AnswerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Answer
        fields = ["id", "question", "language", "text", "grounded", "citations", "statements",
                  "invalid_citation_count", "unsupported_statement_count", "reasoning", "model", "timings",
                  "created_at"]
