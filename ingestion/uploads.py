"""Turn what an admin uploads (files, zips of them, folders) into document versions, refusing bad input one by one.

Every refused file still becomes a failed document with a reason, so the admin sees what happened to each file of a
set; a bad entry never stops the rest of the set.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

from ingestion.models import Collection, Document
from ingestion.pipeline import oversize_reason, size_label
from ingestion.services import DocumentRegistration, document_register, document_reject

READ_PIECE = 1024 * 1024
# Entries that operating systems add to archives; they are not documents and are left out silently.
ARCHIVE_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$|\._)", re.IGNORECASE)
ZIP_SUFFIXES = {".zip"}


@dataclass
class UploadReport:
    created: list[Document] = field(default_factory=list)
    duplicates: list[Document] = field(default_factory=list)
    rejected: list[Document] = field(default_factory=list)

    def record(self, registration: DocumentRegistration) -> None:
        document = registration.document
        if document.status == Document.Status.FAILED:
            self.rejected.append(document)  # refused now or before: either way the admin should see why
        elif not registration.created:
            self.duplicates.append(document)
        else:
            self.created.append(document)

    def extend(self, other: UploadReport) -> None:
        self.created += other.created
        self.duplicates += other.duplicates
        self.rejected += other.rejected

    @property
    def to_ingest(self) -> list[int]:
        return [document.id for document in self.created]


def _stream_size(stream: BinaryIO) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def upload_register(*, collection: Collection, name: str, stream: BinaryIO, source_prefix: str = "") -> UploadReport:
    """Register one uploaded file; a zip is expanded into one document per entry."""
    report = UploadReport()
    source_path = posixpath.join(source_prefix, name) if source_prefix else name
    if Path(name).suffix.lower() in ZIP_SUFFIXES:
        return zip_register(collection=collection, name=name, stream=stream, source_prefix=source_prefix)
    size = _stream_size(stream)
    if size > settings.UPLOAD_MAX_BYTES:
        # A file the upload handler stopped storing at the limit (config.security.OversizeUpload) brings the
        # sha256 of all its bytes; any other is read again in pieces.
        sha256 = getattr(stream, "sha256", None)
        if sha256 is None:
            digest = hashlib.sha256()
            for piece in iter(lambda: stream.read(READ_PIECE), b""):
                digest.update(piece)
            sha256 = digest.hexdigest()
        existing = Document.objects.filter(collection=collection, sha256=sha256).first()
        if existing is not None:
            report.duplicates.append(existing)
            return report
        report.record(_oversize_reject(collection=collection, name=name, source_path=source_path, size=size))
        return report
    report.record(
        document_register(collection=collection, file_name=name, content=stream.read(), source_path=source_path)
    )
    return report


def _oversize_reject(*, collection: Collection, name: str, source_path: str, size: int) -> DocumentRegistration:
    return document_reject(
        collection=collection,
        file_name=name,
        source_path=source_path,
        size_bytes=size,
        reason=oversize_reason(size=size),
    )


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its author saw it: zips made on Chinese Windows store GBK names without saying so."""
    name = info.filename
    if not info.flag_bits & 0x800:  # not marked UTF-8, so Python decoded it as cp437
        raw = name.encode("cp437", errors="replace")
        for encoding in ("utf-8", "gb18030"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return name.replace("\\", "/")


def _entry_problem(info: zipfile.ZipInfo, name: str) -> str | None:
    path = PurePosixPath(name)
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        return f"The archive entry “{name}” points outside the archive's folder; it was not extracted."
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return f"The archive entry “{name}” is a symbolic link; links are not extracted."
    if info.flag_bits & 0x1:
        return f"The archive entry “{name}” is password-protected; upload it unencrypted."
    if Path(name).suffix.lower() in ZIP_SUFFIXES:
        return f"“{name}” is an archive inside the archive; archives are expanded one level only. Upload it on its own."
    return None


def _entry_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, budget: int) -> tuple[bytes | None, str | None]:
    """Read an entry, stopping as soon as it grows past what its header, the ratio limit or the budget allow.

    The header's sizes are only claims: a zip bomb lies about them, so the count of bytes actually read decides.
    """
    bomb = (
        f"The archive entry “{_entry_name(info)}” expands more than {settings.ZIP_MAX_RATIO} times its compressed "
        "size; it was refused as a possible zip bomb."
    )
    if info.file_size > READ_PIECE and info.file_size > settings.ZIP_MAX_RATIO * max(info.compress_size, 1):
        return None, bomb  # as its header declares; one that lies about it is caught while reading below
    limit = min(settings.UPLOAD_MAX_BYTES, budget)
    ratio_limit = max(settings.ZIP_MAX_RATIO * max(info.compress_size, 1), READ_PIECE)
    pieces: list[bytes] = []
    total = 0
    with archive.open(info) as entry:
        while piece := entry.read(READ_PIECE):
            total += len(piece)
            if total > ratio_limit:
                return None, bomb
            if total > limit:
                if limit == budget:
                    return None, (
                        "The archive expands to more than "
                        f"{size_label(settings.ZIP_MAX_TOTAL_BYTES)}; the remaining entries were refused."
                    )
                return None, (
                    f"The archive entry “{_entry_name(info)}” is over the limit of "
                    f"{size_label(settings.UPLOAD_MAX_BYTES)}."
                )
            pieces.append(piece)
    return b"".join(pieces), None


