"""The clinician's report over real guidelines: the NGC summaries on low back pain and opioid therapy together with
the cpgQA VA/DoD opioid-therapy passages, for a patient with chronic low back pain on long-term opioids, asked in
English and in Chinese.

Retrieval is checked to draw on several guidelines (cpgQA's many passages share one title and would otherwise fill
every slot) and, from a Chinese complaint, to reach the English guidelines; a report from the local model is checked
for what must hold whatever the model writes: every recommendation's quote is its passage's text, no recommendation
merely restates the patient, the report is stored with its timings."""

from __future__ import annotations

import pytest

from assistant.clinical.services import (
    CLINICAL_CANDIDATES,
    CLINICAL_TOP_K,
    PASSAGES_PER_SOURCE,
    PATIENT_RESTATEMENT,
    clinical_report_stream,
)
from assistant.grounding.support import term_coverage
from assistant.models import ClinicalReport
from bench.datasets.ngc import ngc_markdown
from bench.datasets.portal import SourceDocument, cpgqa_opioid_passages, ngc_back_pain_and_opioid_guidelines
from ingestion.models import Chunk, Collection
from retrieval.access import OPERATOR
from retrieval.diversity import passages_diversified, source_key
from retrieval.services import passages_retrieve
from tests.factories import ingest_documents

pytestmark = pytest.mark.django_db
ENGLISH = ("Chronic low back pain for three years, on long-term opioid therapy (oxycodone 60 mg a day); "
           "asks about tapering")
CHINESE = "慢性腰痛三年，长期服用阿片类药物（羟考酮每日60毫克），询问是否减量"


@pytest.fixture
def guidelines(shared_data) -> Collection:
    ngc = ngc_back_pain_and_opioid_guidelines()
    assert len(ngc) >= 10
    summaries = [SourceDocument(f"{g.doc_id}.md", ngc_markdown(guideline=g).encode(), g.doc_id) for g in ngc]
    ingest_documents(documents=summaries, collection="guidelines")
    return ingest_documents(documents=cpgqa_opioid_passages(limit=30), collection="guidelines")


def diversified(query: str, collection: Collection) -> list:
    retrieved = passages_retrieve(
        reader=OPERATOR, query=query, collection_ids=[collection.id], k=CLINICAL_CANDIDATES
    ).passages
    return passages_diversified(passages=retrieved, k=CLINICAL_TOP_K, per_source=PASSAGES_PER_SOURCE)


def test_the_report_reads_several_guidelines_in_either_language(guidelines: Collection) -> None:
    plain = passages_retrieve(reader=OPERATOR, query=ENGLISH, collection_ids=[guidelines.id], k=CLINICAL_TOP_K).passages
    for query in (ENGLISH, CHINESE):
        passages = diversified(query, guidelines)
        assert len(passages) == CLINICAL_TOP_K
        sources = [source_key(p) for p in passages]
        assert max(sources.count(s) for s in sources) <= PASSAGES_PER_SOURCE
        assert len(set(sources)) >= 3, sources
    # Without the cap, the English complaint's passages come from fewer guidelines.
    assert len({source_key(p) for p in plain}) < len({source_key(p) for p in diversified(ENGLISH, guidelines)})


@pytest.mark.parametrize("complaint", [ENGLISH, CHINESE], ids=["en", "zh"])
def test_report_recommendations_quote_their_guideline_and_add_to_the_patient_facts(
    local_llm: str, guidelines: Collection, complaint: str
) -> None:
    events = list(clinical_report_stream(
        user=OPERATOR, complaint=complaint, collection_ids=[guidelines.id], age=52, sex="male"
    ))
    kinds = [e.kind for e in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done" and "error" not in kinds
    report = ClinicalReport.objects.get(id=events[-1].data["report_id"])
    assert report.language == ("zh" if complaint == CHINESE else "en")
    assert len(report.passages) == CLINICAL_TOP_K
    patient = f"{complaint} 52 male"
    items = [item for section in report.sections.values() for item in section]
    assert len(items) == kinds.count("item")
    for item in items:
        text = " ".join(str(item.get(k) or "") for k in item if k not in ("citations", "section", "method"))
        if not item["supported"]:
            continue
        assert term_coverage(item["text"], patient) < PATIENT_RESTATEMENT, item
        assert item["citations"], item
        for citation in item["citations"]:
            chunk = Chunk.objects.get(id=citation["chunk_id"])
            assert chunk.id in report.passages and chunk.collection_id == guidelines.id
            assert chunk.text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] != ""
        assert text
    restated = [i for i in items if i.get("method") == "restates_patient"]
    assert all(not i["supported"] for i in restated)
    timings = report.timings
    assert timings["retrieval_ms"] >= 0 and timings["total_ms"] >= timings["generation_ms"] > 0
    assert timings["answer_tokens"] > 0 and (timings["first_item_ms"] is not None) == bool(items)
