"""Several machines on one shared search engine, as README "Several machines" lays them out, run on this machine: two
web processes (gunicorn) and two Celery workers, each with a data and index folder of its own (no shared disk for the
index), all on one Milvus Lite server, PostgreSQL and Redis. A document a worker ingests is found from both web
processes; its deletion disappears from both, and from Milvus."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from ingestion.embedding import embedder_get
from ingestion.index import chunk_vector_index
from ingestion.models import Document
from ingestion.services import collection_get_or_create, document_register, documents_delete
from tests.ingestion.test_celery_worker import (
    database_url,
    send,
    wait_for,
    worker_start,
    workers,  # noqa: F401 - the fixture, used by name below
)
from tests.test_static_files import _server

PASSWORD = "several-machines-1"
QUERY = "开展数据处理活动应当履行数据安全保护义务"


def _machine_env(*, root: Path, name: str) -> dict[str, str]:
    """One machine: the shared database, broker, uploads and search engine; a data and index folder of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "WHITENOISE_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0", "DATABASE_URL": database_url(),
            "SEARCH_ENGINE": settings.SEARCH_ENGINE, "MILVUS_COLLECTION_PREFIX": settings.MILVUS_COLLECTION_PREFIX,
            "YIJU_DATA_DIR": str(root / name), "YIJU_INDEX_DIR": str(root / name / "index"),
            "YIJU_MEDIA_ROOT": str(settings.MEDIA_ROOT)}


def _search(base_url: str, *, collection: str) -> list[dict]:
    query = urllib.parse.urlencode({"q": QUERY, "collections": collection, "k": 5})
    request = urllib.request.Request(f"{base_url}/api/search/?{query}")
    credentials = base64.b64encode(f"operator:{PASSWORD}".encode()).decode()
    request.add_header("Authorization", f"Basic {credentials}")
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        return json.loads(response.read())["passages"]


@contextmanager
def _web_processes(*, root: Path) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(_server("gunicorn", env=_machine_env(root=root, name=f"web-{n}"),
                                           log_path=root / f"web-{n}.log"))
               for n in (1, 2)]


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_workers_share_one_milvus(
    milvus_engine: str, workers: list[subprocess.Popen[bytes]], shared_data: Path, tmp_path: Path  # noqa: F811
) -> None:
    operator = get_user_model().objects.create_superuser("operator", "operator@example.org")
    # Hashed for the servers' hashers (the tests' own fast MD5 one is unknown to them); few rounds, it only checks.
    hasher = PBKDF2PasswordHasher()
    operator.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    operator.save(update_fields=["password"])
    for n in (1, 2):
        env = _machine_env(root=tmp_path, name=f"worker-{n}")
        workers.append(worker_start(log_path=tmp_path / f"worker-{n}.log", name=f"machine{n}",
                                    **{key: env[key] for key in ("YIJU_DATA_DIR", "YIJU_INDEX_DIR")}))
    content = (shared_data / "cn_laws" / "data_sec_law.txt").read_bytes()
    document = document_register(collection=collection_get_or_create(name="shared"), file_name="data_sec_law.txt",
                                 content=content).document
    send(document.id)
    wait_for(document, lambda d: d.is_finished, workers=workers, log=tmp_path / "worker-1.log")
    assert document.status == Document.Status.INDEXED, (tmp_path / "worker-2.log").read_text()[-3000:]
    chunk_ids = set(document.chunks.values_list("id", flat=True))
    assert chunk_ids <= set(chunk_vector_index(embedder=embedder_get()).ids().tolist())  # in Milvus, by chunk id

    with _web_processes(root=tmp_path) as web:
        for base_url in web:
            found = _search(base_url, collection="shared")
            assert found and {p["chunk_id"] for p in found} <= chunk_ids, (base_url, found)
        # Searched in Milvus: neither web process built an index of its own (vector segments or BM25) on its disk.
        assert not [path for n in (1, 2) for path in (tmp_path / f"web-{n}" / "index").rglob("*") if path.is_file()]

        documents_delete(documents=[document])  # an admin on a third machine: this process, same settings

        for base_url in web:
            assert _search(base_url, collection="shared") == [], base_url
    assert not chunk_ids & set(chunk_vector_index(embedder=embedder_get()).ids().tolist())
