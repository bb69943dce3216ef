"""Two users with overlapping document sets, through every interface: each sees its own sets' chunks only.

Alice's group reads the cardiology set and the shared one; Bob's reads oncology and the shared one. Each set's
document carries its own marker words, so a response that leaks a chunk of an unreadable set shows it. The model
server is unreachable here (answers fail fast after retrieval), which is enough: what could leak is what retrieval
gives, and every retrieval event, stored passage list, citation and audit row is checked.
"""

from __future__ import annotations

import json
import socket

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.test import Client
from rest_framework.authtoken.models import Token

from assistant.models import Answer, AuditEvent, ClinicalReport, PolicyMatchRecord
from ingestion.models import Chunk, Collection
from retrieval.access import (
    OPERATOR,
    ROLE_ADMIN,
    ROLE_CLINICIAN,
    ROLE_POLICY_OFFICER,
    ROLE_READ_ONLY,
    collections_readable,
)
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes, user_create

pytestmark = pytest.mark.django_db

DOCUMENTS = {
    "cardiology": ("Cardiology notes aardvark", "aardvark", "土豚"),
    "oncology": ("Oncology notes zebrafish", "zebrafish", "斑马鱼"),
    "shared": ("Shared notes pangolin", "pangolin", "穿山甲"),
}
READERS = {"cardiology": ["cardio team"], "oncology": ["onco team"], "shared": ["cardio team", "onco team"]}
QUESTION = "What blood pressure target applies?"
COMPLAINT = "Headache with high blood pressure"


def _document_text(title: str, english: str, chinese: str) -> bytes:
    return (
        f"# {title}\n\n"
        f"Keep blood pressure below 130/80 mmHg; the {english} rule says to measure it seated.\n\n"
        f"第一条 中小企业研发投入补助：职工人数不超过300人的软件企业可以申请（标记词{chinese}）。\n"
    ).encode()


@pytest.fixture
def sets(settings) -> dict[str, Collection]:
    # Unreachable model server: generation fails at once, retrieval has already run and been sent.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_TIMEOUT_S = f"http://127.0.0.1:{port}/v1", "m", 5
    collections = {}
    for name, (title, english, chinese) in DOCUMENTS.items():
        ingest_bytes(name=f"{name}.md", content=_document_text(title, english, chinese), collection=name,
                     title=title, readers=READERS[name])
        collections[name] = Collection.objects.get(name=name)
    return collections


def _chunk_ids(*collections: Collection) -> set[int]:
    return set(Chunk.objects.filter(collection__in=collections).values_list("id", flat=True))


@pytest.fixture
def alice(sets):
    return user_create("alice", password="a-long-test-password", groups=["cardio team"])


@pytest.fixture
def bob(sets):
    return user_create("bob", password="a-long-test-password", groups=["onco team"])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _offered(page: str, collection: Collection) -> bool:
    return f'name="collections" value="{collection.id}"' in page


def _events(response) -> list[tuple[str, dict]]:
    body = b"".join(response.streaming_content).decode()
    events = []
    for frame in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def _assert_no_marker_of(text: str, *names: str) -> None:
    for name in names:
        _, english, chinese = DOCUMENTS[name]
        assert english not in text and chinese not in text, f"{name} leaked"


def _audited(*, user, interface: str) -> AuditEvent:
    return AuditEvent.objects.get(user_id=user.id, interface=interface)


def test_readable_sets_follow_the_groups_and_ungranted_sets_are_for_admins_only(sets, alice, bob) -> None:
    private = Collection.objects.create(name="not granted yet")
    admin = user_create("head", roles=[ROLE_ADMIN], groups=[])
    root = user_create("root", roles=[], groups=[], superuser=True)

    assert set(collections_readable(reader=alice)) == {sets["cardiology"], sets["shared"]}
    assert set(collections_readable(reader=bob)) == {sets["oncology"], sets["shared"]}
    for everything in (admin, root, OPERATOR):
        assert set(collections_readable(reader=everything)) == {*sets.values(), private}
    assert not collections_readable(reader=AnonymousUser()).exists()
    alice.is_active = False
    alice.save()
    assert not collections_readable(reader=alice).exists()


