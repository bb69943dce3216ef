"""The compressed side of the vector index: one trained IVF-PQ model shared by every large segment.

Why IVF-PQ with exact re-ranking: past a few hundred thousand vectors a flat index costs 4·d bytes a vector in RAM
and a full scan a query. The coarse quantizer (an HNSW graph over the IVF centroids) picks the lists worth scanning,
the PQ codes (d/4 bytes) rank their entries approximately, and the float32 vectors, kept in a memory-mapped file
beside the codes, re-rank that shortlist exactly, so scores stay true cosines and recall stays near exact.

Why one shared model: segments encoded with the same centroids and codebooks merge by moving codes (no re-encoding,
no retraining), and the quantizer is held in memory once, not once per segment.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

HNSW_NEIGHBOURS = 32  # links per node of the coarse quantizer's graph (faiss's usual value)
KMEANS_ITERATIONS = 10  # past ~10 iterations the centroids of a sample barely move; training time matters here
TRAINING_POINTS_PER_LIST = 32  # faiss advises 30-256 points per centroid; the low end keeps training to seconds
MIN_LISTS = 16
GATHER_BLOCK = 256  # rows read per step when scoring exactly (256 × 512 floats = 512 KiB, within L2)
ENCODE_BATCH = 65_536  # vectors encoded per call, so a huge segment is not copied whole into faiss's buffers


@dataclass(frozen=True)
class IndexTuning:
    """When the index turns approximate and how hard it searches; defaults come from settings (see vector_index)."""

    ivf_threshold: int = 100_000  # total vectors from which large segments are IVF-PQ encoded
    ivf_segment_min: int = 4_096  # a segment at least this large is encoded once a trained model exists
    nprobe: int = 128  # inverted lists scanned per query without a filter (bench/README.md: recall vs nprobe)
    rerank_factor: int = 10  # the shortlist re-ranked exactly is k × this (at least RERANK_MIN)
    exact_filter_max: int = 20_000  # a filter allowing at most this many ids is searched exactly over those ids
    retrain_factor: int = 8  # retrain once the index has grown this many times past the size it was trained at
    # OpenMP threads for one query (set for the calling thread only). One query gains little from splitting, and on
    # a busy small host two spinning threads made a flat search of 100k vectors 4x slower (47 vs 12 ms at p50).
    search_threads: int = 1


RERANK_MIN = 100


def list_count_for(*, vector_count: int) -> int:
    """nlist ≈ 4·sqrt(N): the usual balance between the quantizer's cost and the length of the scanned lists."""
    return max(MIN_LISTS, int(4 * math.sqrt(vector_count)))


