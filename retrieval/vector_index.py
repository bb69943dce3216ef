"""The FAISS index of chunk vectors, persisted on disk; its ids are chunk primary keys.

Writers take a file lock, reload the newest index, change it, write it beside the live file and swap it in with
os.replace, so a crash mid-write never leaves a partial index and readers in other processes pick up each new
version without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np


@dataclass(frozen=True)
class VectorHit:
    chunk_id: int
    score: float


class VectorIndex:
    """Exact inner-product search over normalised vectors (cosine), with id filtering inside the search."""

    def __init__(self, *, path: Path, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._index: faiss.IndexIDMap2 = self._empty()
        self._loaded_stamp: tuple[int, int, int] | None = None
        self._lock = threading.RLock()

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def refresh(self) -> None:
        """Load the on-disk version if it differs from the one in memory."""
        with self._lock:
            stamp = self._disk_stamp()
            if stamp == self._loaded_stamp:
                return
            if stamp is None:
                self._index = self._empty()
            else:
                loaded = faiss.read_index(str(self.path))
                if loaded.d != self.dimension:
                    raise ValueError(f"index {self.path} has dimension {loaded.d}, the embedder gives {self.dimension}")
                self._index = loaded
            self._loaded_stamp = stamp

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    @contextlib.contextmanager
    def updating(self) -> Iterator[VectorIndex]:
        """Exclusive, crash-safe modification across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_suffix(self.path.suffix + ".lock")
        with open(lock_path, "a+") as lock_file, self._lock:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.refresh()
                yield self
                self._write()
            except BaseException:
                self._loaded_stamp = None  # memory may hold the aborted change: reload from disk next time
                raise
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _write(self) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        faiss.write_index(self._index, str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self._loaded_stamp = self._disk_stamp()

    def add(self, *, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        # Re-adding an id replaces it, so a rerun after a crash never leaves two vectors for one chunk.
        self.remove(ids=ids)
        self._index.add_with_ids(vectors, ids)

    def remove(self, *, ids: np.ndarray | list[int]) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0 or self._index.ntotal == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(self, *, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[VectorHit]:
        """Top-k by cosine; with allowed_ids the filter runs inside FAISS, so k hits come from the allowed set."""
        with self._lock:
            self.refresh()
            if self._index.ntotal == 0 or k <= 0:
                return []
            query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
            params = None
            if allowed_ids is not None:
                allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
                if len(allowed) == 0:
                    return []
                selector = faiss.IDSelectorBatch(allowed)
                params = faiss.SearchParameters(sel=selector)
                k = min(k, len(allowed))
            scores, ids = self._index.search(query, min(k, self._index.ntotal), params=params)
        return [VectorHit(chunk_id=int(i), score=float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


_indexes: dict[Path, VectorIndex] = {}
_indexes_lock = threading.Lock()


def vector_index_get(*, path: Path, dimension: int) -> VectorIndex:
    """One VectorIndex object per file per process, so it is loaded once and refreshed only when the file changes."""
    with _indexes_lock:
        index = _indexes.get(path)
        if index is None or index.dimension != dimension:
            index = _indexes[path] = VectorIndex(path=path, dimension=dimension)
        return index
