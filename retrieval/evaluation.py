"""Retrieval evaluation: a corpus ingested through the real pipeline, questions with gold documents, metrics.

Files, one JSON object a line: corpus `{"id": str, "text": str, "title": str (optional)}`, questions
`{"id": str, "question": str, "gold": [corpus id, ...]}`; a corpus line with empty text (a heading record) is skipped
and counted. Metrics are at document level over the ranked chunk list (a question is a hit at n when any gold document
owns one of the top n chunks); `manage.py evaluate_retrieval` is the command around these functions, and runs them in
a throwaway data directory and database (retrieval/isolation.py), so the temporary set never reaches the live app.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from ingestion.models import Collection, Document
from ingestion.selectors import ingestion_runs
from ingestion.services import (
    DocumentRegistration,
    collection_delete,
    collection_get_or_create,
    document_register,
    documents_ingest_batch,
)
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve

# Each evaluated method name as the keyword arguments it passes to passages_retrieve; a new method is one more entry.
# Only "hybrid+rerank" re-ranks, with the configured RETRIEVAL_RERANKER (None: the setting), so the others measure
# retrieval alone whatever the setting says.
RETRIEVAL_METHODS: dict[str, dict[str, Any]] = {
    "bm25": {"methods": ("lexical",), "reranker": ""},
    "dense": {"methods": ("dense",), "reranker": ""},
    "hybrid": {"methods": ("dense", "lexical"), "reranker": ""},
    "hybrid+rerank": {"methods": ("dense", "lexical"), "reranker": None},
}
RECALL_CUTOFFS = (1, 5, 10)
RANK_CUTOFF = 10  # MRR and nDCG are taken over the top 10 chunks
COLLECTION_PREFIX = "evaluate-retrieval-"
MAX_ID_CHARS = Document._meta.get_field("external_id").max_length
MAX_TITLE_CHARS = Document._meta.get_field("title").max_length


class EvaluationInputError(ValueError):
    """A corpus or question file that cannot be evaluated; the message says which line and why."""


@dataclass(frozen=True)
class CorpusDocument:
    id: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Corpus:
    documents: list[CorpusDocument]  # the records with text, in file order
    empty: dict[str, int]  # id -> line of each record skipped for having no text (heading records)

    @property
    def ids(self) -> frozenset[str]:
        """Every id the file names, the skipped ones included: what a question's gold may name."""
        return frozenset([*(document.id for document in self.documents), *self.empty])

    def empty_note(self) -> str:
        """The line the commands print about skipped records; "" when none was skipped."""
        if not self.empty:
            return ""
        first = min(self.empty.values())
        return f"skipped {len(self.empty)} empty record(s): corpus lines without text (the first on line {first})"


@dataclass(frozen=True)
class EvaluationQuestion:
    id: str
    question: str
    gold: frozenset[str]


@dataclass(frozen=True)
class QuestionSet:
    questions: list[EvaluationQuestion]
    skipped_without_gold: int  # questions whose gold list was empty: nothing to find, so not counted


@dataclass
class IngestedCorpus:
    collection: Collection
    documents: int  # documents indexed
    chunks: int
    failed: dict[str, str] = field(default_factory=dict)  # corpus id -> why its document failed
    # Corpus lines whose text repeats an earlier line's are stored once (identical bytes are one document in a
    # set); a retrieved document stands for every corpus id that shares its text.
    aliases: dict[str, str] = field(default_factory=dict)  # repeated id -> id of the document holding the text


@dataclass(frozen=True)
class MethodResult:
    method: str
    questions: int
    recall: dict[int, float]  # cutoff n -> share of questions with a gold document in the top n chunks
    mrr_at_10: float
    ndcg_at_10: float
    p50_ms: float
    p95_ms: float

    def as_json(self) -> dict[str, str | int | float]:
        """The command's output line, keys in the documented order."""
        line: dict[str, str | int | float] = {"method": self.method, "questions": self.questions}
        line.update({f"recall@{n}": round(value, 4) for n, value in sorted(self.recall.items())})
        line.update(
            {
                "mrr@10": round(self.mrr_at_10, 4),
                "ndcg@10": round(self.ndcg_at_10, 4),
                "p50_ms": round(self.p50_ms, 1),
                "p95_ms": round(self.p95_ms, 1),
            }
        )
        return line


# --- metrics over one ranked list of chunks, each given as the id of the document it belongs to -----------------


def recall_at(*, ranked_document_ids: Sequence[str], gold_ids: AbstractSet[str], n: int) -> float:
    """1.0 when a gold document owns one of the top n chunks, else 0.0 (averaged over questions: recall@n)."""
    return 1.0 if any(document_id in gold_ids for document_id in ranked_document_ids[:n]) else 0.0


