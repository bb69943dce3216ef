"""A request that loses its database connection (the server restarted, a failover, the connection killed) gets
503 with Retry-After, not a bare 500: the client knows to try again, and the next request connects afresh.

Django closes a connection that raised at the end of the request (and, with CONN_HEALTH_CHECKS, checks a persistent
one before reusing it), so one lost connection costs one request, never a series of failures. The request's own
writes were in transactions or single statements: a write the database never confirmed is not there, so nothing is
half-written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
MESSAGE = "The database is unavailable for a moment; nothing was saved from this request. Please try again."


class DatabaseOutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable during %s %s: %s", request.method, request.path, exception)
        if request.path.startswith(("/api/", "/v1/")) or "json" in request.headers.get("Accept", ""):
            response: HttpResponse = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
