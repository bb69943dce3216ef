"""REST API: match a business profile against named policy sets (stored); read one's own matches back. The nested
serializers are the API's shapes: they read the request, write the response and describe both in the OpenAPI
schema."""

from __future__ import annotations

from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from assistant.accounts.permissions import UsesPolicyMatching
from assistant.grounding.apis import (
    OwnRecordDetailApi,
    OwnRecordListApi,
    input_validated,
    own_record_detail_schema,
    own_records_schema,
)
from assistant.grounding.serializers import (
    ReadableCollectionsField,
    SourcesSerializer,
    VerifiedCitationSerializer,
)
from assistant.models import AuditEvent, PolicyMatchRecord
from assistant.policies.profile import SIZES, BusinessProfile, ProfileInvalid, profile_validate
from assistant.policies.selectors import policy_matches_of_user
from assistant.policies.services import policy_match_store

LIST_LIMIT = 100


class ClauseCitationSerializer(VerifiedCitationSerializer):
    clause = serializers.CharField(help_text="《文件名》第X条 (with its 款 where the article was split).")


class PolicyItemSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text='"condition" or "benefit".')
    text = serializers.CharField(allow_blank=True)
    supported = serializers.BooleanField()
    support = serializers.FloatField()
    citation = ClauseCitationSerializer(allow_null=True, help_text="The verified citation and its clause.")
    status = serializers.CharField(allow_blank=True, help_text='Conditions: "met", "not_met" or "unknown".')
    reason = serializers.CharField(allow_blank=True)
    missing = serializers.CharField(allow_blank=True)


class PolicyClauseSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1-based position in the prompt.")
    chunk_id = serializers.IntegerField()
    clause = serializers.CharField()


class PolicySerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    conditions = PolicyItemSerializer(many=True)
    benefits = PolicyItemSerializer(many=True)
    unsupported = PolicyItemSerializer(many=True, required=False, help_text="Left out of the decision, with why.")
    passages = PolicyClauseSerializer(many=True, required=False, help_text="The clauses the model read.")
    timings = serializers.DictField(required=False)
    counts = serializers.DictField(child=serializers.IntegerField(), required=False)
    all_met = serializers.BooleanField(required=False)
    to_qualify = serializers.ListField(child=serializers.CharField(), required=False)
    error = serializers.CharField(allow_blank=True, required=False)


class PolicyMatchOutputSerializer(serializers.ModelSerializer):
    """The stored record: profile, collections, policies in rank order (conditions with status and cited clause,
    benefits, to_qualify), model, timings, error."""

    profile = serializers.DictField(help_text="The business profile as entered.")
    collections = serializers.SerializerMethodField(help_text="Policy set ids.")
    policies = PolicySerializer(many=True, help_text="In rank order: all conditions met first, then fewest unknown.")
    timings = serializers.DictField()
    sources = SourcesSerializer(
        read_only=True, help_text="Replaced or amended documents among the passages (with the one in force), and "
        "disagreements between cited documents (both values, sources, dates, which is newer).",
    )

    class Meta:
        model = PolicyMatchRecord
        ref_name = "PolicyMatch"
        fields = ["id", "profile", "collections", "language", "policies", "sources", "model", "timings", "error",
                  "created_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_collections(self, record: PolicyMatchRecord) -> list[int]:
        return sorted(c.id for c in record.collections.all())  # uses a prefetch when the list has one


@own_records_schema(tag="policies",
                    listed=("policy_matches_list", "One's policy matches, newest first"),
                    created=("policy_matches_create", "Match a business profile against policy sets"))
class PolicyMatchListCreateApi(OwnRecordListApi):
    LISTED = LIST_LIMIT
    permission_classes = [UsesPolicyMatching]

    @extend_schema_serializer(component_name="PolicyMatchCreate")
    class InputSerializer(serializers.Serializer):
        """A business profile in the service's units: annual_revenue in yuan, rd_ratio a share 0..1 (3% is 0.03)."""

        province = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        city = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        district = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        industry = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        enterprise_type = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        size = serializers.ChoiceField(choices=[("", ""), *[(s, s) for s in SIZES]], required=False, default="")
        founded = serializers.DateField(required=False, allow_null=True, default=None)
        employees = serializers.IntegerField(required=False, allow_null=True, default=None)
        annual_revenue = serializers.FloatField(required=False, allow_null=True, default=None, help_text="Yuan.")
        rd_ratio = serializers.FloatField(required=False, allow_null=True, default=None, help_text="0..1.")
        certificates = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False,
                                             default=list)
        notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        collections = ReadableCollectionsField(help_text="Names or ids.")
        max_policies = serializers.IntegerField(min_value=1, max_value=5, required=False, default=3)

        def validate(self, data: dict) -> dict:
            fields = {name: data[name] for name in BusinessProfile.__dataclass_fields__ if name in data}
            try:
                data["profile"] = profile_validate(profile=BusinessProfile(**fields))
            except ProfileInvalid as invalid:
                raise serializers.ValidationError(
                    {
                        "non_field_errors" if name == "profile" else name: [message]
                        for name, message in invalid.errors.items()
                    }
                ) from invalid
            return data

    records = policy_matches_of_user
    OutputSerializer = PolicyMatchOutputSerializer

    def post(self, request: Request) -> Response:
        data = input_validated(serializer=self.InputSerializer, request=request)
        record = policy_match_store(
            profile=data["profile"],
            collection_ids=data["collections"],
            user=request.user,
            language=get_language() or "en",
            max_policies=data["max_policies"],
            interface=AuditEvent.Interface.POLICY_API,
        )
        return Response(self.OutputSerializer(record).data, status=status.HTTP_201_CREATED)


@own_record_detail_schema(tag="policies", operation_id="policy_matches_retrieve", summary="Read one of one's matches",
                          route_id="match_id")
class PolicyMatchDetailApi(OwnRecordDetailApi):
    permission_classes = [UsesPolicyMatching]
    model = PolicyMatchRecord
    OutputSerializer = PolicyMatchOutputSerializer
