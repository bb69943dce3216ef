"""The process's view of what can be searched: every indexed chunk with its collection and document, and BM25 over
them, brought up to date from the database by difference, never rebuilt.

One cheap aggregate per search tells whether anything changed; only then are the changed documents' chunks read,
so a web process keeps pace with ingestion without re-tokenising the corpus.
"""

from __future__ import annotations

import threading
from datetime import datetime

from retrieval.lexical import LexicalEntry, LexicalIndex
from retrieval.selectors import searchable_chunk_rows, searchable_documents, searchable_version

ADD_BATCH = 5000  # chunks tokenised and added as one segment


class SearchableChunks:
    def __init__(self) -> None:
        self.lexical = LexicalIndex()
        self._version: tuple | None = None
        self._documents: dict[int, datetime] = {}
        self._chunks_of: dict[int, list[int]] = {}
        self._sync_lock = threading.Lock()

    def sync(self) -> None:
        """Apply the documents indexed, replaced or removed since the last call."""
        version = searchable_version()
        if version == self._version:
            return
        with self._sync_lock:
            if version == self._version:
                return
            documents = searchable_documents()
            changed = [d for d, updated in documents.items() if self._documents.get(d) != updated]
            gone = [d for d in self._documents if d not in documents]
            for document_id in [*changed, *gone]:
                self.lexical.remove(self._chunks_of.pop(document_id, []))
            batch: list[LexicalEntry] = []
            for chunk_id, collection_id, document_id, text in searchable_chunk_rows(document_ids=changed):
                batch.append(LexicalEntry(chunk_id, collection_id, document_id, text))
                self._chunks_of.setdefault(document_id, []).append(chunk_id)
                if len(batch) >= ADD_BATCH:
                    self.lexical.add(batch)
                    batch = []
            self.lexical.add(batch)
            # A document that changed between our two reads is read again next time: its stamp is what we saw.
            self._documents = documents
            self._version = version


_searchable = SearchableChunks()


def searchable_chunks_get() -> SearchableChunks:
    """The process-wide, up-to-date searchable set."""
    _searchable.sync()
    return _searchable