def test_retrieval_itself_never_returns_a_chunk_of_an_unreadable_set(search_engine, sets, alice) -> None:
    """On either engine: the sets a reader may read are the filter inside the search (Milvus: its expression)."""
    everything = [c.id for c in sets.values()]
    as_operator = passages_retrieve(query=QUESTION, collection_ids=everything, reader=OPERATOR, k=10).passages
    assert {p.chunk.collection_id for p in as_operator} == set(everything)  # the query reaches all three

    as_alice = passages_retrieve(query=QUESTION, collection_ids=everything, reader=alice, k=10).passages
    assert as_alice and {p.chunk.id for p in as_alice} <= _chunk_ids(sets["cardiology"], sets["shared"])
    only_oncology = passages_retrieve(query=QUESTION, collection_ids=[sets["oncology"].id], reader=alice, k=10)
    assert only_oncology.passages == []


def test_ask_page_and_stream_offer_and_search_readable_sets_only(sets, alice) -> None:
    client = _client(alice)
    page = client.get("/").content.decode()
    assert _offered(page, sets["cardiology"]) and _offered(page, sets["shared"])
    assert not _offered(page, sets["oncology"]) and "Oncology notes" not in page

    refused = client.post("/answers/stream/", {"question": QUESTION, "collections": [sets["oncology"].id]})
    assert refused.status_code == 400 and _events(refused)[0][0] == "error"
    plain = client.post("/", {"question": QUESTION, "collections": [sets["shared"].id, sets["oncology"].id]})
    assert plain.status_code == 200 and not Answer.objects.exists()  # the form is shown again with the error

    response = client.post("/answers/stream/", {"question": QUESTION,
                                                "collections": [sets["cardiology"].id, sets["shared"].id]})
    events = _events(response)
    retrieval = dict(events)["retrieval"]
    readable = _chunk_ids(sets["cardiology"], sets["shared"])
    assert retrieval["passages"] and {p["chunk_id"] for p in retrieval["passages"]} <= readable
    _assert_no_marker_of(json.dumps(events, ensure_ascii=False), "oncology")
    answer = Answer.objects.get(id=dict(events)["done"]["answer_id"])
    assert set(answer.passages) <= readable

    event = _audited(user=alice, interface=AuditEvent.Interface.ASK_STREAM)
    assert event.action == AuditEvent.Action.QUESTION and event.question == QUESTION
    assert event.chunk_ids == answer.passages and event.object_ids == [answer.id]
    assert event.collection_ids == sorted([sets["cardiology"].id, sets["shared"].id])
    assert event.collection_names == "|cardiology|shared|" and event.username == "alice"


