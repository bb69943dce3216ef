"""API shapes of a policy match: the profile and policy sets asked about, and the stored record."""

from __future__ import annotations

from rest_framework import serializers

from assistant.grounding.serializers import ReadableCollectionsField
from assistant.models import PolicyMatchRecord
from assistant.policies.profile import SIZES, BusinessProfile, ProfileInvalid, profile_validate
from assistant.policies.services import policy_match_record_dict


class PolicyMatchCreateSerializer(serializers.Serializer):
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
    certificates = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, default=list)
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


class PolicyMatchRecordSerializer(serializers.BaseSerializer):
    """The stored record: profile, collections, policies in rank order (conditions with status and cited clause,
    benefits, to_qualify), model, timings, error."""

    def to_representation(self, record: PolicyMatchRecord) -> dict:
        return policy_match_record_dict(record)
