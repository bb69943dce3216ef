from __future__ import annotations

from rest_framework import serializers

from assistant.answers.services import CLOSEST_PASSAGES
from assistant.grounding.passages import passage_dicts
from assistant.grounding.serializers import ReadableCollectionsField
from assistant.models import Answer


class AskSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=2000)
    collections = ReadableCollectionsField(help_text="Names or ids.")


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
