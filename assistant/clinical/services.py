"""The clinician's report: retrieve guideline passages for the complaint, ask the model for a ranked differential,
examinations, medication references and red flags as cited JSON, verify every item against the passages it cites
as an answer's statements are verified, and store the report with its reasoning and timings.

`clinical_report_stream` yields GroundedEvents as the report forms ("retrieval", "reasoning", "item", "done",
"error"); `clinical_report_create` runs it to the end and returns the stored ClinicalReport. Items no passage
supports are stored marked unsupported and are not recommendations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from langchain_core.messages import BaseMessage

from assistant.clinical.prompts import clinical_messages, patient_text
from assistant.clinical.reply import SECTIONS, DraftItem, clinical_response_format, report_parse
from assistant.grounding.events import GroundedEvent
from assistant.grounding.run import Generation, GroundedRecipe, grounded_record, grounded_run
from assistant.grounding.sentences import PassageSentences
from assistant.grounding.support import term_coverage
from assistant.grounding.verification import statement_verify
from assistant.models import AuditEvent, ClinicalReport
from ingestion.models import Chunk
from retrieval.access import Reader
from retrieval.diversity import passages_diversified
from retrieval.language import language_of
from retrieval.services import RetrievedPassage

logger = logging.getLogger(__name__)

CLINICAL_TOP_K = 8
# Candidates searched and the most any one guideline contributes to the CLINICAL_TOP_K passages the model reads.
CLINICAL_CANDIDATES = 24
PASSAGES_PER_SOURCE = 3
# An item whose words are this largely the patient's own (the complaint or a current medication written back) has no
# guideline content, however well a passage happens to match it: it is not a recommendation.
PATIENT_RESTATEMENT = 0.8

def item_verify(
    *, item: DraftItem, passages: Sequence[Chunk], threshold: float, patient: str = "",
    sentences: PassageSentences | None = None,
) -> dict:
    """The item's fields with its verification: supported or not, support, and quote-level citations.

    An item that only restates the patient facts is unsupported (method "restates_patient") even where a passage
    shares its words: the small model writes the complaint back as a diagnosis or the current dose as a reference.
    """
    verified = statement_verify(index=item.index, draft=item.as_statement(), passages=passages, threshold=threshold,
                                sentences=sentences)
    checked = {"section": item.section, **item.fields, **verified.as_dict()}
    if patient and term_coverage(item.text(), patient) >= PATIENT_RESTATEMENT:
        checked.update(supported=False, method="restates_patient", citations=[])  # unsupported: shown uncited
    return checked


def report_sections(items: Iterable[dict]) -> dict[str, list[dict]]:
    sections: dict[str, list[dict]] = {section: [] for section in SECTIONS}
    for item in items:
        sections[item["section"]].append(item)
    return sections


def recommendation_count(*, sections: dict[str, list[dict]]) -> int:
    """The supported items: only these are recommendations."""
    return sum(1 for items in sections.values() for item in items if item.get("supported"))


class ClinicalReportRecipe(GroundedRecipe):
    """The report's part of the grounded run: items in four sections, each verified as soon as it is complete."""

    action = AuditEvent.Action.CLINICAL_REPORT
    kept = "complaint"
    k = CLINICAL_CANDIDATES

    def __init__(self, *, complaint: str, age: int | None, sex: str, vitals: str, history: str,
                 medications: str) -> None:
        self.facts = {"complaint": complaint, "age": age, "sex": sex, "vitals": vitals, "history": history,
                      "medications": medications}
        self.language = language_of(complaint)
        self.query = f"{complaint.strip()} {history.strip()}".strip()
        self.patient = patient_text(language=self.language, **self.facts)

    def select(self, passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
        return passages_diversified(passages=passages, k=CLINICAL_TOP_K, per_source=PASSAGES_PER_SOURCE)

    def record_new(self, *, user: Reader, chunks: list[Chunk]) -> ClinicalReport:
        return ClinicalReport(user=user if user is not None and user.is_authenticated else None,
                              language=self.language, passages=[c.id for c in chunks], **self.facts)

    def messages(self, *, chunks: list[Chunk], prompted_reasoning: bool) -> list[BaseMessage]:
        return clinical_messages(language=self.language, patient=self.patient, chunks=chunks,
                                 prompted_reasoning=prompted_reasoning)

    def output_format(self, *, chunks: list[Chunk]) -> dict:
        return clinical_response_format(sentence_ids=PassageSentences.of(chunks).ids())

    def reader(self, *, chunks: list[Chunk]) -> ItemReader:
        return ItemReader(chunks=chunks, patient=self.patient)

    def conclude(self, *, record: ClinicalReport, generation: Generation, reader: ItemReader,
                 chunks: list[Chunk]) -> None:
        record.model, record.error = generation.model, generation.error
        record.raw_reply, record.reasoning = generation.reply, generation.reasoning
        ordered = sorted(reader.verified.values(), key=lambda item: (SECTIONS.index(item["section"]), item["index"]))
        record.sections = report_sections(ordered)

    def citations(self, *, record: ClinicalReport) -> list[dict]:
        items = [item for section in (record.sections or {}).values() for item in section]
        return [c for item in items if item.get("supported") for c in item.get("citations") or []]

    def audit(self, *, record: ClinicalReport) -> dict:
        citations = self.citations(record=record)
        patient = {"age": record.age, "sex": record.sex, "vitals": record.vitals, "history": record.history,
                   "medications": record.medications}
        return {"question": record.complaint, "chunk_ids": record.passages,
                "text": json.dumps(record.sections, ensure_ascii=False), "citations": citations,
                "model": record.model, "timings": record.timings, "object_type": "clinical_report",
                "detail": {"patient": patient, "error": record.error, "sources": record.sources}}

    def done(self, *, record: ClinicalReport) -> dict:
        return {"report_id": record.id}


class ItemReader:
    """Reads the report reply as it grows: each item verified once complete, a repeated item only once."""

    stop = False

    def __init__(self, *, chunks: list[Chunk], patient: str) -> None:
        self.chunks, self.patient = chunks, patient
        self.sentences = PassageSentences.of(chunks)
        self.threshold = settings.CITATION_SUPPORT_THRESHOLD
        self.verified: dict[tuple[str, int], dict] = {}
        self.repeated: set[tuple[str, int]] = set()

    def _verify_new(self, items: list[DraftItem], generation: Generation) -> Iterator[GroundedEvent]:
        for item in items:
            key = (item.section, item.index)
            if key in self.verified or key in self.repeated:
                continue
            if _item_key(item) in {_item_key(i) for i in items if i.section == item.section and i.index < item.index}:
                self.repeated.add(key)  # small models repeat an item; once is enough
                continue
            checked = item_verify(item=item, passages=self.chunks, threshold=self.threshold, patient=self.patient,
                                  sentences=self.sentences)
            self.verified[key] = checked
            generation.timings.setdefault("first_item_ms", generation.ms_since_start())
            yield GroundedEvent("item", {"section": item.section, "index": item.index, "item": checked})

    def read(self, reply: str, generation: Generation) -> Iterator[GroundedEvent]:
        yield from self._verify_new(report_parse(reply, complete=False), generation)

    def finish(self, reply: str, generation: Generation, *, complete: bool) -> Iterator[GroundedEvent]:
        yield from self._verify_new(report_parse(reply, complete=complete), generation)
        generation.timings.setdefault("first_item_ms", None)


def clinical_report_stream(
    *, complaint: str, collection_ids: Iterable[int], user: Reader, age: int | None = None,
    sex: str = "", vitals: str = "", history: str = "", medications: str = "",
    interface: str = AuditEvent.Interface.COMMAND,
) -> Iterator[GroundedEvent]:
    """The report as it forms: retrieval, reasoning deltas, each item once verified, then done (or error first).

    Only the sets the user may read are searched; the report is recorded in the audit log under `interface`.
    """
    recipe = ClinicalReportRecipe(complaint=complaint, age=age, sex=sex, vitals=vitals, history=history,
                                  medications=medications)
    return grounded_run(recipe=recipe, user=user, collection_ids=collection_ids, interface=interface)


def _item_key(item: DraftItem) -> str:
    return "".join(ch for ch in item.text().lower() if ch.isalnum())


def clinical_report_create(
    *, complaint: str, collection_ids: Iterable[int], user: Reader, age: int | None = None,
    sex: str = "", vitals: str = "", history: str = "", medications: str = "",
    interface: str = AuditEvent.Interface.COMMAND,
) -> ClinicalReport:
    """A stored report in which only items a cited passage supports count as recommendations."""
    return grounded_record(clinical_report_stream(
        complaint=complaint, collection_ids=collection_ids, user=user, age=age, sex=sex, vitals=vitals,
        history=history, medications=medications, interface=interface,
    ))
