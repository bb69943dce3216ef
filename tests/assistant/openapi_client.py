"""The served OpenAPI schema loaded by schemathesis over WSGI, so tests call the app in process (in the test's
database transaction) and check responses against what the schema says. A test module imports the fixtures
`wsgi_app` and `api_schema` under their function names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SCHEMA_PATH = "/api/schema/?format=json"
# What every response must satisfy: no server error, a status code, content type and body the schema documents.
CONFORMANCE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                      response_schema_conformance]


@pytest.fixture(name="wsgi_app")
def wsgi_app_fixture() -> Iterator:
    """Django's WSGI application, its requests kept in the test's transaction: as Django's test client does, the
    database connection is not closed at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(name="api_schema")
def api_schema_fixture(wsgi_app) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
