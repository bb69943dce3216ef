"""PDF into blocks in reading order, with page numbers.

Per page: ruled tables become one block per row ("cell | cell"); the rest of the text is cut into layout regions
(full-width parts and the columns of a multi-column layout, read left column first) and its lines are joined into
paragraphs. Pages without a text layer (scans) are read by OCR. Running headers, footers and page numbers go.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.headings import match_line_heading, normalize_label, starts_with_numbering
from ingestion.parsing import ocr
from ingestion.parsing.common import clean_line, collapse_whitespace, join_wrapped, table_row_text
from ingestion.parsing.pdf_layout import LayoutItem, Region, layout_regions
from ingestion.types import Block, IngestionError

logger = logging.getLogger(__name__)

_PDF_PAGE_NUMBER_RE = re.compile(
    r"^(?:[-–—\s]*\d{1,4}[-–—\s]*|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|"
    r"(?:page\s*)?\d{1,4}\s*(?:/|of)\s*\d{1,4}|page\s*\d{1,4})$",
    re.IGNORECASE,
)
_PDF_EDGE_LINES = 2  # running headers/footers live in the first/last lines of a page
_PDF_REPEATED_SHARE = 0.6

OCR_DPI = 300
_OCR_MAX_PIXELS_PER_SIDE = 10_000  # a poster-sized page is rendered smaller rather than exhaust memory
# A page with almost no text drawn over a page-sized picture is a scan with a stamp or page number typed on it.
_SCAN_MAX_TEXT_CHARS = 20
_SCAN_MIN_IMAGE_SHARE = 0.5


@dataclass(frozen=True)
class _Entry:
    """One line of text (or one table row) of a page, with its position in points from the page's top-left."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    region: int  # index of the layout region (reading order) the line sits in
    in_column: bool = False  # the region is one column of a multi-column layout
    table_row: bool = False


@dataclass
class _Page:
    entries: list[_Entry]
    # How the page needs OCR: "required" for a scan (a page-sized picture, no text layer); "optional" where
    # OCR may find text the text layer lacks (vector drawings, or a few words over a page-sized picture),
    # keeping the text layer when OCR is not available; None for a page read from its text layer alone.
    ocr: str | None = None


def pdf_parse(*, path: Path, on_page: Callable[[], None] | None = None) -> tuple[str, list[Block], int | None]:
    """on_page is called after each page read and each page OCR'd: a long scan can take minutes, and the caller
    may have to show it is alive (renew its lease on the document) meanwhile."""
    page_count, metadata_title, outline = _pdf_outline_and_metadata(path)
    pages = _pdf_read_pages(path, on_page=on_page)
    scanned = [index for index, page in enumerate(pages) if page.ocr]  # OCR replaces a text layer it is given
    if scanned:
        _pdf_ocr_pages(path, pages, scanned, on_page=on_page)
    if not any(page.entries for page in pages):
        if scanned:
            raise IngestionError(
                f"No text found in this PDF: it has no text layer and OCR found no text on its {len(scanned)} "
                "scanned page(s)"
            )
        raise IngestionError("No text found in this PDF file")
    _pdf_drop_running_lines(pages)

    outline_keys = {key for _, title, _ in outline if (key := _heading_key(title))}
    blocks: list[Block] = []
    for page_number, page in enumerate(pages, start=1):
        texts = _pdf_paragraphs(page.entries, outline_keys=outline_keys)
        blocks.extend(Block(text=text, page=page_number) for text in texts)
    blocks = _pdf_apply_outline(blocks, outline)
    title = metadata_title or next((title for level, title, _ in outline if level == 0), "")
    return title, blocks, page_count


def _pdf_outline_and_metadata(path: Path) -> tuple[int, str, list[tuple[int, str, int | None]]]:
    """Open with PDFium: page count, metadata title, outline [(level 0-based, title, page index)].

    PDFium's error codes tell encrypted from damaged files, which gives the admin a usable reason.
    """
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        message = str(error)
        if "password" in message.lower():
            raise IngestionError(
                "PDF cannot be opened: it is password-protected (encrypted); upload an unprotected copy"
            ) from error
        raise IngestionError(f"PDF cannot be opened: the file is damaged or not a PDF ({message})") from error
    try:
        page_count = len(document)
        metadata_title = clean_line(document.get_metadata_dict().get("Title", "") or "")
        metadata_title = re.sub(r"^Microsoft Word - ", "", metadata_title)  # printer-driver noise, not a title
        outline: list[tuple[int, str, int | None]] = []
        for bookmark in document.get_toc():
            destination = bookmark.get_dest()
            page_index = destination.get_index() if destination is not None else None
            if bookmark_title := normalize_label(bookmark.get_title()):
                outline.append((bookmark.level, bookmark_title, page_index))
    finally:
        document.close()
    return page_count, metadata_title, outline


