"""The FAISS index of chunk vectors on disk: immutable segment files listed by a manifest; ids are chunk primary keys.

Why segments: indexing one document writes one small file instead of rewriting an index of a million vectors, so
ingestion keeps pace with the embedder. Segments of similar size are merged in tiers (like Lucene), which keeps their
number logarithmic in the index size.

Why a manifest: writers take a file lock, write new segment files, then write a new manifest beside the live one and
swap it in with os.replace. A crash at any point leaves the previous manifest and its complete segments being served,
never a partial index; readers in other processes notice the new manifest and load it without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MERGE_FACTOR = 8  # this many segments of one size tier are merged into one


@dataclass(frozen=True)
class VectorHit:
    chunk_id: int
    score: float


def _size_tier(count: int) -> int:
    return int(math.log(max(count, 1), MERGE_FACTOR))


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class VectorIndex:
    """Exact inner-product search over normalised vectors (cosine), with id filtering inside the search."""

    def __init__(self, *, directory: Path, dimension: int) -> None:
        self.directory = directory
        self.dimension = dimension
        self._segments: dict[str, faiss.IndexIDMap2] = {}
        self._generation = 0
        self._loaded_stamp: tuple[int, int, int] | None = None
        self._dirty: set[str] = set()
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._written_count = 0
        self._lock = threading.RLock()

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_NAME

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def refresh(self) -> None:
        """Load the on-disk version if it differs from the one in memory."""
        with self._lock:
            for attempt in range(5):
                try:
                    self._load_manifest()
                    return
                except FileNotFoundError:
                    # A writer swapped the manifest and removed a segment between our two reads: read again.
                    if attempt == 4:
                        raise

    def _load_manifest(self) -> None:
        stamp = self._disk_stamp()
        if stamp == self._loaded_stamp:
            return
        if stamp is None:
            self._segments, self._generation = {}, 0
        else:
            manifest = json.loads(self.manifest_path.read_text())
            if manifest["dimension"] != self.dimension:
                raise ValueError(
                    f"index {self.directory} has dimension {manifest['dimension']}, the embedder gives {self.dimension}"
                )
            segments: dict[str, faiss.IndexIDMap2] = {}
            for name in manifest["segments"]:
                # Segment files never change once written, so one already in memory is reused as is.
                segments[name] = self._segments.get(name) or faiss.read_index(str(self.directory / name))
            self._segments, self._generation = segments, manifest["generation"]
        self._loaded_stamp = stamp

    @property
    def size(self) -> int:
        with self._lock:
            return sum(int(segment.ntotal) for segment in self._segments.values())

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def ids(self) -> np.ndarray:
        with self._lock:
            self.refresh()
            arrays = [faiss.vector_to_array(segment.id_map).astype(np.int64) for segment in self._segments.values()]
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)

    @contextlib.contextmanager
    def updating(self) -> Iterator[VectorIndex]:
        """Exclusive, crash-safe modification across processes; the change is published when the block exits."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as lock_file, self._lock:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.refresh()
                self._dirty, self._pending = set(), []
                yield self
                self._commit()
            except BaseException:
                # Memory may hold the aborted change: forget it and reload what is on disk next time.
                self._segments = {n: s for n, s in self._segments.items() if n not in self._dirty}
                self._loaded_stamp = None
                raise
            finally:
                self._dirty, self._pending = set(), []
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def add(self, *, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Inside updating(): re-adding an id replaces it, so a rerun after a crash never leaves two vectors."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        if len(ids) == 0:
            return
        self.remove(ids=ids)
        self._pending.append((ids, vectors))

    def remove(self, *, ids: np.ndarray | list[int]) -> int:
        """Inside updating(): drop these ids wherever they are (segments holding them are rewritten)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        removed = 0
        for name, segment in self._segments.items():
            present = np.isin(faiss.vector_to_array(segment.id_map), ids)
            if present.any():
                removed += int(segment.remove_ids(faiss.IDSelectorBatch(ids)))
                self._dirty.add(name)
        kept = []
        for pending_ids, pending_vectors in self._pending:
            mask = ~np.isin(pending_ids, ids)
            removed += int((~mask).sum())
            kept.append((pending_ids[mask], pending_vectors[mask]))
        self._pending = kept
        return removed

    def _commit(self) -> None:
        if not self._dirty and not any(len(ids) for ids, _ in self._pending):
            return
        generation = self._generation + 1
        self._written_count = 0
        written: dict[str, faiss.IndexIDMap2] = {}
        for name, segment in self._segments.items():
            if name not in self._dirty:
                written[name] = segment
            elif segment.ntotal > 0:
                written[self._segment_write(segment, generation)] = segment
        pending_ids = [ids for ids, _ in self._pending if len(ids)]
        if pending_ids:
            segment = self._empty()
            segment.add_with_ids(
                np.concatenate([v for ids, v in self._pending if len(ids)]), np.concatenate(pending_ids)
            )
            written[self._segment_write(segment, generation)] = segment
        written = self._merge_tiers(written, generation)

        temporary = self.directory / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
        manifest = {"dimension": self.dimension, "generation": generation, "segments": list(written)}
        with open(temporary, "w") as handle:
            json.dump(manifest, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.manifest_path)
        _fsync_directory(self.directory)
        self._segments, self._generation = written, generation
        self._loaded_stamp = self._disk_stamp()
        self._delete_unreferenced()

    def _segment_write(self, segment: faiss.IndexIDMap2, generation: int) -> str:
        self._written_count += 1
        name = f"segment-{generation:09d}-{self._written_count:04d}.faiss"
        temporary = self.directory / f".{name}.tmp"
        faiss.write_index(segment, str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / name)
        return name

    def _merge_tiers(self, segments: dict[str, faiss.IndexIDMap2], generation: int) -> dict[str, faiss.IndexIDMap2]:
        while True:
            tiers: dict[int, list[str]] = {}
            for name, segment in segments.items():
                tiers.setdefault(_size_tier(int(segment.ntotal)), []).append(name)
            full = next((names for names in tiers.values() if len(names) >= MERGE_FACTOR), None)
            if full is None:
                return segments
            merged = self._empty()
            for name in full:
                segment = segments.pop(name)
                vectors = segment.index.reconstruct_n(0, segment.ntotal)
                merged.add_with_ids(vectors, faiss.vector_to_array(segment.id_map).astype(np.int64))
            segments[self._segment_write(merged, generation)] = merged

    def _delete_unreferenced(self) -> None:
        """Under the lock: segments no manifest names any more, and what a writer killed mid-write left behind."""
        live = set(self._segments)
        for path in self.directory.glob("segment-*.faiss"):
            if path.name not in live:
                path.unlink(missing_ok=True)
        for path in self.directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    def search(self, *, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[VectorHit]:
        """Top-k by cosine; with allowed_ids the filter runs inside FAISS, so k hits come from the allowed set."""
        with self._lock:
            self.refresh()
            if k <= 0 or not self._segments:
                return []
            query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
            params = None
            if allowed_ids is not None:
                allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
                if len(allowed) == 0:
                    return []
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                k = min(k, len(allowed))
            hits: list[tuple[float, int]] = []
            for segment in self._segments.values():
                if segment.ntotal == 0:
                    continue
                scores, ids = segment.search(query, min(k, int(segment.ntotal)), params=params)
                hits.extend((float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0)
        best = heapq.nlargest(k, hits, key=lambda hit: (hit[0], -hit[1]))
        return [VectorHit(chunk_id=chunk_id, score=score) for score, chunk_id in best]


_indexes: dict[Path, VectorIndex] = {}
_indexes_lock = threading.Lock()


def vector_index_get(*, directory: Path, dimension: int) -> VectorIndex:
    """One VectorIndex object per folder per process, loaded once and refreshed only when the manifest changes."""
    with _indexes_lock:
        index = _indexes.get(directory)
        if index is None or index.dimension != dimension:
            index = _indexes[directory] = VectorIndex(directory=directory, dimension=dimension)
        return index
