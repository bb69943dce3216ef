"""Fuzzing the APIs against their OpenAPI schema (schemathesis over WSGI, in the test's database transaction).

Two users read different document sets and each has an answer, a clinical report and a policy match. Every operation
is called as alice with generated data, steered half the time towards real set names and both users' record ids:
no response is a server error, every status, content type and body is the one the schema documents, and nothing of
bob's (his records' ids and text, his set's passages) ever comes back. The model server is an unreachable port, so
requests that would make the model write fail fast the way the services handle that (question and retrieval kept,
the error returned); retrieval, validation, storage and serialization run for real. Then data the schema forbids
(schemathesis' negative mode): never a server error. Bounded and derandomized.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import hypothesis
import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from assistant.models import Answer, ClinicalReport, PolicyMatchRecord
from ingestion.models import Chunk
from tests.assistant.openapi_client import CONFORMANCE_CHECKS, api_schema_fixture, bearer, wsgi_app_fixture  # noqa: F401 - fixtures
from tests.factories import ingest_bytes, user_create

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25
NEGATIVE_EXAMPLES_PER_OPERATION = 10
ALICE_TEXT = """# Hypertension follow-up

Adults with hypertension should have their blood pressure measured at every visit and treatment adjusted to reach
a target below 140/90 mmHg. Lifestyle advice covers salt, weight and exercise.
"""
# What must never reach alice: bob's set's text and his records' contents, each carrying a marker.
BOB_SECRET = "QUOKKA-7731"
BOB_TEXT = f"""# Hypertension in the restricted ward ({BOB_SECRET})

Adults with hypertension in the restricted ward receive the protocol {BOB_SECRET}: blood pressure measured at every
visit, treatment adjusted to a target below 130/80 mmHg.
"""


def _closed_port() -> int:
    with socket.socket() as probe:  # bound then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _records(user, *, text: str, chunk_ids: list[int]) -> dict[str, int]:
    answer = Answer.objects.create(user=user, question=f"question {text}", text=f"answer {text}", passages=chunk_ids)
    report = ClinicalReport.objects.create(user=user, complaint=f"complaint {text}", passages=chunk_ids)
    match = PolicyMatchRecord.objects.create(user=user, profile={"notes": f"notes {text}"})
    return {"answer_id": answer.id, "report_id": report.id, "match_id": match.id}


@pytest.fixture
def two_users(settings) -> Iterator[dict]:
    settings.LLM_BASE_URL, settings.LLM_MODEL = f"http://127.0.0.1:{_closed_port()}/v1", "deepseek-r1"
    settings.LLM_TIMEOUT_S = 5
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min", "generation": "10000/min"},
    }
    cache.clear()
    ingest_bytes(name="alice.md", content=ALICE_TEXT.encode(), collection="ward-a", readers=["readers a"])
    ingest_bytes(name="bob.md", content=BOB_TEXT.encode(), collection="ward-b", readers=["readers b"])
    alice = user_create("alice", groups=["readers a"])
    bob = user_create("bob", groups=["readers b"])
    alice_chunks = list(Chunk.objects.filter(collection__name="ward-a").values_list("id", flat=True))
    bob_chunks = list(Chunk.objects.filter(collection__name="ward-b").values_list("id", flat=True))
    assert alice_chunks and bob_chunks
    yield {
        "token": Token.objects.create(user=alice).key,
        "alice_ids": _records(alice, text="alice's", chunk_ids=alice_chunks),
        "bob_ids": _records(bob, text=BOB_SECRET, chunk_ids=bob_chunks),
        "bob_chunks": set(bob_chunks),
    }
    cache.clear()


def _chunk_ids(node: object) -> Iterator[int]:
    """Every chunk id a response names: `chunk_id` fields and `passages` lists of ids."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "chunk_id" and isinstance(value, int):
                yield value
            elif key == "passages" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, int))
            yield from _chunk_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from _chunk_ids(value)


def _steer(case, *, steer: bool, set_name: str, record: str) -> None:
    """Half the time: real set names in the body or query and a real record id (alice's or bob's) in the path."""
    if not steer:
        return
    if isinstance(case.body, dict):
        if "collections" in case.body:
            case.body["collections"] = [set_name]
        if "model" in case.body:
            case.body["model"] = set_name
            case.body["messages"] = [{"role": "user", "content": "What is the blood pressure target?"}]
    if case.query and "collections" in case.query:
        case.query["collections"] = set_name
    if case.path_parameters:
        (name,) = case.path_parameters
        case.path_parameters[name] = record