# --- text layer: tables, layout regions, lines --------------------------------------------------------------


def _pdf_read_pages(path: Path, *, on_page: Callable[[], None] | None) -> list[_Page]:
    import pdfplumber

    pages: list[_Page] = []
    try:
        with pdfplumber.open(path) as pdf:
            for page_number, page in enumerate(pdf.pages, start=1):
                try:
                    pages.append(_pdf_page_read(page))
                except Exception as error:  # one broken page should not lose the rest of the document
                    logger.warning(
                        "PDF %s: page %d skipped, its text cannot be read: %s", path.name, page_number, error
                    )
                    pages.append(_Page(entries=[]))
                finally:
                    page.close()  # pdfplumber caches every page's objects otherwise: memory grows with length
                if on_page is not None:
                    on_page()
    except IngestionError:
        raise
    except Exception as error:  # pdfminer raises many exception types on malformed files
        raise IngestionError(f"PDF cannot be opened: the file is damaged ({error})") from error
    return pages


def _pdf_page_read(page: Any) -> _Page:
    page = page.dedupe_chars()
    text_chars = sum(1 for char in page.chars if char["text"].strip())
    ocr_kind = _pdf_page_ocr_kind(page, text_chars=text_chars)
    if not text_chars:
        return _Page(entries=[], ocr=ocr_kind)  # a scan, a drawing, or a blank page

    tables = _pdf_tables(page)
    text_page = page
    if tables:
        # the words of a table are its rows' text: they must not come out a second time as ordinary lines
        boxes = [table["bbox"] for table in tables]
        text_page = page.filter(lambda obj: obj.get("object_type") != "char" or not _center_in_any(obj, boxes))
    words = text_page.extract_words()
    items = [LayoutItem(word["x0"], word["top"], word["x1"], word["bottom"], is_text=True) for word in words]
    items += [LayoutItem(*table["bbox"], is_text=False) for table in tables]
    regions = layout_regions(items)

    entries: list[_Entry] = []
    for region_index, region in enumerate(regions):
        region_page = text_page.filter(
            lambda obj, region=region: obj.get("object_type") != "char" or _center_in(obj, region)
        )
        region_entries = [
            _Entry(
                text=text,
                x0=line["x0"],
                top=line["top"],
                x1=line["x1"],
                bottom=line["bottom"],
                region=region_index,
                in_column=region.in_column,
            )
            for line in region_page.extract_text_lines(strip=True, return_chars=False)
            if (text := clean_line(line["text"]))
        ]
        for table in tables:
            if _center_in(dict(zip(("x0", "top", "x1", "bottom"), table["bbox"], strict=True)), region):
                region_entries += [
                    _Entry(text=text, x0=table["bbox"][0], top=top, x1=table["bbox"][2], bottom=bottom,
                           region=region_index, in_column=region.in_column, table_row=True)
                    for text, top, bottom in table["rows"]
                ]  # fmt: skip
        entries += sorted(region_entries, key=lambda entry: entry.top)  # stable: a table's rows keep their order
    return _Page(entries=entries, ocr=ocr_kind)


def _pdf_page_ocr_kind(page: Any, *, text_chars: int) -> str | None:
    """Whether a page needs OCR: "required", "optional" or None (see _Page.ocr)."""
    page_area = max(1.0, float(page.width * page.height))
    largest_image = max(
        ((image["x1"] - image["x0"]) * (image["bottom"] - image["top"]) for image in page.images), default=0.0
    )
    page_sized_picture = largest_image / page_area >= _SCAN_MIN_IMAGE_SHARE
    if text_chars == 0 and page_sized_picture:
        return "required"
    if text_chars == 0 and (page.images or page.curves or page.rects or page.lines):
        return "optional"  # letters drawn as outlines, or only a diagram
    if text_chars < _SCAN_MAX_TEXT_CHARS and page_sized_picture:
        return "optional"  # a scan with a stamp or page number typed on it, or a cover photo with its title
    return None


def _pdf_tables(page: Any) -> list[dict[str, Any]]:
    """Ruled tables (cells drawn with lines) with at least two columns: bbox and rows [(text, top, bottom)].

    Only ruled tables: guessing tables from text alignment alone finds false tables in ordinary prose.
    A ruled box of one column is a frame around text, not a table; its text stays ordinary lines.
    """
    tables = []
    for table in page.find_tables():
        extracted = table.extract()
        if max((sum(cell is not None for cell in row) for row in extracted), default=0) < 2:
            continue
        rows = []
        for row, cells in zip(table.rows, extracted, strict=True):
            # merged cells come back as None in the positions they cover: each physical cell once, as in DOCX
            texts = [_table_cell_text(cell) for cell in cells if cell is not None]
            if any(texts):
                rows.append((table_row_text(texts), row.bbox[1], row.bbox[3]))
        if rows:
            tables.append({"bbox": table.bbox, "rows": rows})
    return tables


