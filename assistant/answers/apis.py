"""REST API: ask a question of named document sets; read an answer. The nested serializers are the API's shapes:
they read the request, write the response and describe both in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.accounts.permissions import AsksQuestions
from assistant.answers.services import CLOSEST_PASSAGES, question_answer
from assistant.grounding.apis import OwnRecordDetailApi, own_record_detail_schema
from assistant.grounding.passages import passage_dicts
from assistant.grounding.serializers import (
    RETRY_AFTER,
    PassageSerializer,
    ReadableCollectionsField,
    SourcesSerializer,
    StatementSerializer,
    api_errors,
)
from assistant.models import Answer, AuditEvent


class AnswerOutputSerializer(serializers.ModelSerializer):
    """A stored answer: text with [n] markers, statements each verified, citations, timings."""

    citations = PassageSerializer(many=True, read_only=True, help_text="Each cited passage once.")
    statements = StatementSerializer(many=True, read_only=True)
    closest_passages = serializers.SerializerMethodField(
        help_text="When the documents do not answer the question: the closest passages found, else []."
    )
    timings = serializers.DictField(
        read_only=True, help_text="Milliseconds (retrieval_ms, ttft_ms, generation_ms, total_ms) and token counts."
    )
    sources = SourcesSerializer(
        read_only=True, help_text="Replaced or amended documents among the passages (with the one in force), and "
        "disagreements between cited documents (both values, sources, dates, which is newer).",
    )

    class Meta:
        model = Answer
        ref_name = "Answer"
        fields = ["id", "question", "language", "text", "grounded", "verdict", "supported_share", "citations",
                  "statements", "closest_passages", "sources", "invalid_citation_count", "unsupported_statement_count",
                  "reasoning", "model", "timings", "created_at"]

    @extend_schema_field(PassageSerializer(many=True))
    def get_closest_passages(self, answer: Answer) -> list[dict]:
        if answer.grounded:
            return []
        return PassageSerializer(passage_dicts(chunk_ids=list(answer.passages[:CLOSEST_PASSAGES])), many=True).data


class AnswerCreateApi(APIView):
    permission_classes = [AsksQuestions]

    class InputSerializer(serializers.Serializer):
        question = serializers.CharField(max_length=2000)
        collections = ReadableCollectionsField(help_text="Names or ids.")

        class Meta:
            ref_name = "Ask"

    OutputSerializer = AnswerOutputSerializer

    @extend_schema(
        parameters=[RETRY_AFTER], tags=["answers"], operation_id="answers_create",
        summary="Ask a question of document sets", request=InputSerializer,
        responses={201: OutputSerializer, **api_errors(validation=True)},
        examples=[OpenApiExample("Ask", request_only=True,
                                 value={"question": "高血压的诊断标准是什么？", "collections": ["sample"]})],
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data, context={"user": request.user})
        payload.is_valid(raise_exception=True)
        answer = question_answer(
            question=payload.validated_data["question"],
            collection_ids=payload.validated_data["collections"],
            user=request.user,
            interface=AuditEvent.Interface.ANSWER_API,
        )
        return Response(self.OutputSerializer(answer).data, status=status.HTTP_201_CREATED)


@own_record_detail_schema(tag="answers", operation_id="answers_retrieve", summary="Read one of one's answers",
                          route_id="answer_id")
class AnswerDetailApi(OwnRecordDetailApi):
    permission_classes = [AsksQuestions]
    model = Answer
    OutputSerializer = AnswerOutputSerializer
