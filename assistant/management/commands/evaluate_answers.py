"""manage.py evaluate_answers --corpus CORPUS.jsonl --questions QUESTIONS.jsonl: how good the answers are.

The corpus is ingested into a fresh temporary collection through the real ingestion path (deleted afterwards, Ctrl-C
included), every question is answered by `question_answer`, and the metrics of answers/evaluation.py are printed
on stdout: a diagnostics JSON line, then the metrics JSON object as the last line. Progress goes to stderr.

The run happens in a throwaway data directory and database (retrieval/isolation.py): the live app never sees the
temporary document set, even if the run is killed. The model server is the configured one (LLM_BASE_URL), or a local
vLLM started on the live data directory's prepared model. --in-place runs in the configured database instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from assistant.answers.evaluation import (
    AnswerOutcome,
    AnswerQuestion,
    answer_diagnostics,
    answer_metrics,
    answer_questions_read,
    answers_evaluate,
)
from assistant.grounding.llm.client import exit_on_sigterm, local_server_stop
from retrieval.evaluation import (
    Corpus,
    EvaluationInputError,
    corpus_read,
    evaluation_corpus_ingested,
    questions_sample,
)
from retrieval.isolation import CHILD_FLAG, IN_PLACE_HELP, command_run_in_throwaway, throwaway_child_prepare


class Command(BaseCommand):
    help = "Evaluate answers on a corpus and questions (gold documents, answer spans, yes/no labels, unanswerable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, required=True, help='JSON lines: {"id", "text", "title"?}')
        parser.add_argument(
            "--questions",
            type=Path,
            required=True,
            help='JSON lines: {"id", "question", "gold": [ids] or [] (unanswerable), "answer"?, "label"?}',
        )
        parser.add_argument("--limit", type=int, default=None, help="Evaluate N questions drawn at random.")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the --limit draw.")
        parser.add_argument("--k", type=int, default=None, help="Passages given to the model (default: setting).")
        parser.add_argument(
            "--concurrency", type=int, default=1,
            help="Questions in flight at once (default 1; more is faster, but latency is then under load).",
        )
        parser.add_argument("--output", type=Path, default=None, help="Write one JSON line per question here.")
        parser.add_argument("--in-place", action="store_true", help=IN_PLACE_HELP)
        parser.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)

    def handle(
        self,
        *args: object,
        corpus: Path | str,
        questions: Path | str,
        limit: int | None,
        seed: int,
        k: int | None,
        concurrency: int,
        output: Path | str | None,
        in_place: bool,
        throwaway_child: bool,
        **options: object,
    ) -> None:
        # call_command hands keyword options over as given, unconverted: accept str or Path.
        corpus, questions = Path(corpus), Path(questions)
        output = Path(output) if output is not None else None
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if k is not None and k < 1:
            raise CommandError("--k must be at least 1")
        if output is not None and (output.is_dir() or not output.parent.is_dir()):
            raise CommandError(f"--output {output} must be a file in an existing folder")
        try:
            corpus_records = corpus_read(path=corpus)
            question_list = answer_questions_read(path=questions, corpus_ids=corpus_records.ids)
        except EvaluationInputError as error:
            raise CommandError(str(error)) from error
        asked = questions_sample(questions=question_list, limit=limit, seed=seed)

        if not (in_place or throwaway_child):
            # Input checked here, so a mistake is reported at once; the child reads it again and does the work.
            arguments = [
                *("--corpus", str(corpus.resolve()), "--questions", str(questions.resolve())),
                *("--seed", str(seed), "--concurrency", str(concurrency), "--verbosity", str(options["verbosity"])),
            ]
            if limit is not None:
                arguments += ["--limit", str(limit)]
            if k is not None:
                arguments += ["--k", str(k)]
            if output is not None:
                arguments += ["--output", str(output.resolve())]
            if options.get("traceback"):
                arguments.append("--traceback")
            command_run_in_throwaway(
                command="evaluate_answers", arguments=arguments, stdout=self.stdout, stderr=self.stderr
            )
            return
        if throwaway_child:
            throwaway_child_prepare()
        if corpus_records.empty:
            self.stderr.write(corpus_records.empty_note())
        self._evaluate(
            corpus=corpus_records, asked=asked, k=k, concurrency=concurrency, output=output,
            quiet=options["verbosity"] == 0,
        )

    def _evaluate(
        self,
        *,
        corpus: Corpus,
        asked: list[AnswerQuestion],
        k: int | None,
        concurrency: int,
        output: Path | None,
        quiet: bool,
    ) -> None:
        """Ingest, answer every question, print the diagnostics and metrics lines (and write --output)."""
        exit_on_sigterm()  # SIGTERM exits through the finally blocks: collection deleted, local vLLM stopped
        # tqdm writes to the real stderr: Django's stderr wrapper would add a newline to every redraw.
        ingest_bar = tqdm(total=len(corpus.documents), desc="ingesting", unit="doc", disable=quiet, file=sys.stderr)
        output_file = output.open("w", encoding="utf-8") if output is not None else None
        try:
            with (
                ingest_bar,
                evaluation_corpus_ingested(corpus=corpus.documents, on_document=ingest_bar.update) as ingested,
            ):
                ingest_bar.close()
                self.stderr.write(
                    f"indexed {ingested.documents} documents ({ingested.chunks} chunks); asking {len(asked)} questions"
                )
                if ingested.failed:
                    first_id, reason = next(iter(ingested.failed.items()))
                    self.stderr.write(
                        f"{len(ingested.failed)} corpus document(s) failed to ingest (e.g. {first_id}: {reason})"
                    )
                progress = _Progress(total=len(asked), stderr=None if quiet else self.stderr, output=output_file)
                outcomes = answers_evaluate(
                    ingested=ingested, questions=asked, k=k, on_outcome=progress.record, concurrency=concurrency
                )
                diagnostics = answer_diagnostics(outcomes=outcomes, ingested=ingested)
        except EvaluationInputError as error:
            raise CommandError(str(error)) from error
        finally:
            local_server_stop()  # only stops a server this command started
            if output_file is not None:
                output_file.close()
        self.stdout.write(json.dumps(diagnostics, ensure_ascii=False))
        self.stdout.write(json.dumps(answer_metrics(outcomes=outcomes)))
        if output is not None:
            self.stderr.write(f"answers: {output}")


class _Progress:
    """One stderr line per answered question, and its --output line, written as it comes."""

    def __init__(self, *, total: int, stderr: OutputWrapper | None, output: TextIO | None) -> None:
        self.total, self.stderr, self.output, self.done = total, stderr, output, 0

    def record(self, outcome: AnswerOutcome) -> None:
        self.done += 1
        if self.output is not None:
            self.output.write(json.dumps(outcome.as_json(), ensure_ascii=False) + "\n")
            self.output.flush()
        if self.stderr is not None:
            state = "answered" if outcome.grounded else "abstained"
            self.stderr.write(
                f"[{self.done}/{self.total}] {outcome.question.id}: {state}, "
                f"{len(outcome.cited_document_ids)} document(s) cited, "
                f"{outcome.supported_statements}/{outcome.statements} statements supported, "
                f"{outcome.total_ms:.0f} ms"
            )
