"""The search API with editions: the edition in force first by default, replaced documents left out or kept in
retrieval's order on request, each passage saying what replaced its document. Real ingestion of the real trial
specification and its final edition (tests/ingestion/test_editions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import ingest_bytes, user_create
from tests.ingestion.test_editions import FINAL_TITLE, QUERY, final_edition_text, ingest_trial

pytestmark = pytest.mark.django_db


def test_search_ranks_the_edition_in_force_first_and_leaves_replaced_ones_out_on_request(shared_data: Path) -> None:
    trial = ingest_trial(shared_data, "specifications")
    final = ingest_bytes(name="final.txt", content=final_edition_text(shared_data).encode(),
                         collection="specifications")
    client = APIClient()
    client.force_authenticate(user_create("reader"))

    def search(**extra: str) -> list[dict]:
        response = client.get("/api/search/", {"q": QUERY, "collections": "specifications", "k": 6, **extra})
        assert response.status_code == 200, response.content
        return response.json()["passages"]

    ranked = search()
    documents = [p["document_id"] for p in ranked]
    assert documents[0] == final.id and trial.id in documents
    assert all(d == final.id for d in documents[: documents.index(trial.id)])
    for passage in ranked:
        replaced = passage["document_id"] == trial.id
        assert passage["superseded_by_document_id"] == (final.id if replaced else None)
        assert passage["superseded_by_title"] == (FINAL_TITLE if replaced else "")
    assert {p["document_id"] for p in search(editions="current_only")} == {final.id}
    assert sorted(p["chunk_id"] for p in search(editions="all")) == sorted(p["chunk_id"] for p in ranked)
    refused = client.get("/api/search/", {"q": QUERY, "editions": "newest"})
    assert refused.status_code == 400 and "editions" in refused.json()
