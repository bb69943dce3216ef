"""The admin pages for editions and repeals: the link and the sentence that made it on the document's page, linking
by hand, linking editions by date, and unlinking for good. Real ingestion of the real trial specification (cn_laws)
and a repealing notice (tests/ingestion/test_editions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEvent
from ingestion.models import Document, DocumentRelation
from ingestion.relations import relations_detect
from ingestion.selectors import superseding_documents
from tests.factories import ingest_bytes
from tests.ingestion.test_editions import TRIAL_TITLE, final_edition_text, ingest_trial, repeal_notice_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@localhost", "a-long-password"))
    return client


def test_the_repealed_document_shows_what_repealed_it_with_the_sentence(
    shared_data: Path, admin_client: Client
) -> None:
    trial = ingest_trial(shared_data, "specifications")
    notice = ingest_bytes(name="notice.txt", content=repeal_notice_text().encode(), collection="specifications")
    page = admin_client.get(f"/admin/ingestion/document/{trial.id}/change/").content.decode()
    assert "Superseded or amended by" in page and notice.title in page
    assert f"原《{TRIAL_TITLE}》同时废止" in page
    listing = admin_client.get("/admin/ingestion/document/").content.decode()
    assert f"superseded by {notice.title}" in listing
    relations = admin_client.get("/admin/ingestion/documentrelation/").content.decode()
    assert "同时废止" in relations and "Repeals or replaces" in relations


def test_unlinking_is_kept_and_never_detected_again(shared_data: Path, admin_client: Client) -> None:
    trial = ingest_trial(shared_data, "specifications")
    ingest_bytes(name="notice.txt", content=repeal_notice_text().encode(), collection="specifications")
    relation = DocumentRelation.objects.get(older=trial)
    response = admin_client.post("/admin/ingestion/documentrelation/",
                                 {"action": "unlink", "_selected_action": [relation.id]})
    assert response.status_code == 302
    relation.refresh_from_db()
    assert not relation.active and relation.origin == DocumentRelation.Origin.ADMIN
    assert relations_detect(documents=list(Document.objects.all())) == []
    assert superseding_documents(document_ids=[trial.id], collection_ids=[trial.collection_id]) == {}
    event = AuditEvent.objects.filter(action=AuditEvent.Action.DOCUMENT_CHANGE).latest("id")
    assert event.detail["unlinked"] == {"newer": relation.newer_id, "older": trial.id, "kind": "replaces"}


def test_linking_by_hand_and_refusing_a_document_with_itself(shared_data: Path, admin_client: Client) -> None:
    trial = ingest_trial(shared_data, "trial set")
    final = ingest_bytes(name="final.txt", content=final_edition_text(shared_data).encode(), collection="final set")
    DocumentRelation.objects.all().delete()  # as if the editions had not been recognised
    itself = admin_client.post("/admin/ingestion/documentrelation/add/",
                               {"newer": trial.id, "older": trial.id, "kind": "edition"})
    assert itself.status_code == 200 and "cannot supersede itself" in itself.content.decode()
    assert not DocumentRelation.objects.exists()
    linked = admin_client.post("/admin/ingestion/documentrelation/add/",
                               {"newer": final.id, "older": trial.id, "kind": "edition"})
    assert linked.status_code == 302
    relation = DocumentRelation.objects.get()
    assert (relation.newer, relation.older, relation.origin) == (final, trial, DocumentRelation.Origin.ADMIN)
    readable = [trial.collection_id, final.collection_id]
    assert superseding_documents(document_ids=[trial.id], collection_ids=readable)[trial.id].by_id == final.id


def test_linking_editions_by_date_needs_every_date(shared_data: Path, admin_client: Client) -> None:
    trial = ingest_trial(shared_data, "specifications")
    final = ingest_bytes(name="final.txt", content=final_edition_text(shared_data).encode(), collection="other")
    DocumentRelation.objects.all().delete()
    Document.objects.filter(id=trial.id).update(issued_on=None)
    refused = admin_client.post("/admin/ingestion/document/", {
        "action": "link_editions", "_selected_action": [trial.id, final.id]}, follow=True).content.decode()
    assert "Give each edition its issue date first" in refused and not DocumentRelation.objects.exists()
    Document.objects.filter(id=trial.id).update(issued_on="2025-01-16")
    admin_client.post("/admin/ingestion/document/", {"action": "link_editions",
                                                     "_selected_action": [trial.id, final.id]})
    relation = DocumentRelation.objects.get()
    assert (relation.newer_id, relation.older_id, relation.kind) == (final.id, trial.id, "edition")
