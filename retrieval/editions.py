"""The edition in force first: where passages of an older edition (or of a repealed document) and of the document
that replaced it are both retrieved, the current one's passages take the better places.

Only the order among one work's passages changes: the places the work held stay its own, so a relevant old
edition is still shown (and marked superseded by the features) and other documents keep their ranks.
"""

from __future__ import annotations

from collections.abc import Iterable

from ingestion.models import Chunk
from ingestion.selectors import SupersedingDocument, superseding_documents

CURRENT_FIRST = "current_first"  # the default: every edition searchable, the one in force ranked first
CURRENT_ONLY = "current_only"  # superseded documents left out
ALL_EDITIONS = "all"  # the order retrieval gave, superseded or not
EDITION_MODES = (CURRENT_FIRST, CURRENT_ONLY, ALL_EDITIONS)


def editions_ordered(
    *, ranked: list[tuple[int, float]], chunks: dict[int, Chunk], collection_ids: Iterable[int], mode: str
) -> list[tuple[int, float]]:
    """`ranked` (chunk id, score) in the order `mode` asks for; the superseding links a reader of `collection_ids`
    may see decide (a replacement in a set they cannot read changes nothing for them)."""
    if mode not in EDITION_MODES:
        raise ValueError(f"editions must be one of {', '.join(EDITION_MODES)}, not {mode!r}")
    if mode == ALL_EDITIONS or not ranked:
        return ranked
    superseding = superseding_documents(
        document_ids={chunks[chunk_id].document_id for chunk_id, _ in ranked}, collection_ids=collection_ids
    )
    replaced: dict[int, SupersedingDocument] = {d: s for d, s in superseding.items() if s.superseded}
    if not replaced:
        return ranked
    if mode == CURRENT_ONLY:
        return [(chunk_id, score) for chunk_id, score in ranked if chunks[chunk_id].document_id not in replaced]

    def work(chunk_id: int) -> int:
        document_id = chunks[chunk_id].document_id
        return replaced[document_id].by_id if document_id in replaced else document_id

    places: dict[int, list[int]] = {}
    for place, (chunk_id, _) in enumerate(ranked):
        places.setdefault(work(chunk_id), []).append(place)
    ordered = list(ranked)
    for held in places.values():
        items = [ranked[place] for place in held]
        items.sort(key=lambda item: chunks[item[0]].document_id in replaced)  # stable: in force first
        for place, item in zip(held, items, strict=True):
            ordered[place] = item
    return ordered
