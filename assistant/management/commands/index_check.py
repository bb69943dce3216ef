"""manage.py index_check: check every file of the vector index against its checksum; rebuild it if one is damaged.

A process checks each file when it loads it; this checks what is on disk now, under processes that loaded the index
earlier (e.g. from cron). Exit status 1 when damage was found (and repaired unless --no-repair).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index


class Command(BaseCommand):
    help = "Check the vector index files against their checksums and rebuild the index from the database if damaged."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-repair", action="store_true", help="Only report damaged files.")

    def handle(self, *args: object, no_repair: bool, **options: object) -> None:
        index = chunk_vector_index(embedder=embedder_get())
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
