"""manage.py milvus_fill: fill the Milvus collection (SEARCH_ENGINE=milvus://HOST:PORT) from the vectors the database
keeps, without embedding again: to move an installation from the embedded engine, or to refill a lost Milvus.

Resumable: what the collection already holds is skipped, so a run stopped midway goes on where it stopped.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.embedding import embedder_get
from ingestion.index import MILVUS_WRITE_ROWS, milvus_chunk_store, milvus_fill, search_engine_is_milvus


class Command(BaseCommand):
    help = "Copy the stored chunk vectors of the current embedding model into the Milvus collection (resumable)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=MILVUS_WRITE_ROWS, help="Rows per upsert.")

    def handle(self, *args: object, batch_size: int, **options: object) -> None:
        if not search_engine_is_milvus():
            raise CommandError("SEARCH_ENGINE is not a Milvus address: set SEARCH_ENGINE=milvus://HOST:PORT")
        embedder = embedder_get()
        store = milvus_chunk_store(embedder=embedder)
        with tqdm(unit="chunk", desc=f"filling {store.name}") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            filled = milvus_fill(embedder=embedder, batch_size=batch_size, on_progress=progress)
        self.stdout.write(
            f"{store.uri} collection {store.name}: {filled.added} row(s) added, {filled.already_there} already there; "
            f"it holds {store.count()}"
        )