def _table_cell_text(cell: str) -> str:
    text = ""
    for line in cell.split("\n"):  # a cell's wrapped lines are one text
        text = join_wrapped(text, collapse_whitespace(line))
    return text


def _center_in(obj: dict[str, Any], region: Region) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return region.x0 <= x < region.x1 and region.top <= y < region.bottom


def _center_in_any(obj: dict[str, Any], boxes: list[tuple[float, float, float, float]]) -> bool:
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)


# --- scanned pages: OCR -------------------------------------------------------------------------------------


def _pdf_ocr_pages(
    path: Path, pages: list[_Page], page_indexes: list[int], *, on_page: Callable[[], None] | None
) -> None:
    """Render the pages that need OCR with PDFium and read them with Tesseract (in place).

    Without Tesseract the document fails when it has scanned pages or no text at all, so that a scan is never
    indexed as nothing; the pages where OCR is optional then keep what their text layer has, with a warning.
    """
    import pypdfium2 as pdfium
    from django.conf import settings

    languages = getattr(settings, "OCR_LANGUAGES", "chi_sim+eng")
    tesseract_cmd = getattr(settings, "OCR_TESSERACT_CMD", "tesseract")
    try:
        ocr.ocr_availability_check(languages=languages, tesseract_cmd=tesseract_cmd)
    except ocr.OcrUnavailableError as error:
        required = [index for index in page_indexes if pages[index].ocr == "required"]
        if required or not any(page.entries for page in pages):
            shown = _page_ranges([index + 1 for index in required or page_indexes])
            raise IngestionError(
                f"This PDF is scanned (no text layer on page {shown}) and OCR is not available: {error}"
            ) from error
        logger.warning(
            "PDF %s: page %s read from its text layer only (drawings or pictures may hold more text), OCR is "
            "not available: %s",
            path.name,
            _page_ranges([index + 1 for index in page_indexes]),
            error,
        )
        return

    document = pdfium.PdfDocument(str(path))
    try:
        for index in page_indexes:
            try:
                page = document[index]
                width, height = page.get_size()
                scale = min(OCR_DPI / 72, _OCR_MAX_PIXELS_PER_SIDE / max(width, height, 1))
                image = page.render(scale=scale, grayscale=True).to_pil()
                page.close()
                lines = ocr.page_image_ocr(
                    image=image, languages=languages, tesseract_cmd=tesseract_cmd, dpi=round(scale * 72)
                )
            except (ocr.OcrError, pdfium.PdfiumError) as error:
                raise IngestionError(f"OCR of scanned page {index + 1} failed: {error}") from error
            if lines or pages[index].ocr == "required":  # a diagram OCR finds nothing in keeps its text layer
                pages[index].entries = [
                    _Entry(
                        text=line.text,
                        x0=line.left / scale,
                        top=line.top / scale,
                        x1=line.right / scale,
                        bottom=line.bottom / scale,
                        region=line.block,  # Tesseract's blocks are its layout regions, columns included
                    )
                    for line in lines
                ]
            if on_page is not None:
                on_page()
    finally:
        document.close()


def _page_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    ranges = []
    for _, group in itertools.groupby(enumerate(numbers), key=lambda pair: pair[1] - pair[0]):
        run = [number for _, number in group]
        ranges.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(ranges)


# --- running lines and paragraphs ---------------------------------------------------------------------------


def _pdf_drop_running_lines(pages: list[_Page]) -> None:
    """Remove bare page numbers and headers/footers repeated at the page edges of most pages (in place).

    The edges are geometric (the top- and bottom-most lines), not the first lines in reading order: in a
    two-column page a right-aligned running header would otherwise read as the start of the right column.
    Table rows are never running lines: a table continued over pages repeats its header row on purpose.
    """

    def edge_entries(entries: list[_Entry]) -> set[int]:
        lines = [index for index, entry in enumerate(entries) if not entry.table_row]
        rows = sorted({round(entries[index].top) for index in lines})
        top_rows, bottom_rows = set(rows[:_PDF_EDGE_LINES]), set(rows[-_PDF_EDGE_LINES:])
        return {index for index in lines if round(entries[index].top) in top_rows | bottom_rows}

    def running_key(text: str) -> str:
        return re.sub(r"\d+", "#", normalize_label(text))  # "Page 3 of 9" and "Page 4 of 9" are the same footer

    pages_with_key: Counter[str] = Counter()
    for page in pages:
        pages_with_key.update({running_key(page.entries[index].text) for index in edge_entries(page.entries)})
    threshold = max(2, _PDF_REPEATED_SHARE * len(pages))
    repeated = {key for key, count in pages_with_key.items() if count >= threshold}

    for page in pages:
        edges = edge_entries(page.entries)
        page.entries = [
            entry
            for index, entry in enumerate(page.entries)
            if index not in edges
            or not (_PDF_PAGE_NUMBER_RE.match(normalize_label(entry.text)) or running_key(entry.text) in repeated)
        ]


