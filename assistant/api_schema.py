"""The OpenAPI description of the APIs (drf-spectacular): request and response bodies, errors, authentication.

The views (api.py, clinical_api.py, policy_api.py, openai_api.py) build their replies from stored JSON (statements,
citations, report sections, policies), which spectacular cannot see into, so the shapes are declared here as
response-only serializers and attached to the views by view extensions: the views stay as they are, and the schema
says what they answer (retrieval/apis.py, the search API, declares its own). Served at /api/schema/ (YAML;
?format=json for JSON) with Swagger UI at /api/docs/ and Redoc at /api/redoc/, both from the sidecar package (no
CDN). This module is imported by config/urls.py, which registers the extensions before any schema is generated.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers

from assistant.answers.serializers import AnswerSerializer, AskSerializer
from assistant.clinical.apis import ClinicalReportCreateSerializer
from assistant.openai.serializers import ChatCompletionRequestSerializer
from assistant.policies.serializers import PolicyMatchCreateSerializer

MAX_ID = 2**63 - 1  # ids are 64-bit


# --- Errors


class ErrorDetailSerializer(serializers.Serializer):
    """DRF's error body: authentication, permission, not found, throttled (with a Retry-After header)."""

    detail = serializers.CharField()


class OpenAiErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAiErrorSerializer(serializers.Serializer):
    """OpenAI's error shape, which its clients read."""

    error = OpenAiErrorBodySerializer()


RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429],
    description="Seconds until the caller may ask again.",
)
VALIDATION_ERROR = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="Field errors: each field named with its messages (`non_field_errors` for the whole body).",
)


def _errors(*, validation: bool = False, not_found: bool = False) -> dict:
    responses: dict = {
        401: OpenApiResponse(ErrorDetailSerializer, description="Credentials given but wrong."),
        403: OpenApiResponse(ErrorDetailSerializer, description="Not signed in, or the role may not use this."),
        429: OpenApiResponse(ErrorDetailSerializer, description="Over the request rate; see Retry-After."),
    }
    if validation:
        responses[400] = VALIDATION_ERROR
    if not_found:
        responses[404] = OpenApiResponse(ErrorDetailSerializer, description="None of the caller's has this id.")
    return responses


def _openai_errors(*codes: int) -> dict:
    return {code: OpenApiResponse(OpenAiErrorSerializer, description="An OpenAI-shaped error.") for code in codes}


# --- Requests spectacular cannot read


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string"},
                                                                     "text": {"type": "string"}}}},
        ],
        "nullable": True,
        "description": "A string, or OpenAI's content parts ({\"type\": \"text\", \"text\": ...}; others ignored).",
    }
)
class ChatContentField(serializers.JSONField):
    pass


class ChatMessageInSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="system, user, assistant ...; the last user message is the question.")
    content = ChatContentField(required=False, allow_null=True)


class ChatCompletionRequestSchemaSerializer(ChatCompletionRequestSerializer):
    messages = ChatMessageInSerializer(many=True, allow_empty=False)

    class Meta:
        ref_name = "ChatCompletionRequest"


# --- Answers


class PassageSerializer(serializers.Serializer):
    """A passage given to the model: [number] in the answer, its chunk, document, section and pages."""

    number = serializers.IntegerField(help_text="1-based position in the prompt: the n of [n].")
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    section_path = serializers.CharField(allow_blank=True)
    page_start = serializers.IntegerField(allow_null=True)
    page_end = serializers.IntegerField(allow_null=True)


class VerifiedCitationSerializer(PassageSerializer):
    """A citation checked against its passage: the quote as located (or the best sentence when it was not there)."""

    quote = serializers.CharField(allow_blank=True)
    quote_start = serializers.IntegerField(help_text="Character offset of the quote in the passage.")
    quote_end = serializers.IntegerField()
    quote_found = serializers.BooleanField(help_text="Whether the model's own quote occurs in the passage.")
    support = serializers.FloatField(help_text="How well the passage supports the statement, 0..1.")


class StatementSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    supported = serializers.BooleanField()
    support = serializers.FloatField()
    method = serializers.CharField(help_text='"cited", "matched" (another passage supports it) or "unsupported".')
    citations = VerifiedCitationSerializer(many=True)
    invalid_citations = serializers.IntegerField(required=False, help_text="Markers naming no given passage.")


class AnswerResponseSerializer(AnswerSerializer):
    """A stored answer: text with [n] markers, statements each verified, citations, timings."""

    citations = PassageSerializer(many=True, read_only=True, help_text="Each cited passage once.")
    statements = StatementSerializer(many=True, read_only=True)
    closest_passages = PassageSerializer(
        many=True, read_only=True, help_text="When the documents do not answer the question: the closest passages."
    )
    timings = serializers.DictField(
        read_only=True, help_text="Milliseconds (retrieval_ms, ttft_ms, generation_ms, total_ms) and token counts."
    )

    class Meta(AnswerSerializer.Meta):
        ref_name = "Answer"


