"""Retrieval evaluation: the metrics, the evaluate_retrieval command end to end, and the benchmark converters."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index, milvus_chunk_store
from ingestion.models import Chunk, Collection, Document
from retrieval.evaluation import (
    COLLECTION_PREFIX,
    Corpus,
    CorpusDocument,
    EvaluationInputError,
    corpus_read,
    evaluation_corpus_ingested,
    ndcg_at,
    questions_read,
    recall_at,
    reciprocal_rank_at,
)
from tests.jsonl_files import jsonl, read_jsonl

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = ["method", "questions", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "p50_ms", "p95_ms"]


# --- metrics -----------------------------------------------------------------------------------------------------


def test_gold_at_rank_three_scores_a_third_and_half_a_dcg() -> None:
    ranked = ["a", "b", "gold", "c"]
    assert recall_at(ranked_document_ids=ranked, gold_ids={"gold"}, n=1) == 0.0
    assert recall_at(ranked_document_ids=ranked, gold_ids={"gold"}, n=3) == 1.0
    assert reciprocal_rank_at(ranked_document_ids=ranked, gold_ids={"gold"}) == pytest.approx(1 / 3)
    assert ndcg_at(ranked_document_ids=ranked, gold_ids={"gold"}) == pytest.approx(1 / math.log2(4))


def test_chunks_of_one_document_count_once_in_ndcg_but_by_chunk_rank_in_mrr() -> None:
    # Chunk ranks 1-4 belong to documents a, a, g1, g2: distinct documents a, g1, g2.
    ranked = ["a", "a", "g1", "g2"]
    gold = {"g1", "g2", "g3"}
    assert reciprocal_rank_at(ranked_document_ids=ranked, gold_ids=gold) == pytest.approx(1 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # three gold documents: three ideal places
    assert ndcg_at(ranked_document_ids=ranked, gold_ids=gold) == pytest.approx(dcg / ideal)
    assert ndcg_at(ranked_document_ids=["g1", "g2", "g3"], gold_ids=gold) == pytest.approx(1.0)


def test_metrics_look_only_at_the_top_ten() -> None:
    ranked = [f"d{i}" for i in range(10)] + ["gold"]
    assert reciprocal_rank_at(ranked_document_ids=ranked, gold_ids={"gold"}) == 0.0
    assert ndcg_at(ranked_document_ids=ranked, gold_ids={"gold"}) == 0.0
    assert recall_at(ranked_document_ids=ranked, gold_ids={"gold"}, n=10) == 0.0
    assert recall_at(ranked_document_ids=ranked, gold_ids={"gold"}, n=11) == 1.0
    # More gold documents than places: the ideal ranking has only ten.
    many_gold = {f"d{i}" for i in range(12)}
    assert ndcg_at(ranked_document_ids=ranked, gold_ids=many_gold) == pytest.approx(1.0)


# --- the command -------------------------------------------------------------------------------------------------

CORPUS = [
    {"id": "insulin", "title": "Insulin", "text": "Insulin lowers blood glucose in patients with diabetes mellitus."},
    {"id": "measles", "title": "Measles vaccine", "text": "The measles vaccine is given in two doses in childhood."},
    {"id": "aspirin", "text": "Aspirin relieves mild pain and reduces fever in adults."},
    # Same text as "aspirin": stored once, so a question whose gold names this id is found through "aspirin".
    {"id": "aspirin-copy", "title": "Aspirin again", "text": "Aspirin relieves mild pain and reduces fever in adults."},
]
QUESTIONS = [
    {"id": "q1", "question": "Which drug lowers blood glucose in diabetes mellitus?", "gold": ["insulin"]},
    {"id": "q2", "question": "How many doses of the measles vaccine are given in childhood?", "gold": ["measles"]},
    {"id": "q3", "question": "What relieves mild pain and reduces fever?", "gold": ["aspirin-copy"]},
    {"id": "q4", "question": "A question nobody annotated", "gold": []},
]


@pytest.mark.django_db
def test_command_prints_one_line_per_method_and_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, search_engine: str
) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", CORPUS)
    questions = jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    temp_root = tmp_path / "temp"  # where the run's throwaway data directory goes
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    out = StringIO()
    # By default the run happens in a throwaway data directory and database (retrieval/isolation.py).
    call_command(
        "evaluate_retrieval",
        corpus=str(corpus),
        questions=str(questions),
        methods="hybrid,bm25,dense",
        report=str(tmp_path / "report"),
        stdout=out,
    )

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["method"] for line in lines] == ["hybrid", "bm25", "dense"]
    for line in lines:
        assert list(line) == KEYS
        assert line["questions"] == 3  # the question without gold is skipped
        assert line["recall@1"] == 1.0 and line["mrr@10"] == 1.0 and line["ndcg@10"] == 1.0, line
        assert 0 < line["p50_ms"] <= line["p95_ms"]
    assert "skipped 1 question(s) with an empty gold list" in capsys.readouterr().err

    report = (tmp_path / "report" / "retrieval.md").read_text(encoding="utf-8")
    assert "| hybrid | 3 | 1.0 |" in report and f"embedding model: {settings.EMBEDDING_MODEL}" in report
    assert (tmp_path / "report" / "retrieval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Dense found every gold document, so the vectors were in an index: the throwaway one, gone with its database.
    # The live database and index never held them.
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert chunk_vector_index(embedder=embedder_get()).ids().size == 0
    assert not list(temp_root.iterdir())
    if search_engine != "embedded":  # the run's own Milvus collection (never the live one) is dropped with it
        live = milvus_chunk_store(embedder=embedder_get())
        assert [name for name in live.client.list_collections() if name.startswith(settings.MILVUS_COLLECTION_PREFIX)
                and name != live.name] == []


@pytest.mark.django_db
def test_in_place_runs_in_the_configured_database_and_deletes_its_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", CORPUS)
    questions = jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    out = StringIO()
    call_command(
        "evaluate_retrieval", corpus=str(corpus), questions=str(questions), methods="dense", in_place=True, stdout=out
    )
    (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["recall@1"] == 1.0  # found in this database's set and this process's index
    assert "indexed 3 documents" in capsys.readouterr().err
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()
    assert chunk_vector_index(embedder=embedder_get()).ids().size == 0


@pytest.mark.django_db
def test_empty_corpus_records_are_skipped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "chapter-1", "title": "Chapter 1", "text": ""},  # a heading record
            *CORPUS[:2],
            {"id": "chapter-2", "title": "Chapter 2", "text": " \n\t"},
        ],
    )
    unreachable = {"id": "q5", "question": "What is in chapter 2?", "gold": ["chapter-2"]}
    questions = jsonl(tmp_path / "questions.jsonl", [*QUESTIONS[:2], unreachable])
    out = StringIO()
    call_command(
        "evaluate_retrieval", corpus=str(corpus), questions=str(questions), methods="bm25", in_place=True, stdout=out
    )
    (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert line["questions"] == 3 and line["recall@10"] == 0.6667  # q5's gold was never indexed
    err = capsys.readouterr().err
    assert "skipped 2 empty record(s): corpus lines without text (the first on line 1)" in err
    assert "indexed 2 documents" in err
    assert "1 question(s) have only failed or empty documents as gold and cannot be hits" in err


def test_reader_skips_empty_records_but_keeps_their_ids(tmp_path: Path) -> None:
    records = [{"id": "h", "text": ""}, {"id": "a", "text": "x"}, {"id": "b", "text": " "}]
    path = jsonl(tmp_path / "corpus.jsonl", records)
    corpus = corpus_read(path=path)
    assert corpus == Corpus(documents=[CorpusDocument(id="a", text="x")], empty={"h": 1, "b": 3})
    assert corpus.ids == {"h", "a", "b"}
    only_empty = jsonl(tmp_path / "empty.jsonl", [{"id": "h", "text": ""}])
    with pytest.raises(EvaluationInputError, match=r"the corpus has no documents \(1 empty record\(s\) skipped\)"):
        corpus_read(path=only_empty)


@pytest.mark.django_db
def test_rerank_method_uses_the_configured_reranker_and_needs_one(tmp_path: Path, settings) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", CORPUS)
    questions = jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    arguments = {"corpus": str(corpus), "questions": str(questions), "methods": "hybrid,hybrid+rerank"}
    settings.RETRIEVAL_RERANKER = ""
    with pytest.raises(CommandError, match="set RETRIEVAL_RERANKER"):
        call_command("evaluate_retrieval", **arguments)
    settings.RETRIEVAL_RERANKER = "embedding:all-MiniLM-L6-v2"
    out = StringIO()
    call_command("evaluate_retrieval", **arguments, in_place=True, stdout=out)  # in place: the setting applies
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["method"] for line in lines] == ["hybrid", "hybrid+rerank"]
    assert lines[1]["recall@10"] == 1.0


@pytest.mark.django_db
def test_k_adds_its_recall_and_limit_draws_questions(tmp_path: Path) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", CORPUS)
    questions = jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    out = StringIO()
    call_command(
        "evaluate_retrieval", corpus=str(corpus), questions=str(questions), methods="bm25", k=3, limit=2,
        in_place=True, stdout=out,
    )
    (line,) = [json.loads(text) for text in out.getvalue().splitlines()]
    assert list(line)[2:6] == ["recall@1", "recall@3", "recall@5", "recall@10"]
    assert line["questions"] == 2


@pytest.mark.django_db
def test_interrupted_evaluation_deletes_the_collection_and_its_vectors() -> None:
    index = chunk_vector_index(embedder=embedder_get())
    with (
        pytest.raises(KeyboardInterrupt),
        evaluation_corpus_ingested(corpus=[CorpusDocument(id="a", text="Insulin lowers blood glucose.")]) as ingested,
    ):
        name = ingested.collection.name
        assert ingested.documents == 1 and index.ids().size == ingested.chunks > 0
        raise KeyboardInterrupt  # Ctrl-C while the questions run
    assert not Collection.objects.filter(name=name).exists()
    assert index.ids().size == 0


@pytest.mark.parametrize(
    ("corpus", "questions", "message"),
    [
        (
            [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}],
            [],
            'corpus.jsonl:2: duplicate id "a" (first on line 1)',
        ),
        (  # an empty record's id is taken all the same
            [{"id": "b", "text": "x"}, {"id": "a", "text": ""}, {"id": "c", "text": "z"}, {"id": "a", "text": "y"}],
            [],
            'corpus.jsonl:4: duplicate id "a" (first on line 2)',
        ),
        ([{"id": "a", "text": None}], [], 'corpus.jsonl:1: "text" must be a string, got null'),
        ([{"id": "a"}], [], 'corpus.jsonl:1: missing field "text"'),
        ([{"id": 7, "text": "x"}], [], 'corpus.jsonl:1: "id" must be a string, got 7'),
        (
            [{"id": "a", "text": "x"}],
            [{"id": "q", "question": "?", "gold": ["a", "b"]}],
            'questions.jsonl:1: question "q" has gold ids not in the corpus: "b"',
        ),
        ([{"id": "a", "text": "x"}], [{"id": "q", "gold": ["a"]}], 'questions.jsonl:1: missing field "question"'),
        (
            [{"id": "a", "text": "x"}],
            [{"id": "q", "question": "?", "gold": ["a"]}, {"id": "q", "question": "!", "gold": ["a"]}],
            'questions.jsonl:2: duplicate id "q"',
        ),
        ([{"id": "a", "text": "x"}], [{"id": "q", "question": "?", "gold": []}], "no question with gold documents"),
    ],
)
def test_bad_input_is_a_readable_command_error(
    tmp_path: Path, corpus: list[dict], questions: list[dict], message: str
) -> None:
    corpus_path = jsonl(tmp_path / "corpus.jsonl", corpus)
    questions_path = jsonl(tmp_path / "questions.jsonl", questions)
    with pytest.raises(CommandError) as error:
        call_command("evaluate_retrieval", corpus=str(corpus_path), questions=str(questions_path), stdout=StringIO())
    assert message in str(error.value)


def test_unknown_method_and_missing_file_are_command_errors(tmp_path: Path) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": "x"}])
    questions = jsonl(tmp_path / "questions.jsonl", [{"id": "q", "question": "?", "gold": ["a"]}])
    with pytest.raises(CommandError, match=r"unknown method.*bm42.*known: bm25, dense, hybrid"):
        call_command("evaluate_retrieval", corpus=str(corpus), questions=str(questions), methods="bm25,bm42")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate_retrieval", corpus=str(tmp_path / "nope.jsonl"), questions=str(questions))


# --- converters on the real shared data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "documents", "asked"),
    [
        (["cpgqa"], 190, 1097),
        (["cpgqa", "--limit", "50"], 190, 50),
        (["pubmedqa", "--limit", "300", "--distractors", "200"], 500, 300),
        (["pubmedqa"], 1000, 1000),
        (["stard", "--limit", "300"], 1445, 300),
        (["lecoqa"], 1445, 309),
    ],
)
def test_converters_write_sets_the_command_reads(
    shared_data: Path, tmp_path: Path, arguments: list[str], documents: int, asked: int
) -> None:
    out = tmp_path / "set"
    subprocess.run(
        [sys.executable, "-m", "bench.datasets", *arguments, "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        env={"YIJU_SHARED_DATA": str(shared_data), "PATH": "/usr/bin:/bin"},
    )
    corpus = read_jsonl(out / "corpus.jsonl")
    questions = read_jsonl(out / "questions.jsonl")
    assert (len(corpus), len(questions)) == (documents, asked)
    corpus_ids = [record["id"] for record in corpus]
    assert len(set(corpus_ids)) == len(corpus_ids)
    assert len({record["id"] for record in questions}) == len(questions)
    assert all(record["gold"] and set(record["gold"]) <= set(corpus_ids) for record in questions)
    # The command's own readers accept them: fields, types, no empty text.
    assert len(corpus_read(path=out / "corpus.jsonl").documents) == documents
    assert len(questions_read(path=out / "questions.jsonl", corpus_ids=set(corpus_ids)).questions) == asked
