"""The audit log: admin actions on documents and grants are recorded; nobody edits or deletes an event, through the
admin or in PostgreSQL; admins filter the log and export it as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from assistant.models import AuditEvent
from audit.services import audit_record
from ingestion.models import Collection, Document
from retrieval.access import OPERATOR, ROLE_ADMIN, ROLE_READ_ONLY, collections_readable
from tests.factories import ingest_bytes, user_create

pytestmark = pytest.mark.django_db

NOTE = b"# Ward note\n\nMeasure blood pressure seated after five minutes of rest.\n"


@pytest.fixture
def admin_user():
    return user_create("root", password="a-long-password", roles=[], groups=[], superuser=True)


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_upload_grant_reingest_and_delete_are_each_recorded(
    admin_client: Client, admin_user, django_capture_on_commit_callbacks
) -> None:
    response = admin_client.post("/admin/ingestion/collection/add/", {"name": "wards", "description": ""})
    assert response.status_code == 302
    collection = Collection.objects.get(name="wards")
    created = AuditEvent.objects.get(action=AuditEvent.Action.COLLECTION_CREATE)
    assert created.user_id == admin_user.id and created.interface == AuditEvent.Interface.ADMIN
    assert created.collection_names == "|wards|"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/ingestion/collection/{collection.id}/documents/",
                                     {"files": [SimpleUploadedFile("note.md", NOTE)]})
    assert response.status_code == 302
    document = Document.objects.get(collection=collection)
    upload = AuditEvent.objects.get(action=AuditEvent.Action.DOCUMENT_UPLOAD)
    assert upload.object_ids == [document.id] and upload.detail["files"] == ["note.md"]
    assert upload.detail["documents"][0]["sha256"] == document.sha256

    readers = user_create("reader", roles=[ROLE_READ_ONLY], groups=["ward staff"]).groups.get(name="ward staff")
    response = admin_client.post(f"/admin/ingestion/collection/{collection.id}/change/",
                                 {"name": "wards", "description": "", "reader_groups": [readers.id]})
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = AuditEvent.objects.get(action=AuditEvent.Action.GRANT_CHANGE)
    assert grant.detail["granted"] == ["ward staff"] and grant.detail["before"] == []

    Document.objects.filter(id=document.id).update(status=Document.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/ingestion/document/", {"action": "ingest_again", "_selected_action": [document.id]})
    assert AuditEvent.objects.get(action=AuditEvent.Action.DOCUMENT_REINGEST).object_ids == [document.id]

    response = admin_client.post(f"/admin/ingestion/document/{document.id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Document.objects.filter(id=document.id).exists()
    deleted = AuditEvent.objects.get(action=AuditEvent.Action.DOCUMENT_DELETE)
    assert deleted.detail["documents"][0]["original_name"] == "note.md"  # kept after the document is gone

    admin_client.post(f"/admin/ingestion/collection/{collection.id}/delete/", {"post": "yes"})
    assert not Collection.objects.filter(id=collection.id).exists()
    gone = AuditEvent.objects.get(action=AuditEvent.Action.COLLECTION_DELETE)
    assert gone.detail["readers"] == ["ward staff"] and gone.collection_names == "|wards|"
    assert AuditEvent.objects.filter(collection_names__contains="|wards|").count() == 6


def test_events_cannot_be_changed_or_deleted_through_the_admin(admin_client: Client) -> None:
    event = audit_record(interface=AuditEvent.Interface.COMMAND, action=AuditEvent.Action.QUESTION, user=OPERATOR,
                         question="Who may read this?")
    page = admin_client.get(f"/admin/assistant/auditevent/{event.id}/change/").content.decode()
    assert "Who may read this?" in page and 'name="_save"' not in page  # read-only view

    admin_client.post(f"/admin/assistant/auditevent/{event.id}/change/", {"question": "rewritten"})
    assert admin_client.post(f"/admin/assistant/auditevent/{event.id}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/assistant/auditevent/add/").status_code == 403
    admin_client.post("/admin/assistant/auditevent/", {"action": "delete_selected", "_selected_action": [event.id]})
    event.refresh_from_db()
    assert event.question == "Who may read this?"


def test_the_database_refuses_updates_and_deletes_of_events() -> None:
    # The tests run on PostgreSQL (config/settings_test.py); anywhere else this must fail, not pass unchecked.
    assert connection.vendor == "postgresql", "the append-only trigger is PostgreSQL's: run the tests on PostgreSQL"
    event = audit_record(interface=AuditEvent.Interface.COMMAND, action=AuditEvent.Action.QUESTION, user=OPERATOR,
                         question="original")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).update(question="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM assistant_auditevent")
    event.refresh_from_db()
    assert event.question == "original"


def test_admin_list_filters_by_user_interface_and_set_and_exports_csv(admin_client: Client) -> None:
    ingest_bytes(name="a.md", content=NOTE, collection="高血压指南")
    ingest_bytes(name="b.md", content=NOTE.replace(b"Ward", b"Clinic"), collection="clinic")
    first, second = Collection.objects.get(name="高血压指南"), Collection.objects.get(name="clinic")
    alice, bob = user_create("alice"), user_create("bob")
    audit_record(interface=AuditEvent.Interface.ASK_PAGE, action=AuditEvent.Action.QUESTION, user=alice,
                 collection_ids=[first.id], collection_names={first.id: first.name}, question="血压多少算高？",
                 text="答案[1]", chunk_ids=[1, 2])
    audit_record(interface=AuditEvent.Interface.ANSWER_API, action=AuditEvent.Action.QUESTION, user=bob,
                 collection_ids=[second.id], collection_names={second.id: second.name},
                 question="What is the target?")

    def listed(query: str) -> str:
        response = admin_client.get(f"/admin/assistant/auditevent/?{query}")
        assert response.status_code == 200
        return response.content.decode()

    by_set = listed("set=高血压指南")
    assert "血压多少算高" in by_set and "What is the target?" not in by_set
    by_user = listed("username=bob")
    assert "What is the target?" in by_user and "血压多少算高" not in by_user
    by_interface = listed("interface=answer_api")
    assert "What is the target?" in by_interface and "血压多少算高" not in by_interface

    assert "Read grants changed" in by_set  # ingest_bytes granted the set: that is in the log too
    export = admin_client.get("/admin/assistant/auditevent/export/?set=高血压指南&action=question")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    text = export.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["question"] for r in rows] == ["血压多少算高？"]
    assert rows[0]["username"] == "alice" and rows[0]["collections"] == "高血压指南"
    assert rows[0]["chunk_ids"] == "[1, 2]"

    everything = admin_client.post("/admin/assistant/auditevent/", {
        "action": "export_csv", "_selected_action": list(AuditEvent.objects.values_list("id", flat=True))})
    assert everything.status_code == 200 and "What is the target?" in everything.content.decode()


def test_the_log_is_for_admins_only() -> None:
    client = Client()
    client.force_login(user_create("clerk"))
    assert client.get("/admin/assistant/auditevent/").status_code == 302  # not staff: sent to the admin sign-in
    assert client.get("/admin/assistant/auditevent/export/").status_code == 302


def test_grant_command_grants_and_revokes_read_and_is_recorded() -> None:
    collection = Collection.objects.create(name="wards")
    nurse = user_create("nurse", roles=[ROLE_READ_ONLY], groups=["ward staff"])
    assert not collections_readable(reader=nurse).exists()  # granted to no group: admins only

    call_command("grant", collection="wards", group=["ward staff"], stdout=io.StringIO())
    assert list(collections_readable(reader=nurse)) == [collection]
    call_command("grant", collection="wards", group=["ward staff"], revoke=True, stdout=io.StringIO())
    assert not collections_readable(reader=nurse).exists()

    changes = AuditEvent.objects.filter(action=AuditEvent.Action.GRANT_CHANGE).order_by("id")
    assert [(e.detail["granted"], e.detail["revoked"]) for e in changes] == [(["ward staff"], []), ([], ["ward staff"])]
    assert {e.interface for e in changes} == {AuditEvent.Interface.COMMAND}


def test_the_admin_role_manages_sets_and_reads_the_log_without_being_superuser() -> None:
    head = user_create("head", roles=[ROLE_ADMIN], groups=[])
    assert head.is_staff and not head.is_superuser
    client = Client()
    client.force_login(head)
    response = client.post("/admin/ingestion/collection/add/", {"name": "private set", "description": ""})
    assert response.status_code == 302
    private = Collection.objects.get(name="private set")
    assert list(collections_readable(reader=head)) == [private]  # granted to no one, read by admins
    log = client.get("/admin/assistant/auditevent/")
    assert log.status_code == 200 and "private set" in log.content.decode()
    assert client.post(f"/admin/assistant/auditevent/{AuditEvent.objects.get().id}/delete/",
                       {"post": "yes"}).status_code == 403
