"""REST API of the clinician portal: create a report from a complaint and patient facts, read one, list one's own.

Authentication is the API's default (session, basic or `Authorization: Bearer TOKEN`); a report is its author's only.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.accounts.permissions import UsesClinicalPortal
from assistant.clinical.forms import SEX_CHOICES
from assistant.clinical.services import clinical_report_create, clinical_report_dict, clinical_reports_of_user
from assistant.grounding.serializers import ReadableCollectionsField
from assistant.models import AuditEvent, ClinicalReport

MAX_LISTED_REPORTS = 100


class ClinicalReportCreateSerializer(serializers.Serializer):
    complaint = serializers.CharField(max_length=2000, help_text="The chief complaint, in Chinese or English.")
    age = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=130, default=None)
    sex = serializers.ChoiceField(choices=[value for value, _ in SEX_CHOICES], required=False, default="")
    vitals = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    history = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    medications = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    collections = ReadableCollectionsField(help_text="Guideline sets to use: ids or names.",
                                           error_messages={"unknown": "No guideline set {value!r}."})


class ClinicalReportListCreateApi(APIView):
    permission_classes = [UsesClinicalPortal]

    def get(self, request: Request) -> Response:
        """The user's reports, newest first (the latest MAX_LISTED_REPORTS)."""
        reports = clinical_reports_of_user(user=request.user)[:MAX_LISTED_REPORTS]
        return Response([clinical_report_dict(report) for report in reports])

    def post(self, request: Request) -> Response:
        payload = ClinicalReportCreateSerializer(data=request.data, context={"user": request.user})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
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
        return Response(clinical_report_dict(report), status=status.HTTP_201_CREATED)


class ClinicalReportDetailApi(APIView):
    permission_classes = [UsesClinicalPortal]

    def get(self, request: Request, report_id: int) -> Response:
        report = get_object_or_404(ClinicalReport, id=report_id, user=request.user)
        return Response(clinical_report_dict(report))
