"""The FAISS index of chunk vectors on disk: immutable segment files listed by a manifest; ids are chunk primary keys.

Why segments: indexing one document writes one small file instead of rewriting an index of a million vectors, so
ingestion keeps pace with the embedder. Segments of similar size are merged in tiers (like Lucene), which keeps their
number logarithmic in the index size.

Why a manifest: writers take a file lock, write new segment files, then write a new manifest beside the live one and
swap it in with os.replace. A crash at any point leaves the previous manifest and its complete segments being served,
never a partial index; readers in other processes notice the new manifest and load it without a restart.

Why checksums: the manifest records the sha256 of every file it names. A file altered or cut short on disk after it
was written (a full disk, a bad copy, a restore gone wrong) fails its check when a process loads it and is never
searched: the index is rebuilt from the vectors the database keeps (`rebuild_source`, set by ingestion/index.py), or,
without a source, the load raises IndexCorrupted. A segment already in memory was checked when it was loaded.

Why two kinds of segment: while the index is small every segment is exact (flat). Once it holds
`ivf_threshold` vectors, one IVF-PQ model is trained on a sample (vectorstore/ivf.py) and every segment of at least
`ivf_segment_min` vectors is encoded with it; new small segments stay flat until tier merges make them large.
Adding never retrains; the model is retrained, and the codes re-encoded from the kept float32 vectors, only once the
index has grown `retrain_factor` times past the size it was trained at. Every returned score is an exact cosine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import heapq
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vectorstore.ivf import (
    RERANK_MIN,
    TRAINING_POINTS_PER_LIST,
    IndexTuning,
    IvfSegment,
    ivf_segment_build,
    ivf_segment_read,
    ivf_shell,
    ivf_train,
    list_count_for,
)

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MERGE_FACTOR = 8  # this many segments of one size tier are merged into one
IVF_MIN_VECTORS = 1_024  # below this a PQ codebook (256 centroids per sub-quantizer) cannot be trained sensibly
COMPACT_BELOW = 0.5  # an IVF segment whose live share of its vector file falls below this is rewritten compactly
SETTINGS_PREFIX = "VECTOR_INDEX_"


@dataclass(frozen=True)
class VectorHit:
    chunk_id: int
    score: float


class IndexCorrupted(Exception):
    """A file the manifest names is missing, cut short or altered: its content must not be searched."""


# Every vector of the index, as (ids, vectors), from where they are kept for good (the database's ChunkVector rows).
RebuildSource = Callable[[], tuple[np.ndarray, np.ndarray]]


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _segment_files(*, name: str, segment: Segment | None, vectors_name: str | None = None) -> list[str]:
    """The files a segment is read from: one for a flat segment; lists, vectors and row ids for an IVF one."""
    vectors_name = vectors_name or getattr(segment, "vectors_name", None)
    if name.endswith(".lists"):
        return [name, f"{vectors_name}.npy", f"{vectors_name}.ids.npy"]
    return [name]


def index_tuning_from_settings() -> IndexTuning:
    """IndexTuning with each field overridable by the setting (or environment variable) VECTOR_INDEX_<FIELD>."""
    try:
        from django.conf import settings

        configured = settings.configured
    except ImportError:  # used outside Django (scripts): environment variables only
        configured = False
    values: dict[str, int] = {}
    for field in dataclasses.fields(IndexTuning):
        name = SETTINGS_PREFIX + field.name.upper()
        value = getattr(settings, name, None) if configured else None
        if value is None:
            value = os.environ.get(name)
        if value is not None:
            values[field.name] = int(value)
    return IndexTuning(**values)


def _size_tier(count: int) -> int:
    return int(math.log(max(count, 1), MERGE_FACTOR))


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in this folder durable (the folder's own entry, not only the file's data)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _gpu_count() -> int:
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def _gpu_copy(index: faiss.Index) -> faiss.Index | None:
    """The index copied to every GPU for unfiltered search; None where there is no GPU or the copy fails.

    Not exercised by the tests: this project's machines run faiss-cpu. A failed copy falls back to the CPU index.
    """
    if _gpu_count() == 0:
        return None
    try:
        return faiss.index_cpu_to_all_gpus(index)
    except Exception:  # faiss raises RuntimeError for unsupported index types or parameters on the GPU
        logger.warning("could not copy a %s to the GPU; searching it on the CPU", type(index).__name__, exc_info=True)
        return None


@contextlib.contextmanager
def _omp_threads(count: int) -> Iterator[None]:
    """OpenMP's thread count is per calling thread: other threads (a writer training the model) keep theirs."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class FlatSegment:
    """Exact search over the segment's vectors (IndexIDMap2 over IndexFlatIP)."""

    def __init__(self, *, index: faiss.IndexIDMap2) -> None:
        self.index = index
        self._gpu: faiss.Index | None = None
        self._gpu_tried = False

    @classmethod
    def from_vectors(cls, *, ids: np.ndarray, vectors: np.ndarray, dimension: int) -> FlatSegment:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64))
        return cls(index=index)

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def live_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vector_view(self) -> np.ndarray:
        """The stored vectors without a copy (valid while the segment is unchanged)."""
        flat = faiss.downcast_index(self.index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), self.count * flat.d).reshape(self.count, flat.d)

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        return self.live_ids(), np.array(self.vector_view())

    def remove(self, *, ids: np.ndarray) -> int:
        if not np.isin(self.live_ids(), ids).any():
            return 0
        self._gpu, self._gpu_tried = None, False
        return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))

    def search(self, *, query: np.ndarray, k: int, selector: faiss.IDSelector | None) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.count)
        index = self.index
        if selector is None:
            if not self._gpu_tried:
                self._gpu, self._gpu_tried = _gpu_copy(self.index), True
            index = self._gpu or index
        params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = index.search(query.reshape(1, -1), k, params=params)
        found = ids[0] >= 0
        return scores[0][found], ids[0][found]

    def write(self, *, directory: Path, name: str) -> None:
        temporary = directory / f".{name}.tmp"
        faiss.write_index(self.index, str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, directory / name)


