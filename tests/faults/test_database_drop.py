"""The database connection dropped under the web app: the request that lost it gets 503 with Retry-After (not a
500), nothing of it is half-written, and the next request works; a persistent connection dropped while idle is
replaced before use (CONN_HEALTH_CHECKS), so no request fails for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections, connection, connections
from django.test import Client

from assistant.demo.sample_set import sample_set_write
from assistant.models import Answer
from ingestion.models import Collection
from tests.factories import ingest_file
from tests.faults.stalling_server import StallingServer

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Which antibiotics treat community-acquired pneumonia?"


def terminate_other_backends() -> int:
    """pg_terminate_backend on every other connection to the test database, from this test's own connection."""
    assert connection.vendor == "postgresql", "this fault needs PostgreSQL"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def sample(tmp_path: Path) -> Collection:
    for path in sample_set_write(directory=tmp_path / "sample"):
        ingest_file(path=path, collection="sample")
    return Collection.objects.get(name="sample")


@pytest.fixture
def api_client() -> Client:
    client = Client(raise_request_exception=False)  # as a real server: an error is a response, not a test crash
    client.force_login(User.objects.create_superuser("faults-db", password="pw-faults-db"))
    return client


@pytest.fixture
def stalled_model(settings) -> Iterator[StallingServer]:
    server = StallingServer(mode="silent")
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_TIMEOUT_S = server.base_url, "deepseek-r1", 2
    yield server
    server.close()


def ask_in_a_thread(client: Client, collection: Collection) -> tuple[threading.Thread, dict]:
    """The request runs in its own thread, so on its own database connection, as under a server."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["response"] = client.post(
                "/api/answers/", {"question": QUESTION, "collections": [collection.name]},
                content_type="application/json",
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_connection_killed_during_a_request_gives_503_then_the_next_request_works(
    sample: Collection, api_client: Client, stalled_model: StallingServer
) -> None:
    thread, outcome = ask_in_a_thread(api_client, sample)
    # The request has retrieved its passages (its connection is open) and waits on the model: kill its connection.
    assert stalled_model.requested.wait(timeout=120)
    assert terminate_other_backends() >= 1
    thread.join(timeout=120)

    response = outcome["response"]
    assert response.status_code == 503 and response["Retry-After"]
    assert "database is unavailable" in response.json()["detail"]
    assert not Answer.objects.exists()  # the answer the database never confirmed is not there, not half of it

    thread, outcome = ask_in_a_thread(api_client, sample)  # the next request connects afresh
    thread.join(timeout=120)
    assert outcome["response"].status_code == 201, outcome["response"].content[:500]
    answer = Answer.objects.get()
    assert answer.question == QUESTION and answer.passages and answer.collections.get() == sample


def test_persistent_connection_dropped_while_idle_is_replaced_before_the_next_request(
    sample: Collection, api_client: Client
) -> None:
    settings_dict = connections.settings["default"]
    assert settings_dict["CONN_HEALTH_CHECKS"] is True  # what production settings say
    saved = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 600  # persistent connections, as in production with DATABASE_CONN_MAX_AGE
    statuses: list[int] = []
    backends: list[int] = []
    idle = threading.Event()
    go_on = threading.Event()

    def server_thread() -> None:
        try:
            for round_number in range(2):
                # What a server's handler does as each request starts (Django's test client leaves it out): a
                # persistent connection is then health-checked before its first use in the request.
                close_old_connections()
                response = api_client.get("/api/search/", {"q": "pneumonia antibiotics", "collections": "sample"})
                statuses.append(response.status_code)
                backends.append(connection.connection.info.backend_pid if connection.connection else -1)
                if round_number == 0:
                    idle.set()
                    go_on.wait(timeout=60)
        finally:
            connections.close_all()

    thread = threading.Thread(target=server_thread)
    try:
        connection.close()  # not the test's connection: only the serving thread's is killed
        thread.start()
        assert idle.wait(timeout=120)
        assert terminate_other_backends() == 1  # the serving thread's kept connection, idle between requests
        go_on.set()
        thread.join(timeout=120)
    finally:
        settings_dict["CONN_MAX_AGE"] = saved

    assert statuses == [200, 200]  # no request paid for the dropped connection
    assert backends[0] != backends[1]  # the second ran on a new connection
