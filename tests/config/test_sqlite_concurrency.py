"""The embedded SQLite database under concurrent writers: transactions that read and then write (storing an answer
does) wait for each other instead of failing with "database is locked"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Eight threads, each in one transaction: read, pause so that all hold a read lock, then write.
SCRIPT = """
import threading, time, django
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
from ingestion.models import Collection
call_command("migrate", verbosity=0)
failures = []
def store(n):
    try:
        with transaction.atomic():
            Collection.objects.count()
            time.sleep(0.3)
            Collection.objects.create(name=f"set {n}")
    except Exception as error:
        failures.append(repr(error))
    finally:
        connection.close()
threads = [threading.Thread(target=store, args=(n,)) for n in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print("failures", len(failures), failures[:1])
print("stored", Collection.objects.count())
"""


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(tmp_path: Path) -> None:
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'yiju.sqlite3'}",
                   "DJANGO_SETTINGS_MODULE": "config.settings", "YIJU_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=environment, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "failures 0 []" in done.stdout, done.stdout
    assert "stored 8" in done.stdout
