"""Answer evaluation: normalisation, the metrics, reading the questions, the converters, and the command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from assistant.answers.evaluation import (
    LABELS,
    METRIC_KEYS,
    AnswerOutcome,
    AnswerQuestion,
    abstained_share,
    answer_contains,
    answer_contains_gold_share,
    answer_metrics,
    answer_outcome,
    answer_questions_read,
    corpus_ids_by_document,
    gold_cited_share,
    gold_token_recall,
    label_accuracy,
    supported_statement_share,
    text_normalised,
)
from assistant.models import Answer
from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Chunk, Collection, Document
from retrieval.evaluation import COLLECTION_PREFIX, CorpusDocument, evaluation_corpus_ingested, questions_read
from tests.jsonl_files import jsonl, read_jsonl

REPO_ROOT = Path(__file__).resolve().parents[3]


# --- normalisation ---------------------------------------------------------------------------------------------


def test_normalisation_drops_markers_case_punctuation_width_and_spacing() -> None:
    assert text_normalised("Ｏｐｉｏｉｄ  Use[1]，and\nＳＵＤ [2, 3]!") == "opioid use and sud"
    assert text_normalised("个体工商户【2】，可以 起字号。") == "个体工商户可以起字号"
    # Punctuation becomes a space, so hyphenated and spaced forms compare equal; a marker is not a number in text.
    assert text_normalised("opioid-induced (OIH)") == text_normalised("Opioid induced OIH")
    assert text_normalised("given 2 doses [2]") == "given 2 doses"


def test_answer_contains_the_gold_span_only_when_all_of_it_is_there() -> None:
    answer = "Opioids carry a significant risk for OUD, overdose, and death [1], especially with untreated SUD [2]."
    assert answer_contains(answer_text=answer, gold_span="OUD, overdose, and death")
    assert answer_contains(answer_text="本条规定：个体工商户可以起字号[1]。", gold_span="个体工商户可以起字号")
    assert not answer_contains(answer_text=answer, gold_span="OUD, overdose, and death, especially among patients")
    assert not answer_contains(answer_text=answer, gold_span="  ,  ")  # nothing left of the span: no credit


def test_gold_token_recall_gives_partial_credit() -> None:
    assert gold_token_recall(answer_text="Younger patients [1].", gold_span="Younger patients") == 1.0
    assert gold_token_recall(answer_text="Patients who are young.", gold_span="Younger patients") == 0.5
    assert gold_token_recall(answer_text="可以起字号", gold_span="个体工商户") == 0.0


# --- metrics on hand-built outcomes -----------------------------------------------------------------------------


def outcome(
    *,
    gold: set[str],
    cited: set[str] = frozenset(),
    grounded: bool = True,
    text: str = "",
    verdict: str = "",
    answer: str = "",
    label: str = "",
    statements: int = 0,
    supported: int = 0,
    total_ms: float = 100.0,
) -> AnswerOutcome:
    question = AnswerQuestion(id="q", question="?", gold=frozenset(gold), answer=answer, label=label)
    return AnswerOutcome(
        question=question,
        text=text,
        grounded=grounded,
        verdict=verdict,
        cited_document_ids=frozenset(cited),
        statements=statements,
        supported_statements=supported,
        invalid_citations=0,
        timings={"total_ms": total_ms},
    )


MIXED = [
    # Answerable, cites its gold document, contains the gold span; 1 of 2 statements supported.
    outcome(gold={"d1"}, cited={"d1"}, text="It is given in two doses [1].", answer="two doses", statements=2,
            supported=1, total_ms=100),
    # Answerable, cites another document, wrong verdict.
    outcome(gold={"d2"}, cited={"d3"}, verdict="no", label="yes", statements=1, supported=1, total_ms=300),
    # Unanswerable, abstained.
    outcome(gold=set(), grounded=False, text="The documents do not answer this question.", total_ms=200),
    # Unanswerable, but answered anyway with an unsupported statement.
    outcome(gold=set(), cited={"d1"}, statements=1, supported=0, total_ms=400),
]


def test_metrics_of_a_mixed_set() -> None:
    metrics = answer_metrics(outcomes=MIXED)
    assert tuple(metrics) == METRIC_KEYS
    assert metrics == {
        "questions": 4,
        "gold_cited": 0.5,
        "answer_contains_gold": 1.0,
        "label_accuracy": 0.0,
        "supported_statements": 0.5,
        "abstained_when_unanswerable": 0.5,
        "abstained_when_answerable": 0.0,
        "p50_total_ms": 250.0,
        "p95_total_ms": 385.0,  # numpy's linear interpolation between 300 and 400
    }


def test_each_metric_moves_with_what_it_measures() -> None:
    good = outcome(gold={"d1"}, cited={"d1", "d2"}, text="Two doses [1].", answer="two doses", verdict="yes",
                   label="yes", statements=3, supported=3)
    bad = outcome(gold={"d1"}, cited={"d2"}, grounded=False, text="The documents do not answer this question.",
                  answer="two doses", verdict="", label="yes", statements=3, supported=0)
    assert gold_cited_share(outcomes=[good, bad]) == 0.5
    assert answer_contains_gold_share(outcomes=[good, bad]) == 0.5
    assert label_accuracy(outcomes=[good, bad]) == 0.5
    assert supported_statement_share(outcomes=[good, bad]) == 0.5
    assert abstained_share(outcomes=[good, bad], answerable=True) == 0.5
    assert abstained_share(outcomes=[good, bad], answerable=False) is None


def test_metrics_that_do_not_apply_are_null() -> None:
    unanswerable_only = [outcome(gold=set(), grounded=False, total_ms=50)]
    metrics = answer_metrics(outcomes=unanswerable_only)
    assert metrics["abstained_when_unanswerable"] == 1.0
    assert metrics["p50_total_ms"] == metrics["p95_total_ms"] == 50.0
    for key in ("gold_cited", "answer_contains_gold", "label_accuracy", "supported_statements",
                "abstained_when_answerable"):
        assert metrics[key] is None, key


def test_outcome_of_an_answer_reads_citations_statements_and_verdict() -> None:
    answer = Answer(
        question="Is it given twice?",
        text="Yes: the vaccine is given in two doses [1]. It is safe [2].",
        grounded=True,
        verdict="yes",
        citations=[{"number": 1, "chunk_id": 11, "document_id": 5}, {"number": 2, "chunk_id": 12, "document_id": 6}],
        statements=[{"index": 0, "text": "…", "supported": True}, {"index": 1, "text": "…", "supported": False}],
        invalid_citation_count=1,
        timings={"total_ms": 1234.5, "retrieval_ms": 12.0},
    )
    question = AnswerQuestion(id="q", question="?", gold=frozenset({"measles-copy"}), label="yes")
    # Document 5 holds the text of corpus ids "measles" and "measles-copy" (stored once); 6 is "aspirin".
    corpus_ids_of = {5: frozenset({"measles", "measles-copy"}), 6: frozenset({"aspirin"})}

    result = answer_outcome(question=question, answer=answer, corpus_ids_of=corpus_ids_of)

    assert result.cited_document_ids == {"measles", "measles-copy", "aspirin"}
    assert (result.statements, result.supported_statements, result.invalid_citations) == (2, 1, 1)
    assert (result.grounded, result.verdict, result.total_ms) == (True, "yes", 1234.5)
    assert gold_cited_share(outcomes=[result]) == 1.0 and label_accuracy(outcomes=[result]) == 1.0
    line = result.as_json()
    assert line["cited_document_ids"] == ["aspirin", "measles", "measles-copy"] and line["gold_label"] == "yes"


@pytest.mark.django_db
def test_corpus_ids_by_document_names_repeated_lines_with_their_holder() -> None:
    corpus = [
        CorpusDocument(id="insulin", text="Insulin lowers blood glucose in diabetes mellitus."),
        CorpusDocument(id="aspirin", text="Aspirin relieves mild pain and reduces fever."),
        CorpusDocument(id="aspirin-copy", text="Aspirin relieves mild pain and reduces fever."),
    ]
    with evaluation_corpus_ingested(corpus=corpus) as ingested:
        ids_of = corpus_ids_by_document(ingested=ingested)
        by_external = {d.external_id: d.id for d in Document.objects.filter(collection=ingested.collection)}
    assert set(by_external) == {"insulin", "aspirin"}
    assert ids_of[by_external["insulin"]] == {"insulin"}
    assert ids_of[by_external["aspirin"]] == {"aspirin", "aspirin-copy"}


# --- reading the questions --------------------------------------------------------------------------------------


def test_reader_keeps_unanswerable_questions_and_the_gold_answer_and_label(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "questions.jsonl",
        [
            {"id": "a", "question": "How many doses?", "gold": ["d"], "answer": " two doses "},
            {"id": "b", "question": "Is it safe?", "gold": ["d"], "label": "yes", "extra": 1},
            {"id": "c", "question": "Capital of France?", "gold": []},
        ],
    )
    questions = answer_questions_read(path=path, corpus_ids={"d"})
    assert [(q.id, q.answer, q.label, q.answerable) for q in questions] == [
        ("a", "two doses", "", True),
        ("b", "", "yes", True),
        ("c", "", "", False),
    ]


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ([{"id": "q", "question": "?", "gold": ["a"], "label": "Yes!"}], '"label" must be one of yes, no, maybe'),
        ([{"id": "q", "question": "?", "gold": ["a"], "answer": 3}], '"answer" must be a string, got 3'),
        ([{"id": "q", "question": "?", "gold": ["a"], "answer": " "}], '"answer" is empty'),
        ([{"id": "q", "question": "?", "gold": [], "answer": "x"}], 'has "answer" but an empty gold list'),
        ([{"id": "q", "question": "?", "gold": [], "label": "no"}], 'has "label" but an empty gold list'),
        ([{"id": "q", "question": "?"}], 'questions.jsonl:1: missing field "gold" (use [] for'),
        ([{"id": "q", "question": "?", "gold": ["b"]}], 'question "q" has gold ids not in the corpus: "b"'),
        ([{"id": "q", "question": "?", "gold": "a"}], '"gold" must be a list of corpus ids'),
        (
            [{"id": "q", "question": "?", "gold": []}, {"id": "q", "question": "!", "gold": []}],
            'questions.jsonl:2: duplicate id "q"',
        ),
        ([], "questions.jsonl: no questions"),
    ],
)
def test_bad_questions_are_a_readable_command_error(tmp_path: Path, questions: list[dict], message: str) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": "Insulin lowers blood glucose."}])
    path = jsonl(tmp_path / "questions.jsonl", questions)
    with pytest.raises(CommandError) as error:
        call_command("evaluate_answers", corpus=str(corpus), questions=str(path), stdout=StringIO())
    assert message in str(error.value)


def test_bad_options_and_files_are_command_errors(tmp_path: Path) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": "Insulin lowers blood glucose."}])
    questions = jsonl(tmp_path / "questions.jsonl", [{"id": "q", "question": "?", "gold": ["a"]}])
    arguments = {"corpus": str(corpus), "questions": str(questions), "stdout": StringIO()}
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("evaluate_answers", **arguments, limit=0)
    with pytest.raises(CommandError, match="must be a file in an existing folder"):
        call_command("evaluate_answers", **arguments, output=str(tmp_path))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate_answers", **{**arguments, "corpus": str(tmp_path / "nope.jsonl")})
    bad_corpus = jsonl(tmp_path / "bad.jsonl", [{"id": "a"}])
    with pytest.raises(CommandError, match=r'bad\.jsonl:1: missing field "text"'):
        call_command("evaluate_answers", **{**arguments, "corpus": str(bad_corpus)})


# --- converters on the real shared data ------------------------------------------------------------------------


def convert(shared_data: Path, out: Path, *arguments: str) -> tuple[list[dict], list[dict]]:
    subprocess.run(
        [sys.executable, "-m", "bench.datasets", *arguments, "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        env={"YIJU_SHARED_DATA": str(shared_data), "PATH": "/usr/bin:/bin"},
    )
    corpus, questions = read_jsonl(out / "corpus.jsonl"), read_jsonl(out / "questions.jsonl")
    corpus_ids = {record["id"] for record in corpus}
    # Both commands' readers accept the set: evaluate_answers' and (for answerable sets) evaluate_retrieval's.
    assert len(answer_questions_read(path=out / "questions.jsonl", corpus_ids=corpus_ids)) == len(questions)
    if all(question["gold"] for question in questions):
        assert len(questions_read(path=out / "questions.jsonl", corpus_ids=corpus_ids).questions) == len(questions)
    return corpus, questions


def test_cpgqa_questions_carry_their_answer_span_from_the_gold_passage(shared_data: Path, tmp_path: Path) -> None:
    corpus, questions = convert(shared_data, tmp_path, "cpgqa", "--limit", "20")
    text_of = {record["id"]: record["text"] for record in corpus}
    assert len(questions) == 20 and all("label" not in question for question in questions)
    for question in questions:
        (gold,) = question["gold"]
        assert question["answer"] and answer_contains(answer_text=text_of[gold], gold_span=question["answer"])


def test_pubmedqa_questions_carry_their_label_and_no_answer(shared_data: Path, tmp_path: Path) -> None:
    _, questions = convert(shared_data, tmp_path, "pubmedqa", "--limit", "30", "--distractors", "5")
    assert len(questions) == 30 and all("answer" not in question for question in questions)
    assert {question["label"] for question in questions} <= set(LABELS)
    assert len({question["label"] for question in questions}) > 1  # the real decisions, not one constant


def test_lecoqa_questions_carry_neither_answer_nor_label(shared_data: Path, tmp_path: Path) -> None:
    corpus, questions = convert(shared_data, tmp_path, "lecoqa", "--limit", "5")
    assert len(corpus) == 1445 and len(questions) == 5
    assert all(set(question) == {"id", "question", "gold"} and question["gold"] for question in questions)


def test_unanswerable_sets_ask_one_field_of_the_other(shared_data: Path, tmp_path: Path) -> None:
    laws, cpgqa_questions = convert(shared_data, tmp_path / "a", "unanswerable", "--direction", "cpgqa-on-laws",
                                    "--limit", "5")
    manifest = json.loads((shared_data / "cn_laws" / "manifest.json").read_text(encoding="utf-8"))
    assert [(d["id"], d["title"]) for d in laws] == [(entry["key"], entry["title"]) for entry in manifest]
    assert all("第一条" in d["text"] for d in laws if d["id"] != "price_65")  # full texts, article by article
    assert len(cpgqa_questions) == 5
    assert all(q["id"].startswith("cpgqa-") and q["question"].isascii() for q in cpgqa_questions)

    passages, law_questions = convert(shared_data, tmp_path / "b", "unanswerable", "--direction", "laws-on-cpgqa",
                                      "--limit", "5")
    assert len(passages) == 190 and all(d["id"].startswith("cpg-") for d in passages)
    assert len(law_questions) == 5 and all(not q["question"].isascii() for q in law_questions)

    for question in cpgqa_questions + law_questions:
        assert set(question) == {"id", "question", "gold"} and question["gold"] == []


def test_unanswerable_needs_a_direction(shared_data: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.datasets", "unanswerable", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"YIJU_SHARED_DATA": str(shared_data), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "--direction is required" in result.stderr


# --- the command end to end, against the real local model ------------------------------------------------------

CORPUS = [
    {"id": "insulin", "title": "Insulin", "text": "Insulin lowers blood glucose in patients with diabetes mellitus."},
    {"id": "measles", "title": "Measles vaccine", "text": "The measles vaccine is given in two doses in childhood."},
    {"id": "aspirin", "text": "Aspirin relieves mild pain and reduces fever in adults."},
]
QUESTIONS = [
    {"id": "doses", "question": "How many doses of the measles vaccine are given in childhood?",
     "gold": ["measles"], "answer": "two doses"},
    {"id": "france", "question": "What is the capital of France?", "gold": []},
    {"id": "insulin", "question": "Does insulin lower blood glucose?", "gold": ["insulin"], "label": "yes"},
]


@pytest.mark.django_db
def test_command_answers_through_the_model_and_leaves_nothing_behind(
    local_llm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A heading record with no text: skipped and reported, as by evaluate_retrieval.
    corpus = jsonl(tmp_path / "corpus.jsonl", [*CORPUS, {"id": "chapter", "title": "Chapter 1", "text": ""}])
    questions = jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    # The run happens in a throwaway data directory and database, in a child process that reaches the model server
    # through the environment (LLM_BASE_URL): here the local one this test session started, not one of its own.
    temp_root = tmp_path / "temp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    if not settings.LLM_BASE_URL:
        monkeypatch.setenv("LLM_BASE_URL", local_llm)
        monkeypatch.setenv("LLM_MODEL", settings.LOCAL_LLM_MODEL)
    out = StringIO()
    # Seed 4 draws "doses" and "france": an answerable question with a span and an unanswerable one, no label.
    call_command(
        "evaluate_answers",
        corpus=str(corpus),
        questions=str(questions),
        limit=2,
        seed=4,
        output=str(tmp_path / "answers.jsonl"),
        stdout=out,
    )

    *_, diagnostics_line, metrics_line = out.getvalue().splitlines()
    metrics, diagnostics = json.loads(metrics_line), json.loads(diagnostics_line)
    assert list(metrics) == list(METRIC_KEYS)
    assert metrics["questions"] == 2 and metrics["label_accuracy"] is None
    for key in ("gold_cited", "answer_contains_gold", "abstained_when_unanswerable", "abstained_when_answerable"):
        assert metrics[key] in (0.0, 1.0), (key, metrics)  # one question each: all or nothing
    assert metrics["supported_statements"] is None or 0.0 <= metrics["supported_statements"] <= 1.0
    assert 0 < metrics["p50_total_ms"] <= metrics["p95_total_ms"]
    assert diagnostics["diagnostics"] == "answers"
    assert (diagnostics["answerable"], diagnostics["unanswerable"], diagnostics["with_answer"]) == (1, 1, 1)
    assert diagnostics["documents_indexed"] == 3

    lines = read_jsonl(tmp_path / "answers.jsonl")
    assert [line["id"] for line in lines] == ["doses", "france"]
    assert lines[0]["gold"] == ["measles"] and lines[0]["gold_answer"] == "two doses" and lines[1]["gold"] == []
    assert all(line["answer"] and line["timings"]["total_ms"] > 0 for line in lines)
    assert metrics["gold_cited"] == float("measles" in lines[0]["cited_document_ids"])
    assert metrics["abstained_when_unanswerable"] == float(not lines[1]["grounded"])
    err = capsys.readouterr().err
    assert "[1/2] doses:" in err and "[2/2] france:" in err
    assert "skipped 1 empty record(s)" in err

    # The live database and index never held the set or the answers; the throwaway directory is gone.
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()
    assert not Document.objects.exists() and not Chunk.objects.exists() and not Answer.objects.exists()
    assert chunk_vector_index(embedder=embedder_get()).ids().size == 0
    assert not list(temp_root.iterdir())
