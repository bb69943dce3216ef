"""The process's view of what can be searched: every indexed chunk with its collection and document, and BM25 over
them, brought up to date from the database by difference, never rebuilt.

One cheap aggregate per search tells whether anything changed; only then are the changed documents' chunks read,
so a web process keeps pace with ingestion without re-tokenising the corpus.

A starting process does not tokenise the corpus either: it maps the BM25 state the last syncing process saved
(retrieval/lexical_store.py, in INDEX_DIR beside the vector segments) and applies only the documents whose update
stamp differs from the saved one. Whichever process applies a change saves the new state, once per database
version: the others find it already saved. A saved state found damaged is not served: the index is built from the
database as on a first start, and saved anew.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from retrieval.lexical import LexicalEntry, LexicalIndex
from retrieval.lexical_store import LexicalStateDamaged, lexical_state_load, lexical_state_save
from retrieval.selectors import searchable_chunk_rows, searchable_documents, searchable_version

logger = logging.getLogger(__name__)

ADD_BATCH = 5000  # chunks tokenised and added as one segment
LEXICAL_FOLDER = "bm25"  # under settings.INDEX_DIR
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def update_stamp(moment: datetime | None) -> int | None:
    """A document's updated_at as whole microseconds since the epoch: exact, and kept as an integer on disk."""
    if moment is None:
        return None
    epoch = _EPOCH if moment.tzinfo is not None else _EPOCH.replace(tzinfo=None)
    return (moment - epoch) // _MICROSECOND


class SearchableChunks:
    def __init__(self, *, directory: Path | None = None) -> None:
        self.lexical = LexicalIndex()
        self._directory = directory
        self._version: list | None = None
        self._documents: dict[int, int] = {}  # document id -> update stamp of the version indexed
        self._started = False
        self._sync_lock = threading.Lock()
        self.started_from = ""  # "disk", "database", or "database (saved state damaged)": how it came up
        self.saves = 0  # states this process saved

    @property
    def directory(self) -> Path:
        return self._directory or Path(settings.INDEX_DIR) / LEXICAL_FOLDER

    def sync(self) -> None:
        """Apply the documents indexed, replaced or removed since the last call (on the first, since the save)."""
        version = self._version_now()
        if version == self._version:
            return
        with self._sync_lock:
            damaged = False
            if not self._started:
                damaged = not self._start()
            if version == self._version:
                return
            documents = {d: update_stamp(updated) for d, updated in searchable_documents().items()}
            changed = [d for d, stamp in documents.items() if self._documents.get(d) != stamp]
            gone = [d for d in self._documents if d not in documents]
            self.lexical.remove_documents([*changed, *gone])
            batch: list[LexicalEntry] = []
            for chunk_id, collection_id, document_id, text in searchable_chunk_rows(document_ids=changed):
                batch.append(LexicalEntry(chunk_id, collection_id, document_id, text))
                if len(batch) >= ADD_BATCH:
                    self.lexical.add(batch)
                    batch = []
            self.lexical.add(batch)
            # A document that changed between our two reads is read again next time: its stamp is what we saw.
            self._documents = documents
            self._version = version
            if changed or gone or damaged:
                self._save(force=damaged)

    @staticmethod
    def _version_now() -> list:
        documents, last_change = searchable_version()
        return [documents, update_stamp(last_change)]  # as JSON keeps it, to compare with the saved one

    def _start(self) -> bool:
        """Take over the saved state, if any; False where it was damaged (then the index starts empty)."""
        self._started = True
        try:
            state = lexical_state_load(directory=self.directory)
        except LexicalStateDamaged as damage:
            logger.error("the saved BM25 index in %s is damaged (%s): building it from the database",
                         self.directory, damage)
            self.started_from = "database (saved state damaged)"
            return False
        if state is None:
            self.started_from = "database"
            return True
        self.lexical, self._documents, self._version = state.index, state.documents, state.version
        self.started_from = "disk"
        return True

    def _save(self, *, force: bool) -> None:
        # A failed save costs the next starting process time, never correctness: log it and serve on.
        try:
            saved = lexical_state_save(
                directory=self.directory, index=self.lexical, documents=self._documents, version=self._version,
                force=force,
            )
        except OSError:
            logger.exception("could not save the BM25 index to %s", self.directory)
            return
        self.saves += saved is not None


_searchable = SearchableChunks()


def searchable_chunks_get() -> SearchableChunks:
    """The process-wide, up-to-date searchable set."""
    _searchable.sync()
    return _searchable