# --- Clinical reports


class ClinicalItemSerializer(serializers.Serializer):
    """A report item with its section's text fields (diagnosis, name, drug, sign, ...) and its verification."""

    section = serializers.CharField()
    index = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    supported = serializers.BooleanField()
    support = serializers.FloatField(required=False)
    method = serializers.CharField(required=False, help_text='As for statements, or "restates_patient".')
    citations = VerifiedCitationSerializer(many=True)


class ClinicalSectionsSerializer(serializers.Serializer):
    differential = ClinicalItemSerializer(many=True)
    examinations = ClinicalItemSerializer(many=True)
    medications = ClinicalItemSerializer(many=True)
    red_flags = ClinicalItemSerializer(many=True)


class ClinicalReportResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    complaint = serializers.CharField()
    age = serializers.IntegerField(allow_null=True)
    sex = serializers.CharField(allow_blank=True)
    vitals = serializers.CharField(allow_blank=True)
    history = serializers.CharField(allow_blank=True)
    medications = serializers.CharField(allow_blank=True, help_text="The patient's current medications.")
    collections = serializers.ListField(child=serializers.IntegerField(), help_text="Guideline set ids.")
    language = serializers.CharField()
    sections = ClinicalSectionsSerializer()
    recommendation_count = serializers.IntegerField(help_text="Supported items: only these are recommendations.")
    passages = serializers.ListField(child=serializers.IntegerField(), help_text="Chunk ids given to the model.")
    reasoning = serializers.CharField(allow_blank=True)
    model = serializers.CharField(allow_blank=True)
    timings = serializers.DictField()
    error = serializers.CharField(allow_blank=True, help_text="Why generation failed, when it did.")
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "ClinicalReport"


# --- Policy matches


class PolicyItemSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text='"condition" or "benefit".')
    text = serializers.CharField(allow_blank=True)
    supported = serializers.BooleanField()
    support = serializers.FloatField()
    citation = serializers.DictField(allow_null=True, help_text="The verified citation and its clause 《文件名》第X条.")
    status = serializers.CharField(allow_blank=True, help_text='Conditions: "met", "not_met" or "unknown".')
    reason = serializers.CharField(allow_blank=True)
    missing = serializers.CharField(allow_blank=True)


class PolicySerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    conditions = PolicyItemSerializer(many=True)
    benefits = PolicyItemSerializer(many=True)
    unsupported = PolicyItemSerializer(many=True, required=False)
    counts = serializers.DictField(child=serializers.IntegerField(), required=False)
    all_met = serializers.BooleanField(required=False)
    to_qualify = serializers.ListField(child=serializers.CharField(), required=False)
    error = serializers.CharField(allow_blank=True, required=False)


class PolicyMatchResponseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    profile = serializers.DictField(help_text="The business profile as entered.")
    collections = serializers.ListField(child=serializers.IntegerField(), help_text="Policy set ids.")
    language = serializers.CharField()
    policies = PolicySerializer(many=True, help_text="In rank order: all conditions met first, then fewest unknown.")
    model = serializers.CharField(allow_blank=True)
    timings = serializers.DictField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "PolicyMatch"


# --- OpenAI-compatible


class ChatMessageOutSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True, help_text="The answer with [n] markers.")
    reasoning_content = serializers.CharField(allow_blank=True)


class ChatChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = ChatMessageOutSerializer()
    finish_reason = serializers.CharField()


class YijuMetadataSerializer(serializers.Serializer):
    answer_id = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    grounded = serializers.BooleanField()
    verdict = serializers.CharField(allow_blank=True)
    supported_share = serializers.FloatField(allow_null=True)
    unsupported_statement_count = serializers.IntegerField(allow_null=True)
    invalid_citation_count = serializers.IntegerField(allow_null=True)
    statements = StatementSerializer(many=True)
    closest_passages = PassageSerializer(many=True)
    timings = serializers.DictField()
    model = serializers.CharField(allow_blank=True)


class ChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChatChoiceSerializer(many=True)
    usage = serializers.DictField(allow_null=True)
    citations = serializers.ListField(child=serializers.DictField(), help_text="Cited passages with their quotes.")
    yiju = YijuMetadataSerializer()


class OpenAiModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = OpenAiModelSerializer(many=True)


# One server-sent event of a streamed completion: its data is a `chat.completion.chunk` or an error as JSON text, or
# "[DONE]" at the end.
SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string", "description": "JSON of a chat.completion.chunk or an error; [DONE]."}},
    "required": ["data"],
}


