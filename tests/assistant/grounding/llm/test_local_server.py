"""End-to-end: packaged GGUF -> converted model -> vLLM (CPU) server -> one chat completion -> clean stop.

Slow the first time on a fresh data dir (conversion about 1 min, torch.compile about 2 min); later runs reuse
the converted model and the compile cache under the data dir.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from assistant.grounding.llm.local_model import DEFAULT_MODEL_KEY, KNOWN_MODELS, local_model_prepare
from assistant.grounding.llm.local_server import LocalVllmServer

REPO_ROOT = Path(__file__).resolve().parents[4]

PASSAGE = (
    "依据公司《差旅管理办法》第三条：员工出差住宿标准为一线城市每晚不超过600元，"
    "其他城市每晚不超过400元；超出部分由员工自行承担。"
)
QUESTION = "在一线城市出差，每晚住宿费的上限是多少元？"


@pytest.fixture()
def isolated_storage(tmp_path: Path) -> Path:
    """Overrides the autouse Django-settings fixture of tests/conftest.py: this test needs no Django (-p no:django)."""
    return tmp_path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("YIJU_DATA_DIR", REPO_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def model_dir(data_dir: Path) -> Path:
    return local_model_prepare(data_dir=data_dir, model_key=DEFAULT_MODEL_KEY, progress=print)


@pytest.fixture()
def server(model_dir: Path, data_dir: Path) -> Iterator[LocalVllmServer]:
    srv = LocalVllmServer(
        model_dir=model_dir,
        served_model_name=KNOWN_MODELS[DEFAULT_MODEL_KEY].served_model_name,
        data_dir=data_dir,
    )
    started = time.monotonic()
    srv.start()
    try:
        srv.wait_until_ready(timeout_s=900)
        print(f"vLLM ready in {time.monotonic() - started:.1f} s at {srv.base_url}")
        yield srv
    finally:
        srv.stop()


def _process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_local_server_answers_chinese_question(server: LocalVllmServer) -> None:
    client = OpenAI(base_url=server.base_url, api_key="unused", timeout=300)
    listed = [model.id for model in client.models.list().data]
    assert server.served_model_name in listed

    started = time.monotonic()
    reply = client.chat.completions.create(
        model=server.served_model_name,
        temperature=0,
        max_tokens=128,
        messages=[
            {"role": "system", "content": "只根据给出的资料回答，用中文简短作答。"},
            {"role": "user", "content": f"资料：{PASSAGE}\n\n问题：{QUESTION}"},
        ],
    )
    elapsed = time.monotonic() - started
    answer = (reply.choices[0].message.content or "").strip()
    tokens = reply.usage.completion_tokens if reply.usage else 0
    print(f"answer ({tokens} tokens, {elapsed:.1f} s, {tokens / elapsed:.1f} tokens/s): {answer}")
    assert answer
    assert "600" in answer  # the 0.5B model gets this one right; a wrong chat template would not

    pgid = server.pid
    assert pgid is not None
    server.stop()
    assert not server.is_running()
    assert not _process_group_alive(pgid), "vLLM processes survived stop()"
