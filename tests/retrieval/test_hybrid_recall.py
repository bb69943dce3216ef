"""Hybrid retrieval finds the gold passage on real benchmarks (English cpgQA, Chinese STARD).

Floors were set from measured recall on these samples (printed with each run), with a margin below.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

import pytest

from ingestion.models import Collection, Document
from ingestion.services import collection_get_or_create
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_engine")]
METHODS = {"bm25": ("lexical",), "dense": ("dense",), "hybrid": ("dense", "lexical")}


def recall_at(
    *, questions: list[tuple[str, set[str]]], collection: Collection, k: int, methods: tuple[str, ...]
) -> float:
    """Share of questions with a gold document (by external id) among the documents of the top-k passages."""
    hits = 0
    for question, gold in questions:
        passages = passages_retrieve(
            reader=OPERATOR, query=question, collection_ids=[collection.id], k=k, methods=methods
        ).passages
        hits += bool(gold & {p.chunk.document.external_id for p in passages})
    return hits / len(questions)


def ingest_corpus(*, name: str, documents: Iterable[tuple[str, str, str]]) -> Collection:
    collection = collection_get_or_create(name=name)
    for external_id, title, text in documents:
        document = ingest_bytes(
            name=f"{external_id}.txt",
            content=text.encode(),
            collection=collection,
            external_id=external_id,
            title=title,
        )
        assert document.status == Document.Status.INDEXED, document.failure_reason
    return collection


def report(capsys: pytest.CaptureFixture[str], dataset: str, scores: dict[str, float], size: int) -> None:
    with capsys.disabled():
        table = "  ".join(f"{method} {value:.3f}" for method, value in scores.items())
        print(f"\n[recall@5] {dataset} ({size} questions): {table}")


def test_cpgqa_english_recall(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((shared_data / "cpgqa" / "dataset" / "cpgQA-v1.0.json").read_text(encoding="utf-8"))["data"]
    passage_ids: dict[str, str] = {}
    corpus: list[tuple[str, str, str]] = []
    questions: list[tuple[str, set[str]]] = []
    for entry in data:
        context = entry["paragraphs"]["context"]
        if context not in passage_ids:
            passage_ids[context] = f"cpg-{len(passage_ids)}"
            corpus.append((passage_ids[context], f"Opioid therapy guideline: {entry['title']}", context))
        for qa in entry["paragraphs"]["qas"]:
            questions.append((qa["question"], {passage_ids[context]}))
    sample = random.Random(7).sample(questions, 150)
    collection = ingest_corpus(name="cpgqa", documents=corpus)

    scores = {name: recall_at(questions=sample, collection=collection, k=5, methods=m) for name, m in METHODS.items()}
    report(capsys, f"cpgQA, {len(corpus)} passages", scores, len(sample))
    # Score fusion keeps a strong BM25's lead where the embedder is weaker (measured: bm25 0.973, dense 0.747,
    # hybrid 0.987): hybrid must match BM25 closely and beat the embedder clearly.
    assert scores["hybrid"] >= 0.93
    assert scores["hybrid"] >= scores["bm25"] - 0.02
    assert scores["hybrid"] >= scores["dense"] + 0.1


def test_stard_chinese_recall(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = json.loads((shared_data / "stard" / "data" / "queries.json").read_text(encoding="utf-8"))
    rng = random.Random(11)
    pool = rng.sample(queries, 400)  # the corpus: gold articles of 400 questions; 150 of them are asked
    articles = {name: text for query in pool for name, text in query["相关法规"].items()}
    corpus = [(name, name, f"{name}\n{text.strip()}") for name, text in sorted(articles.items())]
    sample = [(q["问题"], set(q["相关法规"])) for q in pool[:150]]
    collection = ingest_corpus(name="stard", documents=corpus)

    scores = {name: recall_at(questions=sample, collection=collection, k=5, methods=m) for name, m in METHODS.items()}
    report(capsys, f"STARD, {len(corpus)} articles", scores, len(sample))
    # Measured: bm25 0.787, dense 0.640, hybrid 0.767. On all 1,543 questions hybrid leads BM25 (recall@5 0.683
    # vs 0.663, bench/README.md); on this sample of 150 they are within three questions of each other.
    assert scores["hybrid"] >= 0.74
    assert scores["hybrid"] >= scores["bm25"] - 0.03
    assert scores["hybrid"] >= scores["dense"] + 0.08