Segment = FlatSegment | IvfSegment


@dataclass
class _Trained:
    """The IVF-PQ model the IVF segments are encoded with, and the index size it was trained at."""

    model: faiss.IndexIVFPQ
    name: str | None  # its file; None until written
    size: int


class _Filter:
    """allowed_ids prepared once per query; the faiss selector is built only if a segment needs it."""

    def __init__(self, *, allowed: np.ndarray) -> None:
        self.allowed = allowed
        self._selector: faiss.IDSelector | None = None
        self._bitmap: np.ndarray | None = None  # faiss reads it by pointer: it must live as long as the selector

    @property
    def selector(self) -> faiss.IDSelector:
        if self._selector is None:
            largest = int(self.allowed.max())
            if self.allowed.min() >= 0 and largest < max(8 * 1024 * 1024, 16 * len(self.allowed)):
                # Chunk ids are dense primary keys: a bitmap is built in numpy at C speed and tested in O(1),
                # where IDSelectorBatch inserts every id into a hash set one by one.
                flags = np.zeros(largest + 1, dtype=bool)
                flags[self.allowed] = True
                self._bitmap = np.packbits(flags, bitorder="little")
                # n is the bitmap's length in bytes: ids past it are not members.
                self._selector = faiss.IDSelectorBitmap(len(self._bitmap), faiss.swig_ptr(self._bitmap))
            else:
                self._selector = faiss.IDSelectorBatch(self.allowed)
        return self._selector