def _pdf_paragraphs(entries: list[_Entry], *, outline_keys: set[str]) -> list[str]:
    """Join wrapped lines into paragraphs: a line that reaches the right margin continues on the next line.

    Margins are those of the line's layout region (its column). A paragraph continues from the foot of one column
    to the head of the next. Table rows stay one block each. Headings stay lines of their own so structure can
    find them: lines starting with numbering (第X条, 一、, 1.) start a new paragraph, and a line that is a heading
    as a whole (or an outline title) never absorbs the next.
    """
    if not entries:
        return []
    margins: dict[int, tuple[float, float]] = {}
    first_line: dict[int, int] = {}
    last_line: dict[int, int] = {}
    for index, entry in enumerate(entries):
        if entry.table_row:
            continue
        left, right = margins.get(entry.region, (math.inf, -math.inf))
        margins[entry.region] = (min(left, entry.x0), max(right, entry.x1))
        first_line.setdefault(entry.region, index)
        last_line[entry.region] = index

    # The usual gap between the lines of a region: Chinese official documents set lines 1.8 em apart and mark
    # paragraphs by indent alone, so a gap as wide as the usual one never ends a paragraph by itself
    gaps: dict[int, list[float]] = {}
    for previous, entry in itertools.pairwise(entries):
        if entry.region == previous.region and not (entry.table_row or previous.table_row):
            gap = entry.top - previous.bottom
            if 0 <= gap <= 3 * (previous.bottom - previous.top):
                gaps.setdefault(entry.region, []).append(gap)
    usual_gap = {region: statistics.median(values) for region, values in gaps.items()}

    paragraphs: list[str] = []
    current = entries[0].text
    for index, (previous, entry) in enumerate(itertools.pairwise(entries), start=1):
        if previous.table_row or entry.table_row:
            paragraphs.append(current)
            current = entry.text
            continue
        left, right = margins[previous.region]
        previous_height = previous.bottom - previous.top
        char_width = (previous.x1 - previous.x0) / max(1, len(previous.text))
        reaches_margin = previous.x1 >= right - max(0.05 * (right - left), 2 * char_width)
        same_size = abs((entry.bottom - entry.top) - previous_height) <= 0.25 * previous_height
        # a wrapped line goes on at the left of its column; a line starting far right is an issuer or a date
        entry_left, entry_right = margins[entry.region]
        starts_left = entry.x0 - entry_left <= 0.25 * (entry_right - entry_left)
        if entry.region == previous.region:
            gap_limit = max(0.7 * previous_height, 1.25 * usual_gap.get(entry.region, 0.0))
            follows = 0 <= entry.top - previous.bottom <= gap_limit
        else:  # from the last line of one column to the first line of the next column
            follows = (
                previous.in_column
                and entry.in_column
                and last_line[previous.region] == index - 1
                and first_line[entry.region] == index
            )
        # a line that is a heading as a whole ("1. Introduction", "第一章 总则") never continues on the next line
        previous_heading = match_line_heading(current, inside_article=False, numbered_headings=True)
        previous_is_heading = _heading_key(current) in outline_keys or (
            previous_heading is not None and previous_heading.body_offset is None
        )
        is_heading = starts_with_numbering(entry.text) or _heading_key(entry.text) in outline_keys
        continues = reaches_margin and same_size and follows and starts_left
        if continues and not previous_is_heading and not is_heading:
            current = join_wrapped(current, entry.text)
        else:
            paragraphs.append(current)
            current = entry.text
    paragraphs.append(current)
    return paragraphs


def _heading_key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def _pdf_apply_outline(blocks: list[Block], outline: list[tuple[int, str, int | None]]) -> list[Block]:
    """Mark blocks whose text matches an outline (bookmark) title as headings at the bookmark's level."""
    matched_index = -1
    for level, title, page_index in outline:
        key = _heading_key(title)
        if not key:
            continue
        for index in range(matched_index + 1, len(blocks)):
            block = blocks[index]
            if page_index is not None and block.page != page_index + 1:
                continue
            if block.heading_level is None and _heading_key(block.text) == key:
                blocks[index] = Block(text=block.text, page=block.page, heading_level=level + 1)
                matched_index = index
                break
    return blocks
