"""Request rates per user: over a rate the API answers 429 with Retry-After and says why; users count apart;
anonymous callers have their own, stricter rate; only requests that make the model write count as generation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import response_headers_conformance

from tests.assistant.openapi_client import CONFORMANCE_CHECKS, api_schema_fixture, bearer, wsgi_app_fixture  # noqa: F401 - fixtures
from tests.factories import user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings) -> dict[str, str]:
    """Small rates for this test, counted from zero."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "3/min", "generation": "1/hour"},
    }
    cache.clear()
    yield settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    cache.clear()


def _client(username: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {Token.objects.create(user=user_create(username)).key}"})


def test_each_user_has_their_own_rate_and_hears_when_to_come_back(rates: dict[str, str]) -> None:
    alice, bob = _client("alice"), _client("bob")
    statuses = [alice.get("/api/clinical-reports/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]

    refused = alice.get("/api/policy-matches/")  # the rate is the user's, across endpoints
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    assert bob.get("/api/clinical-reports/").status_code == 200  # another user is not held back by alice


def test_generation_rate_counts_only_requests_that_make_the_model_write(rates: dict[str, str]) -> None:
    carol = _client("carol")
    first = carol.post("/api/answers/", {"question": "?", "collections": ["no-such-set"]},
                       content_type="application/json")
    assert first.status_code == 400  # refused by validation, but it counted: the rate is checked before the body
    second = carol.post("/api/answers/", {"question": "?", "collections": ["x"]}, content_type="application/json")
    assert second.status_code == 429 and int(second["Retry-After"]) > 60  # an hourly rate
    assert carol.get("/api/clinical-reports/").status_code == 200  # reading is not generating


def test_openai_endpoint_is_throttled_in_openai_shape(rates: dict[str, str]) -> None:
    dave = _client("dave")
    for _ in range(3):
        assert dave.get("/v1/models").status_code == 200
    refused = dave.get("/v1/models")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert set(refused.json()["error"]) == {"message", "type", "param", "code"}
    assert refused.json()["error"]["code"] == "throttled"


def test_anonymous_callers_have_a_stricter_rate(rates: dict[str, str]) -> None:
    anonymous = Client()
    statuses = [anonymous.get("/api/schema/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert int(anonymous.get("/api/schema/")["Retry-After"]) > 0


def test_a_throttled_reply_is_what_the_schema_documents(rates: dict[str, str], api_schema) -> None:
    token = Token.objects.create(user=user_create("erin")).key
    operation = api_schema["/api/clinical-reports/"]["GET"]
    statuses = []
    for _ in range(4):
        case = operation.Case(headers=bearer(token))
        response = case.call()
        case.validate_response(response, checks=[*CONFORMANCE_CHECKS, response_headers_conformance])
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
