"""Thin pages of the policy-matching form: the form (streamed results, or a plain post), a stored match, the
history, and the CSV and PDF exports."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from assistant.accounts.roles import PERMISSION_POLICY
from assistant.grounding.streaming import events_response, invalid_form_response
from assistant.models import AuditEvent, PolicyMatchRecord
from assistant.policies.apis import PolicyMatchOutputSerializer
from assistant.policies.export import policy_match_csv_text, policy_match_pdf
from assistant.policies.forms import PolicyProfileForm
from assistant.policies.presentation import missing_label, policies_for_display, profile_rows, status_label
from assistant.policies.selectors import policy_matches_of_user
from assistant.policies.services import policy_match_store, policy_match_stream_store

logger = logging.getLogger(__name__)


def _language() -> str:
    return get_language() or "en"


@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_form(request: HttpRequest) -> HttpResponse:
    """The form; with JavaScript it streams the results, without it posts here and redirects to the stored match."""
    form = PolicyProfileForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        record = policy_match_store(
            profile=form.profile(), collection_ids=form.collection_ids(), user=request.user, language=_language(),
            interface=AuditEvent.Interface.POLICY_PAGE,
        )
        return redirect("assistant:policy-match", match_id=record.id)
    recent = policy_matches_of_user(user=request.user)[:5]
    return render(request, "assistant/policy.html", {"form": form, "recent": recent, "js_labels": _js_labels()})


def _js_labels() -> dict:
    """The strings the page's script writes as results stream in, in the interface language."""
    facts = (
        "region",
        "province",
        "city",
        "district",
        "industry",
        "enterprise_type",
        "size",
        "founded",
        "employees",
        "annual_revenue",
        "rd_ratio",
        "certificates",
    )
    return {
        "met": status_label("met"),
        "not_met": status_label("not_met"),
        "unknown": status_label("unknown"),
        "all_met": _("All conditions met"),
        "conditions": _("Conditions"),
        "benefits": _("Benefits"),
        "needs": _("What you would need to qualify"),
        "meet": _("To meet"),
        "show": _("To confirm"),
        "why": _("Why"),
        "missing": _("Missing fact"),
        "review": _("Needs review"),
        "no_conditions": _("No condition was found with a clause that states it."),
        "no_benefits": _("No benefit was found with a clause that states it."),
        "none": _("No policy was found in the chosen sets."),
        "found": _("candidate policies found"),
        "checking": _("checking conditions against the clauses…"),
        "checked": _("checked"),
        "done": _("done"),
        "retrieval": _("retrieval"),
        "total": _("total"),
        "clause_retrieval": _("clause retrieval"),
        "first_token": _("first token"),
        "generation": _("generation"),
        "answer_tokens": _("answer tokens"),
        "checks": _("checks"),
        "failed": _("The matching could not be completed."),
        # The count is filled in by the script; the saved page words it with the plural form.
        "left_out": ngettext(
            "%(n)s item left out: not supported by its clause, or not a condition on the applicant",
            "%(n)s items left out: not supported by their clauses, or not conditions on the applicant", 2),
        "not_supported": _("the cited clause does not support it"),
        "facts": {fact: missing_label(fact) for fact in facts},
    }


@require_POST
@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_stream(request: HttpRequest) -> StreamingHttpResponse:
    """POST the form; results come back as server-sent events: retrieval, policy (each checked), error, done."""
    form = PolicyProfileForm(request.POST, user=request.user)
    if not form.is_valid():
        return invalid_form_response(form=form)
    events = policy_match_stream_store(
        profile=form.profile(), collection_ids=form.collection_ids(), user=request.user, language=_language(),
        interface=AuditEvent.Interface.POLICY_STREAM,
    )
    return events_response(events=events, failure=_("The matching could not be completed (%(error)s)."),
                           done=lambda record: {"match": PolicyMatchOutputSerializer(record).data})


def _own_record(request: HttpRequest, match_id: int) -> PolicyMatchRecord:
    return get_object_or_404(PolicyMatchRecord.objects.prefetch_related("collections"), id=match_id, user=request.user)


@require_GET
@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_match_detail(request: HttpRequest, match_id: int) -> HttpResponse:
    record = _own_record(request, match_id)
    return render(
        request,
        "assistant/policy_match.html",
        {
            "record": record,
            "profile_rows": profile_rows(record.profile),
            "policies": policies_for_display(record.policies),
        },
    )


@require_GET
@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_history(request: HttpRequest) -> HttpResponse:
    records = policy_matches_of_user(user=request.user)[:200]
    return render(request, "assistant/policy_history.html", {"records": records})


@require_GET
@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_match_csv(request: HttpRequest, match_id: int) -> HttpResponse:
    record = _own_record(request, match_id)
    response = HttpResponse(policy_match_csv_text(record=record), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="policy-match-{record.id}.csv"'
    return response


@require_GET
@login_required
@permission_required(PERMISSION_POLICY, raise_exception=True)
def policy_match_pdf_download(request: HttpRequest, match_id: int) -> HttpResponse:
    record = _own_record(request, match_id)
    response = HttpResponse(policy_match_pdf(record=record, language=_language()), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="policy-match-{record.id}.pdf"'
    return response
