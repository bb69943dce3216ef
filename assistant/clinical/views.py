"""Clinician portal pages: the form (the report streams in with JavaScript; without it the form posts and redirects),
a saved report (printable), the user's history, and the report as a PDF."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from assistant.accounts.roles import PERMISSION_CLINICAL
from assistant.clinical.apis import ClinicalReportOutputSerializer
from assistant.clinical.export import (
    DISCLAIMER_EN,
    DISCLAIMER_ZH,
    FIELD_LABELS,
    SECTION_TITLES,
    clinical_report_pdf,
    clinical_sections_for_display,
    patient_facts,
    timings_for_display,
)
from assistant.clinical.forms import ClinicalReportForm
from assistant.clinical.reply import SECTION_FIELDS
from assistant.clinical.selectors import clinical_reports_of_user
from assistant.clinical.services import clinical_report_create, clinical_report_stream, recommendation_count
from assistant.grounding.streaming import events_response, invalid_form_response
from assistant.models import AuditEvent, ClinicalReport
from retrieval.selectors import chunks_in_order

RECENT_REPORTS = 5


def _disclaimer() -> dict[str, str]:
    return {"disclaimer_en": DISCLAIMER_EN, "disclaimer_zh": DISCLAIMER_ZH}


def _stream_labels() -> dict:
    """What the streaming script needs to lay items out as the saved page does, in the interface language."""
    return {
        "sections": {key: str(title) for key, title in SECTION_TITLES.items()},
        "fields": {key: str(label) for key, label in FIELD_LABELS.items()},
        "section_fields": SECTION_FIELDS,
    }


@login_required
@permission_required(PERMISSION_CLINICAL, raise_exception=True)
def clinical_portal(request: HttpRequest) -> HttpResponse:
    """The portal form; with JavaScript the report streams in here, without it the form posts and redirects."""
    form = ClinicalReportForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        report = clinical_report_create(user=request.user, interface=AuditEvent.Interface.CLINICAL_PAGE,
                                        **form.report_arguments())
        return redirect("assistant:clinical-report", report_id=report.id)
    return render(
        request,
        "assistant/clinical.html",
        {
            "form": form,
            "recent": clinical_reports_of_user(user=request.user)[:RECENT_REPORTS],
            "stream_labels": _stream_labels(),
            **_disclaimer(),
        },
    )


@require_POST
@login_required
@permission_required(PERMISSION_CLINICAL, raise_exception=True)
def clinical_report_stream_events(request: HttpRequest) -> StreamingHttpResponse:
    """POST the portal form; the report comes back as server-sent events: retrieval, reasoning, item, done, error."""
    form = ClinicalReportForm(request.POST, user=request.user)
    if not form.is_valid():
        return invalid_form_response(form=form)
    events = clinical_report_stream(user=request.user, interface=AuditEvent.Interface.CLINICAL_STREAM,
                                    **form.report_arguments())
    return events_response(events=events, failure="The report could not be completed (%(error)s).",
                           done=lambda report: {"report": ClinicalReportOutputSerializer(report).data})


def _own_report(request: HttpRequest, report_id: int) -> ClinicalReport:
    # Another user's report is as absent as a missing one.
    return get_object_or_404(ClinicalReport.objects.prefetch_related("collections"), id=report_id, user=request.user)


@login_required
@permission_required(PERMISSION_CLINICAL, raise_exception=True)
def clinical_report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _own_report(request, report_id)
    sections, unsupported = clinical_sections_for_display(sections=report.sections)
    timings, timing_parts = timings_for_display(timings=report.timings)
    recommendations = recommendation_count(sections=report.sections)
    return render(
        request,
        "assistant/clinical_report.html",
        {
            "report": report,
            "facts": patient_facts(report=report),
            "sections": sections,
            "unsupported": unsupported,
            "recommendation_count": recommendations,
            # With nothing to recommend, the passages that were read are the useful lead.
            "closest_passages": [] if recommendations else chunks_in_order(chunk_ids=report.passages)[:5],
            "timings": timings,
            "timing_parts": timing_parts,
            **_disclaimer(),
        },
    )


@login_required
@permission_required(PERMISSION_CLINICAL, raise_exception=True)
def clinical_history(request: HttpRequest) -> HttpResponse:
    reports = clinical_reports_of_user(user=request.user)
    rows = [{"report": r, "recommendation_count": recommendation_count(sections=r.sections)} for r in reports]
    return render(request, "assistant/clinical_history.html", {"rows": rows})


@login_required
@permission_required(PERMISSION_CLINICAL, raise_exception=True)
def clinical_report_pdf_download(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _own_report(request, report_id)
    response = HttpResponse(clinical_report_pdf(report=report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="yiju-clinical-report-{report.id}.pdf"'
    return response
