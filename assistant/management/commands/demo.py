"""manage.py demo: the main job on a bare machine.

Migrate, create an admin (printing its password), write and ingest the sample set, print one cited answer in
Chinese and one in English, then serve the web app, with the local vLLM running for it.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from assistant.accounts.roles import collection_readers_grant, user_roles_set
from assistant.answers.presentation import answer_as_text
from assistant.answers.services import question_answer
from assistant.demo.sample_set import SAMPLE_QUESTIONS, sample_set_write
from assistant.grounding.llm.client import exit_on_sigterm, llm_endpoint, local_server_stop
from ingestion.models import Collection
from retrieval.access import OPERATOR, ROLE_ADMIN, ROLES
from retrieval.language import language_of

SAMPLE_COLLECTION = "sample"


class Command(BaseCommand):
    help = "Set up, ingest the illustrative sample set, print two cited answers, then serve the web app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="Stop after printing the answers.")

    def handle(self, *args: object, addrport: str, no_serve: bool, **options: object) -> None:
        started = time.perf_counter()
        exit_on_sigterm()
        call_command("migrate", verbosity=0)
        password = self._admin_password()

        self._heading("Ingesting the sample set (illustrative documents written by Yiju, not medical/legal advice)")
        folder = settings.DATA_DIR / "sample_documents"
        sample_set_write(directory=folder)
        ingest_started = time.perf_counter()
        call_command("ingest", str(folder), collection=SAMPLE_COLLECTION, stdout=self.stdout)
        # A data folder from before a change of EMBEDDING_MODEL: bring its documents into the new model's index.
        call_command("reembed", stdout=self.stdout)
        ingest_s = time.perf_counter() - ingest_started

        self._heading("Starting the language model")
        llm_started = time.perf_counter()
        endpoint = llm_endpoint()
        ready_s = time.perf_counter() - llm_started
        self.stdout.write(f"{endpoint.model} at {endpoint.base_url} (ready in {ready_s:.0f} s)")

        collection = Collection.objects.get(name=SAMPLE_COLLECTION)
        # A new set is read by admins only; the sample is for everyone with a role.
        collection_readers_grant(collection=collection, group_names=ROLES, actor=OPERATOR)
        first_answer_s = None
        for question in (q for q in SAMPLE_QUESTIONS if q.get("demo")):
            self._heading(f"Question ({'Chinese' if language_of(question['question']) == 'zh' else 'English'})")
            answer = question_answer(user=OPERATOR, question=question["question"], collection_ids=[collection.id])
            first_answer_s = first_answer_s or time.perf_counter() - started
            self.stdout.write(answer_as_text(answer))

        self._heading("Figures")
        self.stdout.write(f"ingest sample set: {ingest_s:.1f} s; first cited answer {first_answer_s:.0f} s after start")
        self._heading("Web app")
        self.stdout.write(f"open http://{addrport}/ and sign in as admin / {password}")
        if no_serve:
            local_server_stop()
            return
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            local_server_stop()

    def _admin_password(self) -> str:
        """A fresh random password for the admin each run, printed once, so a newcomer can always sign in."""
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username="admin", defaults={"email": "admin@localhost"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        user_roles_set(user=user, roles=[ROLE_ADMIN])
        self.stdout.write(f"admin user: admin / {password}")
        return password

    def _heading(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"\n== {text}"))