class VectorIndex:
    """Inner-product search over normalised vectors (cosine), with id filtering inside the search."""

    def __init__(self, *, directory: Path, dimension: int, tuning: IndexTuning | None = None) -> None:
        self.directory = directory
        self.dimension = dimension
        self.tuning = tuning or index_tuning_from_settings()
        self._segments: dict[str, Segment] = {}
        self._trained: _Trained | None = None
        self._generation = 0
        self._loaded_stamp: tuple[int, int, int] | None = None
        self._dirty: set[str] = set()
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._written_count = 0
        self._lock = threading.RLock()
        self._checksums: dict[str, str] = {}  # file name -> sha256, of the files the loaded manifest names
        self.rebuild_source: RebuildSource | None = None
        self.rebuilds = 0  # how many times this process found the index damaged and rebuilt it

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_NAME

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def refresh(self, *, locked: bool = False) -> None:
        """Load the on-disk version if it differs from the one in memory; a damaged one is rebuilt, never served.

        locked: the caller holds the writers' file lock (inside updating()).
        """
        with self._lock:
            try:
                for attempt in range(5):
                    try:
                        self._load_manifest()
                        return
                    except FileNotFoundError as missing:
                        # A writer swapped the manifest and removed a segment between our two reads: read again.
                        # Still missing after that, the manifest names a file that is gone: the index is damaged.
                        if attempt == 4:
                            raise IndexCorrupted(f"{missing.filename} is missing") from missing
            except IndexCorrupted as damage:
                self._recover(damage=damage, locked=locked)

    def _verified(self, *, names: list[str], checksums: dict[str, str] | None) -> None:
        """Raise IndexCorrupted unless each file has the sha256 the manifest recorded for it."""
        if checksums is None:
            return  # a manifest written before checksums: its files are read unchecked until the next commit
        for name in names:
            expected = checksums.get(name)
            if expected is None:
                raise IndexCorrupted(f"{name} has no checksum in the manifest")
            if file_sha256(self.directory / name) != expected:
                raise IndexCorrupted(f"{name} does not match its checksum (cut short or altered)")

    def _load_manifest(self) -> None:
        stamp = self._disk_stamp()
        if stamp == self._loaded_stamp:
            return
        if stamp is None:
            self._segments, self._trained, self._generation, self._checksums = {}, None, 0, {}
        else:
            try:
                manifest = json.loads(self.manifest_path.read_text())
                if not isinstance(manifest, dict) or not {"dimension", "generation", "segments"} <= manifest.keys():
                    raise ValueError("fields are missing")
            except ValueError as error:
                raise IndexCorrupted(f"{self.manifest_path.name} cannot be read ({error})") from error
            checksums = manifest.get("checksums")  # absent in manifests written before checksums existed
            if manifest["dimension"] != self.dimension:
                raise ValueError(
                    f"index {self.directory} has dimension {manifest['dimension']}, the embedder gives {self.dimension}"
                )
            trained = self._trained
            described = manifest.get("trained")  # absent in manifests written before IVF segments existed
            if described is None:
                trained = None
            elif trained is None or trained.name != described["file"]:
                self._verified(names=[described["file"]], checksums=checksums)
                model = self._read(lambda: faiss.read_index(str(self.directory / described["file"])))
                trained = _Trained(model=model, name=described["file"], size=described["size"])
            vector_files = manifest.get("vectors", {})
            segments: dict[str, Segment] = {}
            for name in manifest["segments"]:
                # Segment files never change once written, so one already in memory is reused as is.
                segment = self._segments.get(name)
                if segment is None:
                    self._verified(
                        names=_segment_files(name=name, segment=None, vectors_name=vector_files.get(name)),
                        checksums=checksums,
                    )
                if segment is None and name.endswith(".lists"):
                    segment = self._read(lambda name=name: ivf_segment_read(
                        directory=self.directory, name=name, vectors_name=vector_files[name], trained=trained.model
                    ))
                elif segment is None:
                    segment = FlatSegment(index=self._read(lambda name=name: faiss.read_index(
                        str(self.directory / name)
                    )))
                segments[name] = segment
            self._segments, self._trained, self._generation = segments, trained, manifest["generation"]
            self._checksums = dict(checksums or {})
        self._loaded_stamp = stamp

    @staticmethod
    def _read(reader: Callable[[], object]) -> object:
        """faiss and numpy fail on a file cut short; without a checksum to tell, that failure is the sign of it."""
        try:
            return reader()
        except FileNotFoundError:
            raise
        except (RuntimeError, ValueError, OSError) as error:
            raise IndexCorrupted(f"a file cannot be read ({error})") from error

    # --- integrity ------------------------------------------------------------------------------------------------

    def _recover(self, *, damage: IndexCorrupted, locked: bool) -> None:
        """Rebuild the index from its source, under the writers' lock; with no source, refuse to serve it."""
        if self.rebuild_source is None:
            logger.error("vector index %s is damaged (%s) and has no source to rebuild from", self.directory, damage)
            raise damage
        if locked:
            self._rebuild(damage=damage)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self._rebuild(damage=damage)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _rebuild(self, *, damage: IndexCorrupted) -> None:
        try:
            self._load_manifest()
            return  # another process rebuilt it while this one waited for the lock
        except (IndexCorrupted, FileNotFoundError):
            pass
        logger.error("vector index %s is damaged (%s): rebuilding it from the database", self.directory, damage)
        ids, vectors = self.rebuild_source()
        # Nothing of the damaged version is kept: every vector comes from the source, into files of a new generation.
        self._segments, self._trained, self._checksums = {}, None, {}
        self._generation = max(self._generation, self._generation_on_disk())
        self._dirty, self._pending = set(), [(np.asarray(ids, np.int64), np.asarray(vectors, np.float32))]
        try:
            self._commit(force=True)
        finally:
            self._dirty, self._pending = set(), []
        self.rebuilds += 1
        logger.error("vector index %s rebuilt from the database: %d vectors (rebuild %d in this process)",
                     self.directory, len(ids), self.rebuilds)

    def _generation_on_disk(self) -> int:
        """The highest generation any file in the folder carries, so rebuilt files never reuse a damaged one's name."""
        numbers = [
            int(match.group(1))
            for path in self.directory.iterdir()
            if (match := re.match(r"(?:segment-|ivf-|vectors-|trained-)(\d+)", path.name))
        ]
        return max(numbers, default=0)

    def damaged_files(self) -> list[str]:
        """The files of the on-disk version whose checksum fails (a check of what is on disk now, e.g. periodically)."""
        with self._lock:
            try:
                manifest = json.loads(self.manifest_path.read_text())
            except FileNotFoundError:
                return []
            except ValueError:
                return [MANIFEST_NAME]
            checksums = manifest.get("checksums") or {}
            names = [manifest["trained"]["file"]] if manifest.get("trained") else []
            for name in manifest["segments"]:
                names += _segment_files(name=name, segment=None, vectors_name=manifest.get("vectors", {}).get(name))
            damaged = []
            for name in names:
                path = self.directory / name
                if not path.exists() or (name in checksums and file_sha256(path) != checksums[name]):
                    damaged.append(name)
            return damaged

    def repair(self) -> None:
        """Check every file on disk again, as a new process would, and rebuild from the source if one is damaged
        (after damaged_files() found damage that the copies loaded in memory hide)."""
        with self._lock:
            self._loaded_stamp = None
            self._segments = {}
            self.refresh()

    @property
    def size(self) -> int:
        with self._lock:
            return sum(segment.count for segment in self._segments.values())

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    @property
    def ivf_segment_count(self) -> int:
        """How many segments are IVF-PQ encoded (0 while the index is exact)."""
        return sum(isinstance(segment, IvfSegment) for segment in self._segments.values())

    @property
    def trained_file(self) -> Path | None:
        """The file of the IVF-PQ model in use, None while the index is exact."""
        with self._lock:
            self.refresh()
            trained = self._trained
            return self.directory / trained.name if trained and trained.name else None

    def ids(self) -> np.ndarray:
        with self._lock:
            self.refresh()
            arrays = [segment.live_ids() for segment in self._segments.values()]
        return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)

    @contextlib.contextmanager
    def updating(self) -> Iterator[VectorIndex]:
        """Exclusive, crash-safe modification across processes; the change is published when the block exits."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+") as lock_file, self._lock:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                self.refresh(locked=True)
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
            dropped = segment.remove(ids=ids)
            if dropped:
                removed += dropped
                self._dirty.add(name)
        kept = []
        for pending_ids, pending_vectors in self._pending:
            mask = ~np.isin(pending_ids, ids)
            removed += int((~mask).sum())
            kept.append((pending_ids[mask], pending_vectors[mask]))
        self._pending = kept
        return removed

    # --- commit ---------------------------------------------------------------------------------------------------

    def _commit(self, *, force: bool = False) -> None:
        if not force and not self._dirty and not any(len(ids) for ids, _ in self._pending):
            return
        generation = self._generation + 1
        self._written_count = 0
        trained = self._trained
        # (name, segment): name None means the segment is new or changed and still has to be written.
        segments: list[tuple[str | None, Segment]] = []
        for name, segment in self._segments.items():
            if name not in self._dirty:
                segments.append((name, segment))
            elif isinstance(segment, IvfSegment) and segment.count < COMPACT_BELOW * len(segment.row_ids):
                # Mostly dead rows (removed or replaced vectors): rewrite the vector file with the live ones only.
                empty = np.empty((0, self.dimension), dtype=np.float32)
                compacted = ivf_segment_build(
                    trained=trained.model, ids=np.empty(0, np.int64), vectors=empty, donors=(segment,)
                )
                if compacted.count:
                    segments.append((None, compacted))
            elif segment.count > 0:
                segments.append((None, segment))
        pending = [(ids, vectors) for ids, vectors in self._pending if len(ids)]
        if pending:
            ids = np.concatenate([ids for ids, _ in pending])
            vectors = np.concatenate([vectors for _, vectors in pending])
            segments.append((None, FlatSegment.from_vectors(ids=ids, vectors=vectors, dimension=self.dimension)))
            del ids, vectors  # a million pending vectors are copied into the segment: free the concatenation

        total = sum(segment.count for _, segment in segments)
        if (trained is None and total >= max(self.tuning.ivf_threshold, IVF_MIN_VECTORS)) or (
            trained is not None and total >= self.tuning.retrain_factor * trained.size
        ):
            trained = self._train(segments=segments, total=total, generation=generation)
        segments = self._merge_tiers(segments=segments, trained=trained)
        if trained is not None:
            segments = [
                (None, self._encoded(segment=segment, trained=trained))
                if isinstance(segment, FlatSegment) and segment.count >= self.tuning.ivf_segment_min
                else (name, segment)
                for name, segment in segments
            ]

        if trained is not None and trained.name is None:
            trained.name = f"trained-{generation:09d}.faiss"
            temporary = self.directory / f".{trained.name}.tmp"
            faiss.write_index(trained.model, str(temporary))
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, self.directory / trained.name)
        written: dict[str, Segment] = {}
        checksums: dict[str, str] = {}
        for name, segment in segments:
            fresh = name is None
            name = name or self._segment_write(segment=segment, generation=generation)
            written[name] = segment
            for file_name in _segment_files(name=name, segment=segment):
                known = None if fresh else self._checksums.get(file_name)
                checksums[file_name] = known or file_sha256(self.directory / file_name)
        if trained is not None:
            checksums[trained.name] = self._checksums.get(trained.name) or file_sha256(self.directory / trained.name)

        temporary = self.directory / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
        manifest = {
            "dimension": self.dimension,
            "generation": generation,
            "segments": list(written),
            "vectors": {n: s.vectors_name for n, s in written.items() if isinstance(s, IvfSegment)},
            "trained": {"file": trained.name, "size": trained.size} if trained else None,
            "checksums": checksums,
        }
        with open(temporary, "w") as handle:
            json.dump(manifest, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.manifest_path)
        fsync_directory(self.directory)
        self._segments, self._trained, self._generation = written, trained, generation
        self._checksums = checksums
        self._loaded_stamp = self._disk_stamp()
        self._delete_unreferenced()

    def _train(self, *, segments: list[tuple[str | None, Segment]], total: int, generation: int) -> _Trained:
        """Train on a random sample of every segment; IVF segments are re-encoded (their vector files stay)."""
        wanted = min(total, TRAINING_POINTS_PER_LIST * list_count_for(vector_count=total))
        random = np.random.default_rng(generation)
        parts = []
        for _, segment in segments:
            take = min(segment.count, math.ceil(wanted * segment.count / total))
            if isinstance(segment, FlatSegment):
                rows = random.choice(segment.count, size=take, replace=False)
                parts.append(segment.vector_view()[np.sort(rows)])
            else:
                rows = random.choice(np.flatnonzero(segment.live), size=take, replace=False)
                parts.append(np.asarray(segment.vectors[np.sort(rows)], dtype=np.float32))
        logger.info("training the IVF-PQ model of %s on %d of %d vectors", self.directory, wanted, total)
        trained = _Trained(model=ivf_train(sample=np.concatenate(parts), vector_count=total), name=None, size=total)
        for position, (name, segment) in enumerate(segments):
            if isinstance(segment, IvfSegment):
                if name is not None:
                    self._dirty.add(name)  # its codes are replaced: reload it from disk if this commit fails
                segments[position] = (None, self._reencoded(segment=segment, trained=trained))
        return trained

    @staticmethod
    def _reencoded(*, segment: IvfSegment, trained: _Trained) -> IvfSegment:
        """The same vector file, with codes from the new model."""
        codes = ivf_shell(trained=trained.model)
        ids, vectors = segment.live_vectors()
        codes.add_with_ids(vectors, ids)
        return IvfSegment(
            codes=codes, vectors=segment.vectors, row_ids=segment.row_ids, vectors_name=segment.vectors_name
        )

    @staticmethod
    def _encoded(*, segment: FlatSegment, trained: _Trained) -> IvfSegment:
        ids, vectors = segment.live_ids(), segment.vector_view()
        return ivf_segment_build(trained=trained.model, ids=ids, vectors=vectors)

    def _segment_write(self, *, segment: Segment, generation: int) -> str:
        self._written_count += 1
        stem = f"{generation:09d}-{self._written_count:04d}"
        if isinstance(segment, FlatSegment):
            name = f"segment-{stem}.faiss"
            segment.write(directory=self.directory, name=name)
        else:
            name = f"ivf-{stem}.lists"
            segment.write(directory=self.directory, name=name, vectors_name=f"vectors-{stem}")
        return name

    def _merge_tiers(
        self, *, segments: list[tuple[str | None, Segment]], trained: _Trained | None
    ) -> list[tuple[str | None, Segment]]:
        while True:
            tiers: dict[int, list[int]] = {}
            for position, (_, segment) in enumerate(segments):
                tiers.setdefault(_size_tier(segment.count), []).append(position)
            full = next((positions for positions in tiers.values() if len(positions) >= MERGE_FACTOR), None)
            if full is None:
                return segments
            members = [segments[position] for position in full]
            segments = [entry for position, entry in enumerate(segments) if position not in full]
            # Merged segments are consumed (IVF codes are moved out): reload them from disk if this commit fails.
            self._dirty.update(name for name, _ in members if name is not None)
            flat = [segment.live_vectors() for _, segment in members if isinstance(segment, FlatSegment)]
            ids = np.concatenate([ids for ids, _ in flat]) if flat else np.empty(0, np.int64)
            vectors = np.concatenate([v for _, v in flat]) if flat else np.empty((0, self.dimension), np.float32)
            donors = tuple(segment for _, segment in members if isinstance(segment, IvfSegment))
            merged_count = sum(segment.count for _, segment in members)
            if trained is not None and merged_count >= self.tuning.ivf_segment_min:
                merged: Segment = ivf_segment_build(trained=trained.model, ids=ids, vectors=vectors, donors=donors)
            else:
                for donor in donors:  # shrunk below the IVF size by removals: back to exact
                    donor_ids, donor_vectors = donor.live_vectors()
                    ids, vectors = np.concatenate([ids, donor_ids]), np.concatenate([vectors, donor_vectors])
                merged = FlatSegment.from_vectors(ids=ids, vectors=vectors, dimension=self.dimension)
            segments.append((None, merged))

    def _delete_unreferenced(self) -> None:
        """Under the lock: files no manifest names any more, and what a writer killed mid-write left behind."""
        live = set(self._segments)
        for segment in self._segments.values():
            if isinstance(segment, IvfSegment):
                live.update({f"{segment.vectors_name}.npy", f"{segment.vectors_name}.ids.npy"})
        if self._trained is not None:
            live.add(self._trained.name)
        for pattern in ("segment-*.faiss", "ivf-*.lists", "vectors-*.npy", "trained-*.faiss"):
            for path in self.directory.glob(pattern):
                if path.name not in live:
                    path.unlink(missing_ok=True)
        for path in self.directory.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    # --- search ---------------------------------------------------------------------------------------------------

    def search(self, *, query: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> list[VectorHit]:
        """Top-k by cosine; with allowed_ids the filter runs inside the search, so k hits come from the allowed set.

        A narrow filter (at most `exact_filter_max` ids) is answered exactly from the allowed vectors alone; a wide
        one scans more inverted lists the smaller its share, so that enough allowed entries reach the shortlist.
        """
        with self._lock, _omp_threads(self.tuning.search_threads):
            self.refresh()
            if k <= 0 or not self._segments:
                return []
            query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
            id_filter = None
            if allowed_ids is not None:
                allowed = np.ascontiguousarray(allowed_ids, dtype=np.int64)
                if len(allowed) == 0:
                    return []
                id_filter = _Filter(allowed=allowed)
                k = min(k, len(allowed))
            hits: list[tuple[float, int]] = []
            coarse: tuple[np.ndarray, np.ndarray] | None = None
            for segment in self._segments.values():
                if segment.count == 0:
                    continue
                if isinstance(segment, FlatSegment):
                    selector = id_filter.selector if id_filter else None
                    scores, ids = segment.search(query=query, k=k, selector=selector)
                elif id_filter is not None and len(id_filter.allowed) <= self.tuning.exact_filter_max:
                    scores, ids = segment.search_exact(ids=id_filter.allowed, query=query, k=k)
                else:
                    if coarse is None:  # one coarse assignment serves every IVF segment: they share the model
                        coarse = self._coarse(query=query, id_filter=id_filter)
                    scores, ids = segment.search_reranked(
                        query=query,
                        k=k,
                        shortlist=max(k * self.tuning.rerank_factor, RERANK_MIN),
                        coarse=coarse,
                        selector=id_filter.selector if id_filter else None,
                    )
                hits.extend(zip(scores.tolist(), ids.tolist(), strict=True))
        best = heapq.nlargest(k, hits, key=lambda hit: (hit[0], -hit[1]))
        return [VectorHit(chunk_id=chunk_id, score=score) for score, chunk_id in best]

    def _coarse(self, *, query: np.ndarray, id_filter: _Filter | None) -> tuple[np.ndarray, np.ndarray]:
        """The inverted lists to scan: nprobe, raised as 1/share of allowed ids when a filter is wide."""
        model = self._trained.model
        nprobe = self.tuning.nprobe
        if id_filter is not None:
            share = len(id_filter.allowed) / max(self.size, 1)
            nprobe = math.ceil(nprobe / min(share, 1.0))
        nprobe = min(nprobe, int(model.nlist))
        params = faiss.SearchParametersHNSW(efSearch=max(2 * nprobe, 64))
        distances, lists = model.quantizer.search(query.reshape(1, -1), nprobe, params=params)
        return distances, lists


_indexes: dict[Path, VectorIndex] = {}
_indexes_lock = threading.Lock()


def vector_index_get(
    *, directory: Path, dimension: int, rebuild_source: RebuildSource | None = None
) -> VectorIndex:
    """One VectorIndex object per folder per process, loaded once and refreshed only when the manifest changes."""
    with _indexes_lock:
        index = _indexes.get(directory)
        if index is None or index.dimension != dimension:
            index = _indexes[directory] = VectorIndex(directory=directory, dimension=dimension)
        if rebuild_source is not None:
            index.rebuild_source = rebuild_source
        return index


def vector_indexes_forget() -> None:
    """Drop every loaded index of this process, so the next use loads (and checks) the files again, as a new
    process would: for a forked child, and for tests."""
    with _indexes_lock:
        _indexes.clear()
