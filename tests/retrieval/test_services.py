"""Retrieval through the real ingestion path: filters inside both searches, updates by difference, re-ranking."""

from __future__ import annotations

import pytest

from ingestion.models import Document
from ingestion.services import collection_get_or_create, documents_delete
from retrieval.access import OPERATOR
from retrieval.reranking import rerank_order, reranker_get
from retrieval.searchable import searchable_chunks_get
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_engine")]

STATIN_NOTES = "\n\n".join(
    f"## Note {i}\n\nStatin therapy note {i}: review LDL cholesterol and the statin dose at visit {i}."
    for i in range(30)
)


def ingest(name: str, text: str, collection) -> Document:
    document = ingest_bytes(name=name, content=text.encode(), collection=collection)
    assert document.status == Document.Status.INDEXED, document.failure_reason
    return document


def test_a_small_permitted_share_gets_k_passages_from_it_alone() -> None:
    large = collection_get_or_create(name="cardiology")
    small = collection_get_or_create(name="pharmacy")
    ingest("statins.md", STATIN_NOTES, large)
    kept = ingest("ward.md", "## Ward\n\nStatin dose for ward patients.\n\n## Other\n\nStatin and LDL advice.", small)
    for methods in [("dense",), ("lexical",), ("dense", "lexical")]:
        passages = passages_retrieve(
            reader=OPERATOR, query="statin dose LDL", collection_ids=[small.id], k=5, methods=methods
        ).passages
        assert passages and {p.chunk.document_id for p in passages} == {kept.id}, methods
    everywhere = passages_retrieve(
        reader=OPERATOR, query="statin dose LDL", collection_ids=[large.id, small.id], k=5
    ).passages
    assert len(everywhere) == 5


def test_search_within_chosen_documents() -> None:
    collection = collection_get_or_create(name="guidelines")
    first = ingest("a.md", "## Sepsis\n\nGive antibiotics within one hour of sepsis recognition.", collection)
    second = ingest("b.md", "## Sepsis bundle\n\nAntibiotics and fluids for sepsis within one hour.", collection)
    passages = passages_retrieve(
        reader=OPERATOR,
        query="antibiotics sepsis", collection_ids=[collection.id], document_ids=[second.id], k=5
    ).passages
    assert passages and {p.chunk.document_id for p in passages} == {second.id}
    assert first.id in {
        p.chunk.document_id
        for p in passages_retrieve(reader=OPERATOR, query="antibiotics sepsis", collection_ids=[collection.id]).passages
    }


def test_the_lexical_index_follows_ingestion_and_deletion_by_difference() -> None:
    collection = collection_get_or_create(name="laws")
    law = ingest("law.txt", "第一条 个人信息处理者应当采取必要措施保障个人信息安全。", collection)
    searchable = searchable_chunks_get()
    before = searchable.lexical.size
    ingest("policy.txt", "第一条 小微企业可以申请研发费用补贴。", collection)
    searchable = searchable_chunks_get()
    assert searchable.lexical.size > before
    assert passages_retrieve(
        reader=OPERATOR, query="研发费用补贴", collection_ids=[collection.id], k=1
    ).passages[0].chunk.document_id
    documents_delete(documents=[law])
    remaining = passages_retrieve(reader=OPERATOR, query="个人信息处理者", collection_ids=[collection.id], k=5).passages
    assert law.id not in {p.chunk.document_id for p in remaining}
    assert law.chunks.count() == 0 or all(
        chunk_id not in searchable.lexical for chunk_id in law.chunks.values_list("id", flat=True)
    )


def test_a_reranker_reorders_the_shortlist() -> None:
    collection = collection_get_or_create(name="rerank")
    ingest(
        "mixed.md",
        "## Fluids\n\nGive 30 ml/kg of crystalloid fluid for hypotension.\n\n"
        "## Antibiotics\n\nBroad-spectrum antibiotics should start within one hour.",
        collection,
    )
    reranker = reranker_get(spec="embedding:all-MiniLM-L6-v2")
    scores = reranker.scores(
        query="when to start antibiotics", passages=["crystalloid fluid volume", "start antibiotics within an hour"]
    )
    assert scores[1] > scores[0]
    passages = ["crystalloid fluid volume", "start antibiotics within an hour", "antibiotics"]
    assert rerank_order(reranker=reranker, query="when to start antibiotics", passages=passages)[0] == 1
    # Blended with the original order at a low weight, the original first passage keeps its place.
    assert rerank_order(reranker=reranker, query="when to start antibiotics", passages=passages, weight=0.1)[0] == 0
    result = passages_retrieve(
        reader=OPERATOR,
        query="when should antibiotics start",
        collection_ids=[collection.id],
        k=2,
        reranker="embedding:all-MiniLM-L6-v2",
    )
    assert result.passages[0].reranked and "antibiotics" in result.passages[0].chunk.text
    assert "rerank_ms" in result.timings_ms
    assert reranker_get(spec="none") is None
    # MiniLM reads no Chinese: as a reranker it leaves a Chinese question's fused order as it was.
    chinese = ["补液", "抗生素应在一小时内开始", "抗生素"]
    assert rerank_order(reranker=reranker, query="何时开始使用抗生素", passages=chinese) == [0, 1, 2]


def test_a_chinese_question_finds_the_english_guideline() -> None:
    """Cross-language: BM25 has no shared words here, so the multilingual embedder alone must find it."""
    collection = collection_get_or_create(name="english-guidelines")
    for name, text in {
        "sepsis.md": "## Sepsis\n\nAdminister broad-spectrum antibiotics within one hour of recognising sepsis.",
        "hypertension.md": "## Hypertension\n\nLower blood pressure below 130/80 mmHg in most adults.",
        "diabetes.md": "## Diabetes\n\nMetformin is the first-line drug for type 2 diabetes.",
        "asthma.md": "## Asthma\n\nInhaled corticosteroids control persistent asthma in children.",
    }.items():
        ingest(name, text, collection)
    for question, expected in [
        ("脓毒症患者应在多长时间内使用抗生素？", "sepsis"),
        ("二甲双胍是二型糖尿病的首选药物吗？", "diabetes"),
        ("成人高血压的血压控制目标是多少？", "hypertension"),
    ]:
        passages = passages_retrieve(reader=OPERATOR, query=question, collection_ids=[collection.id], k=1).passages
        assert expected in passages[0].chunk.document.original_name, (question, passages[0].chunk.text)