def reciprocal_rank_at(
    *, ranked_document_ids: Sequence[str], gold_ids: AbstractSet[str], n: int = RANK_CUTOFF
) -> float:
    """1 / rank of the first of the top n chunks whose document is gold; 0.0 when none is."""
    for rank, document_id in enumerate(ranked_document_ids[:n], start=1):
        if document_id in gold_ids:
            return 1.0 / rank
    return 0.0


def ndcg_at(*, ranked_document_ids: Sequence[str], gold_ids: AbstractSet[str], n: int = RANK_CUTOFF) -> float:
    """Binary-relevance nDCG over the distinct documents of the top n chunks, in order of first appearance.

    Several chunks of one document count once, so a document cannot earn gain twice; the ideal ranking puts
    min(|gold|, n) relevant documents first.
    """
    if not gold_ids:
        return 0.0
    documents = list(dict.fromkeys(ranked_document_ids[:n]))
    dcg = sum(
        1.0 / math.log2(rank + 1) for rank, document_id in enumerate(documents, start=1) if document_id in gold_ids
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold_ids), n) + 1))
    return dcg / ideal


# --- input files ------------------------------------------------------------------------------------------------


def _jsonl_objects(*, path: Path, kind: str) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise EvaluationInputError(f"{kind} file {path} does not exist")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise EvaluationInputError(f"{path}:{number}: not valid JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise EvaluationInputError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def string_field(*, record: dict, name: str, where: str, required: bool = True) -> str:
    if name not in record:
        if required:
            raise EvaluationInputError(f'{where}: missing field "{name}"')
        return ""
    value = record[name]
    if not isinstance(value, str):
        raise EvaluationInputError(f'{where}: "{name}" must be a string, got {json.dumps(value, ensure_ascii=False)}')
    if required and not value.strip():
        raise EvaluationInputError(f'{where}: "{name}" is empty')
    return value


def corpus_read(*, path: Path) -> Corpus:
    """The corpus file's documents in file order; raises EvaluationInputError naming the first bad line.

    A record whose text is empty or blank (real corpora carry heading records) has nothing to index: it is skipped
    and counted, not an error. Its id still counts, so a later line repeating it is a duplicate and a question may
    name it as gold (such a gold document can never be found).
    """
    documents: list[CorpusDocument] = []
    empty: dict[str, int] = {}
    line_of: dict[str, int] = {}
    for number, record in _jsonl_objects(path=path, kind="corpus"):
        where = f"{path}:{number}"
        document_id = string_field(record=record, name="id", where=where)
        if len(document_id) > MAX_ID_CHARS:
            raise EvaluationInputError(f'{where}: "id" is {len(document_id)} characters, over {MAX_ID_CHARS}')
        if document_id in line_of:
            raise EvaluationInputError(f'{where}: duplicate id "{document_id}" (first on line {line_of[document_id]})')
        title = string_field(record=record, name="title", where=where, required=False).strip()
        if len(title) > MAX_TITLE_CHARS:
            raise EvaluationInputError(f'{where}: "title" is {len(title)} characters, over {MAX_TITLE_CHARS}')
        if "text" not in record:
            raise EvaluationInputError(f'{where}: missing field "text"')
        text = string_field(record=record, name="text", where=where, required=False)
        line_of[document_id] = number
        if not text.strip():
            empty[document_id] = number
            continue
        documents.append(CorpusDocument(id=document_id, text=text, title=title))
    if not documents:
        skipped = f" ({len(empty)} empty record(s) skipped)" if empty else ""
        raise EvaluationInputError(f"{path}: the corpus has no documents{skipped}")
    return Corpus(documents=documents, empty=empty)


@dataclass(frozen=True)
class QuestionRecord:
    """One checked line of a question file: its place, id, question and gold ids, and the whole record."""

    where: str
    id: str
    question: str
    gold: list[str]
    record: dict


def question_records(
    *, path: Path, corpus_ids: AbstractSet[str], missing_gold_hint: str = ""
) -> Iterator[QuestionRecord]:
    """Each line of a question file, checked: a unique id, a question, gold ids that are in the corpus."""
    line_of: dict[str, int] = {}
    for number, record in _jsonl_objects(path=path, kind="questions"):
        where = f"{path}:{number}"
        question_id = string_field(record=record, name="id", where=where)
        if question_id in line_of:
            raise EvaluationInputError(f'{where}: duplicate id "{question_id}" (first on line {line_of[question_id]})')
        line_of[question_id] = number
        text = string_field(record=record, name="question", where=where)
        if "gold" not in record:
            raise EvaluationInputError(f'{where}: missing field "gold"{missing_gold_hint}')
        gold = record["gold"]
        if not isinstance(gold, list) or not all(isinstance(item, str) for item in gold):
            raise EvaluationInputError(f'{where}: "gold" must be a list of corpus ids (strings)')
        unknown = [item for item in gold if item not in corpus_ids]
        if unknown:
            listed = ", ".join(f'"{item}"' for item in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise EvaluationInputError(f'{where}: question "{question_id}" has gold ids not in the corpus: {listed}')
        yield QuestionRecord(where=where, id=question_id, question=text, gold=gold, record=record)


def questions_read(*, path: Path, corpus_ids: AbstractSet[str]) -> QuestionSet:
    """The question file's questions in file order; those with an empty gold list are skipped and counted."""
    questions: list[EvaluationQuestion] = []
    skipped = 0
    for line in question_records(path=path, corpus_ids=corpus_ids):
        if not line.gold:
            skipped += 1
            continue
        questions.append(EvaluationQuestion(id=line.id, question=line.question, gold=frozenset(line.gold)))
    return QuestionSet(questions=questions, skipped_without_gold=skipped)


def questions_sample(*, questions: list[EvaluationQuestion], limit: int | None, seed: int) -> list[EvaluationQuestion]:
    """`limit` questions drawn at random (reproducible by seed), kept in file order; all when limit is None."""
    if limit is None or limit >= len(questions):
        return questions
    chosen = set(random.Random(seed).sample(range(len(questions)), limit))
    return [question for index, question in enumerate(questions) if index in chosen]


# --- the temporary collection ----------------------------------------------------------------------------------


def _file_name(*, document_id: str) -> str:
    # The id may hold any character; the stored file only needs a safe, recognisable name.
    return (re.sub(r"[^\w.-]+", "_", document_id).strip("._")[:100] or "document") + ".txt"


def _corpus_document_register(*, collection: Collection, item: CorpusDocument) -> DocumentRegistration:
    return document_register(
        collection=collection,
        file_name=_file_name(document_id=item.id),
        content=item.text.encode("utf-8"),
        external_id=item.id,
        title=item.title,
    )


@contextlib.contextmanager
def evaluation_corpus_ingested(
    *, corpus: Sequence[CorpusDocument], on_document: Callable[[], object] | None = None
) -> Iterator[IngestedCorpus]:
    """A fresh collection holding the corpus, one plain-text document per line, deleted with its vectors on exit.

    Each document goes through the real path (register the file, then the ingestion service: parse, structure,
    chunk, embed, index; short documents many to a run, as the worker takes them) in this process, whatever broker
    is configured, so the index written is this process's.
    The collection is deleted however the block ends, Ctrl-C included.
    """
    collection = collection_get_or_create(name=f"{COLLECTION_PREFIX}{uuid.uuid4().hex[:12]}")
    try:
        ingested = IngestedCorpus(collection=collection, documents=0, chunks=0)
        with transaction.atomic():  # one commit for the corpus, not a few per document
            registrations = [(item, _corpus_document_register(collection=collection, item=item)) for item in corpus]
        corpus_ids = {r.document.id: item.id for item, r in registrations if r.created}
        for item, registration in registrations:
            if not registration.created:
                ingested.aliases[item.id] = registration.document.external_id
                if on_document is not None:
                    on_document()
        # Short documents many to a run (one embedding call, one index segment), long ones alone.
        for run in ingestion_runs(document_ids=list(corpus_ids)):
            for document in documents_ingest_batch(document_ids=run).documents:
                if document.status == Document.Status.INDEXED:
                    ingested.documents += 1
                    ingested.chunks += document.chunk_count
                else:
                    ingested.failed[corpus_ids[document.id]] = document.failure_reason or document.status
                if on_document is not None:
                    on_document()
        yield ingested
    finally:
        collection_delete(collection=collection)


# --- running the questions -------------------------------------------------------------------------------------


def method_evaluate(
    *,
    method: str,
    ingested: IngestedCorpus,
    questions: Sequence[EvaluationQuestion],
    k: int = 10,
    on_question: Callable[[], object] | None = None,
) -> MethodResult:
    """Ask every question with one method; metrics from the top max(k, 10) chunks, latency per retrieval call."""
    if method not in RETRIEVAL_METHODS:
        raise EvaluationInputError(f'unknown method "{method}" (known: {", ".join(RETRIEVAL_METHODS)})')
    if not questions:
        raise EvaluationInputError("no questions to evaluate")
    options = RETRIEVAL_METHODS[method]
    if options["reranker"] is None and not settings.RETRIEVAL_RERANKER.strip():
        raise EvaluationInputError(f'"{method}" needs a reranker: set RETRIEVAL_RERANKER (e.g. embedding:MODEL)')
    depth = max(k, RANK_CUTOFF)
    cutoffs = sorted({*RECALL_CUTOFFS, k})
    collection_ids = [ingested.collection.id]
    # A first, untimed search builds what the method builds once per corpus (the BM25 index): that cost is the
    # ingestion's, not a question's.
    passages_retrieve(reader=OPERATOR, query=questions[0].question, collection_ids=collection_ids, k=depth, **options)

    recall_sums = dict.fromkeys(cutoffs, 0.0)
    reciprocal_rank_sum = ndcg_sum = 0.0
    latencies_ms: list[float] = []
    for question in questions:
        gold = frozenset(ingested.aliases.get(item, item) for item in question.gold)
        started = time.perf_counter()
        result = passages_retrieve(reader=OPERATOR, query=question.question, collection_ids=collection_ids, k=depth,
                                   **options)
        latencies_ms.append((time.perf_counter() - started) * 1000)
        ranked = [passage.chunk.document.external_id for passage in result.passages]
        for n in cutoffs:
            recall_sums[n] += recall_at(ranked_document_ids=ranked, gold_ids=gold, n=n)
        reciprocal_rank_sum += reciprocal_rank_at(ranked_document_ids=ranked, gold_ids=gold)
        ndcg_sum += ndcg_at(ranked_document_ids=ranked, gold_ids=gold)
        if on_question is not None:
            on_question()
    count = len(questions)
    return MethodResult(
        method=method,
        questions=count,
        recall={n: total / count for n, total in recall_sums.items()},
        mrr_at_10=reciprocal_rank_sum / count,
        ndcg_at_10=ndcg_sum / count,
        p50_ms=float(np.percentile(latencies_ms, 50)),
        p95_ms=float(np.percentile(latencies_ms, 95)),
    )


# --- the report -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    chart: Path


def evaluation_report_write(
    *,
    out_dir: Path,
    results: Sequence[MethodResult],
    corpus_documents: int,
    corpus_chunks: int,
    questions: int,
    embedding_model: str,
    corpus_path: Path,
    questions_path: Path,
) -> ReportPaths:
    """retrieval.md (every metric per method) and retrieval.png (grouped bars per method) in out_dir."""
    import matplotlib

    matplotlib.use("Agg")  # no display here; set before pyplot is imported
    from matplotlib import pyplot

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [result.as_json() for result in results]
    columns = [key for key in rows[0] if key != "method"]
    table = [
        "| method | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
        *("| " + " | ".join(str(row[key]) for key in ["method", *columns]) + " |" for row in rows),
    ]
    markdown = "\n".join(
        [
            "# Retrieval evaluation",
            "",
            f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- corpus: `{corpus_path}` ({corpus_documents} documents indexed, {corpus_chunks} chunks)",
            f"- questions: `{questions_path}` ({questions} evaluated)",
            f"- embedding model: {embedding_model}",
            "- a question is a hit at n when a gold document owns one of the top n chunks; MRR and nDCG over the top 10"
            " chunks (nDCG over their distinct documents); p50/p95: wall-clock ms of one retrieval call",
            "",
            *table,
            "",
        ]
    )
    markdown_path = out_dir / "retrieval.md"
    markdown_path.write_text(markdown, encoding="utf-8")

    metrics = [f"recall@{n}" for n in RECALL_CUTOFFS] + ["mrr@10", "ndcg@10"]
    figure, axes = pyplot.subplots(figsize=(max(6.0, 2.2 * len(rows) + 2), 4.5))
    width = 0.8 / len(metrics)
    positions = np.arange(len(rows))
    for offset, metric in enumerate(metrics):
        bars = axes.bar(
            positions + (offset - (len(metrics) - 1) / 2) * width, [row[metric] for row in rows], width, label=metric
        )
        axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    axes.set_xticks(positions, [str(row["method"]) for row in rows])
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("score")
    axes.set_title(f"Retrieval: {questions} questions, {corpus_documents} documents ({embedding_model})", fontsize=10)
    axes.legend(fontsize=8, ncols=len(metrics), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    figure.tight_layout()
    chart_path = out_dir / "retrieval.png"
    figure.savefig(chart_path, dpi=120)
    pyplot.close(figure)
    return ReportPaths(markdown=markdown_path, chart=chart_path)
