"""What every feature's API shares: the document-set list it takes, the passages and verified citations its output
cites, and the errors and parameters it declares in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
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


# --- What every feature's output cites: passages and verified citations, described once for the responses and
# the OpenAPI schema alike.


class SupersedingSerializer(serializers.Serializer):
    """The document in force that replaced (or amended) a passage's document, among those the caller may read."""

    kind = serializers.ChoiceField(
        choices=["edition", "replaces", "amends"],
        help_text='"edition": a newer edition of the same work; "replaces": a clause repeals or replaces it; '
        '"amends": a clause amends it (it stays in force, as amended).',
    )
    superseded = serializers.BooleanField(help_text="True for edition and replaces: the document is not in force.")
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    issued_on = serializers.DateField(allow_null=True)
    issued_as = serializers.CharField(allow_blank=True, help_text="The issue date as the document writes it.")
    sentence = serializers.CharField(allow_blank=True, help_text="The newer document's clause that says so, if any.")


class PassageSerializer(serializers.Serializer):
    """A passage given to the model: [number] in the answer, its chunk, document, section and pages."""

    number = serializers.IntegerField(help_text="1-based position in the prompt: the n of [n].")
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    issued_as = serializers.CharField(allow_blank=True, required=False, help_text="The document's issue date.")
    section_path = serializers.CharField(allow_blank=True)
    page_start = serializers.IntegerField(allow_null=True)
    page_end = serializers.IntegerField(allow_null=True)
    superseded_by = SupersedingSerializer(
        allow_null=True, required=False, help_text="What replaced or amended the document; null when in force."
    )


class SupersededNoteSerializer(serializers.Serializer):
    """A document among the passages that is no longer in force (or was amended), and what is."""

    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    issued_on = serializers.DateField(allow_null=True)
    issued_as = serializers.CharField(allow_blank=True)
    passage_numbers = serializers.ListField(child=serializers.IntegerField(), help_text="Its passages' [n].")
    cited = serializers.BooleanField(help_text="Whether a shown statement cites one of its passages.")
    by = SupersedingSerializer()


class DisagreementValueSerializer(serializers.Serializer):
    value = serializers.CharField(help_text='The value as written: "41 weeks", "五十万元以下", "140/90 mmHg".')
    number = serializers.IntegerField(help_text="The passage's [n].")
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    issued_on = serializers.DateField(allow_null=True)
    issued_as = serializers.CharField(allow_blank=True)
    section_path = serializers.CharField(allow_blank=True)
    quote = serializers.CharField(help_text="The cited text that gives the value.")


class DisagreementSerializer(serializers.Serializer):
    """Two cited documents giving different values of one quantity about one subject."""

    subject = serializers.CharField(
        allow_blank=True, help_text="The terms (stemmed) the two cited passages share about it, most telling first."
    )
    dimension = serializers.CharField(help_text='"pressure", "percent", "dose", "duration", "money", "date", ...')
    values = DisagreementValueSerializer(many=True)
    newer_document_id = serializers.IntegerField(
        allow_null=True, help_text="The more recently issued of the two; null when a date is unknown or equal."
    )


class SourcesSerializer(serializers.Serializer):
    """Notes on the sources: replaced or amended documents among the passages, disagreements between citations."""

    superseded = SupersededNoteSerializer(many=True, required=False, default=list)
    disagreements = DisagreementSerializer(many=True, required=False, default=list)


class VerifiedCitationSerializer(PassageSerializer):
    """A citation checked against its passage: the quote as located (or the best sentence when it was not there).
    Whether its document is in force is told once per passage (the answer's `citations`) and in `sources`."""

    superseded_by = None  # a nullable field would add null to every stored citation read back

    quote = serializers.CharField(allow_blank=True)
    quote_start = serializers.IntegerField(help_text="Character offset of the quote in the passage.")
    quote_end = serializers.IntegerField()
    quote_spans = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2), required=False,
        help_text="The quoted pieces as [start, end] offsets in passage order; the quote joins pieces with ' … '.",
    )
    quote_found = serializers.BooleanField(help_text="Whether the model's own quote occurs in the passage.")
    support = serializers.FloatField(help_text="How well the passage supports the statement, 0..1.")


class StatementSerializer(serializers.Serializer):
    """A statement (or report item) with its verification against the passages it cites."""

    index = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    supported = serializers.BooleanField()
    support = serializers.FloatField(required=False)
    method = serializers.CharField(
        required=False,
        help_text='"cited", "matched" (another passage supports it), "unsupported" or "restates_patient".',
    )
    citations = VerifiedCitationSerializer(many=True)
    invalid_citations = serializers.IntegerField(required=False, help_text="Markers naming no given passage.")


# --- Errors and parameters every API declares


class ErrorDetailSerializer(serializers.Serializer):
    """DRF's error body: authentication, permission, not found, throttled (with a Retry-After header)."""

    detail = serializers.CharField()


RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429],
    description="Seconds until the caller may ask again.",
)
VALIDATION_ERROR = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="Field errors: each field named with its messages (`non_field_errors` for the whole body).",
)
MAX_ID = 2**63 - 1  # ids are 64-bit


def api_errors(*, validation: bool = False, not_found: bool = False) -> dict:
    """The error responses of an API: credentials, role, rate; and field errors or an unknown id where they apply."""
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


def id_parameter(name: str, what: str) -> OpenApiParameter:
    # The route's <int:...> takes digits only: a negative number is no route at all (Django's own 404 page).
    return OpenApiParameter(name, {"type": "integer", "minimum": 0, "maximum": MAX_ID}, OpenApiParameter.PATH,
                            description=f"The {what}'s id.")
