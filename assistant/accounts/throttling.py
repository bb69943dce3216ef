"""Request rates of the REST and OpenAI-compatible APIs, per user (anonymous callers per address, stricter).

Three limits apply together (settings REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], from API_THROTTLE_* variables):
"user" for every request of a signed-in user, "anon" for every request without credentials, and "generation" for
the requests that make the model write (POSTs: answers, clinical reports, policy matches, chat completions), which
are what a single user could exhaust the model server with. A caller over a limit gets 429 with `Retry-After`.

Rates are read on each request rather than when the class is defined (DRF's default), so a changed setting holds at
once. Counts live in Django's cache: set CACHE_URL to Redis when several processes serve the API, so that they share
one count per user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_THROTTLE_CLASSES) as it loads
    from rest_framework.views import APIView

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _RateFromSettings(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Every request of a signed-in user (anonymous ones count per address under this scope too, but "anon" is
    stricter and applies first)."""

    scope = "user"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return True  # AnonThrottle's business
        return super().allow_request(request, view)


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Requests without credentials, per client address: the schema and docs, and refused calls."""

    scope = "anon"


class GenerationThrottle(_RateFromSettings, UserRateThrottle):
    """Requests that make the model write, per user: every unsafe method of the APIs asks the model."""

    scope = "generation"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
