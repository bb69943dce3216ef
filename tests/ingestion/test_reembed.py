"""After EMBEDDING_MODEL changes, documents embedded with the old model are embedded again into the new index."""

from __future__ import annotations

import logging
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from ingestion.embedding import embedder_get
from ingestion.leases import document_lease
from ingestion.models import ChunkVector, Document
from ingestion.services import collection_get_or_create, documents_embedded_with_other_model, documents_reembed
from ingestion.tasks import index_reconcile_on_start
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes

pytestmark = pytest.mark.django_db

GUIDELINE = b"## Sepsis\n\nGive broad-spectrum antibiotics within one hour of recognising sepsis."


def dense_documents(collection_id: int) -> set[int]:
    result = passages_retrieve(
        reader=OPERATOR, query="antibiotics for sepsis", collection_ids=[collection_id], methods=("dense",)
    )
    return {p.chunk.document_id for p in result.passages}


def test_a_model_change_is_caught_up_by_reembed(settings) -> None:
    settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    collection = collection_get_or_create(name="guidelines")
    document = ingest_bytes(name="sepsis.md", content=GUIDELINE, collection=collection)
    assert document.embedding_model == "all-MiniLM-L6-v2" and dense_documents(collection.id) == {document.id}

    settings.EMBEDDING_MODEL = "use-multilingual-v3"
    assert dense_documents(collection.id) == set()  # the new model's index has never seen it
    assert list(documents_embedded_with_other_model()) == [document]

    out = StringIO()
    call_command("reembed", stdout=out)
    assert "1 document(s) embedded again with use-multilingual-v3" in out.getvalue()
    document.refresh_from_db()
    assert document.embedding_model == "use-multilingual-v3" and document.status == Document.Status.INDEXED
    assert dense_documents(collection.id) == {document.id}
    stored = ChunkVector.objects.filter(chunk__document=document).values_list("vector", flat=True)
    assert {len(np.frombuffer(bytes(v), dtype=np.float32)) for v in stored} == {embedder_get().dimension}

    out = StringIO()
    call_command("reembed", stdout=out)
    assert "every indexed document is embedded with use-multilingual-v3" in out.getvalue()


def test_a_worker_starting_after_a_model_change_warns_until_reembed(settings, caplog) -> None:
    settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    ingest_bytes(name="sepsis.md", content=GUIDELINE, collection="guidelines")
    settings.EMBEDDING_MODEL = "use-multilingual-v3"
    with caplog.at_level(logging.WARNING, logger="ingestion.tasks"):
        index_reconcile_on_start()
    assert "1 indexed document(s) were embedded with another model" in caplog.text
    documents_reembed()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ingestion.tasks"):
        index_reconcile_on_start()
    assert "embedded with another model" not in caplog.text


def test_a_document_being_ingested_is_left_to_its_run(settings) -> None:
    settings.EMBEDDING_MODEL = "all-MiniLM-L6-v2"
    document = ingest_bytes(name="sepsis.md", content=GUIDELINE, collection="guidelines")
    settings.EMBEDDING_MODEL = "use-multilingual-v3"
    with document_lease(document_id=document.id):
        assert documents_reembed() == 0
    document.refresh_from_db()
    assert document.embedding_model == "all-MiniLM-L6-v2"
    assert documents_reembed() == 1
