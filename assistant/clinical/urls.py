"""Clinician portal routes (part of the assistant namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from assistant.clinical import apis as clinical_api
from assistant.clinical import views as clinical_views

urlpatterns: list[URLPattern] = [
    path("clinical/", clinical_views.clinical_portal, name="clinical"),
    path("clinical/stream/", clinical_views.clinical_report_stream_events, name="clinical-stream"),
    path("clinical/reports/", clinical_views.clinical_history, name="clinical-history"),
    path("clinical/reports/<int:report_id>/", clinical_views.clinical_report_detail, name="clinical-report"),
    path(
        "clinical/reports/<int:report_id>/pdf/", clinical_views.clinical_report_pdf_download, name="clinical-report-pdf"
    ),
    path("api/clinical-reports/", clinical_api.ClinicalReportListCreateApi.as_view(), name="clinical-api-reports"),
    path(
        "api/clinical-reports/<int:report_id>/",
        clinical_api.ClinicalReportDetailApi.as_view(),
        name="clinical-api-report",
    ),
]
