"""`Authorization: Bearer <token>` with DRF's tokens, which is what OpenAI clients send as their API key."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """A user's DRF token (`manage.py drf_create_token USER`) given as an OpenAI API key."""

    keyword = "Bearer"
