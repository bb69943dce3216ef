"""BM25 saved on disk beside the vector segments, so a starting process maps it instead of tokenising every chunk
(about 2 minutes at a million chunks; see bench/README.md, "BM25 that starts in seconds").

What is saved: each segment's arrays as .npy files (postings in CSC form, and each row's chunk, collection, document
and length), the vocabulary, the dead rows, and the documents the index reflects with their update stamps, so that
a loaded process applies only the documents changed since (retrieval/searchable.py). A loaded segment's arrays are
memory-mapped read-only: their pages are the page cache's, shared by every process on the machine.

How it is written, as the vector segments are (vectorstore/segments.py): under an exclusive file lock, each new file
is written under a temporary name, fsynced and renamed; then a manifest naming every file with its sha256 is swapped
in with os.replace and the folder fsynced. A crash at any point leaves the previous manifest and its files. Segment
files never change once written, and their names are unique: a segment the manifest on disk already names is not
written again. Files no manifest names are deleted after the swap; a process that mapped one keeps reading it until
it lets go (an unlinked file lives on while mapped).

How it is read: under a shared lock (so no writer deletes a file between the manifest being read and the file being
mapped), every file is checked against its sha256 first. A file missing, cut short or altered raises
LexicalStateDamaged: the caller rebuilds from the database and saves a new, complete state; the damaged one is never
searched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.lexical import LexicalIndex, LexicalSegment
from vectorstore.segments import file_sha256, fsync_directory

MANIFEST_NAME = "manifest.json"
FORMAT = 1
SEGMENT_ARRAYS = ("chunk_ids", "collection_ids", "document_ids", "lengths", "indptr", "indices", "data")
OWN_FILE_PREFIXES = ("segment-", "vocabulary-", "dead-", "documents-")


class LexicalStateDamaged(Exception):
    """The saved BM25 state cannot be trusted (a file missing, cut short or altered): it must not be searched."""


@dataclass(frozen=True)
class LexicalState:
    index: LexicalIndex
    documents: dict[int, int]  # document id -> the update stamp (µs since the epoch) of the version indexed
    version: list | None  # the database's searchable version the state was synced to, as JSON keeps it
    generation: int


def _segment_files(name: str) -> list[str]:
    return [f"{name}.{array}.npy" for array in SEGMENT_ARRAYS]


@contextlib.contextmanager
def _locked(directory: Path, mode: int) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as lock_file:
        fcntl.flock(lock_file, mode)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _manifest_read(directory: Path) -> dict | None:
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise LexicalStateDamaged(f"{MANIFEST_NAME} cannot be read ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LexicalStateDamaged(f"{MANIFEST_NAME} is not a format {FORMAT} manifest")
    return manifest


def _manifest_files(manifest: dict) -> list[str]:
    names = [manifest["vocabulary"], manifest["dead"], manifest["documents"]]
    for segment in manifest["segments"]:
        names += _segment_files(segment["name"])
    return names


def _array(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def lexical_state_load(*, directory: Path) -> LexicalState | None:
    """The saved state with its postings memory-mapped; None where nothing was saved yet.

    Raises LexicalStateDamaged when a file fails its checksum or the files disagree with the manifest.
    """
    if not (directory / MANIFEST_NAME).exists():
        return None
    with _locked(directory, fcntl.LOCK_SH):
        manifest = _manifest_read(directory)
        if manifest is None:
            return None
        try:
            return _state_read(directory=directory, manifest=manifest)
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise LexicalStateDamaged(f"the saved BM25 state cannot be read ({error!r})") from error


def _state_read(*, directory: Path, manifest: dict) -> LexicalState:
    checksums = manifest["checksums"]
    for name in _manifest_files(manifest):
        if name not in checksums:
            raise LexicalStateDamaged(f"{name} has no checksum in the manifest")
        try:
            actual = file_sha256(directory / name)
        except FileNotFoundError as missing:
            raise LexicalStateDamaged(f"{name} is missing") from missing
        if actual != checksums[name]:
            raise LexicalStateDamaged(f"{name} does not match its checksum (cut short or altered)")
    text = (directory / manifest["vocabulary"]).read_text(encoding="utf-8")
    terms = text.split("\n") if text else []
    # Dead flags change after loading: they are copied into memory, unlike the rest.
    dead = np.array(_array(directory / manifest["dead"]), dtype=bool)
    segments: list[LexicalSegment] = []
    offset = 0
    for entry in manifest["segments"]:
        name, rows = entry["name"], int(entry["rows"])
        arrays = {array: _array(directory / f"{name}.{array}.npy") for array in SEGMENT_ARRAYS}
        segment = LexicalSegment(**arrays, dead=dead[offset : offset + rows].copy(), stored_name=name)
        offset += rows
        if {len(segment.chunk_ids), len(segment.lengths), len(segment.document_ids)} != {rows} or not (
            0 < len(segment.indptr) <= len(terms) + 1 and len(segment.indices) == len(segment.data)
        ):
            raise LexicalStateDamaged(f"segment {name} disagrees with the manifest")
        segments.append(segment)
    if offset != len(dead):
        raise LexicalStateDamaged("the dead rows disagree with the segments")
    stamps = _array(directory / manifest["documents"])
    documents = dict(zip(stamps[:, 0].tolist(), stamps[:, 1].tolist(), strict=True))
    return LexicalState(
        index=LexicalIndex.restored(terms=terms, segments=segments),
        documents=documents,
        version=manifest["version"],
        generation=int(manifest["generation"]),
    )


def _write_file(directory: Path, name: str, write) -> str:
    """Write under a temporary name, fsync, rename into place; the file's sha256."""
    temporary = directory / f".{name}.tmp"
    with open(temporary, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)
    return file_sha256(directory / name)


