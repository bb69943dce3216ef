"""manage.py reembed: after EMBEDDING_MODEL changes, embed the indexed documents again with the new model."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from ingestion.embedding import embedder_get
from ingestion.services import documents_embedded_with_other_model, documents_reembed


class Command(BaseCommand):
    help = "Embed again, with the current EMBEDDING_MODEL, every indexed document embedded with another model."

    def handle(self, *args: object, **options: object) -> None:
        embedder = embedder_get()
        pending = documents_embedded_with_other_model(embedder=embedder).count()
        if not pending:
            self.stdout.write(f"every indexed document is embedded with {embedder.name}")
            return
        with tqdm(total=pending, unit="doc", desc=f"embedding with {embedder.name}") as bar:
            done = documents_reembed(embedder=embedder, on_document=lambda _: bar.update(1))
        skipped = pending - done
        note = f"; {skipped} being ingested meanwhile (their run embeds them with it)" if skipped else ""
        self.stdout.write(f"{done} document(s) embedded again with {embedder.name}{note}")