def zip_register(*, collection: Collection, name: str, stream: BinaryIO, source_prefix: str = "") -> UploadReport:
    """Expand a zip into documents, refusing unsafe entries alone: paths escaping the folder, links, bombs."""
    report = UploadReport()
    archive_path = posixpath.join(source_prefix, name) if source_prefix else name
    try:
        archive = zipfile.ZipFile(stream)
        entries = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        report.record(
            document_reject(
                collection=collection,
                file_name=name,
                source_path=archive_path,
                reason=f"The zip archive is damaged or is not a zip archive ({error}).",
            )
        )
        return report
    if len(entries) > settings.ZIP_MAX_ENTRIES:
        report.record(
            document_reject(
                collection=collection,
                file_name=name,
                source_path=archive_path,
                reason=f"The archive holds {len(entries)} files, more than the limit of {settings.ZIP_MAX_ENTRIES}.",
            )
        )
        return report
    budget = settings.ZIP_MAX_TOTAL_BYTES
    with archive:
        for info in entries:
            entry_name = _entry_name(info)
            if ARCHIVE_JUNK.search(entry_name):
                continue
            source_path = posixpath.join(archive_path, entry_name)
            file_name = PurePosixPath(entry_name).name
            problem = _entry_problem(info, entry_name)
            content = None
            if problem is None:
                try:
                    content, problem = _entry_read(archive, info, budget=budget)
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
                    problem = f"The archive entry “{entry_name}” is damaged ({error})."
            if content is None:
                report.record(
                    document_reject(
                        collection=collection,
                        file_name=file_name,
                        source_path=source_path,
                        reason=problem or "unreadable",
                        size_bytes=info.file_size,
                    )
                )
                continue
            budget -= len(content)
            report.record(
                document_register(collection=collection, file_name=file_name, content=content, source_path=source_path)
            )
    return report


def folder_files(*, path: Path) -> Iterable[tuple[str, Path]]:
    """(relative path, file) for every file under a folder, hidden ones left out, in a stable order."""
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path).as_posix()
        if file.is_file() and not any(part.startswith(".") for part in PurePosixPath(relative).parts):
            yield relative, file


def path_register(*, collection: Collection, path: Path) -> UploadReport:
    """Register a file, a zip or a folder of them from the server's disk (the ingest command)."""
    report = UploadReport()
    if path.is_dir():
        for relative, file in folder_files(path=path):
            with open(file, "rb") as stream:
                parent = posixpath.dirname(relative)
                report.extend(
                    upload_register(collection=collection, name=file.name, stream=stream, source_prefix=parent)
                )
        return report
    with open(path, "rb") as stream:
        return upload_register(collection=collection, name=path.name, stream=stream)
