from __future__ import annotations

from rest_framework import serializers

from assistant.answers.selectors import collection_readable_lookup
from assistant.answers.services import CLOSEST_PASSAGES, passage_dict
from assistant.models import Answer
from ingestion.models import Chunk


def readable_collection_ids_validate(*, values: list[str], serializer: serializers.Serializer,
                                     missing: str = "No document set named {value!r}.") -> list[int]:
    """The ids of the named sets, each one the requesting user may read; a set they may not read is reported as
    missing (its existence is not told). The serializer's context carries the user: {"user": request.user}."""
    user = serializer.context["user"]
    ids = []
    for value in values:
        collection = collection_readable_lookup(value=value, user=user)
        if collection is None:
            raise serializers.ValidationError(missing.format(value=value))
        ids.append(collection.id)
    return ids


class AskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=2000)
    collections = serializers.ListField(child=serializers.CharField(), min_length=1, help_text="Names or ids.")

    def validate_collections(self, values: list[str]) -> list[int]:
        return readable_collection_ids_validate(values=values, serializer=self)


def passage_dicts(*, chunk_ids: list[int]) -> list[dict]:
    """Passage dicts (number = 1-based prompt order) for the given chunks; a chunk deleted since is left out."""
    chunks = {c.id: c for c in Chunk.objects.select_related("document").filter(id__in=chunk_ids)}
    return [passage_dict(number=n, chunk=chunks[i]) for n, i in enumerate(chunk_ids, start=1) if i in chunks]


class AnswerSerializer(serializers.ModelSerializer):
    closest_passages = serializers.SerializerMethodField(
        help_text="When the documents do not answer the question: the closest passages found, else []."
    )

    class Meta:
        model = Answer
        fields = ["id", "question", "language", "text", "grounded", "verdict", "supported_share", "citations",
                  "statements", "closest_passages", "invalid_citation_count", "unsupported_statement_count",
                  "reasoning", "model", "timings", "created_at"]

    def get_closest_passages(self, answer: Answer) -> list[dict]:
        if answer.grounded:
            return []
        return passage_dicts(chunk_ids=list(answer.passages[:CLOSEST_PASSAGES]))
