"""Exports of a stored policy match: CSV (UTF-8 with a BOM, so Excel reads the Chinese) and PDF."""

from __future__ import annotations

import csv
import io
import json

from django.utils import translation
from django.utils.translation import gettext as _

from assistant.grounding.pdf import PdfBlock, pdf_render
from assistant.models import PolicyMatchRecord
from assistant.policies.presentation import profile_rows, status_label
from assistant.policies.results import PolicyMatchResult
from assistant.policies.rules import MET, NOT_MET, UNKNOWN
from assistant.policies.selectors import policy_match_result

UTF8_BOM = "\ufeff"


def policy_match_csv_text(*, record: PolicyMatchRecord) -> str:
    """One row per condition and benefit, policies in rank order, prefixed with the BOM Excel looks for."""
    return UTF8_BOM + policy_matches_csv(result=policy_match_result(record))


def policy_match_pdf(*, record: PolicyMatchRecord, language: str | None = None) -> bytes:
    """The result as a printable PDF in the record's language (or the one given): the profile, then each policy in
    rank order with its conditions (status, why, clause and quote), benefits and what the business would need."""
    with translation.override(language or record.language):
        blocks: list[PdfBlock] = [PdfBlock("subheading", _("Business profile"))]
        blocks += [PdfBlock("paragraph", f"{label}: {value}") for label, value in profile_rows(record.profile)]
        if record.error:
            blocks.append(PdfBlock("note", f"{_('Error')}: {record.error}"))
        if not record.policies:
            blocks.append(PdfBlock("paragraph", _("No policy was found in the chosen sets.")))
        for rank, policy in enumerate(record.policies, start=1):
            blocks.append(PdfBlock("heading", f"{rank}. 《{policy['document_title']}》"))
            counts = policy.get("counts") or {}
            blocks.append(
                PdfBlock(
                    "note",
                    _("Conditions met %(met)s · not met %(not_met)s · unknown %(unknown)s")
                    % {
                        "met": counts.get("met", 0),
                        "not_met": counts.get("not_met", 0),
                        "unknown": counts.get("unknown", 0),
                    },
                )
            )
            if policy.get("error"):
                blocks.append(PdfBlock("note", f"{_('Error')}: {policy['error']}"))
            blocks.append(PdfBlock("subheading", _("Conditions")))
            if not policy["conditions"]:
                blocks.append(PdfBlock("paragraph", _("No condition was found with a clause that states it.")))
            for condition in policy["conditions"]:
                blocks.append(PdfBlock("item", f"[{status_label(condition['status'])}] {condition['text']}"))
                if condition.get("reason"):
                    blocks.append(PdfBlock("note", condition["reason"]))
                blocks += _citation_blocks(condition)
            blocks.append(PdfBlock("subheading", _("Benefits")))
            if not policy["benefits"]:
                blocks.append(PdfBlock("paragraph", _("No benefit was found with a clause that states it.")))
            for benefit in policy["benefits"]:
                blocks.append(PdfBlock("item", benefit["text"]))
                blocks += _citation_blocks(benefit)
            needs = [c for c in policy["conditions"] if c["status"] in (NOT_MET, UNKNOWN)]
            if needs:
                blocks.append(PdfBlock("subheading", _("What you would need to qualify")))
                blocks += [
                    PdfBlock("item", f"[{status_label(c['status'])}] {c['text']} — {c.get('reason') or ''}")
                    for c in needs
                ]
        footer = _("Yiju policy match %(id)s · checked by rules against the cited clauses; not legal advice") % {
            "id": record.id
        }
        return pdf_render(title=_("Policy match"), blocks=blocks, footer=footer)


def _citation_blocks(item: dict) -> list[PdfBlock]:
    citation = item.get("citation") or {}
    if not citation:
        return []
    return [PdfBlock("quote", f"{citation.get('clause', '')}: “{citation.get('quote', '')}”")]


CSV_COLUMNS = ["rank", "policy", "fit", "kind", "item", "status", "reason", "clause", "quote", "supported"]


STATUS_LABELS = {MET: "符合", NOT_MET: "不符合", UNKNOWN: "待确认", "": ""}


def policy_matches_csv(*, result: PolicyMatchResult) -> str:
    """One row per condition and benefit (unsupported ones flagged), policies in rank order; UTF-8 text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rank, policy in enumerate(result.policies, start=1):
        counts = policy.counts()
        fit = json.dumps(counts, ensure_ascii=False) if not policy.all_met else "all met"
        for item in [*policy.conditions, *policy.benefits, *policy.unsupported]:
            writer.writerow([
                rank, policy.document_title, fit, item.kind, item.text, STATUS_LABELS.get(item.status, item.status),
                item.reason, (item.citation or {}).get("clause", ""), (item.citation or {}).get("quote", ""),
                "yes" if item.supported else "no",
            ])
    return out.getvalue()
