"""Reading order of a PDF page: cut it into full-width parts and columns from the positions of its words.

A column gutter is a vertical strip that no word (or table) crosses beside most of the text, with text on both
sides laid out as columns. The page is cut around the gutter into: what is above it (a full-width title, an
abstract), the left column, the right column, and what is below it; each part is cut again the same way, so
three columns and column sections separated by full-width parts come out in order too. Pure geometry, no PDF
library involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

MIN_BAND_SHARE = 0.5  # the gutter is free beside at least this share of the text (in heights holding text)
MIN_GUTTER_EMS = 1.2  # wider than one ideographic space (1 em), which aligns labels in Chinese forms
MIN_COLUMN_ROWS = 3  # text lines each side of the gutter; fewer is a signature block or a caption
MIN_COLUMN_SHARE = 0.2  # each column at least this share of the text's width; narrower is line numbers or notes
MIN_FILLED_ROW_SHARE = 0.4  # left column: share of its lines reaching near the gutter, as wrapped prose does
MIN_ALIGNED_ROW_SHARE = 0.5  # right column: share of its lines starting at its left edge
_MAX_DEPTH = 6
_MAX_STRIP_LEVELS = 12  # sub-strips tried per free strip, from the one free beside the most text down
_MAX_GRID_CELLS = 1200  # per axis: a poster-sized page is sampled coarser than 1 pt
_CROSSING_TOLERANCE = 0.5  # points: words that touch the strip cross it


class LayoutItem(NamedTuple):
    """A word (is_text) or another box that takes part in the layout, such as a table; points from top-left."""

    x0: float
    top: float
    x1: float
    bottom: float
    is_text: bool = True


@dataclass(frozen=True)
class Region:
    """A part of the page read as one column: contains the items whose centre lies in it (right/bottom open)."""

    x0: float
    top: float
    x1: float
    bottom: float
    in_column: bool = False  # one column of a multi-column layout (rather than a full-width part)


@dataclass(frozen=True)
class _Split:
    gutter_x0: float
    gutter_x1: float
    band_top: float
    band_bottom: float


def layout_regions(items: list[LayoutItem]) -> list[Region]:
    """The regions of a page in reading order; a single-column page is one region."""
    everywhere = Region(-math.inf, -math.inf, math.inf, math.inf)
    if not items:
        return [everywhere]
    return _regions(items, bounds=everywhere, depth=0)


def _regions(items: list[LayoutItem], *, bounds: Region, depth: int) -> list[Region]:
    split = _column_split(items) if depth < _MAX_DEPTH else None
    if split is None:
        return [bounds]
    middle = (split.gutter_x0 + split.gutter_x1) / 2
    parts = (
        Region(bounds.x0, bounds.top, bounds.x1, split.band_top, bounds.in_column),
        Region(bounds.x0, split.band_top, middle, split.band_bottom, True),
        Region(middle, split.band_top, bounds.x1, split.band_bottom, True),
        Region(bounds.x0, split.band_bottom, bounds.x1, bounds.bottom, bounds.in_column),
    )
    regions: list[Region] = []
    for part in parts:
        inside = [item for item in items if _center_in(item, part)]
        if inside:
            regions += _regions(inside, bounds=part, depth=depth + 1)
    return regions


def _center_in(item: LayoutItem, region: Region) -> bool:
    x = (item.x0 + item.x1) / 2
    y = (item.top + item.bottom) / 2
    return region.x0 <= x < region.x1 and region.top <= y < region.bottom


def _column_split(items: list[LayoutItem]) -> _Split | None:
    """The best gutter of these items with the band of height it is cut around, or None for a single column."""
    text = [item for item in items if item.is_text]
    if len(text) < 2 * MIN_COLUMN_ROWS:
        return None
    x0 = np.array([item.x0 for item in items]) - _CROSSING_TOLERANCE
    x1 = np.array([item.x1 for item in items]) + _CROSSING_TOLERANCE
    top = np.array([item.top for item in items])
    bottom = np.array([item.bottom for item in items])
    left, right, text_top, text_bottom = x0.min(), x1.max(), top.min(), bottom.max()
    height = text_bottom - text_top
    em = float(np.median([item.bottom - item.top for item in text]))
    if height <= 0 or em <= 0:
        return None
    step = max(1.0, (right - left) / _MAX_GRID_CELLS, height / _MAX_GRID_CELLS)

    # occupancy grid: cell (x, y) is taken when an item crosses the vertical line x at height y
    columns, rows = math.ceil((right - left) / step) + 1, math.ceil(height / step) + 1
    cell_x0 = np.floor((x0 - left) / step).astype(int) + 1  # first grid line strictly right of x0
    cell_x1 = np.ceil((x1 - left) / step).astype(int)  # grid lines strictly left of x1 end here (exclusive)
    cell_top = np.floor((top - text_top) / step).astype(int)
    cell_bottom = np.ceil((bottom - text_top) / step).astype(int) + 1
    corners = np.zeros((columns + 1, rows + 1), dtype=np.int32)
    valid = cell_x1 > cell_x0
    np.add.at(corners, (cell_x0[valid], cell_top[valid]), 1)
    np.add.at(corners, (cell_x0[valid], cell_bottom[valid]), -1)
    np.add.at(corners, (cell_x1[valid], cell_top[valid]), -1)
    np.add.at(corners, (cell_x1[valid], cell_bottom[valid]), 1)
    occupied = corners.cumsum(axis=0).cumsum(axis=1)[:columns, :rows]
    free = occupied == 0
    # the share of the text a gutter runs beside is counted in rows holding text, not in height: the blank
    # space under a short page's last lines is free everywhere and says nothing about columns
    ink = np.zeros(rows + 1, dtype=np.int32)
    np.add.at(ink, cell_top, 1)
    np.add.at(ink, cell_bottom, -1)
    ink_rows = (ink.cumsum()[:rows] > 0).astype(np.int32)
    min_free_ink = MIN_BAND_SHARE * ink_rows.sum()

    # A gutter is free beside most of the text, possibly in several bands (two column sections with a full-width
    # table between them); the page is cut around its best band, and the rest is cut again in its own turn.
    free_ink = free.astype(np.int64) @ ink_rows
    best: tuple[int, int, _Split] | None = None
    strips: set[tuple[int, int]] = set()
    for start, stop in _true_runs(free_ink >= min_free_ink):
        # the strip's lines may be free beside different amounts of text (a line end pokes into it near the top):
        # its parts free beside more text are candidates of their own, or the rest would narrow their band
        run_ink = free_ink[start:stop]
        for level in np.unique(run_ink)[-_MAX_STRIP_LEVELS:]:
            strips.update((start + first, start + last) for first, last in _true_runs(run_ink >= level))
    for start, stop in sorted(strips):
        if (stop - start) * step < MIN_GUTTER_EMS * em:
            continue
        strip_free = free[start:stop].all(axis=0)  # free where the whole strip is, not just each of its lines
        if strip_free.astype(np.int64) @ ink_rows < min_free_ink:
            continue
        band_ink, band_start, band_end = _best_free_runs(strip_free[np.newaxis, :], ink_rows)
        split = _Split(
            gutter_x0=float(left + (start - 0.5) * step),
            gutter_x1=float(left + (stop - 0.5) * step),
            band_top=float(text_top + band_start[0] * step),
            band_bottom=float(text_top + band_end[0] * step),
        )
        score = (int(band_ink[0]), stop - start)  # the band beside the most text, then the widest gutter
        if (best is None or score > best[:2]) and _looks_like_columns(text, split, em=em, width=right - left):
            best = (*score, split)
    return best[2] if best else None


def _best_free_runs(free: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per grid column: the run of free cells down the page holding the most weight (text rows), as
    (weight, start, end exclusive); weight -1 where a column has no free cell."""
    count, length = free.shape
    padded = np.zeros((count, length + 2), dtype=np.int8)
    padded[:, 1:-1] = free
    edges = np.diff(padded, axis=1)
    # row-major order: per column, the starts and the ends of its runs come in the same order, so they pair up
    run_column, run_start = np.nonzero(edges == 1)
    _, run_end = np.nonzero(edges == -1)
    cumulative = np.concatenate(([0], np.cumsum(weights, dtype=np.int64)))
    run_weight = cumulative[run_end] - cumulative[run_start]
    best = np.full(count, -1, dtype=np.int64)
    np.maximum.at(best, run_column, run_weight)
    best_start = np.zeros(count, dtype=np.int64)
    best_end = np.zeros(count, dtype=np.int64)
    winners = np.flatnonzero(run_weight == best[run_column])
    columns, first = np.unique(run_column[winners], return_index=True)  # the topmost of equally good runs
    best_start[columns] = run_start[winners[first]]
    best_end[columns] = run_end[winners[first]]
    return best, best_start, best_end


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] of the runs of True in a 1-D mask."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[::2].tolist(), changes[1::2].tolist(), strict=True))


