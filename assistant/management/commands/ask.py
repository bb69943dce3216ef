"""manage.py ask "question" --collection NAME: print a cited answer, its sources and the reasoning apart."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assistant.answers.presentation import answer_as_text
from assistant.answers.services import question_answer
from assistant.grounding.llm.client import exit_on_sigterm, local_server_stop
from ingestion.models import Collection
from retrieval.access import OPERATOR


class Command(BaseCommand):
    help = "Answer a question from one or more document sets, with citations."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--collection", action="append", required=True, help="Document set name (repeatable).")
        parser.add_argument("--k", type=int, default=None, help="Passages given to the model.")

    def handle(self, *args: object, question: str, collection: list[str], k: int | None, **options: object) -> None:
        collections = list(Collection.objects.filter(name__in=collection))
        missing = set(collection) - {c.name for c in collections}
        if missing:
            raise CommandError(f"No document set named {', '.join(sorted(missing))}.")
        exit_on_sigterm()
        try:
            answer = question_answer(user=OPERATOR, question=question, collection_ids=[c.id for c in collections], k=k)
        finally:
            local_server_stop()  # only stops a server this command started
        self.stdout.write(answer_as_text(answer))
