"""Admins upload documents through the Django admin; each upload is ingested and shows its status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Collection, Document

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@localhost", "a-long-password"))
    return client


@pytest.fixture
def upload(admin_client: Client, django_capture_on_commit_callbacks) -> Callable[..., None]:
    def post(collection: Collection, name: str, content: bytes) -> None:
        # Ingestion is queued on commit; run those callbacks as the commit of a real request would.
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/ingestion/document/add/",
                {"collection": collection.id, "title": "", "external_id": "",
                 "upload": SimpleUploadedFile(name, content)},
            )
        assert response.status_code == 302, response.content.decode()[:2000]

    return post


def test_upload_is_ingested_and_listed_with_status(admin_client: Client, upload: Callable[..., None],
                                                   shared_data: Path) -> None:
    collection = Collection.objects.create(name="laws")
    content = (shared_data / "cn_laws" / "pip_law.txt").read_bytes()

    upload(collection, "pip_law.txt", content)
    upload(collection, "copy-of-pip_law.txt", content)  # identical bytes: nothing new
    upload(collection, "broken.pdf", b"%PDF-1.4 truncated")

    indexed = Document.objects.get(collection=collection, status=Document.Status.INDEXED)
    assert indexed.chunk_count > 50 and indexed.title == "中华人民共和国个人信息保护法"
    failed = Document.objects.get(collection=collection, status=Document.Status.FAILED)
    assert failed.original_name == "broken.pdf" and failed.failure_reason
    listing = admin_client.get("/admin/ingestion/document/").content.decode()
    assert "indexed" in listing.lower() and failed.failure_reason[:30] in listing
    assert "1 indexed, 1 failed, 0 in progress" in admin_client.get("/admin/ingestion/collection/").content.decode()


def test_admin_delete_removes_vectors(admin_client: Client, upload: Callable[..., None], shared_data: Path) -> None:
    collection = Collection.objects.create(name="laws")
    upload(collection, "price_65.txt", (shared_data / "cn_laws" / "price_65.txt").read_bytes())
    document = Document.objects.get(collection=collection)
    chunk_ids = set(document.chunks.values_list("id", flat=True))
    assert chunk_ids and chunk_ids <= set(chunk_vector_index(embedder=embedder_get()).ids().tolist())

    response = admin_client.post(f"/admin/ingestion/document/{document.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Document.objects.filter(id=document.id).exists()
    assert not chunk_ids & set(chunk_vector_index(embedder=embedder_get()).ids().tolist())