def _id_parameter(name: str, what: str) -> OpenApiParameter:
    # The route's <int:...> takes digits only: a negative number is no route at all (Django's own 404 page).
    return OpenApiParameter(name, {"type": "integer", "minimum": 0, "maximum": MAX_ID}, OpenApiParameter.PATH,
                            description=f"The {what}'s id.")


# --- The views, described


class AnswerCreateApiSchema(OpenApiViewExtension):
    target_class = "assistant.answers.apis.AnswerCreateApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            post=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["answers"], operation_id="answers_create", summary="Ask a question of document sets",
                request=AskSerializer,
                responses={201: AnswerResponseSerializer, **_errors(validation=True)},
                examples=[OpenApiExample("Ask", request_only=True,
                                         value={"question": "高血压的诊断标准是什么？", "collections": ["sample"]})],
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class AnswerDetailApiSchema(OpenApiViewExtension):
    target_class = "assistant.answers.apis.AnswerDetailApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                tags=["answers"], operation_id="answers_retrieve", summary="Read one of one's answers",
                parameters=[_id_parameter("answer_id", "answer"), RETRY_AFTER],
                responses={200: AnswerResponseSerializer, **_errors(not_found=True)},
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class ClinicalReportListCreateApiSchema(OpenApiViewExtension):
    target_class = "assistant.clinical.apis.ClinicalReportListCreateApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["clinical"], operation_id="clinical_reports_list", summary="One's reports, newest first",
                responses={200: ClinicalReportResponseSerializer(many=True), **_errors()},
            ),
            post=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["clinical"], operation_id="clinical_reports_create",
                summary="A report from a complaint and patient facts",
                request=ClinicalReportCreateSerializer,
                responses={201: ClinicalReportResponseSerializer, **_errors(validation=True)},
            ),
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class ClinicalReportDetailApiSchema(OpenApiViewExtension):
    target_class = "assistant.clinical.apis.ClinicalReportDetailApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                tags=["clinical"], operation_id="clinical_reports_retrieve", summary="Read one of one's reports",
                parameters=[_id_parameter("report_id", "report"), RETRY_AFTER],
                responses={200: ClinicalReportResponseSerializer, **_errors(not_found=True)},
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class PolicyMatchListCreateApiSchema(OpenApiViewExtension):
    target_class = "assistant.policies.apis.PolicyMatchListCreateApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["policies"], operation_id="policy_matches_list", summary="One's policy matches, newest first",
                responses={200: PolicyMatchResponseSerializer(many=True), **_errors()},
            ),
            post=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["policies"], operation_id="policy_matches_create",
                summary="Match a business profile against policy sets",
                request=PolicyMatchCreateSerializer,
                responses={201: PolicyMatchResponseSerializer, **_errors(validation=True)},
            ),
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class PolicyMatchDetailApiSchema(OpenApiViewExtension):
    target_class = "assistant.policies.apis.PolicyMatchDetailApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                tags=["policies"], operation_id="policy_matches_retrieve", summary="Read one of one's matches",
                parameters=[_id_parameter("match_id", "match"), RETRY_AFTER],
                responses={200: PolicyMatchResponseSerializer, **_errors(not_found=True)},
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class ChatCompletionsApiSchema(OpenApiViewExtension):
    target_class = "assistant.openai.apis.ChatCompletionsApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            post=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["openai"], operation_id="chat_completions_create",
                summary="OpenAI-compatible chat completion answered from document sets",
                description="With `\"stream\": true` the reply is `text/event-stream`: `chat.completion.chunk` "
                "frames, the last with `citations`, `yiju` and `usage`, then `data: [DONE]`.",
                request=ChatCompletionRequestSchemaSerializer,
                responses={
                    (200, "application/json"): ChatCompletionSerializer,
                    (200, "text/event-stream"): OpenApiResponse(SSE_EVENT, description="Server-sent events."),
                    **_openai_errors(400, 401, 403, 404, 429),
                },
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class ModelsApiSchema(OpenApiViewExtension):
    target_class = "assistant.openai.apis.ModelsApi"

    def view_replacement(self) -> type:
        @extend_schema_view(
            get=extend_schema(
                parameters=[RETRY_AFTER],
                tags=["openai"], operation_id="models_list", summary="The askable document sets, as models",
                responses={200: ModelListSerializer, **_openai_errors(401, 403, 429)},
            )
        )
        class Fixed(self.target_class):
            pass

        return Fixed


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "assistant.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"
    priority = 1  # over spectacular's own TokenAuthentication scheme, which this class extends

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user's API key (`manage.py drf_create_token USER`), as OpenAI clients send theirs.",
        }


def endpoints_without_optional_slash(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: the OpenAI routes take an optional trailing slash (`/?$`); the schema names the path
    clients use, without it."""
    return [
        (path.removesuffix("/?").removesuffix("/") if regex.endswith("/?$") else path, regex, method, callback)
        for path, regex, method, callback in endpoints
    ]