def _code_bytes(dimension: int) -> int:
    """PQ sub-quantizers: d/4 (4 dimensions each, one byte a code) when d allows, else the largest divisor below."""
    target = max(1, dimension // 4)
    return next(m for m in range(target, 0, -1) if dimension % m == 0)


def ivf_train(*, sample: np.ndarray, vector_count: int) -> faiss.IndexIVFPQ:
    """An empty IVF-PQ index (HNSW coarse quantizer, inner product) trained on a sample of normalised vectors."""
    dimension = sample.shape[1]
    lists = min(list_count_for(vector_count=vector_count), len(sample))
    quantizer = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexIVFPQ(quantizer, dimension, lists, _code_bytes(dimension), 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # centroids of unit vectors compared by inner product belong on the sphere
    index.cp.niter = KMEANS_ITERATIONS
    index.cp.min_points_per_centroid = 1  # small samples are expected in small indexes; no warning spam
    index.pq.cp.min_points_per_centroid = 1
    # k-means assigns with an exact flat index; the HNSW graph is built once, from the final centroids.
    clustering = faiss.IndexFlatIP(dimension)
    index.clustering_index = clustering
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.clustering_index = None
    return index


def ivf_shell(*, trained: faiss.IndexIVFPQ) -> faiss.IndexIVFPQ:
    """An empty index that shares the trained model's quantizer and codebooks (held once in memory)."""
    shell = faiss.IndexIVFPQ(
        trained.quantizer,
        int(trained.d),
        int(trained.nlist),
        int(trained.pq.M),
        int(trained.pq.nbits),
        int(trained.metric_type),
    )
    shell.pq = trained.pq
    shell.by_residual = trained.by_residual
    shell.is_trained = True
    shell.referenced_objects = [trained]  # the quantizer belongs to `trained`: keep it alive as long as the shell
    return shell


def _fsynced_replace(temporary: Path, final: Path) -> None:
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)


def array_write(*, array: np.ndarray, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        np.save(handle, array)
    _fsynced_replace(temporary, path)


class IvfSegment:
    """Codes and ids in memory (the inverted lists); float32 vectors and their ids memory-mapped, rows sorted by id.

    Rows of the vector file are never rewritten for a removal: the removed id leaves the inverted lists and its row
    is marked dead, so removing one document from a large segment rewrites the segment's codes and ids (d/4 + 8
    bytes a vector), not its float32 vectors. Dead rows are dropped when the segment is merged or compacted.
    """

    def __init__(
        self, *, codes: faiss.IndexIVFPQ, vectors: np.ndarray, row_ids: np.ndarray, vectors_name: str | None
    ) -> None:
        self.codes = codes
        self.vectors = vectors
        self.row_ids = row_ids
        self.vectors_name = vectors_name  # None until the vector file is written
        self.live = np.zeros(len(row_ids), dtype=bool)
        listed = self._listed_ids()
        self.live[np.searchsorted(row_ids, listed)] = True

    def _listed_ids(self) -> np.ndarray:
        lists = self.codes.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)

    @property
    def count(self) -> int:
        return int(self.codes.ntotal)

    @property
    def trained(self) -> faiss.IndexIVFPQ:
        return self.codes.referenced_objects[0]

    def live_ids(self) -> np.ndarray:
        return np.asarray(self.row_ids[self.live], dtype=np.int64)

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = np.flatnonzero(self.live)
        return np.asarray(self.row_ids[rows], dtype=np.int64), np.asarray(self.vectors[rows], dtype=np.float32)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the live vectors with these ids (ids not held here are skipped)."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = np.searchsorted(self.row_ids, ids)
        inside = rows < len(self.row_ids)
        rows, ids = rows[inside], ids[inside]
        rows = rows[self.row_ids[rows] == ids]
        return rows[self.live[rows]]

    def remove(self, *, ids: np.ndarray) -> int:
        rows = self.rows_of(ids)
        if len(rows) == 0:
            return 0
        removed = int(self.codes.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(self.row_ids[rows]))))
        self.live[rows] = False
        return removed

    def best_of_rows(self, *, rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best of these rows by exact inner product: (scores, ids)."""
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
        rows = np.sort(rows)  # ascending rows read the memory-mapped file in order
        scores = np.empty(len(rows), dtype=np.float32)
        # In blocks through one small buffer: gathering 10,000 rows at once allocated (and page-faulted) 15 MB a query
        # and evicted the caches the query embedding runs in next.
        block = np.empty((min(len(rows), GATHER_BLOCK), self.vectors.shape[1]), dtype=np.float32)
        for start in range(0, len(rows), GATHER_BLOCK):
            part = rows[start : start + GATHER_BLOCK]
            np.take(self.vectors, part, axis=0, out=block[: len(part)])
            scores[start : start + len(part)] = block[: len(part)] @ query
        if len(rows) > k:
            best = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[best], scores[best]
        return scores, np.asarray(self.row_ids[rows], dtype=np.int64)

    def search_exact(self, *, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k over only these ids: a narrow filter is answered with exact recall."""
        return self.best_of_rows(rows=self.rows_of(ids), query=query, k=k)

    def search_reranked(
        self,
        *,
        query: np.ndarray,
        k: int,
        shortlist: int,
        coarse: tuple[np.ndarray, np.ndarray],
        selector: faiss.IDSelector | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A shortlist from the PQ codes in the lists `coarse` names, re-ranked exactly from the vector file."""
        distances, lists = coarse
        # The C++ call: faiss's Python wrapper of search_preassigned accepts no parameters (no id selector).
        params = faiss.SearchParametersIVF(sel=selector, nprobe=lists.shape[1])
        count = min(shortlist, self.count)
        query_row = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        lists = np.ascontiguousarray(lists, dtype=np.int64)
        distances = np.ascontiguousarray(distances, dtype=np.float32)
        scores = np.empty((1, count), dtype=np.float32)
        ids = np.empty((1, count), dtype=np.int64)
        self.codes.search_preassigned_c(
            1,
            faiss.swig_ptr(query_row),
            count,
            faiss.swig_ptr(lists),
            faiss.swig_ptr(distances),
            faiss.swig_ptr(scores),
            faiss.swig_ptr(ids),
            False,
            params,
        )
        found = ids[0][ids[0] >= 0]
        return self.best_of_rows(rows=self.rows_of(found), query=query, k=k)

    def write(self, *, directory: Path, name: str, vectors_name: str) -> None:
        """Write what is not on disk yet: the vector file (for a new segment) and the inverted lists."""
        if self.vectors_name is None:
            array_write(array=np.asarray(self.vectors, dtype=np.float32), path=directory / f"{vectors_name}.npy")
            array_write(array=np.asarray(self.row_ids, dtype=np.int64), path=directory / f"{vectors_name}.ids.npy")
            self.vectors_name = vectors_name
            # From now on read the vectors from the file: the page cache holds them, not this process's heap.
            self.vectors, self.row_ids = ivf_vectors_open(directory=directory, vectors_name=vectors_name)
        temporary = directory / f".{name}.tmp"
        writer = faiss.FileIOWriter(str(temporary))
        faiss.write_InvertedLists(self.codes.invlists, writer)
        del writer  # faiss closes (and flushes) the file when its writer is destroyed
        _fsynced_replace(temporary, directory / name)


def ivf_vectors_open(*, directory: Path, vectors_name: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.load(directory / f"{vectors_name}.npy", mmap_mode="r"),
        np.load(directory / f"{vectors_name}.ids.npy", mmap_mode="r"),
    )


def ivf_segment_read(*, directory: Path, name: str, vectors_name: str, trained: faiss.IndexIVFPQ) -> IvfSegment:
    reader = faiss.FileIOReader(str(directory / name))
    lists = faiss.read_InvertedLists(reader)
    del reader
    codes = ivf_shell(trained=trained)
    codes.replace_invlists(lists, True)
    codes.ntotal = sum(lists.list_size(number) for number in range(lists.nlist))
    vectors, row_ids = ivf_vectors_open(directory=directory, vectors_name=vectors_name)
    return IvfSegment(codes=codes, vectors=vectors, row_ids=row_ids, vectors_name=vectors_name)


def ivf_segment_build(
    *, trained: faiss.IndexIVFPQ, ids: np.ndarray, vectors: np.ndarray, donors: tuple[IvfSegment, ...] = ()
) -> IvfSegment:
    """A new segment holding ids/vectors (encoded now) plus the donors' entries (codes moved, not re-encoded).

    The donors are emptied: callers must treat them as consumed.
    """
    codes = ivf_shell(trained=trained)
    for start in range(0, len(ids), ENCODE_BATCH):
        codes.add_with_ids(
            np.ascontiguousarray(vectors[start : start + ENCODE_BATCH], dtype=np.float32),
            np.ascontiguousarray(ids[start : start + ENCODE_BATCH], dtype=np.int64),
        )
    all_ids, all_vectors = [ids], [vectors]
    for donor in donors:
        donor_ids, donor_vectors = donor.live_vectors()
        all_ids.append(donor_ids)
        all_vectors.append(donor_vectors)
        if donor.trained is trained:
            codes.merge_from(donor.codes, 0)
        else:  # encoded with an older model: encode again from its exact vectors
            for start in range(0, len(donor_ids), ENCODE_BATCH):
                codes.add_with_ids(donor_vectors[start : start + ENCODE_BATCH], donor_ids[start : start + ENCODE_BATCH])
    merged_ids = np.concatenate(all_ids).astype(np.int64, copy=False)
    # A copy even from one part: `vectors` may be a view into a flat segment that is about to be freed.
    merged_vectors = np.concatenate(all_vectors) if len(all_vectors) > 1 else np.array(vectors, dtype=np.float32)
    order = np.argsort(merged_ids, kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        merged_ids, merged_vectors = merged_ids[order], merged_vectors[order]
    return IvfSegment(codes=codes, vectors=merged_vectors, row_ids=merged_ids, vectors_name=None)