def _write_array(directory: Path, name: str, array: np.ndarray) -> str:
    return _write_file(directory, name, lambda handle: np.save(handle, np.ascontiguousarray(array)))


def lexical_state_save(
    *, directory: Path, index: LexicalIndex, documents: dict[int, int], version: list | None, force: bool = False
) -> int | None:
    """Save the index and the documents it reflects, under the writers' lock; the generation written, or None where
    the state on disk is already of this version (another process saved it) and force is not set.

    force: write even so (the state on disk was found damaged).
    """
    terms, segments = index.snapshot()
    with _locked(directory, fcntl.LOCK_EX):
        try:
            on_disk = _manifest_read(directory)
        except LexicalStateDamaged:
            on_disk = None
        if on_disk is not None and on_disk.get("version") == version and not force:
            return None
        generation = (int(on_disk["generation"]) if on_disk else 0) + 1
        known = on_disk["checksums"] if on_disk else {}
        kept = {entry["name"] for entry in on_disk["segments"]} if on_disk else set()
        checksums: dict[str, str] = {}
        entries: list[dict] = []
        written: list[tuple[LexicalSegment, str]] = []
        for segment, _ in segments:
            name = segment.stored_name
            if name in kept and not force:
                checksums.update({file: known[file] for file in _segment_files(name)})
            else:
                # Unique names: a name always means the same bytes, in whichever process or folder it was seen.
                name = f"segment-{generation:09d}-{uuid.uuid4().hex[:12]}"
                for array in SEGMENT_ARRAYS:
                    file = f"{name}.{array}.npy"
                    checksums[file] = _write_array(directory, file, getattr(segment, array))
                written.append((segment, name))
            entries.append({"name": name, "rows": len(segment.chunk_ids)})
        manifest = {
            "format": FORMAT,
            "generation": generation,
            "version": version,
            "segments": entries,
            "vocabulary": f"vocabulary-{generation:09d}.txt",
            "dead": f"dead-{generation:09d}.npy",
            "documents": f"documents-{generation:09d}.npy",
        }
        vocabulary = "\n".join(terms).encode("utf-8")  # tokens never hold whitespace
        checksums[manifest["vocabulary"]] = _write_file(
            directory, manifest["vocabulary"], lambda handle: handle.write(vocabulary)
        )
        dead = np.concatenate([dead for _, dead in segments]) if segments else np.empty(0, dtype=bool)
        checksums[manifest["dead"]] = _write_array(directory, manifest["dead"], dead)
        stamps = np.array(list(documents.items()), dtype=np.int64).reshape(-1, 2)
        checksums[manifest["documents"]] = _write_array(directory, manifest["documents"], stamps)
        manifest["checksums"] = checksums
        _write_file(directory, MANIFEST_NAME, lambda handle: handle.write(json.dumps(manifest).encode()))
        fsync_directory(directory)
        for segment, name in written:
            segment.stored_name = name
        _delete_unreferenced(directory=directory, referenced=set(checksums))
    return generation


def _delete_unreferenced(*, directory: Path, referenced: set[str]) -> None:
    """Under the writers' lock: files the manifest no longer names, and what a writer killed mid-write left."""
    for path in directory.iterdir():
        name = path.name
        stale = name.startswith(OWN_FILE_PREFIXES) and name not in referenced
        if stale or (name.startswith(".") and name.endswith(".tmp")):
            path.unlink(missing_ok=True)
