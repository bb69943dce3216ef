"""Answer evaluation: a corpus ingested through the real pipeline, questions asked end to end, metrics of the answers.

Files, one JSON object a line, as for `evaluate_retrieval` (retrieval/evaluation.py): corpus `{"id", "text", "title"?}`
(a line with empty text, such as a heading record, is skipped and counted), questions `{"id", "question", "gold":
[corpus id, ...], "answer"?: str, "label"?: "yes"|"no"|"maybe"}`. `"gold": []` means the corpus does not answer the
question (it is "unanswerable"); a question with gold documents is "answerable". "answer" is a gold text span (cpgQA),
"label" the expected yes/no/maybe verdict (PubMedQA); neither may be given on an unanswerable question. Every question
is asked through `assistant.answers.services.question_answer`.

Metrics (`manage.py evaluate_answers` prints them as one JSON object, last line; null where no question applies):
- questions: how many were asked.
- gold_cited: share of answerable questions whose answer cites a passage of a gold document (Answer.citations).
- answer_contains_gold: share of questions with "answer" whose answer text contains the gold span, both normalised:
  [n] markers removed, Unicode NFKC (full width to half width), case folded, punctuation to spaces, whitespace
  collapsed and removed between CJK characters.
- label_accuracy: share of questions with "label" whose Answer.verdict equals it.
- supported_statements: supported statements / all statements, over all answers (Answer.statements "supported").
- abstained_when_unanswerable: share of unanswerable questions answered "the documents do not answer this"
  (Answer.grounded False): higher is better.
- abstained_when_answerable: the same share over answerable questions: lower is better.
- p50_total_ms, p95_total_ms: percentiles of Answer.timings["total_ms"].

Diagnostics (a JSON line before the metrics, `answer_diagnostics`): gold_token_recall (mean share of a gold span's
words and CJK characters found in the normalised answer: partial credit where answer_contains_gold gives none),
grounded (share of all answers that are grounded), statement and citation counts, the question kinds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connections

from assistant.answers.services import question_answer
from assistant.grounding.llm.client import llm_endpoint
from assistant.models import Answer
from ingestion.models import Document
from retrieval.access import OPERATOR
from retrieval.evaluation import (
    EvaluationInputError,
    EvaluationQuestion,
    IngestedCorpus,
    question_records,
    string_field,
)
from retrieval.language import CJK
from retrieval.services import passages_retrieve

LABELS = ("yes", "no", "maybe")
METRIC_KEYS = (
    "questions",
    "gold_cited",
    "answer_contains_gold",
    "label_accuracy",
    "supported_statements",
    "invalid_citations_per_statement",
    "unfinished_statements",
    "relevance_failures",
    "answer_tokens_per_statement",
    "abstained_when_unanswerable",
    "abstained_when_answerable",
    "p50_total_ms",
    "p95_total_ms",
)
# [n], [1, 2], [1-3], 【n】 as the answer text carries them (after NFKC, so full-width brackets and commas are ASCII).
MARKER = re.compile(r"[\[【]\s*\d+(?:\s*[,、;\-–]\s*\d+)*\s*[\]】]")
SPACE_BETWEEN_CJK = re.compile(rf"(?<={CJK.pattern}) (?={CJK.pattern})")
TOKEN = re.compile(rf"{CJK.pattern}|[^\W_]+")  # a CJK character, or a run of other letters and digits


@dataclass(frozen=True)
class AnswerQuestion(EvaluationQuestion):
    answer: str = ""  # gold span the answer text should contain; "" when not given
    label: str = ""  # expected verdict (yes/no/maybe); "" when not given

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass(frozen=True)
class AnswerOutcome:
    """What the metrics need of one answered question."""

    question: AnswerQuestion
    text: str  # the answer shown, with its [n] markers
    grounded: bool
    verdict: str
    cited_document_ids: frozenset[str]  # corpus ids of the cited documents (with every id that shares their text)
    statements: int
    supported_statements: int
    invalid_citations: int
    timings: Mapping[str, Any]
    irrelevant_statements: int = 0  # supported by their passages but not about the question
    shown: tuple[dict, ...] = ()  # the statements as stored (text, supported, method), for --output

    @property
    def unfinished_statements(self) -> int:
        return int(self.timings.get("unfinished_statements") or 0)

    @property
    def answer_tokens(self) -> int | None:
        tokens = self.timings.get("answer_tokens")
        return int(tokens) if tokens is not None else None

    @property
    def total_ms(self) -> float:
        return float(self.timings["total_ms"])

    def as_json(self) -> dict[str, Any]:
        """One line of --output: enough to see why a question scored as it did."""
        line: dict[str, Any] = {
            "id": self.question.id,
            "question": self.question.question,
            "answer": self.text,
            "grounded": self.grounded,
            "verdict": self.verdict,
            "cited_document_ids": sorted(self.cited_document_ids),
            "gold": sorted(self.question.gold),
        }
        if self.question.answer:
            line["gold_answer"] = self.question.answer
            line["contains_gold"] = answer_contains(answer_text=self.text, gold_span=self.question.answer)
        if self.question.label:
            line["gold_label"] = self.question.label
        line.update(
            {
                "statements": self.statements,
                "supported_statements": self.supported_statements,
                "invalid_citations": self.invalid_citations,
                "shown": list(self.shown),
                "timings": dict(self.timings),
            }
        )
        return line


# --- text normalisation ---------------------------------------------------------------------------------------


def text_normalised(text: str) -> str:
    """Markers removed, NFKC, case folded, punctuation as spaces, whitespace collapsed (and dropped inside CJK)."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", text)).casefold()
    text = "".join(" " if unicodedata.category(character).startswith("P") else character for character in text)
    return SPACE_BETWEEN_CJK.sub("", " ".join(text.split()))


