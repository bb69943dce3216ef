"""REST API of the clinician portal: create a report from a complaint and patient facts, read one, list one's own.

Authentication is the API's default (session, basic or `Authorization: Bearer TOKEN`); a report is its author's only.
The nested serializers are the API's shapes: they read the request, write the response and describe both in the
OpenAPI schema.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from assistant.accounts.permissions import UsesClinicalPortal
from assistant.clinical.forms import SEX_CHOICES
from assistant.clinical.reply import SECTION_FIELDS, SECTIONS
from assistant.clinical.selectors import clinical_reports_of_user
from assistant.clinical.services import clinical_report_create, recommendation_count
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
    StatementSerializer,
)
from assistant.models import AuditEvent, ClinicalReport

MAX_LISTED_REPORTS = 100


class ClinicalItemSerializer(StatementSerializer):
    """A report item: its section, its text fields and its verification (as a statement's)."""

    section = serializers.CharField()


def _section_item_serializer(section: str) -> type[ClinicalItemSerializer]:
    fields = {name: serializers.CharField(allow_blank=True, required=False) for name in SECTION_FIELDS[section]}
    name = "".join(part.title() for part in section.split("_"))
    return type(f"Clinical{name}ItemSerializer", (ClinicalItemSerializer,), fields)


ClinicalSectionsSerializer = type("ClinicalSectionsSerializer", (serializers.Serializer,), {
    section: _section_item_serializer(section)(many=True, required=False) for section in SECTIONS
})


class ClinicalReportOutputSerializer(serializers.ModelSerializer):
    collections = serializers.SerializerMethodField(help_text="Guideline set ids.")
    sections = serializers.SerializerMethodField()
    recommendation_count = serializers.SerializerMethodField(
        help_text="Supported items: only these are recommendations."
    )
    passages = serializers.ListField(child=serializers.IntegerField(), help_text="Chunk ids given to the model.")
    medications = serializers.CharField(allow_blank=True, help_text="The patient's current medications.")
    error = serializers.CharField(allow_blank=True, help_text="Why generation failed, when it did.")
    timings = serializers.DictField()
    sources = SourcesSerializer(
        read_only=True, help_text="Replaced or amended documents among the passages (with the one in force), and "
        "disagreements between cited documents (both values, sources, dates, which is newer).",
    )

    class Meta:
        model = ClinicalReport
        ref_name = "ClinicalReport"
        fields = ["id", "complaint", "age", "sex", "vitals", "history", "medications", "collections", "language",
                  "sections", "recommendation_count", "passages", "sources", "reasoning", "model", "timings", "error",
                  "created_at"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_collections(self, report: ClinicalReport) -> list[int]:
        return sorted(c.id for c in report.collections.all())  # uses a prefetch when the list has one

    @extend_schema_field(ClinicalSectionsSerializer)
    def get_sections(self, report: ClinicalReport) -> dict:
        # In SECTIONS order: JSONB stores an object's keys shortest first.
        return ClinicalSectionsSerializer({section: report.sections.get(section, []) for section in SECTIONS}).data

    def get_recommendation_count(self, report: ClinicalReport) -> int:
        return recommendation_count(sections=report.sections)


@own_records_schema(tag="clinical",
                    listed=("clinical_reports_list", "One's reports, newest first"),
                    created=("clinical_reports_create", "A report from a complaint and patient facts"))
class ClinicalReportListCreateApi(OwnRecordListApi):
    LISTED = MAX_LISTED_REPORTS
    permission_classes = [UsesClinicalPortal]

    @extend_schema_serializer(component_name="ClinicalReportCreate")
    class InputSerializer(serializers.Serializer):
        complaint = serializers.CharField(max_length=2000, help_text="The chief complaint, in Chinese or English.")
        age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=130, default=None)
        sex = serializers.ChoiceField(choices=[value for value, _ in SEX_CHOICES], required=False, default="")
        vitals = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
        history = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        medications = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
        collections = ReadableCollectionsField(help_text="Guideline sets to use: ids or names.",
                                               error_messages={"unknown": "No guideline set {value!r}."})

    records = clinical_reports_of_user
    OutputSerializer = ClinicalReportOutputSerializer

    def post(self, request: Request) -> Response:
        data = input_validated(serializer=self.InputSerializer, request=request)
        report = clinical_report_create(
            complaint=data["complaint"],
            collection_ids=data["collections"],
            user=request.user,
            age=data["age"],
            sex=data["sex"],
            vitals=data["vitals"],
            history=data["history"],
            medications=data["medications"],
            interface=AuditEvent.Interface.CLINICAL_API,
        )
        return Response(self.OutputSerializer(report).data, status=status.HTTP_201_CREATED)


@own_record_detail_schema(tag="clinical", operation_id="clinical_reports_retrieve", summary="Read one of one's reports",
                          route_id="report_id")
class ClinicalReportDetailApi(OwnRecordDetailApi):
    permission_classes = [UsesClinicalPortal]
    model = ClinicalReport
    OutputSerializer = ClinicalReportOutputSerializer
