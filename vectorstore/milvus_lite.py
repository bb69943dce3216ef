"""A local Milvus Lite server process (PyPI milvus-lite, pure Python) for development, tests and benchmarks, started
the way an operator starts one:

    .venv/bin/milvus-lite server --data-dir DIR --host 127.0.0.1 --port PORT
    SEARCH_ENGINE=milvus://127.0.0.1:PORT   (for every web process and worker of the installation)

tests/conftest.py starts one per test session (fixture `milvus_server`) and bench/search_engines.py one per run;
a test of several processes gives each of them that SEARCH_ENGINE value. Milvus Lite stands in for Milvus's API,
not its speed; production runs Milvus Standalone or Distributed at the same kind of address.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from pymilvus import MilvusClient, MilvusException

START_TIMEOUT_S = 60.0


class MilvusStartFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def milvus_lite_start(*, data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start `milvus-lite server` (the one installed beside this Python) and return once it answers; raise
    MilvusStartFailed with the end of its log otherwise. Stop it with milvus_lite_stop."""
    command = [str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(data_dir),
               "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MilvusStartFailed(f"milvus-lite exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=2)
            client.list_collections()
            client.close()
            return process
        except MilvusException:
            time.sleep(0.3)
    milvus_lite_stop(process)
    log = log_path.read_text()[-2000:]
    raise MilvusStartFailed(f"milvus-lite did not answer within {START_TIMEOUT_S:.0f} s: {log}")


def milvus_lite_stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
