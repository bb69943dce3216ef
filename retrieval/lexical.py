"""BM25 over chunks: jieba for Chinese, Snowball stemming for English, updated in place as documents come and go.

Why segments: a document indexed or removed must not cost a rebuild of the whole index. Added chunks form a new
immutable segment (a sparse term-by-chunk matrix of raw term frequencies); removed chunks are only marked dead.
BM25's corpus statistics (live chunk count, average length, document frequency) are computed at query time from the
live rows, so an update never rewrites what is already there. Small segments are merged, dropping dead rows, so the
segment count stays small.

Filters run inside the search: only rows of the allowed collections or documents are scored, so a small permitted
share still gets its full k results.

Segments are saved to disk and memory-mapped back by retrieval/lexical_store.py, so a starting process need not
tokenise the corpus again.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from vectorstore.analysis import tokenize  # one tokenizer for both engines (Milvus indexes the same terms)

BM25_K1 = 1.2  # Lucene's defaults: term-frequency saturation and length normalisation
BM25_B = 0.75
MERGE_SEGMENTS_ABOVE = 12  # more segments than this and the small ones are merged into one

__all__ = ["BM25_B", "BM25_K1", "LexicalEntry", "LexicalHit", "LexicalIndex", "tokenize"]


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    score: float


@dataclass(frozen=True)
class LexicalEntry:
    chunk_id: int
    collection_id: int
    document_id: int
    text: str


class LexicalSegment:
    """Immutable rows of chunks: term frequencies column-major (CSC: a query term reads one column) and each row's
    chunk, collection, document and length. Only the dead flags change. The arrays may be read-only memory-mapped
    files (retrieval/lexical_store.py); stored_name names those files once the segment is saved."""

    def __init__(
        self,
        *,
        chunk_ids: np.ndarray,
        collection_ids: np.ndarray,
        document_ids: np.ndarray,
        lengths: np.ndarray,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        dead: np.ndarray | None = None,
        stored_name: str | None = None,
    ) -> None:
        self.chunk_ids = chunk_ids
        self.collection_ids = collection_ids
        self.document_ids = document_ids
        self.lengths = lengths
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.dead = np.zeros(len(chunk_ids), dtype=bool) if dead is None else dead
        self.stored_name = stored_name

    @classmethod
    def from_matrix(cls, *, frequencies: sparse.csc_matrix, **rows: np.ndarray) -> LexicalSegment:
        return cls(indptr=frequencies.indptr, indices=frequencies.indices, data=frequencies.data, **rows)

    @property
    def width(self) -> int:
        """The vocabulary size when the segment was built: later terms have no column here."""
        return len(self.indptr) - 1

    @property
    def live_count(self) -> int:
        return int(len(self.chunk_ids) - self.dead.sum())

    def frequencies(self) -> sparse.csc_matrix:
        return sparse.csc_matrix((self.data, self.indices, self.indptr), shape=(len(self.chunk_ids), self.width))

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        if term_id >= self.width:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.indices[start:end], self.data[start:end]


class LexicalIndex:
    """BM25 over a changing set of chunks. Thread-safe: readers and the updater share one lock."""

    def __init__(self) -> None:
        self._vocabulary: dict[str, int] = {}
        self._segments: list[LexicalSegment] = []
        # chunk id -> its live row, for an index built here. A restored one has none (building it would cost about
        # a second per million chunks at start): it finds chunks by a scan of the segments' arrays instead.
        self._where: dict[int, tuple[LexicalSegment, int]] | None = {}
        self._lock = threading.RLock()

    @classmethod
    def restored(cls, *, terms: list[str], segments: list[LexicalSegment]) -> LexicalIndex:
        """An index over saved segments; terms are the vocabulary in term-id order."""
        index = cls()
        index._vocabulary = dict(zip(terms, range(len(terms)), strict=True))
        index._segments = [s for s in segments if s.live_count > 0]
        index._where = None
        return index

    def snapshot(self) -> tuple[list[str], list[tuple[LexicalSegment, np.ndarray]]]:
        """The vocabulary in term-id order and each segment with a copy of its dead flags: a consistent view to save
        while searches and updates go on (a segment's other arrays never change)."""
        with self._lock:
            terms = list(self._vocabulary)  # ids are handed out in insertion order
            return terms, [(segment, segment.dead.copy()) for segment in self._segments]

    @property
    def size(self) -> int:
        with self._lock:
            return sum(s.live_count for s in self._segments)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def __contains__(self, chunk_id: int) -> bool:
        with self._lock:
            if self._where is None:
                return any(bool((s.chunk_ids[~s.dead] == chunk_id).any()) for s in self._segments)
            return chunk_id in self._where

    def add(self, entries: Iterable[LexicalEntry]) -> None:
        """Index these chunks as one new segment; a chunk id already present is replaced."""
        entries = list(entries)
        if not entries:
            return
        # Tokenising is the slow part: done outside the lock, so searches go on meanwhile.
        token_counts = [Counter(tokenize(entry.text)) for entry in entries]
        with self._lock:
            self.remove(entry.chunk_id for entry in entries)
            rows: list[int] = []
            columns: list[int] = []
            counts: list[int] = []
            for row, counter in enumerate(token_counts):
                for term, count in counter.items():
                    column = self._vocabulary.setdefault(term, len(self._vocabulary))
                    rows.append(row)
                    columns.append(column)
                    counts.append(count)
            frequencies = sparse.csc_matrix(
                (np.asarray(counts, dtype=np.float32), (np.asarray(rows), np.asarray(columns))),
                shape=(len(entries), len(self._vocabulary)),
            )
            segment = LexicalSegment.from_matrix(
                frequencies=frequencies,
                chunk_ids=np.fromiter((e.chunk_id for e in entries), dtype=np.int64, count=len(entries)),
                collection_ids=np.fromiter((e.collection_id for e in entries), dtype=np.int64, count=len(entries)),
                document_ids=np.fromiter((e.document_id for e in entries), dtype=np.int64, count=len(entries)),
                lengths=np.fromiter((sum(c.values()) for c in token_counts), dtype=np.float32, count=len(entries)),
            )
            self._segments.append(segment)
            if self._where is not None:
                for row, chunk_id in enumerate(segment.chunk_ids.tolist()):
                    self._where[chunk_id] = (segment, row)
            if len(self._segments) > MERGE_SEGMENTS_ABOVE:
                self._merge_small_segments()

    def remove(self, chunk_ids: Iterable[int]) -> int:
        removed = 0
        with self._lock:
            if self._where is None:
                return self._remove_rows(column="chunk_ids", values=np.fromiter(chunk_ids, dtype=np.int64))
            for chunk_id in chunk_ids:
                found = self._where.pop(int(chunk_id), None)
                if found is not None:
                    segment, row = found
                    segment.dead[row] = True
                    removed += 1
            self._segments = [s for s in self._segments if s.live_count > 0]
        return removed

    def remove_documents(self, document_ids: Iterable[int]) -> int:
        """Mark dead every live chunk of these documents (found by the segments' arrays, no per-chunk bookkeeping)."""
        with self._lock:
            return self._remove_rows(column="document_ids", values=np.fromiter(document_ids, dtype=np.int64))

    def _remove_rows(self, *, column: str, values: np.ndarray) -> int:
        """Under the lock: mark dead the live rows whose chunk_ids or document_ids is one of values."""
        if len(values) == 0:
            return 0
        gone = []
        for segment in self._segments:
            rows = np.flatnonzero(np.isin(getattr(segment, column), values) & ~segment.dead)
            segment.dead[rows] = True
            gone.append(segment.chunk_ids[rows])
        chunk_ids = np.concatenate(gone) if gone else np.empty(0, dtype=np.int64)
        if self._where is not None:
            for chunk_id in chunk_ids.tolist():
                self._where.pop(chunk_id, None)
        self._segments = [s for s in self._segments if s.live_count > 0]
        return len(chunk_ids)

    def _merge_small_segments(self) -> None:
        """Merge every segment smaller than the largest into one, dropping dead rows (under the lock)."""
        largest = max(self._segments, key=lambda s: s.live_count)
        small = [s for s in self._segments if s is not largest]
        width = len(self._vocabulary)
        parts = []
        for segment in small:
            live = ~segment.dead
            matrix = segment.frequencies().tocsr()[live]
            matrix.resize((matrix.shape[0], width))
            parts.append((segment, live, matrix))
        merged = LexicalSegment.from_matrix(
            frequencies=sparse.vstack([m for _, _, m in parts], format="csc"),
            chunk_ids=np.concatenate([s.chunk_ids[live] for s, live, _ in parts]),
            collection_ids=np.concatenate([s.collection_ids[live] for s, live, _ in parts]),
            document_ids=np.concatenate([s.document_ids[live] for s, live, _ in parts]),
            lengths=np.concatenate([s.lengths[live] for s, live, _ in parts]),
        )
        self._segments = [largest, merged]
        if self._where is not None:
            for row, chunk_id in enumerate(merged.chunk_ids.tolist()):
                self._where[chunk_id] = (merged, row)

    def chunk_ids(
        self, *, collection_ids: Iterable[int] | None = None, document_ids: Iterable[int] | None = None
    ) -> np.ndarray:
        """Live chunk ids, optionally only of these collections and/or documents."""
        with self._lock:
            arrays = [s.chunk_ids[self._allowed_rows(s, collection_ids, document_ids)] for s in self._segments]
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)

    @staticmethod
    def _allowed_rows(
        segment: LexicalSegment, collection_ids: Iterable[int] | None, document_ids: Iterable[int] | None
    ) -> np.ndarray:
        allowed = ~segment.dead
        if collection_ids is not None:
            allowed &= np.isin(segment.collection_ids, np.fromiter(collection_ids, dtype=np.int64))
        if document_ids is not None:
            allowed &= np.isin(segment.document_ids, np.fromiter(document_ids, dtype=np.int64))
        return allowed

    def search(
        self,
        *,
        query: str,
        k: int,
        collection_ids: Iterable[int] | None = None,
        document_ids: Iterable[int] | None = None,
    ) -> list[LexicalHit]:
        """The k best chunks by BM25 among the allowed ones; statistics are those of the whole live index."""
        term_ids = list(dict.fromkeys(self._vocabulary[t] for t in tokenize(query) if t in self._vocabulary))
        if k <= 0 or not term_ids:
            return []
        collection_ids = None if collection_ids is None else list(collection_ids)
        document_ids = None if document_ids is None else list(document_ids)
        with self._lock:
            segments = list(self._segments)
            live_total = sum(s.live_count for s in segments)
            if live_total == 0:
                return []
            average_length = sum(float(s.lengths[~s.dead].sum()) for s in segments) / live_total
            document_frequency = {t: sum(int((~s.dead[s.postings(t)[0]]).sum()) for s in segments) for t in term_ids}
            candidates: list[tuple[np.ndarray, np.ndarray]] = []
            for segment in segments:
                allowed = self._allowed_rows(segment, collection_ids, document_ids)
                if not allowed.any():
                    continue
                norm = BM25_K1 * (1 - BM25_B + BM25_B * segment.lengths / average_length)
                scores = np.zeros(len(segment.chunk_ids), dtype=np.float32)
                for term_id in term_ids:
                    rows, frequencies = segment.postings(term_id)
                    if len(rows) == 0:
                        continue
                    df = document_frequency[term_id]
                    idf = math.log(1 + (live_total - df + 0.5) / (df + 0.5))
                    scores[rows] += idf * frequencies * (BM25_K1 + 1) / (frequencies + norm[rows])
                scores[~allowed] = 0
                best = _top(scores, k)
                candidates.append((segment.chunk_ids[best], scores[best]))
        if not candidates:
            return []
        ids = np.concatenate([c[0] for c in candidates])
        scores = np.concatenate([c[1] for c in candidates])
        order = np.lexsort((ids, -scores))[:k]
        return [LexicalHit(chunk_id=int(ids[i]), score=float(scores[i])) for i in order if scores[i] > 0]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if len(scores) <= k:
        return np.flatnonzero(scores > 0)
    best = np.argpartition(-scores, k)[:k]
    return best[scores[best] > 0]
