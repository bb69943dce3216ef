"""Read an uploaded file into blocks of text in reading order: txt, Markdown, HTML, DOCX and PDF.

Every failure a document can cause by its content (empty, unsupported, encrypted, corrupt, not what its name
says, scanned without OCR) raises IngestionError with a reason an administrator can act on. The formats are
parsed in parse_text (txt, Markdown, HTML), parse_office (DOCX) and parse_pdf (PDF, with OCR from ocr).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

from ingestion.headings import normalize_label
from ingestion.parsing.office import docx_parse
from ingestion.parsing.pdf import pdf_parse
from ingestion.parsing.text import html_parse, markdown_parse, text_parse
from ingestion.types import Block, IngestionError

FILE_TYPES_BY_SUFFIX = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
}
SUPPORTED_FILE_TYPES = ("txt", "md", "html", "docx", "pdf")
MAX_TITLE_CHARS = 200

_PARSERS: dict[str, Callable[..., tuple[str, list[Block], int | None]]] = {
    "txt": text_parse,
    "md": markdown_parse,
    "html": html_parse,
    "docx": docx_parse,
}


def document_parse(
    *, path: Path, file_type: str | None = None, on_page: Callable[[], None] | None = None
) -> tuple[str, list[Block], int | None]:
    """Parse a file into (title guess, blocks in reading order, page count or None).

    file_type is one of SUPPORTED_FILE_TYPES; None infers it from the file name's extension.
    The title guess may be "" when the format carries none (plain text); structure falls back to the first line.
    on_page, if given, is called after each PDF page is read or OCR'd (OCR of a long scan takes minutes: a caller
    holding a lease on the document can renew it there).
    """
    if file_type is None:
        file_type = _file_type_from_suffix(path)
    else:  # tolerate aliases a caller may pass: "markdown", ".htm", "PDF"
        file_type = FILE_TYPES_BY_SUFFIX.get("." + file_type.lower().lstrip("."), file_type.lower())
    if file_type not in SUPPORTED_FILE_TYPES:
        raise IngestionError(f"Unsupported file type '{file_type}'; supported: {', '.join(SUPPORTED_FILE_TYPES)}")
    try:
        size = path.stat().st_size
    except FileNotFoundError as error:
        raise IngestionError(f"File not found: {path.name}") from error
    if size == 0:
        raise IngestionError("File is empty (0 bytes)")
    file_content_check(path=path, file_type=file_type)

    if file_type == "pdf":
        title, blocks, page_count = pdf_parse(path=path, on_page=on_page)
    else:
        title, blocks, page_count = _PARSERS[file_type](path=path)
    if not blocks:
        raise IngestionError(f"No text found in this {file_type.upper()} file")
    return normalize_label(title)[:MAX_TITLE_CHARS], blocks, page_count


def _file_type_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FILE_TYPES_BY_SUFFIX:
        return FILE_TYPES_BY_SUFFIX[suffix]
    if suffix == ".doc":
        raise IngestionError("Legacy Word .doc files are not supported; save the file as .docx and upload it again")
    shown = suffix or "(no extension)"
    raise IngestionError(f"Unsupported file type {shown}; supported: .txt, .md, .html, .docx, .pdf")


# --- content sniffing: is the file what its name says? -------------------------------------------------------

_SNIFF_BYTES = 8192
_PDF_HEADER_WINDOW = 1024  # readers accept "%PDF-" anywhere in the first kilobyte (some files have junk before it)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    *((signature, "a ZIP archive") for signature in _ZIP_SIGNATURES),
    (_OLE_SIGNATURE, "a legacy Microsoft Office file (.doc, .xls or .ppt)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"{\\rtf", "an RTF document"),
)
_ZIP_MEMBERS_DESCRIBED = (
    ("word/document.xml", "a Word .docx document"),
    ("xl/workbook.xml", "an Excel .xlsx workbook"),
    ("ppt/presentation.xml", "a PowerPoint .pptx presentation"),
    ("content.xml", "an OpenDocument file (.odt, .ods or .odp)"),
    ("META-INF/container.xml", "an EPUB e-book"),
)
_EXPECTED_CONTENT = {"pdf": "a PDF", "docx": "a Word .docx document", "txt": "text", "md": "text", "html": "text"}


def file_content_check(*, path: Path, file_type: str) -> None:
    """Raise IngestionError when the bytes are not the format the file type says (a ZIP named .pdf, a PNG named
    .txt): the reason names what the content looks like, instead of a parser's confusing error further on."""
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    if file_type == "pdf":
        matches = b"%PDF-" in head[:_PDF_HEADER_WINDOW]
    elif file_type == "docx":
        matches = _docx_container_matches(path, head)
    else:
        matches = _binary_description(head) is None
    if matches:
        return
    suffix = path.suffix.lower()
    named = f"named {suffix}" if FILE_TYPES_BY_SUFFIX.get(suffix) == file_type else f"given as type {file_type}"
    looks_like = _content_description(path, head)
    advice = "; save it as .docx and upload it again" if file_type == "docx" and head.startswith(_OLE_SIGNATURE) else ""
    raise IngestionError(
        f"The file is {named} but its content is not {_EXPECTED_CONTENT[file_type]} (looks like {looks_like}){advice}."
    )


def _docx_container_matches(path: Path, head: bytes) -> bool:
    if not head.startswith(_ZIP_SIGNATURES):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            # the main part is word/document.xml by convention, but only the package relationships fix its name
            return any(name.startswith("word/") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return True  # a damaged ZIP: the DOCX parser reports it as a damaged document, which is more exact


def _binary_description(head: bytes) -> str | None:
    """What binary content looks like from its first bytes; None when it may be text."""
    for signature, description in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return description
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs, and a BOM
        return "binary data"
    return None


def _content_description(path: Path, head: bytes) -> str:
    if head.startswith(_ZIP_SIGNATURES):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return "a damaged ZIP archive"
        return next((description for member, description in _ZIP_MEMBERS_DESCRIBED if member in names), "a ZIP archive")
    if b"%PDF-" in head[:_PDF_HEADER_WINDOW]:
        return "a PDF document"
    if description := _binary_description(head):
        return description
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if start.startswith(b"<?xml"):
        return "an XML document"
    return "plain text"