# One valid request per operation besides the generated ones, so every operation is checked past validation too.
VALID_BODIES = {
    "POST /api/answers/": {"question": "What is the blood pressure target?", "collections": ["ward-a"]},
    "POST /api/clinical-reports/": {"complaint": "headache and high blood pressure", "age": 60, "sex": "female",
                                    "collections": ["ward-a"]},
    "POST /api/policy-matches/": {"province": "广东省", "size": "small", "employees": 40, "collections": ["ward-a"]},
    "POST /v1/chat/completions": {"model": "ward-a", "messages": [{"role": "user", "content": "Blood pressure?"}]},
}


def _fuzz(operation, *, world: dict, called: dict[str, set[int]]) -> None:
    """Alice calls the operation with generated data; every reply is checked as the module says."""
    label = f"{operation.method.upper()} {operation.path}"
    bob_ids, alice_ids = world["bob_ids"], world["alice_ids"]
    id_name = next((p.name for p in operation.path_parameters), None)
    record_ids = [str(ids[id_name]) for ids in (alice_ids, bob_ids)] if id_name else ["1"]

    def check(case) -> None:
        response = case.call(headers=bearer(world["token"]))
        case.validate_response(response, checks=CONFORMANCE_CHECKS)
        called.setdefault(label, set()).add(response.status_code)
        assert BOB_SECRET not in response.text, (label, response.text[:500])
        if id_name and str(case.path_parameters[id_name]) == str(bob_ids[id_name]):
            assert response.status_code == 404, label
        if "json" in response.headers.get("content-type", [""])[0]:
            leaked = set(_chunk_ids(response.json())) & world["bob_chunks"]
            assert not leaked, (label, leaked)

    if label in VALID_BODIES:
        check(operation.Case(body=VALID_BODIES[label], media_type="application/json"))
    else:
        check(operation.Case(path_parameters={id_name: alice_ids[id_name]} if id_name else None,
                             query={"q": "blood pressure"} if operation.query else None))

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(
        case=operation.as_strategy(), steer=st.booleans(), set_name=st.sampled_from(["ward-a", "ward-b"]),
        record=st.sampled_from(record_ids),
    )
    def fuzz(case, steer: bool, set_name: str, record: str) -> None:
        _steer(case, steer=steer, set_name=set_name, record=record)
        check(case)

    fuzz()

    @hypothesis.settings(
        max_examples=NEGATIVE_EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def fuzz_invalid(case) -> None:
        """Data the schema forbids: refused as the client's error, never a server error, nothing of bob's."""
        response = case.call(headers=bearer(world["token"]))
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500 and BOB_SECRET not in response.text, (label, response.text[:500])

    fuzz_invalid()


def test_fuzzed_api_has_no_server_errors_conforms_to_its_schema_and_never_shows_another_users_data(
    two_users: dict, api_schema,
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 11
    called: dict[str, set[int]] = {}
    for operation in operations:
        _fuzz(operation, world=two_users, called=called)

    # Every operation answered past validation, and was refused too, so the checks saw both kinds of reply.
    assert set(called) == {f"{o.method.upper()} {o.path}" for o in operations}
    assert all(statuses & {200, 201} for statuses in called.values()), called
    assert all(statuses - {200, 201} for label, statuses in called.items() if "{" in label or "POST" in label), called


@pytest.mark.parametrize(
    "path, body",
    [
        ("/v1/chat/completions", {"model": "ward-a", "messages": [{"role": "user", "content": "blood\x00pressure"}]}),
        ("/v1/chat/completions", {"model": "ward-a", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "blood\x00pressure"}]}]}),
        ("/v1/chat/completions", {"model": "ward-a", "messages": [
            {"role": "user", "content": [{"type": "text", "text": 5}]}]}),
        ("/api/answers/", {"question": "blood\x00pressure", "collections": ["ward-a"]}),
        ("/api/clinical-reports/", {"complaint": "head\x00ache", "collections": ["ward-a"]}),
        ("/api/policy-matches/", {"notes": "a\x00b", "collections": ["ward-a"]}),
    ],
)
def test_text_the_database_cannot_store_is_refused_as_the_clients_error(two_users: dict, path: str,
                                                                        body: dict) -> None:
    """Found by fuzzing the chat endpoint: a NUL in a message reached PostgreSQL and answered 500."""
    client = Client(headers=bearer(two_users["token"]))
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert not Answer.objects.filter(question__contains="blood").exists()