def _looks_like_columns(text: list[LayoutItem], split: _Split, *, em: float, width: float) -> bool:
    """Text both sides of the gutter within its band, laid out as columns of prose rather than a form or notes."""
    in_band = [item for item in text if item.top >= split.band_top - 1 and item.bottom <= split.band_bottom + 1]
    left = _lines([item for item in in_band if item.x1 <= split.gutter_x0], em=em)
    right = _lines([item for item in in_band if item.x0 >= split.gutter_x1], em=em)
    if len(left) < MIN_COLUMN_ROWS or len(right) < MIN_COLUMN_ROWS:
        return False
    left_x0, left_x1 = min(x0 for x0, _ in left), max(x1 for _, x1 in left)
    right_x0, right_x1 = min(x0 for x0, _ in right), max(x1 for _, x1 in right)
    if min(left_x1 - left_x0, right_x1 - right_x0) < MIN_COLUMN_SHARE * width:
        return False
    reach = max(0.15 * (left_x1 - left_x0), 2 * em)
    filled = sum(x1 >= left_x1 - reach for _, x1 in left) / len(left)
    aligned = sum(x0 <= right_x0 + 2.5 * em for x0, _ in right) / len(right)
    return filled >= MIN_FILLED_ROW_SHARE and aligned >= MIN_ALIGNED_ROW_SHARE


def _lines(items: list[LayoutItem], *, em: float) -> list[tuple[float, float]]:
    """Words grouped into lines by their top: [(x0, x1)] of each line."""
    lines: list[list[float]] = []  # [top, x0, x1]
    for item in sorted(items, key=lambda item: item.top):
        if lines and item.top - lines[-1][0] < 0.5 * em:
            lines[-1][1] = min(lines[-1][1], item.x0)
            lines[-1][2] = max(lines[-1][2], item.x1)
        else:
            lines.append([item.top, item.x0, item.x1])
    return [(x0, x1) for _, x0, x1 in lines]