def answer_contains(*, answer_text: str, gold_span: str) -> bool:
    gold = text_normalised(gold_span)
    return bool(gold) and gold in text_normalised(answer_text)


def gold_token_recall(*, answer_text: str, gold_span: str) -> float:
    """Share of the gold span's distinct tokens (words, CJK characters) that the normalised answer holds."""
    gold_tokens = set(TOKEN.findall(text_normalised(gold_span)))
    if not gold_tokens:
        return 0.0
    return len(gold_tokens & set(TOKEN.findall(text_normalised(answer_text)))) / len(gold_tokens)


# --- metrics over answered questions --------------------------------------------------------------------------


def _share(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def gold_cited_share(*, outcomes: Sequence[AnswerOutcome]) -> float | None:
    return _share([bool(o.cited_document_ids & o.question.gold) for o in outcomes if o.question.answerable])


def answer_contains_gold_share(*, outcomes: Sequence[AnswerOutcome]) -> float | None:
    return _share(
        [answer_contains(answer_text=o.text, gold_span=o.question.answer) for o in outcomes if o.question.answer]
    )


def label_accuracy(*, outcomes: Sequence[AnswerOutcome]) -> float | None:
    return _share([o.verdict == o.question.label for o in outcomes if o.question.label])


def supported_statement_share(*, outcomes: Sequence[AnswerOutcome]) -> float | None:
    """Pooled over all answers, so an answer with many statements weighs more than one with a few."""
    statements = sum(o.statements for o in outcomes)
    return sum(o.supported_statements for o in outcomes) / statements if statements else None


def abstained_share(*, outcomes: Sequence[AnswerOutcome], answerable: bool) -> float | None:
    return _share([not o.grounded for o in outcomes if o.question.answerable == answerable])


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _per_statement(outcomes: Sequence[AnswerOutcome], counts: Sequence[int | None]) -> float | None:
    """A count over the outcomes per statement they made; None without statements."""
    statements = sum(o.statements for o in outcomes)
    return sum(c or 0 for c in counts) / statements if statements else None


def answer_metrics(*, outcomes: Sequence[AnswerOutcome]) -> dict[str, int | float | None]:
    """The command's last line: the keys of METRIC_KEYS in that order."""
    totals = [o.total_ms for o in outcomes]
    metrics: dict[str, int | float | None] = {
        "questions": len(outcomes),
        "gold_cited": _rounded(gold_cited_share(outcomes=outcomes), 4),
        "answer_contains_gold": _rounded(answer_contains_gold_share(outcomes=outcomes), 4),
        "label_accuracy": _rounded(label_accuracy(outcomes=outcomes), 4),
        "supported_statements": _rounded(supported_statement_share(outcomes=outcomes), 4),
        "invalid_citations_per_statement": _rounded(_per_statement(outcomes, [o.invalid_citations for o in outcomes]),
                                                    4),
        "unfinished_statements": sum(o.unfinished_statements for o in outcomes),
        "relevance_failures": sum(o.irrelevant_statements for o in outcomes),
        "answer_tokens_per_statement": _rounded(
            _per_statement([o for o in outcomes if o.answer_tokens is not None],
                           [o.answer_tokens for o in outcomes if o.answer_tokens is not None]), 1),
        "abstained_when_unanswerable": _rounded(abstained_share(outcomes=outcomes, answerable=False), 4),
        "abstained_when_answerable": _rounded(abstained_share(outcomes=outcomes, answerable=True), 4),
        "p50_total_ms": round(float(np.percentile(totals, 50)), 1) if totals else None,
        "p95_total_ms": round(float(np.percentile(totals, 95)), 1) if totals else None,
    }
    return metrics


def answer_diagnostics(*, outcomes: Sequence[AnswerOutcome], ingested: IngestedCorpus) -> dict[str, Any]:
    """Figures that explain the metrics; printed as their own line, so the metrics line keeps its fixed keys."""
    with_answer = [o for o in outcomes if o.question.answer]
    recalls = [gold_token_recall(answer_text=o.text, gold_span=o.question.answer) for o in with_answer]
    statements = sum(o.statements for o in outcomes)
    return {
        "diagnostics": "answers",
        "gold_token_recall": round(sum(recalls) / len(recalls), 4) if recalls else None,
        "grounded": _rounded(_share([o.grounded for o in outcomes]), 4),
        "answerable": sum(1 for o in outcomes if o.question.answerable),
        "unanswerable": sum(1 for o in outcomes if not o.question.answerable),
        "with_answer": len(with_answer),
        "with_label": sum(1 for o in outcomes if o.question.label),
        "statements": statements,
        "statements_per_answer": round(statements / len(outcomes), 2) if outcomes else None,
        "invalid_citations": sum(o.invalid_citations for o in outcomes),
        "documents_indexed": ingested.documents,
        "chunks": ingested.chunks,
        "documents_failed": len(ingested.failed),
    }


# --- input ----------------------------------------------------------------------------------------------------


def answer_questions_read(*, path: Path, corpus_ids: AbstractSet[str]) -> list[AnswerQuestion]:
    """The question file's questions in file order, the unanswerable ones (gold []) included.

    Raises EvaluationInputError naming the first bad line, with the same checks as retrieval's questions_read plus
    "answer" (a non-empty string) and "label" (yes, no or maybe), neither allowed when gold is empty.
    """
    questions: list[AnswerQuestion] = []
    hint = " (use [] for a question the corpus does not answer)"
    for line in question_records(path=path, corpus_ids=corpus_ids, missing_gold_hint=hint):
        where, record, question_id, gold = line.where, line.record, line.id, line.gold
        answer = string_field(record=record, name="answer", where=where, required="answer" in record).strip()
        label = string_field(record=record, name="label", where=where, required="label" in record).strip()
        if label and label not in LABELS:
            raise EvaluationInputError(f'{where}: "label" must be one of {", ".join(LABELS)}, got "{label}"')
        if not gold and (answer or label):
            given = '"answer"' if answer else '"label"'
            raise EvaluationInputError(
                f'{where}: question "{question_id}" has {given} but an empty gold list (the corpus does not answer it)'
            )
        questions.append(
            AnswerQuestion(id=question_id, question=line.question, gold=frozenset(gold), answer=answer, label=label)
        )
    if not questions:
        raise EvaluationInputError(f"{path}: no questions")
    return questions


# --- asking -----------------------------------------------------------------------------------------------------


def answer_outcome(
    *, question: AnswerQuestion, answer: Answer, corpus_ids_of: Mapping[int, frozenset[str]]
) -> AnswerOutcome:
    """The answer as the metrics see it; corpus_ids_of maps a Document id to the corpus ids its text stands for."""
    cited = frozenset(
        corpus_id for citation in answer.citations for corpus_id in corpus_ids_of.get(citation["document_id"], ())
    )
    return AnswerOutcome(
        question=question,
        text=answer.text,
        grounded=answer.grounded,
        verdict=answer.verdict,
        cited_document_ids=cited,
        statements=len(answer.statements),
        supported_statements=sum(1 for statement in answer.statements if statement["supported"]),
        invalid_citations=answer.invalid_citation_count,
        timings=answer.timings,
        irrelevant_statements=sum(1 for s in answer.statements if s.get("method") == "irrelevant"),
        shown=tuple({"text": s["text"], "supported": s["supported"], "method": s.get("method", ""),
                     "support": s.get("support")} for s in answer.statements),
    )


def corpus_ids_by_document(*, ingested: IngestedCorpus) -> dict[int, frozenset[str]]:
    """Document id -> its corpus id and the ids of later corpus lines that repeated its text (stored once)."""
    external_ids = dict(Document.objects.filter(collection=ingested.collection).values_list("id", "external_id"))
    repeated_by: dict[str, set[str]] = {}
    for repeated, holder in ingested.aliases.items():
        repeated_by.setdefault(holder, set()).add(repeated)
    return {
        document_id: frozenset({external_id, *repeated_by.get(external_id, ())})
        for document_id, external_id in external_ids.items()
    }


def answers_evaluate(
    *,
    ingested: IngestedCorpus,
    questions: Sequence[AnswerQuestion],
    k: int | None = None,
    on_outcome: Callable[[AnswerOutcome], object] | None = None,
    concurrency: int = 1,
) -> list[AnswerOutcome]:
    """Ask each question of the ingested corpus; on_outcome sees each outcome as it comes (progress, files).

    What is built once is built before the first question, untimed: the model server (a local vLLM starts on first
    use) and the BM25 index of the corpus. Each Answer row is deleted once read, so the evaluation leaves none.
    With `concurrency` > 1 that many questions are in flight at once (the server batches them): the quality figures
    are the same kind, but each answer's latency is then that of a loaded server.
    """
    if not questions:
        raise EvaluationInputError("no questions to evaluate")
    collection_ids = [ingested.collection.id]
    llm_endpoint()
    passages_retrieve(reader=OPERATOR, query=questions[0].question, collection_ids=collection_ids, k=k)
    corpus_ids_of = corpus_ids_by_document(ingested=ingested)

    def evaluate(question: AnswerQuestion) -> AnswerOutcome:
        try:
            answer = question_answer(user=OPERATOR, question=question.question, collection_ids=collection_ids, k=k)
            try:
                return answer_outcome(question=question, answer=answer, corpus_ids_of=corpus_ids_of)
            finally:
                answer.delete()
        finally:
            if concurrency > 1:
                connections.close_all()  # each worker thread has its own database connection

    outcomes: list[AnswerOutcome] = []
    if concurrency <= 1:
        for question in questions:
            outcomes.append(evaluate(question))
            if on_outcome is not None:
                on_outcome(outcomes[-1])
        return outcomes
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for outcome in pool.map(evaluate, questions):  # in question order
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes
