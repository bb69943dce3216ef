"""The clinical report as people read it: sections of supported items with their citations, the items set apart
because no passage supports them, the timings broken down, and the PDF export built from the same pieces, so the
page and the PDF never disagree on what counts as a recommendation."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assistant.clinical.reply import SECTION_FIELDS, SECTIONS
from assistant.grounding.citations import citation_url
from assistant.grounding.pdf import PdfBlock, pdf_render
from assistant.models import ClinicalReport

# Shown in both languages whatever the interface language: it must not be missed.
DISCLAIMER_EN = (
    "This report supports and does not replace clinical judgement. Check every item against its source and the "
    "patient before acting on it."
)
DISCLAIMER_ZH = "本报告仅辅助而不能替代临床判断。请对照出处和患者实际情况核实每一项后再采取措施。"
PDF_FOOTER = "Yiju 依据 · supports, does not replace clinical judgement / 辅助而不替代临床判断"

SECTION_TITLES = {
    "differential": gettext_lazy("Differential diagnosis"),
    "examinations": gettext_lazy("Recommended examinations"),
    "medications": gettext_lazy("Medication references"),
    "red_flags": gettext_lazy("Red flags"),
}
FIELD_LABELS = {
    "diagnosis": gettext_lazy("Diagnosis"),
    "supporting_findings": gettext_lazy("Supporting findings"),
    "name": gettext_lazy("Examination"),
    "reason": gettext_lazy("Reason"),
    "drug": gettext_lazy("Drug"),
    "dosing": gettext_lazy("Dosing"),
    "contraindications": gettext_lazy("Contraindications"),
    "sign": gettext_lazy("Sign"),
    "action": gettext_lazy("Action"),
}
PATIENT_FIELD_LABELS = {
    "complaint": gettext_lazy("Chief complaint"),
    "age": gettext_lazy("Age"),
    "sex": gettext_lazy("Sex"),
    "vitals": gettext_lazy("Vital signs"),
    "history": gettext_lazy("History"),
    "medications": gettext_lazy("Current medications"),
}
SEX_LABELS = {"female": gettext_lazy("Female"), "male": gettext_lazy("Male"), "other": gettext_lazy("Other")}
TIMING_LABELS = {
    "retrieval_ms": gettext_lazy("retrieval"),
    "ttft_ms": gettext_lazy("first token"),
    "first_item_ms": gettext_lazy("first item"),
    "generation_ms": gettext_lazy("generation"),
    "total_ms": gettext_lazy("total"),
}
TOKEN_LABELS = {
    "input_tokens": gettext_lazy("input tokens"),
    "reasoning_tokens": gettext_lazy("reasoning tokens"),
    "answer_tokens": gettext_lazy("answer tokens"),
}


@dataclass(frozen=True)
class CitationView:
    number: int
    url: str  # the passage page with the quote marked
    document_title: str
    section_path: str
    pages: str
    quote: str

    @property
    def source(self) -> str:
        """《title》 section, page — how a clinician cites a guideline."""
        parts = [f"《{self.document_title}》"] + [part for part in (self.section_path, self.pages) if part]
        return ", ".join(parts)


@dataclass(frozen=True)
class ItemView:
    section: str
    rank: int  # 1-based among the section's shown items
    heading: str  # the diagnosis, examination, drug or sign
    details: list[tuple[str, str]]  # (label, text) of the other fields, as the model wrote them
    supported: bool
    support: float | None
    citations: list[CitationView]
    restates_patient: bool = False  # flagged apart: the patient's own facts written back, no guideline content

    @property
    def text(self) -> str:
        return " — ".join([self.heading] + [f"{label}: {value}" for label, value in self.details])


@dataclass(frozen=True)
class SectionView:
    key: str
    title: str
    items: list[ItemView]  # supported items only: the recommendations


@dataclass(frozen=True)
class TimingPart:
    label: str
    ms: float
    percent: int  # of the total, for the bar that shows where the time went


def pages_label(*, page_start: int | None, page_end: int | None) -> str:
    if not page_start:
        return ""
    if page_end in (None, page_start):
        return _("p. %(page)s") % {"page": page_start}
    return _("pp. %(start)s–%(end)s") % {"start": page_start, "end": page_end}


def _citation_view(citation: dict) -> CitationView:
    return CitationView(
        number=citation["number"],
        url=citation_url(citation=citation),
        document_title=citation.get("document_title") or "",
        section_path=citation.get("section_path") or "",
        pages=pages_label(page_start=citation.get("page_start"), page_end=citation.get("page_end")),
        quote=citation.get("quote") or "",
    )


def _item_view(*, section: str, rank: int, item: dict) -> ItemView:
    head, *rest = SECTION_FIELDS[section]
    supported = bool(item.get("supported"))
    return ItemView(
        section=section,
        rank=rank,
        heading=(item.get(head) or "").strip(),
        details=[(str(FIELD_LABELS[name]), item[name].strip()) for name in rest if (item.get(name) or "").strip()],
        supported=supported,
        support=item.get("support"),
        # An unsupported item is flagged, never linked: no passage stands behind it.
        citations=[_citation_view(c) for c in item.get("citations") or []] if supported else [],
        restates_patient=item.get("method") == "restates_patient",
    )


def clinical_sections_for_display(*, sections: dict[str, list[dict]]) -> tuple[list[SectionView], list[ItemView]]:
    """The four sections with their supported items in the model's ranking, and the unsupported items apart."""
    shown: list[SectionView] = []
    unsupported: list[ItemView] = []
    for section in SECTIONS:
        items = sorted(sections.get(section) or [], key=lambda item: item.get("index", 0))
        supported = [item for item in items if item.get("supported")]
        shown.append(
            SectionView(
                key=section,
                title=str(SECTION_TITLES[section]),
                items=[_item_view(section=section, rank=rank, item=item) for rank, item in enumerate(supported, 1)],
            )
        )
        unsupported += [_item_view(section=section, rank=0, item=item) for item in items if not item.get("supported")]
    return shown, unsupported


