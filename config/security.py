"""Hardening that Django's settings do not cover: a Content-Security-Policy header, and upload limits enforced while
the request streams in rather than after it has been read.

The policy itself is settings.CONTENT_SECURITY_POLICY (inline scripts allowed: the pages stream with them).

Uploads: a request whose Content-Length is over UPLOAD_REQUEST_MAX_BYTES is refused (413) before a byte of its body
is read; one that streams more than that is cut off at the limit and refused before its view runs. Within a request,
a file that passes UPLOAD_MAX_BYTES stops being stored at that point: the form receives an `OversizeUpload` that
knows the file's name, size and sha256 but holds no content. The set's upload page refuses it with its reason, as
any file over the limit (ingestion/uploads.py), while the request's other files go on; any other view gets a 413.
Zip archives are bounded by ZIP_MAX_TOTAL_BYTES instead: they are expanded entry by entry under their own limits.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse

ZIP_SUFFIXES = {".zip"}
# Views that refuse a file over the limit alone, keeping the rest of the upload (the set's upload page records it as
# a failed document with its reason); anywhere else such a file refuses the request.
PER_FILE_LIMIT_VIEWS = frozenset({"admin:ingestion_collection_documents"})
REFUSED_ATTRIBUTE = "upload_refused"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def _limit_label(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def request_limit_message(limit: int) -> str:
    return f"The upload is larger than {_limit_label(limit)} in all; nothing from it was stored. Upload fewer files."


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response that has not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class RequestSizeLimitMiddleware:
    """413 for a body declared over UPLOAD_REQUEST_MAX_BYTES, before anything reads it; and for a multipart body
    that UploadLimitHandler stopped once it streamed past the limit, before the view sees what had arrived."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.UPLOAD_REQUEST_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _too_large(request_limit_message(limit))
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable, args: tuple, kwargs: dict) -> HttpResponse | None:
        if request.method != "POST" or not request.content_type.startswith("multipart/"):
            return None
        request.POST  # noqa: B018 - parsed here (as CSRF's check would), so a refused upload never reaches the view
        refused = getattr(request, REFUSED_ATTRIBUTE, "")
        if refused:
            return _too_large(refused)
        oversize = [u for _, uploads in request.FILES.lists() for u in uploads if isinstance(u, OversizeUpload)]
        match = request.resolver_match
        if oversize and (match is None or match.view_name not in PER_FILE_LIMIT_VIEWS):
            return _too_large(oversize[0].reason)
        return None


def _too_large(message: str) -> HttpResponse:
    response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    response["Connection"] = "close"
    return response


class _DiscardedContent(io.RawIOBase):
    """A file's place when its bytes past the limit were not kept: its size is known, its content is not readable."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = {0: offset, 1: self._position + offset, 2: self._size + offset}[whence]
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: bytearray) -> int:
        raise OSError("This upload was over the size limit; its content was not kept.")


class OversizeUpload(UploadedFile):
    """A file of the upload that passed UPLOAD_MAX_BYTES: name, size and sha256 of all its bytes, no content."""

    def __init__(self, *, name: str, content_type: str, size: int, sha256: str, charset: str | None) -> None:
        super().__init__(_DiscardedContent(size), name=name, content_type=content_type, size=size, charset=charset)
        self.sha256 = sha256
        self.reason = f"“{name}” is over the limit of {_limit_label(settings.UPLOAD_MAX_BYTES)}; it was not stored."


class UploadLimitHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: counts every byte as it streams in and keeps the handlers after it from storing
    a file past its limit, or anything past the request's."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.request_bytes = 0

    def new_file(self, *args: object, **kwargs: object) -> None:
        super().new_file(*args, **kwargs)
        is_zip = Path(self.file_name or "").suffix.lower() in ZIP_SUFFIXES
        self.file_limit = settings.ZIP_MAX_TOTAL_BYTES if is_zip else settings.UPLOAD_MAX_BYTES
        self.file_bytes = 0
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.request_bytes += len(raw_data)
        self.file_bytes += len(raw_data)
        if self.request_bytes > settings.UPLOAD_REQUEST_MAX_BYTES:
            if self.request is not None:
                setattr(self.request, REFUSED_ATTRIBUTE, request_limit_message(settings.UPLOAD_REQUEST_MAX_BYTES))
            raise StopUpload(connection_reset=True)
        self.digest.update(raw_data)
        return raw_data if self.file_bytes <= self.file_limit else None  # past the limit: counted, not stored

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.file_bytes <= self.file_limit:
            return None  # the storing handlers after this one hand over the file
        for handler in getattr(self.request, "upload_handlers", []):
            if handler is not self and hasattr(handler, "file"):
                handler.file.close()  # the part stored before the limit is dropped (a temporary file is deleted)
        return OversizeUpload(name=self.file_name, content_type=self.content_type, size=self.file_bytes,
                              sha256=self.digest.hexdigest(), charset=self.charset)
