from __future__ import annotations

import itertools

from ingestion.chunking import document_chunk
from ingestion.structure import document_structure
from ingestion.types import Block


def test_long_section_is_split_with_overlap_but_never_across_sections() -> None:
    sentences = " ".join(f"Sentence number {i} says something about dosing." for i in range(60))
    blocks = [
        Block(text="Dosing", heading_level=1),
        Block(text=sentences, page=1),
        Block(text=sentences[:500], page=2),
        Block(text="Monitoring", heading_level=1),
        Block(text="Check the patient every month.", page=2),
    ]
    document = document_structure(title="Guide", blocks=blocks, page_count=2)
    chunks = document_chunk(document=document, max_chars=400, overlap_chars=80)

    dosing = [c for c in chunks if c.section_path == ("Dosing",)]
    monitoring = [c for c in chunks if c.section_path == ("Monitoring",)]
    assert len(dosing) > 5 and len(monitoring) == 1
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(document.text[c.char_start : c.char_end] == c.text for c in chunks)
    assert dosing[0].page_start == 1 and dosing[-1].page_end == 2
    # Consecutive pieces overlap, so a statement cut at a boundary is whole in one of them.
    assert all(b.char_start < a.char_end for a, b in itertools.pairwise(dosing))
    assert "Monitoring" not in "".join(c.text for c in dosing)


def test_heading_repeating_the_title_is_dropped_from_paths() -> None:
    blocks = [Block(text="Guide", heading_level=1), Block(text="Scope", heading_level=2), Block(text="Adults.")]
    document = document_structure(title="Guide", blocks=blocks, page_count=None)
    [chunk] = document_chunk(document=document, max_chars=400, overlap_chars=50)
    assert chunk.section_path == ("Scope",)
