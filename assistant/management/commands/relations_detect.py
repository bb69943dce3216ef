"""Link editions and repealed or amended documents across all sets, for documents indexed before this was read, or
whose worker was killed between publishing and linking. Safe to run again: links are made once."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ingestion.editions import issuer_find, work_title
from ingestion.models import Document
from ingestion.relations import relations_detect


class Command(BaseCommand):
    help = "Link the editions of one work and the documents that repeal, replace or amend others (all sets)."

    def handle(self, *args: object, **options: object) -> None:
        documents = list(Document.objects.filter(status=Document.Status.INDEXED).order_by("id"))
        for document in documents:
            fields = {"work_title": work_title(document.title), "issuer": document.issuer or issuer_find(document.text)}
            if any(getattr(document, name) != value for name, value in fields.items()):
                Document.objects.filter(id=document.id).update(**fields)
                for name, value in fields.items():
                    setattr(document, name, value)
        created = relations_detect(documents=documents)
        for relation in created:
            self.stdout.write(f"{relation.get_kind_display()}: {relation.newer} → "
                              f"{relation.older if relation.older_id else '《' + relation.named + '》 (not found)'}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} links made over {len(documents)} documents."))
