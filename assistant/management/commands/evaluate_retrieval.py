"""manage.py evaluate_retrieval --corpus CORPUS.jsonl --questions QUESTIONS.jsonl: recall, MRR, nDCG and latency.

The corpus is ingested into a fresh temporary collection through the real ingestion path, every question is asked
with each method, and one JSON object per method is printed on stdout, one a line, in the order of --methods.
Progress and notes go to stderr, so stdout carries only the JSON lines.

The run happens in a throwaway data directory and database (retrieval/isolation.py): the live app never sees the
temporary document set, even if the run is killed. --in-place runs in the configured ones instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from retrieval.evaluation import (
    RETRIEVAL_METHODS,
    Corpus,
    EvaluationInputError,
    EvaluationQuestion,
    IngestedCorpus,
    corpus_read,
    evaluation_corpus_ingested,
    evaluation_report_write,
    method_evaluate,
    questions_read,
    questions_sample,
)
from retrieval.isolation import CHILD_FLAG, IN_PLACE_HELP, command_run_in_throwaway, throwaway_child_prepare


def _methods_parse(value: str) -> list[str]:
    methods = [name.strip() for name in value.split(",") if name.strip()]
    if not methods:
        raise CommandError("--methods is empty")
    unknown = [name for name in methods if name not in RETRIEVAL_METHODS]
    if unknown:
        raise CommandError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(RETRIEVAL_METHODS)}")
    repeated = sorted({name for name in methods if methods.count(name) > 1})
    if repeated:
        raise CommandError(f"--methods lists {', '.join(repeated)} more than once")
    if any(RETRIEVAL_METHODS[name]["reranker"] is None for name in methods) and not settings.RETRIEVAL_RERANKER.strip():
        raise CommandError("hybrid+rerank needs a reranker: set RETRIEVAL_RERANKER (e.g. embedding:MODEL)")
    return methods


class Command(BaseCommand):
    help = "Evaluate retrieval methods on a corpus and questions with gold documents (JSON lines)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, required=True, help='JSON lines: {"id", "text", "title"?}')
        parser.add_argument("--questions", type=Path, required=True, help='JSON lines: {"id", "question", "gold"}')
        parser.add_argument("--k", type=int, default=10, help="Also report recall@k (chunks retrieved: max(k, 10)).")
        parser.add_argument(
            "--methods", default="bm25,dense,hybrid", help=f"Comma-separated, from: {', '.join(RETRIEVAL_METHODS)}."
        )
        parser.add_argument("--limit", type=int, default=None, help="Evaluate N questions drawn at random.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the --limit draw.")
        parser.add_argument("--report", type=Path, default=None, help="Write retrieval.md and retrieval.png here.")
        parser.add_argument("--in-place", action="store_true", help=IN_PLACE_HELP)
        parser.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)

    def handle(
        self,
        *args: object,
        corpus: Path | str,
        questions: Path | str,
        k: int,
        methods: str,
        limit: int | None,
        seed: int,
        report: Path | str | None,
        in_place: bool,
        throwaway_child: bool,
        **options: object,
    ) -> None:
        # call_command hands keyword options over as given, unconverted: accept str or Path.
        corpus, questions = Path(corpus), Path(questions)
        report = Path(report) if report is not None else None
        method_names = _methods_parse(methods)
        if k < 1:
            raise CommandError("--k must be at least 1")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if report is not None and report.exists() and not report.is_dir():
            raise CommandError(f"--report {report} exists and is not a folder")
        try:
            corpus_records = corpus_read(path=corpus)
            question_set = questions_read(path=questions, corpus_ids=corpus_records.ids)
        except EvaluationInputError as error:
            raise CommandError(str(error)) from error
        asked = questions_sample(questions=question_set.questions, limit=limit, seed=seed)
        if not asked:
            raise CommandError(f"{questions}: no question with gold documents to evaluate")

        if not (in_place or throwaway_child):
            # Input checked here, so a mistake is reported at once; the child reads it again and does the work.
            arguments = [
                *("--corpus", str(corpus.resolve()), "--questions", str(questions.resolve())),
                *("--k", str(k), "--methods", ",".join(method_names), "--seed", str(seed)),
                *("--verbosity", str(options["verbosity"])),
            ]
            if limit is not None:
                arguments += ["--limit", str(limit)]
            if report is not None:
                arguments += ["--report", str(report.resolve())]
            if options.get("traceback"):
                arguments.append("--traceback")
            command_run_in_throwaway(
                command="evaluate_retrieval", arguments=arguments, stdout=self.stdout, stderr=self.stderr
            )
            return
        if throwaway_child:
            throwaway_child_prepare()
        if corpus_records.empty:
            self.stderr.write(corpus_records.empty_note())
        if question_set.skipped_without_gold:
            self.stderr.write(f"skipped {question_set.skipped_without_gold} question(s) with an empty gold list")
        self._evaluate(
            corpus=corpus_records, asked=asked, method_names=method_names, k=k, report=report,
            corpus_path=corpus, questions_path=questions, quiet=options["verbosity"] == 0,
        )

    def _evaluate(
        self,
        *,
        corpus: Corpus,
        asked: list[EvaluationQuestion],
        method_names: list[str],
        k: int,
        report: Path | None,
        corpus_path: Path,
        questions_path: Path,
        quiet: bool,
    ) -> None:
        """Ingest, ask every question with each method, print a line per method (and write the report)."""
        # tqdm writes to the real stderr: Django's stderr wrapper would add a newline to every redraw.
        ingest_bar = tqdm(total=len(corpus.documents), desc="ingesting", unit="doc", disable=quiet, file=sys.stderr)
        with ingest_bar, evaluation_corpus_ingested(corpus=corpus.documents, on_document=ingest_bar.update) as ingested:
            ingest_bar.close()
            self._notes(ingested=ingested, asked=asked, corpus=corpus)
            results = []
            for name in method_names:
                with tqdm(total=len(asked), desc=name, unit="q", disable=quiet, file=sys.stderr) as bar:
                    result = method_evaluate(
                        method=name, ingested=ingested, questions=asked, k=k, on_question=bar.update
                    )
                results.append(result)
                self.stdout.write(json.dumps(result.as_json()))
                self.stdout.flush()
            if report is not None:
                paths = evaluation_report_write(
                    out_dir=report,
                    results=results,
                    corpus_documents=ingested.documents,
                    corpus_chunks=ingested.chunks,
                    questions=len(asked),
                    embedding_model=settings.EMBEDDING_MODEL,
                    corpus_path=corpus_path,
                    questions_path=questions_path,
                )
                self.stderr.write(f"report: {paths.markdown}, {paths.chart}")

    def _notes(self, *, ingested: IngestedCorpus, asked: list[EvaluationQuestion], corpus: Corpus) -> None:
        """What the numbers rest on: the corpus as indexed, and what it could not hold."""
        self.stderr.write(
            f"indexed {ingested.documents} documents ({ingested.chunks} chunks); evaluating {len(asked)} questions"
        )
        if ingested.aliases:
            self.stderr.write(
                f"{len(ingested.aliases)} corpus line(s) repeat an earlier line's text and count as that document"
            )
        if ingested.failed:
            first_id, reason = next(iter(ingested.failed.items()))
            self.stderr.write(f"{len(ingested.failed)} corpus document(s) failed to ingest (e.g. {first_id}: {reason})")
        not_indexed = ingested.failed.keys() | corpus.empty.keys()
        unreachable = sum(1 for question in asked if question.gold <= not_indexed)
        if unreachable:
            self.stderr.write(
                f"{unreachable} question(s) have only failed or empty documents as gold and cannot be hits"
            )
