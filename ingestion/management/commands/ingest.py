"""manage.py ingest PATH --collection NAME: index a file or a folder of files, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from ingestion.models import Document
from ingestion.selectors import documents_pending
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task


def files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    raise CommandError(f"{path} does not exist")


class Command(BaseCommand):
    help = "Ingest a document file or a folder of documents into a collection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--collection", required=True, help="Name of the document set (created if new).")
        parser.add_argument("--poll-seconds", type=float, default=1.0, help="Status refresh when a worker runs it.")

    def handle(self, *args: object, path: Path, collection: str, poll_seconds: float, **options: object) -> None:
        target = collection_get_or_create(name=collection)
        files = files_under(path)
        document_ids: list[int] = []
        skipped = 0
        with tqdm(total=len(files), desc="ingesting", unit="doc", disable=options["verbosity"] == 0) as bar:
            for file in files:
                registration = document_register(collection=target, file_name=file.name, content=file.read_bytes())
                document_ids.append(registration.document.id)
                if registration.created:
                    # Without a broker this runs here, in-process, through the same task code.
                    document_ingest_task.delay(registration.document.id)
                else:
                    skipped += 1
                bar.set_postfix_str(file.name[:40])
                bar.n = len(document_ids) - documents_pending(document_ids=document_ids).count()
                bar.refresh()
            while (pending := documents_pending(document_ids=document_ids).count()) > 0:
                bar.n = len(document_ids) - pending
                bar.refresh()
                time.sleep(poll_seconds)
            bar.n = len(document_ids)
            bar.refresh()

        documents = Document.objects.filter(id__in=document_ids)
        indexed = documents.filter(status=Document.Status.INDEXED)
        failed = documents.filter(status=Document.Status.FAILED)
        chunk_total = sum(d.chunk_count for d in indexed)
        self.stdout.write(
            f"{collection}: {indexed.count()} indexed ({chunk_total} chunks), {failed.count()} failed, "
            f"{skipped} already present"
        )
        for document in failed:
            self.stdout.write(self.style.WARNING(f"  failed: {document.original_name}: {document.failure_reason}"))
