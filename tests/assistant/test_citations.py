from __future__ import annotations

from pathlib import Path

import pytest

from assistant.citations import citations_resolve
from tests.factories import ingest_file


@pytest.mark.django_db
def test_numbers_resolve_to_document_section_and_pages(shared_data: Path) -> None:
    document = ingest_file(path=shared_data / "cn_laws" / "pip_law.txt", collection="laws")
    passages = list(document.chunks.select_related("document").order_by("ordinal")[:3])

    citations = citations_resolve(numbers=[2, 1, 2], passages=passages)

    assert [c.number for c in citations] == [2, 1]
    assert citations[0].chunk_id == passages[1].id
    assert citations[0].document_title == "中华人民共和国个人信息保护法"
    assert citations[0].section_path == passages[1].section_path
    with pytest.raises(ValueError):
        citations_resolve(numbers=[4], passages=passages)
