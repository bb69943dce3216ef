"""BM25 saved on disk: reloads memory-mapped with the same results, rewrites only what changed, refuses a damaged
file, and stays complete while two processes save at once."""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval.lexical import LexicalEntry, LexicalIndex
from retrieval.lexical_store import (
    MANIFEST_NAME,
    LexicalStateDamaged,
    lexical_state_load,
    lexical_state_save,
)

WORDS = "pain opioid dose taper risk patient review naloxone benefit harm monitor urine 高血压 患者 降压 目标".split()
QUERIES = ["naloxone taper", "urine monitor", "opioid dose risk", "高血压患者", "harm benefit review"]


def entry(chunk_id: int, text: str, *, collection: int = 1, document: int | None = None) -> LexicalEntry:
    return LexicalEntry(chunk_id, collection, document if document is not None else chunk_id // 10, text)


def texts_random(count: int, *, seed: int) -> dict[int, str]:
    rng = random.Random(seed)
    return {i: " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))) for i in range(count)}


def assert_same_results(got: LexicalIndex, expected: LexicalIndex) -> None:
    assert got.size == expected.size
    for query in QUERIES:
        for filters in [{}, {"collection_ids": [2]}, {"document_ids": [3, 7, 12]}]:
            ours = got.search(query=query, k=15, **filters)
            theirs = expected.search(query=query, k=15, **filters)
            assert [h.chunk_id for h in ours] == [h.chunk_id for h in theirs], (query, filters)
            assert np.allclose([h.score for h in ours], [h.score for h in theirs], rtol=1e-6)


def index_with_history() -> tuple[LexicalIndex, dict[int, str]]:
    """Several segments, merges, dead rows and a replaced chunk; and the live texts a fresh index would hold."""
    texts = texts_random(400, seed=3)
    index = LexicalIndex()
    for start in range(0, 400, 25):
        index.add(entry(i, texts[i], collection=1 + (i % 2)) for i in range(start, start + 25))
    removed = set(random.Random(4).sample(range(400), 100))
    index.remove(removed)
    index.remove_documents([30])  # chunks 300..309
    texts = {i: t for i, t in texts.items() if i not in removed and not 300 <= i < 310}
    index.add([entry(1, "naloxone naloxone taper", collection=2)])  # replaced (or re-added) chunk
    texts[1] = "naloxone naloxone taper"
    return index, texts


def fresh_index(texts: dict[int, str]) -> LexicalIndex:
    fresh = LexicalIndex()
    fresh.add(entry(i, t, collection=1 + (i % 2)) for i, t in sorted(texts.items()))
    return fresh


def test_a_saved_index_reloads_memory_mapped_with_the_results_of_a_freshly_built_one(tmp_path: Path) -> None:
    index, texts = index_with_history()
    assert lexical_state_load(directory=tmp_path) is None  # nothing saved yet
    generation = lexical_state_save(directory=tmp_path, index=index, documents={3: 17, 4: 18}, version=[2, 18])
    state = lexical_state_load(directory=tmp_path)

    assert state is not None and state.generation == generation == 1
    assert state.documents == {3: 17, 4: 18} and state.version == [2, 18]
    loaded = state.index
    segment = loaded.snapshot()[1][0][0]
    assert isinstance(segment.data.base, np.memmap) and not segment.data.flags.writeable
    assert_same_results(loaded, fresh_index(texts))
    assert 1 in loaded and 300 not in loaded

    # The loaded index takes updates like any other: the mapped arrays are never written.
    loaded.remove_documents([4])
    loaded.add([entry(5000, "urine urine monitor"), entry(2, "harm")])
    texts = {i: t for i, t in texts.items() if not 40 <= i < 50}
    texts.update({5000: "urine urine monitor", 2: "harm"})
    assert_same_results(loaded, fresh_index(texts))


def test_a_second_save_writes_only_the_new_segments_and_skips_a_version_already_saved(tmp_path: Path) -> None:
    index, texts = index_with_history()
    lexical_state_save(directory=tmp_path, index=index, documents={}, version=[1, 1])
    first = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert lexical_state_save(directory=tmp_path, index=index, documents={}, version=[1, 1]) is None

    index.add([entry(9000, "naloxone review")])
    assert lexical_state_save(directory=tmp_path, index=index, documents={}, version=[1, 2]) == 2
    second = json.loads((tmp_path / MANIFEST_NAME).read_text())
    old = {s["name"] for s in first["segments"]}
    new = {s["name"] for s in second["segments"]}
    assert old < new and len(new - old) == 1
    # Only what the manifest names is left: the first generation's vocabulary, dead rows and stamps are gone.
    assert {p.name for p in tmp_path.iterdir()} == {*second["checksums"], MANIFEST_NAME, ".lock"}
    texts[9000] = "naloxone review"
    assert_same_results(lexical_state_load(directory=tmp_path).index, fresh_index(texts))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_last_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))


@pytest.mark.parametrize(
    ("pattern", "damage"),
    [
        ("segment-*.data.npy", _truncate),
        ("segment-*.indices.npy", _flip_last_byte),
        ("dead-*.npy", _flip_last_byte),
        ("vocabulary-*.txt", lambda path: path.unlink()),
        (MANIFEST_NAME, lambda path: path.write_text('{"format": 1, "segm')),
    ],
)
def test_a_damaged_file_is_detected_and_never_served(tmp_path: Path, pattern: str, damage) -> None:
    index, _ = index_with_history()
    lexical_state_save(directory=tmp_path, index=index, documents={}, version=[1, 1])
    damage(sorted(tmp_path.glob(pattern))[0])
    with pytest.raises(LexicalStateDamaged):
        lexical_state_load(directory=tmp_path)
    # Saving over a damaged state replaces it (the caller forces it: the version on disk may be the same).
    lexical_state_save(directory=tmp_path, index=index, documents={}, version=[1, 1], force=True)
    assert lexical_state_load(directory=tmp_path).index.size == index.size


def _save_repeatedly(directory: str, first_chunk: int, rounds: int) -> None:
    """A writer process: its own chunks, one new segment per round (merges included), saved every round."""
    index = LexicalIndex()
    index.add(entry(first_chunk + i, f"shared words review {i}") for i in range(100))
    for round_number in range(rounds):
        index.add([entry(first_chunk + 500 + round_number, "fresh note review")])
        lexical_state_save(
            directory=Path(directory), index=index, documents={first_chunk: round_number},
            version=[first_chunk, round_number],
        )


def test_two_processes_saving_at_once_leave_a_complete_state_that_readers_can_load(tmp_path: Path) -> None:
    rounds = 30
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_save_repeatedly, args=(str(tmp_path), start, rounds)) for start in (0, 10_000)]
    for writer in writers:
        writer.start()
    loads = 0
    while any(writer.is_alive() for writer in writers) or loads == 0:
        state = lexical_state_load(directory=tmp_path)
        if state is None:
            time.sleep(0.001)
            continue
        loads += 1
        # Each state loaded is one writer's, whole: its own chunks only, as many as it had at that save.
        (first_chunk, round_number), = state.documents.items()
        assert state.version == [first_chunk, round_number]
        ids = state.index.chunk_ids()
        assert len(ids) == 100 + round_number + 1 and ((ids >= first_chunk) & (ids < first_chunk + 1000)).all()
        assert len(state.index.search(query="fresh note", k=100)) == round_number + 1
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    final = lexical_state_load(directory=tmp_path)
    assert final.generation == 2 * rounds and final.index.size == 100 + rounds
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert {p.name for p in tmp_path.iterdir()} == {*manifest["checksums"], MANIFEST_NAME, ".lock"}
