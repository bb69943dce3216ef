"""manage.py ingest PATH --collection NAME: index a file, a zip or a folder of documents, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from assistant.models import AuditEvent
from ingestion.audit import documents_audit
from ingestion.models import Document
from ingestion.selectors import documents_pending, documents_unfinished
from ingestion.services import collection_get_or_create, index_reconcile
from ingestion.tasks import documents_ingest_queue
from ingestion.uploads import UploadReport, path_register
from retrieval.access import OPERATOR


class Command(BaseCommand):
    help = "Ingest a document file, a zip of documents or a folder of them into a collection (document set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, nargs="?")
        parser.add_argument("--collection", required=True, help="Name of the document set (created if new).")
        parser.add_argument("--poll-seconds", type=float, default=1.0, help="Status refresh when a worker runs it.")
        parser.add_argument(
            "--resume", action="store_true", help="Queue again every unfinished document of the set (after a crash)."
        )

    def handle(
        self, *args: object, path: Path | None, collection: str, poll_seconds: float, resume: bool, **options: object
    ) -> None:
        if path is None and not resume:
            raise CommandError("give a PATH to ingest, or --resume")
        if path is not None and not path.exists():
            raise CommandError(f"{path} does not exist")
        target = collection_get_or_create(name=collection)
        report = UploadReport()
        if path is not None:
            with transaction.atomic():  # one commit for the whole folder, not a few per file
                report = path_register(collection=target, path=path)
                documents_audit(action=AuditEvent.Action.DOCUMENT_UPLOAD, user=OPERATOR,
                                documents=[*report.created, *report.rejected], interface=AuditEvent.Interface.COMMAND,
                                detail={"path": str(path), "duplicates": len(report.duplicates)})
        document_ids = report.to_ingest
        if resume:
            document_ids += [d.id for d in documents_unfinished(collection=target) if d.id not in set(document_ids)]
        quiet = options["verbosity"] == 0
        with tqdm(total=len(document_ids), desc="ingesting", unit="doc", disable=quiet) as bar:
            # Without a broker this runs here, in-process, through the same task code; with one it only queues.
            # Short documents go many to a task.
            documents_ingest_queue(
                document_ids=document_ids,
                on_queued=(lambda run: bar.update(len(run))) if settings.CELERY_TASK_ALWAYS_EAGER else None,
            )
            while (pending := documents_pending(document_ids=document_ids).count()) > 0:
                bar.n = len(document_ids) - pending
                bar.refresh()
                time.sleep(poll_seconds)
            bar.n = len(document_ids)
            bar.refresh()
        if settings.CELERY_TASK_ALWAYS_EAGER:
            index_reconcile()  # no worker runs this on start here; it is a no-op when all is in order
        self._summary(collection=collection, report=report, document_ids=document_ids)

    def _summary(self, *, collection: str, report: UploadReport, document_ids: list[int]) -> None:
        documents = Document.objects.filter(id__in=[*document_ids, *(d.id for d in report.rejected)])
        indexed = documents.filter(status=Document.Status.INDEXED)
        failed = documents.filter(status=Document.Status.FAILED).order_by("source_path")
        replaced = Document.objects.filter(
            lineage_id__in=indexed.values("lineage_id"), status=Document.Status.SUPERSEDED
        ).count()
        chunk_total = sum(d.chunk_count for d in indexed)
        self.stdout.write(
            f"{collection}: {indexed.count()} indexed ({chunk_total} chunks), {failed.count()} failed, "
            f"{len(report.duplicates)} already present, {replaced} earlier versions replaced"
        )
        for document in failed:
            self.stdout.write(self.style.WARNING(f"  failed: {document.source_path}: {document.failure_reason}"))