def test_rest_api_refuses_unreadable_sets_and_answers_from_readable_ones(sets, alice, bob) -> None:
    client = _client(alice)
    for named in (["oncology"], [str(sets["oncology"].id)], ["shared", "oncology"]):
        refused = client.post("/api/answers/", {"question": QUESTION, "collections": named},
                              content_type="application/json")
        assert refused.status_code == 400 and "collections" in refused.json()
        assert "No document set named" in refused.json()["collections"][0]  # as if it did not exist

    created = client.post("/api/answers/", {"question": QUESTION, "collections": ["cardiology", "shared"]},
                          content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    readable = _chunk_ids(sets["cardiology"], sets["shared"])
    assert {p["chunk_id"] for p in body["closest_passages"]} <= readable
    _assert_no_marker_of(json.dumps(body, ensure_ascii=False), "oncology")
    assert _audited(user=alice, interface=AuditEvent.Interface.ANSWER_API).object_ids == [body["id"]]
    # Bob may not read Alice's answer, though he reads the shared set.
    assert _client(bob).get(f"/api/answers/{body['id']}/").status_code == 404


def test_openai_endpoint_lists_and_answers_from_readable_sets_only(sets, alice) -> None:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {Token.objects.create(user=alice).key}"}
    client = Client()
    models = client.get("/v1/models", **headers).json()
    assert [m["id"] for m in models["data"]] == ["yiju", "cardiology", "shared"]

    def completion(**body: object):
        payload = {"messages": [{"role": "user", "content": QUESTION}], **body}
        return client.post("/v1/chat/completions", json.dumps(payload), content_type="application/json", **headers)

    for refused in (completion(model="oncology"), completion(model="yiju", collections=["shared", "oncology"])):
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"

    assert completion(model="yiju").status_code == 200  # every readable set
    answer = Answer.objects.get()
    assert set(answer.collections.all()) == {sets["cardiology"], sets["shared"]}
    assert answer.passages and set(answer.passages) <= _chunk_ids(sets["cardiology"], sets["shared"])

    streamed = completion(model="shared", stream=True)
    body = b"".join(streamed.streaming_content).decode()
    assert streamed.status_code == 200 and body.rstrip().endswith("data: [DONE]")
    _assert_no_marker_of(body, "oncology", "cardiology")
    events = AuditEvent.objects.filter(user_id=alice.id, interface=AuditEvent.Interface.OPENAI_API)
    assert events.count() == 2
    assert set(events.first().chunk_ids) <= _chunk_ids(sets["shared"])


def test_clinical_portal_and_api_use_readable_sets_only(sets, alice) -> None:
    client = _client(alice)
    page = client.get("/clinical/").content.decode()
    assert not _offered(page, sets["oncology"]) and _offered(page, sets["shared"])
    refused = client.post("/clinical/stream/", {"complaint": COMPLAINT, "collections": [sets["oncology"].id]})
    assert refused.status_code == 400
    refused = client.post("/api/clinical-reports/", {"complaint": COMPLAINT, "collections": ["oncology"]},
                          content_type="application/json")
    assert refused.status_code == 400 and not ClinicalReport.objects.exists()

    readable = _chunk_ids(sets["cardiology"], sets["shared"])
    events = _events(client.post("/clinical/stream/", {"complaint": COMPLAINT,
                                                       "collections": [sets["cardiology"].id, sets["shared"].id]}))
    passages = dict(events)["retrieval"]["passages"]
    assert passages and {p["chunk_id"] for p in passages} <= readable
    _assert_no_marker_of(json.dumps(events, ensure_ascii=False), "oncology")

    created = client.post("/api/clinical-reports/", {"complaint": COMPLAINT, "collections": ["shared"]},
                          content_type="application/json")
    assert created.status_code == 201
    report = ClinicalReport.objects.get(id=created.json()["id"])
    assert report.passages and set(report.passages) <= _chunk_ids(sets["shared"])
    stream_event = _audited(user=alice, interface=AuditEvent.Interface.CLINICAL_STREAM)
    assert stream_event.action == AuditEvent.Action.CLINICAL_REPORT and stream_event.question == COMPLAINT
    assert _audited(user=alice, interface=AuditEvent.Interface.CLINICAL_API).chunk_ids == report.passages


def test_policy_form_and_api_use_readable_sets_only(sets, bob) -> None:
    client = _client(bob)
    page = client.get("/policies/").content.decode()
    assert not _offered(page, sets["cardiology"]) and _offered(page, sets["oncology"])
    profile = {"province": "广东省", "industry": "软件企业", "size": "small", "employees": 120}
    refused = client.post("/api/policy-matches/", {**profile, "collections": ["cardiology"]},
                          content_type="application/json")
    assert refused.status_code == 400 and not PolicyMatchRecord.objects.exists()
    refused = client.post("/policies/stream/", {**profile, "collections": [sets["cardiology"].id]})
    assert refused.status_code == 400

    created = client.post("/api/policy-matches/", {**profile, "collections": ["oncology", "shared"]},
                          content_type="application/json")
    assert created.status_code == 201
    record = PolicyMatchRecord.objects.get(id=created.json()["id"])
    shown = {p["chunk_id"] for policy in record.policies for p in policy["passages"]}
    assert shown and shown <= _chunk_ids(sets["oncology"], sets["shared"])
    _assert_no_marker_of(json.dumps(created.json(), ensure_ascii=False), "cardiology")

    events = _events(client.post("/policies/stream/", {**profile, "collections": [sets["oncology"].id]}))
    assert {p["document_id"] for p in dict(events)["retrieval"]["policies"]} <= set(
        sets["oncology"].documents.values_list("id", flat=True))
    event = _audited(user=bob, interface=AuditEvent.Interface.POLICY_API)
    assert event.action == AuditEvent.Action.POLICY_MATCH and set(event.chunk_ids) == shown
    assert _audited(user=bob, interface=AuditEvent.Interface.POLICY_STREAM).collection_ids == [sets["oncology"].id]


def test_passage_page_is_404_for_guessed_ids_of_unreadable_sets(sets, alice, bob) -> None:
    alice_client, bob_client = _client(alice), _client(bob)
    for chunk_id in _chunk_ids(sets["oncology"]):
        assert alice_client.get(f"/passages/{chunk_id}/").status_code == 404
        assert bob_client.get(f"/passages/{chunk_id}/").status_code == 200
    for chunk_id in _chunk_ids(sets["shared"]):
        assert alice_client.get(f"/passages/{chunk_id}/").status_code == 200
    ids = Chunk.objects.order_by("id").values_list("id", flat=True)
    for guessed in range(max(1, ids.first() - 3), ids.last() + 3):  # every id there is and a few that are not
        expected = 200 if guessed in _chunk_ids(sets["cardiology"], sets["shared"]) else 404
        assert alice_client.get(f"/passages/{guessed}/?q=0-5").status_code == expected


def test_roles_decide_which_pages_and_apis_a_user_may_use(sets) -> None:
    read_only = _client(user_create("viewer", roles=[ROLE_READ_ONLY], groups=["cardio team"]))
    clinician = _client(user_create("doc", roles=[ROLE_CLINICIAN], groups=["cardio team"]))
    officer = _client(user_create("officer", roles=[ROLE_POLICY_OFFICER], groups=["cardio team"]))
    nobody = _client(user_create("nobody", roles=[], groups=["cardio team"]))

    assert read_only.get("/").status_code == 200 and read_only.get("/v1/models").status_code == 200
    for path in ("/clinical/", "/clinical/reports/", "/policies/", "/policies/matches/"):
        assert read_only.get(path).status_code == 403
    assert read_only.post("/api/clinical-reports/", {}, content_type="application/json").status_code == 403
    assert read_only.post("/api/policy-matches/", {}, content_type="application/json").status_code == 403

    assert clinician.get("/clinical/").status_code == 200 and clinician.get("/policies/").status_code == 403
    assert officer.get("/policies/").status_code == 200 and officer.get("/clinical/").status_code == 403
    assert officer.get("/api/clinical-reports/").status_code == 403

    assert nobody.get("/").status_code == 403 and nobody.get("/v1/models").status_code == 403
    assert nobody.post("/api/answers/", {"question": QUESTION, "collections": ["cardiology"]},
                       content_type="application/json").status_code == 403
    assert not Answer.objects.exists()


def test_a_grant_takes_effect_at_once_and_a_revoked_one_too(sets, alice) -> None:
    client = _client(alice)
    oncology = _chunk_ids(sets["oncology"])
    some_chunk = min(oncology)
    assert client.get(f"/passages/{some_chunk}/").status_code == 404
    sets["oncology"].reader_groups.add(Group.objects.get(name="cardio team"))
    assert client.get(f"/passages/{some_chunk}/").status_code == 200
    sets["oncology"].reader_groups.clear()  # no group left: admins only
    assert client.get(f"/passages/{some_chunk}/").status_code == 404
    assert not passages_retrieve(query=QUESTION, collection_ids=[sets["oncology"].id], reader=alice).passages