def patient_facts(*, report: ClinicalReport) -> list[tuple[str, str]]:
    """(label, value) of the facts given, complaint first; facts left empty are left out."""
    values = {
        "complaint": report.complaint,
        "age": "" if report.age is None else str(report.age),
        "sex": str(SEX_LABELS.get(report.sex, report.sex)),
        "vitals": report.vitals,
        "history": report.history,
        "medications": report.medications,
    }
    return [(str(PATIENT_FIELD_LABELS[key]), value.strip()) for key, value in values.items() if value.strip()]


def timings_for_display(*, timings: dict) -> tuple[list[tuple[str, str]], list[TimingPart]]:
    """The stored timings as labelled values, and where the total went: retrieval, until the first token (the
    prompt read by the model), then writing and verifying the report."""
    values = [
        (str(label), f"{timings[key]:.0f} ms")
        for key, label in TIMING_LABELS.items()
        if isinstance(timings.get(key), int | float)
    ] + [(str(label), str(timings[key])) for key, label in TOKEN_LABELS.items() if isinstance(timings.get(key), int)]
    total = timings.get("total_ms")
    if not isinstance(total, int | float) or total <= 0:
        return values, []
    retrieval = float(timings.get("retrieval_ms") or 0)
    first_token = timings.get("ttft_ms")
    spans = [(_("retrieval"), retrieval)]
    if isinstance(first_token, int | float):
        spans += [
            (_("until the first token"), max(first_token - retrieval, 0.0)),
            (_("writing and verifying"), max(total - first_token, 0.0)),
        ]
    else:
        spans.append((_("the rest"), max(total - retrieval, 0.0)))
    parts = [TimingPart(label=label, ms=round(ms, 1), percent=round(100 * ms / total)) for label, ms in spans]
    return values, parts


def clinical_report_pdf(*, report: ClinicalReport) -> bytes:
    """The report as a PDF: patient facts, the four sections with their supported items and citations (《title》
    section, page, quote), the disclaimer, the model and the date. Labels follow the active language."""
    sections, unsupported = clinical_sections_for_display(sections=report.sections)
    blocks = [PdfBlock("note", DISCLAIMER_EN), PdfBlock("note", DISCLAIMER_ZH), PdfBlock("subheading", _("Patient"))]
    blocks += [PdfBlock("paragraph", f"{label}: {value}") for label, value in patient_facts(report=report)]
    for section in sections:
        blocks.append(PdfBlock("subheading", section.title))
        if not section.items:
            blocks.append(PdfBlock("note", _("The selected guidelines support no item here.")))
        for item in section.items:
            blocks.append(PdfBlock("item", f"{item.rank}. {item.text}"))
            blocks += [PdfBlock("quote", f"[{c.number}] {c.source}: “{c.quote}”") for c in item.citations]
    if unsupported:
        blocks.append(
            PdfBlock(
                "note", _("%(count)s item(s) the passages do not support were left out.") % {"count": len(unsupported)}
            )
        )
    if report.error:
        blocks.append(PdfBlock("note", _("The report could not be completed: the model server failed.")))
    created = date_format(timezone.localtime(report.created_at), "DATETIME_FORMAT")
    blocks.append(PdfBlock("note", f"{_('Model')}: {report.model or '-'} · {_('Date')}: {created}"))
    return pdf_render(title=f"{_('Clinical report')} #{report.id}", blocks=blocks, footer=PDF_FOOTER)
