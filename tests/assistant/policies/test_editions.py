"""A policy another replaced is matched as the one in force: the real trial specification (cn_laws) and its final
edition (tests/ingestion/test_editions.py) in one policy set. The candidates are chosen before any model is asked,
so the test reads the match's first event only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from assistant.policies.profile import BusinessProfile
from assistant.policies.services import policies_match_stream
from ingestion.models import Document
from retrieval.access import OPERATOR
from tests.factories import ingest_bytes
from tests.ingestion.test_editions import final_edition_text, ingest_trial

pytestmark = pytest.mark.django_db

DATA_OPERATOR = BusinessProfile(
    province="四川省", city="成都市", industry="数据服务", enterprise_type="有限责任公司", size="small",
    founded=date(2021, 5, 1), employees=40, annual_revenue=12_000_000,
    notes="想申请公共数据资源授权运营，成为运营机构",
)  # fmt: skip


def test_the_trial_policy_is_matched_as_its_final_edition(shared_data: Path) -> None:
    trial = ingest_trial(shared_data, "policies")
    alone = next(policies_match_stream(profile=DATA_OPERATOR, collection_ids=[trial.collection_id], user=OPERATOR))
    assert [p["document_id"] for p in alone.data["policies"]] == [trial.id]  # in force while it is the only one

    final = ingest_bytes(name="final.txt", content=final_edition_text(shared_data).encode(), collection="policies")
    assert final.status == Document.Status.INDEXED
    retrieval = next(policies_match_stream(profile=DATA_OPERATOR, collection_ids=[trial.collection_id],
                                           user=OPERATOR))
    assert retrieval.kind == "retrieval"
    assert [p["document_id"] for p in retrieval.data["policies"]] == [final.id]
