"""Generation slots: a bounded number of generations at once, the rest in line first come first served and told how
many are ahead, across processes through Redis; a holder that died frees its slot; a wait is bounded."""

from __future__ import annotations

import os
import queue
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage

from assistant.grounding.llm import slots
from assistant.grounding.llm.client import LlmEndpoint
from assistant.grounding.llm.generation import ReplyDelta, ReplyStats, reply_stream
from assistant.grounding.llm.slots import (
    GenerationQueueTimeout,
    GenerationSlot,
    LocalSlots,
    RedisSlots,
    generation_slot,
    queued_message,
)

REDIS_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_slots() -> Iterator[RedisSlots]:
    """A line of its own in the real Redis (fails, not skips, when Redis is unreachable)."""
    namespace = f"yiju-test:llm:{uuid.uuid4().hex}"
    backend = RedisSlots(url=REDIS_URL, namespace=namespace)
    backend.client.ping()
    yield backend
    backend.client.delete(*backend.keys)


def held(slot: GenerationSlot) -> GenerationSlot:
    assert list(slot.wait()) == []  # a free slot: no place in line is reported
    assert slot.held
    return slot


def waiter(slot: GenerationSlot, positions: queue.Queue) -> threading.Thread:
    """Waits in a thread; every reported place goes to `positions`, then ("held", token) once it holds the slot."""

    def run() -> None:
        for position in slot.wait():
            positions.put(("ahead", slot.token, position.ahead))
        positions.put(("held", slot.token, None))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def next_event(positions: queue.Queue) -> tuple:
    return positions.get(timeout=30)


@pytest.mark.parametrize("backend_name", ["local", "redis"])
def test_line_is_bounded_first_come_first_served_and_says_how_many_are_ahead(
    backend_name: str, request: pytest.FixtureRequest
) -> None:
    backend = LocalSlots() if backend_name == "local" else request.getfixturevalue("redis_slots")
    first = held(GenerationSlot(capacity=2, timeout_s=60, backend=backend))
    second = held(GenerationSlot(capacity=2, timeout_s=60, backend=backend))

    positions: queue.Queue = queue.Queue()
    third = GenerationSlot(capacity=2, timeout_s=60, backend=backend)
    waiter(third, positions)
    assert next_event(positions) == ("ahead", third.token, 0)
    fourth = GenerationSlot(capacity=2, timeout_s=60, backend=backend)
    waiter(fourth, positions)
    assert next_event(positions) == ("ahead", fourth.token, 1)

    first.release()
    # The earlier arrival goes first and the later one moves up (the two threads report in either order).
    assert {next_event(positions), next_event(positions)} == {("held", third.token, None), ("ahead", fourth.token, 0)}
    second.release()
    assert next_event(positions) == ("held", fourth.token, None)
    third.release()
    fourth.release()


def test_two_processes_share_one_line_through_redis(redis_slots: RedisSlots) -> None:
    """Separate clients (as gunicorn's worker processes have): the bound holds across them."""
    other_process = RedisSlots(url=REDIS_URL, namespace=redis_slots.keys[0].rsplit(":", 1)[0])
    holder = held(GenerationSlot(capacity=1, timeout_s=60, backend=redis_slots))
    positions: queue.Queue = queue.Queue()
    elsewhere = GenerationSlot(capacity=1, timeout_s=60, backend=other_process)
    waiter(elsewhere, positions)
    assert next_event(positions) == ("ahead", elsewhere.token, 0)
    holder.release()
    assert next_event(positions) == ("held", elsewhere.token, None)
    elsewhere.release()


def test_slot_of_a_process_killed_while_generating_frees_itself(redis_slots: RedisSlots) -> None:
    """A holder that stops renewing (its process was killed) loses the slot when its lease lapses."""
    short_lease = RedisSlots(url=REDIS_URL, namespace=redis_slots.keys[0].rsplit(":", 1)[0], lease_s=1.0)
    dead = GenerationSlot(capacity=1, timeout_s=60, backend=short_lease)
    held(dead)
    dead._stop.set()  # what a SIGKILL does to its renewing thread; it never calls release()

    positions: queue.Queue = queue.Queue()
    survivor = GenerationSlot(capacity=1, timeout_s=60, backend=redis_slots)
    waiter(survivor, positions)
    while (event := next_event(positions))[0] != "held":  # waits in line, then gets the dead one's slot
        assert event == ("ahead", survivor.token, 0)
    assert survivor.held
    survivor.release()


def test_a_wait_past_the_queue_timeout_fails_clearly_and_leaves_the_line() -> None:
    backend = LocalSlots()
    holder = held(GenerationSlot(capacity=1, timeout_s=60, backend=backend))
    impatient = GenerationSlot(capacity=1, timeout_s=0.3, backend=backend)
    with pytest.raises(GenerationQueueTimeout, match="The model server is busy"):
        list(impatient.wait())
    holder.release()
    after = GenerationSlot(capacity=1, timeout_s=60, backend=backend)
    held(after)  # the one that gave up holds no place: the next one is not behind it


def test_redis_unreachable_falls_back_to_the_process_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slots, "_redis_failed_at", None)  # restored after: other tests see Redis as untried
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    slot = GenerationSlot(capacity=1, timeout_s=60, backend=RedisSlots(url=f"redis://127.0.0.1:{closed}/0"))
    assert list(slot.wait()) == [] and slot.held and isinstance(slot.backend, LocalSlots)
    slot.release()


def test_queued_message_names_the_count_in_both_languages() -> None:
    assert "2 ahead of you" in queued_message(ahead=2, language="en")
    assert "前面还有 2 个" in queued_message(ahead=2, language="zh")


def test_reply_stream_reports_its_place_before_sending_anything(settings) -> None:
    """With every slot taken the stream's first deltas are "queued"; the request goes out only once a slot frees
    (here to a port nothing listens on, so the error shows it was sent after the release, not before)."""
    settings.LLM_MAX_CONCURRENT, settings.LLM_TIMEOUT_S = 1, 5
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = LlmEndpoint(base_url=f"http://127.0.0.1:{probe.getsockname()[1]}/v1", model="deepseek-r1")

    with generation_slot() as busy:
        assert list(busy.wait()) == []
        stream = reply_stream(endpoint=endpoint, messages=[HumanMessage("hello")], stats=(stats := ReplyStats()),
                              reasoning_mode="off", reasoning_budget=0)
        first = next(stream)
        assert first == ReplyDelta("queued", "", ahead=0)
        assert stats.requests == 0  # nothing sent to the saturated server
    with pytest.raises(Exception, match="Connection"):
        list(stream)
    assert stats.requests == 1
