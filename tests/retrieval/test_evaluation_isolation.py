"""Evaluations run in a throwaway data directory and database: the live one never holds their set, killed or not."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from assistant.grounding.llm.local_model import local_model_dir, local_model_is_prepared
from ingestion.models import Chunk, Collection, Document
from retrieval.evaluation import COLLECTION_PREFIX
from retrieval.isolation import (
    CHILD_FLAG,
    LOCK_NAME,
    SHARED_WITH_LIVE,
    THROWAWAY_PREFIX,
    stale_throwaway_dirs_remove,
    throwaway_data_dir,
)
from tests.jsonl_files import jsonl

REPO_ROOT = Path(__file__).resolve().parents[2]
# Enough documents that ingesting them takes many seconds: the run is killed with its set half built.
LARGE_CORPUS = [
    {"id": f"d{i}", "text": f"Guideline {i} covers condition {i} and its treatment with medicine {i * 7}."}
    for i in range(400)
]


def _wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _indexed_in_throwaway(temp_root: Path) -> int:
    """Documents of an evaluation set indexed so far in a running evaluation's throwaway SQLite database."""
    for database in temp_root.glob(f"{THROWAWAY_PREFIX}*/yiju.sqlite3"):
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as throwaway:
                (count,) = throwaway.execute(
                    f"SELECT COUNT(*) FROM {Document._meta.db_table} d JOIN {Collection._meta.db_table} c "
                    "ON d.collection_id = c.id WHERE c.name LIKE ? AND d.status = ?",
                    (f"{COLLECTION_PREFIX}%", Document.Status.INDEXED),
                ).fetchone()
            return count
        except sqlite3.OperationalError:  # not migrated yet, or busy: look again
            return 0
    return 0


def _children_of_run(marker: str) -> list[int]:
    """Processes of re-executed evaluations whose command line names `marker` (this test's corpus)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if CHILD_FLAG.encode() in arguments and marker.encode() in arguments:
            pids.append(int(cmdline.parent.name))
    return pids


def _running(pid: int) -> bool:
    """Whether any thread of the process still runs.

    A zombie has released its files, and so its locks; but a thread-group leader shows as a zombie while its other
    threads (torch's, the tokenizer's) are still exiting and still hold the shared file table, so every thread is
    looked at.
    """
    try:
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError, IndexError):
                if stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    return True
    except OSError:
        return False
    return False


def _live_database_url() -> str:
    """The test database as DATABASE_URL, so a manage.py subprocess takes it for its live database."""
    assert connection.vendor == "postgresql", "these tests run against the real PostgreSQL"
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def _evaluation_started(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """`manage.py evaluate_retrieval` on the large corpus, live database the test's, returned once it is ingesting."""
    corpus = jsonl(tmp_path / "corpus.jsonl", LARGE_CORPUS)
    questions = jsonl(tmp_path / "questions.jsonl", [{"id": "q", "question": "condition 3", "gold": ["d3"]}])
    temp_root = tmp_path / "temp"
    temp_root.mkdir()
    environment = {
        **os.environ,
        "DATABASE_URL": _live_database_url(),
        "YIJU_DATA_DIR": str(settings.DATA_DIR),
        "TMPDIR": str(temp_root),
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "evaluate_retrieval", "--corpus", str(corpus), "--questions", str(questions)],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _indexed_in_throwaway(temp_root) > 0, timeout_s=180, what="the evaluation to ingest")
    except BaseException:
        process.kill()
        raise
    # The set is being built, in the throwaway database only.
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()
    assert _indexed_in_throwaway(temp_root) < len(LARGE_CORPUS)
    return process, temp_root, corpus


@pytest.mark.django_db
def test_evaluation_killed_while_ingesting_leaves_no_set_and_its_directory_goes_at_the_next_run(
    tmp_path: Path,
) -> None:
    process, temp_root, corpus = _evaluation_started(tmp_path)
    (child,) = _children_of_run(str(corpus))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    # The child dies with its parent (it could not be told to stop), and wrote nothing to the live database.
    _wait_for(lambda: not _running(child), timeout_s=30, what="the child to end with its parent")
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()
    assert not Document.objects.exists() and not Chunk.objects.exists()

    # A SIGKILLed parent cannot remove its directory: it stays under the prefix, and the next run removes it.
    (left,) = temp_root.glob(f"{THROWAWAY_PREFIX}*")
    assert stale_throwaway_dirs_remove(temp_root=temp_root) == [left]
    assert not left.exists()
    assert (Path(settings.DATA_DIR) / "models").exists()  # what the directory linked to is untouched


@pytest.mark.django_db
def test_evaluation_terminated_while_ingesting_stops_its_child_and_removes_its_directory(tmp_path: Path) -> None:
    process, temp_root, corpus = _evaluation_started(tmp_path)
    (child,) = _children_of_run(str(corpus))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 143

    assert not _running(child)
    assert not list(temp_root.iterdir())
    assert not Collection.objects.filter(name__startswith=COLLECTION_PREFIX).exists()


def test_a_directory_in_use_is_not_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with throwaway_data_dir(live_data_dir=tmp_path / "live") as data_dir:
        assert stale_throwaway_dirs_remove(temp_root=tmp_path) == []
        assert (data_dir / LOCK_NAME).is_file()
    assert not data_dir.exists()


def test_the_throwaway_directory_shares_the_prepared_model_and_vllm_files_with_the_live_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = Path(settings.DATA_DIR)
    with throwaway_data_dir(live_data_dir=live) as data_dir:
        assert data_dir.name.startswith(THROWAWAY_PREFIX) and data_dir.parent == tmp_path.resolve()
        for name in SHARED_WITH_LIVE:
            assert (data_dir / name).is_symlink() and (data_dir / name).resolve() == (live / name).resolve()
        # assistant/llm/client.py prepares and serves the local model from DATA_DIR: the child finds the live one.
        assert local_model_dir(data_dir=data_dir).resolve() == local_model_dir(data_dir=live).resolve()
        assert local_model_is_prepared(data_dir=data_dir) == local_model_is_prepared(data_dir=live)
    assert not data_dir.exists() and (live / "models").is_dir()


def test_the_internal_flag_refuses_a_live_database(tmp_path: Path) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": "Insulin lowers blood glucose."}])
    questions = jsonl(tmp_path / "questions.jsonl", [{"id": "q", "question": "insulin?", "gold": ["a"]}])
    arguments = {"corpus": str(corpus), "questions": str(questions), "stdout": StringIO(), "throwaway_child": True}
    with pytest.raises(CommandError, match="is internal"):
        call_command("evaluate_retrieval", **arguments)
    with pytest.raises(CommandError, match="is internal"):
        call_command("evaluate_answers", **arguments)


def test_a_failing_child_is_a_command_error_and_its_directory_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": "Insulin lowers blood glucose."}])
    questions = jsonl(tmp_path / "questions.jsonl", [{"id": "q", "question": "insulin?", "gold": ["a"]}])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    err = StringIO()
    with pytest.raises(CommandError, match=r"the evaluation failed \(exit status 1"):
        call_command(
            "evaluate_retrieval", corpus=str(corpus), questions=str(questions), methods="bm25",
            report=str(tmp_path / "a-file" / "report"), stdout=StringIO(), stderr=err,
        )
    assert "NotADirectoryError" in err.getvalue()  # the child's own error, forwarded
    assert not list((tmp_path / "temp").iterdir())
