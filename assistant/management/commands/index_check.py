"""manage.py index_check: compare the search index with the database, for either engine, and repair it.

Embedded engine: every file of the vector index is checked against its checksum (a process checks each file when it
loads it; this checks what is on disk now, under processes that loaded the index earlier, e.g. from cron), and the
index is rebuilt from the database if one is damaged. Both engines: the number of vectors the index holds is
compared with the chunks the database says it should hold; on a difference the index is reconciled (extra rows
removed, missing ones added from the stored vectors). Exit status 1 when something was wrong (and repaired unless
--no-repair), 2 when the repair did not fix it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ingestion.embedding import Embedder, embedder_get
from ingestion.index import MilvusChunkIndex, chunk_vector_index, indexable_chunks
from ingestion.services import index_reconcile
from vectorstore.segments import VectorIndex


class Command(BaseCommand):
    help = "Check the search index against the database (counts; for the embedded engine also file checksums)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-repair", action="store_true", help="Only report what is wrong.")

    def handle(self, *args: object, no_repair: bool, **options: object) -> None:
        embedder = embedder_get()
        index = chunk_vector_index(embedder=embedder)
        if isinstance(index, VectorIndex):
            self._check_files(index=index, no_repair=no_repair)
        self._check_counts(index=index, embedder=embedder, no_repair=no_repair)

    def _check_files(self, *, index: VectorIndex, no_repair: bool) -> None:
        damaged = index.damaged_files()
        if not damaged:
            self.stdout.write(f"{index.directory}: every file matches its checksum")
            return
        self.stderr.write(f"{index.directory}: damaged: {', '.join(damaged)}")
        if no_repair:
            raise CommandError("the vector index is damaged (not repaired: --no-repair)", returncode=1)
        index.repair()
        left = index.damaged_files()
        if left:
            raise CommandError(f"still damaged after the rebuild: {', '.join(left)}", returncode=2)
        self.stderr.write(f"rebuilt from the database: {index.size} vectors")
        raise CommandError("the vector index was damaged and has been rebuilt", returncode=1)

    def _check_counts(self, *, index: VectorIndex | MilvusChunkIndex, embedder: Embedder, no_repair: bool) -> None:
        wanted = indexable_chunks(embedding_model=embedder.name).count()
        held = index.size
        if held == wanted:
            self.stdout.write(f"{index.directory}: {held} vectors, as many as the database's indexed chunks")
            return
        self.stderr.write(f"{index.directory}: {held} vectors, but the database has {wanted} indexed chunks")
        if no_repair:
            raise CommandError("the index and the database differ (not repaired: --no-repair)", returncode=1)
        done = index_reconcile(embedder=embedder)
        held = chunk_vector_index(embedder=embedder).size
        if held != wanted:
            raise CommandError(f"still {held} vectors for {wanted} chunks after reconciling", returncode=2)
        self.stderr.write(f"reconciled: {done.added} added, {done.removed} removed")
        raise CommandError("the index differed from the database and has been reconciled", returncode=1)
