"""At most LLM_MAX_CONCURRENT generations at once on the model server, first come first served, across processes.

Why: vLLM takes every request it is sent and batches them; past what the machine decodes at once, every reply slows
down together until the slowest pass LLM_TIMEOUT_S and are lost. Waiting here instead costs the server nothing, the
waiting reader is told how many are ahead ("queued, n ahead of you"), and the request goes out only when a slot is
free, so once it is sent it runs at full speed. A wait is bounded too (LLM_QUEUE_TIMEOUT_S), with a clear error.

The slots live in Redis when the broker is Redis (gunicorn's worker processes then share one line), else in this
process. A holder renews its slot while it generates; a process killed while holding one frees it when the lease
runs out, and a waiter that vanished loses its place the same way, so the line never jams.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

LEASE_S = 30.0  # a slot or a place in line not renewed for this long belonged to a dead process
POLL_S = 0.25  # how often a waiter looks at its place in line
REDIS_RETRY_S = 60.0  # after Redis fails, this process uses its own line for this long before trying Redis again
HELD = -1


class GenerationQueueTimeout(TimeoutError):
    """Waited LLM_QUEUE_TIMEOUT_S in line without a free slot: the server is saturated."""


@dataclass(frozen=True)
class QueuePosition:
    ahead: int  # generations waiting in line before this one (0: next when a slot frees)
    waited_s: float


class SlotBackend(Protocol):
    lease_s: float

    def join(self, *, token: str) -> None: ...

    def poll(self, *, token: str, capacity: int) -> int:
        """HELD once the slot is this token's, else how many wait ahead of it."""
        ...

    def renew(self, *, token: str) -> None: ...

    def leave(self, *, token: str) -> None: ...


class LocalSlots:
    """The line within one process (threads of the web process, the embedded setting)."""

    def __init__(self, *, lease_s: float = LEASE_S) -> None:
        self.lease_s = lease_s
        self._lock = threading.Lock()
        self._holders: dict[str, float] = {}  # token -> lease end (monotonic)
        self._line: dict[str, float] = {}  # token -> lease end, in order of arrival

    def _expire(self, now: float) -> None:
        for table in (self._holders, self._line):
            for token in [t for t, end in table.items() if end < now]:
                del table[token]

    def join(self, *, token: str) -> None:
        with self._lock:
            self._line[token] = time.monotonic() + self.lease_s

    def poll(self, *, token: str, capacity: int) -> int:
        with self._lock:
            now = time.monotonic()
            self._expire(now)
            if token in self._holders:
                return HELD
            if token not in self._line:  # lost its place by not polling for a whole lease: back in line
                self._line[token] = now + self.lease_s
            rank = list(self._line).index(token)
            if rank < capacity - len(self._holders):
                del self._line[token]
                self._holders[token] = now + self.lease_s
                return HELD
            self._line[token] = now + self.lease_s
            return rank

    def renew(self, *, token: str) -> None:
        with self._lock:
            if token in self._holders:
                self._holders[token] = time.monotonic() + self.lease_s

    def leave(self, *, token: str) -> None:
        with self._lock:
            self._holders.pop(token, None)
            self._line.pop(token, None)


# Times come from the Redis server (TIME), so processes on machines with different clocks agree on leases.
_NOW_MS = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)"
_JOIN = _NOW_MS + """
local ticket = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], 'NX', ticket, ARGV[1])
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
"""
_POLL = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)) do
  redis.call('ZREM', KEYS[2], gone)
  redis.call('ZREM', KEYS[4], gone)
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
if rank < tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  return -1
end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), ARGV[1])
return rank
"""
_RENEW = _NOW_MS + "redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])"


class RedisSlots:
    """The line shared by every process using this Redis: sorted sets of holders, the line, and waiters' leases."""

    def __init__(self, *, url: str, namespace: str = "yiju:llm", lease_s: float = LEASE_S) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.lease_s = lease_s
        self.lease_ms = int(lease_s * 1000)
        self.keys = [f"{namespace}:{part}" for part in ("holders", "line", "tickets", "waiting")]
        self._join = self.client.register_script(_JOIN)
        self._poll = self.client.register_script(_POLL)
        self._renew = self.client.register_script(_RENEW)

    def join(self, *, token: str) -> None:
        self._join(keys=self.keys, args=[token, self.lease_ms])

    def poll(self, *, token: str, capacity: int) -> int:
        return int(self._poll(keys=self.keys, args=[token, capacity, self.lease_ms]))

    def renew(self, *, token: str) -> None:
        self._renew(keys=self.keys[:1], args=[token, self.lease_ms])

    def leave(self, *, token: str) -> None:
        with self.client.pipeline() as pipe:
            pipe.zrem(self.keys[0], token).zrem(self.keys[1], token).zrem(self.keys[3], token).execute()


_local = LocalSlots()
_redis_backends: dict[str, RedisSlots] = {}
_redis_failed_at: float | None = None
_backends_lock = threading.Lock()


def _redis_url() -> str | None:
    url = settings.CELERY_BROKER_URL or ""
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def slot_backend() -> SlotBackend:
    """Redis when the broker is Redis and answers; else (or for a minute after Redis failed) this process's line."""
    url = _redis_url()
    if url is None or (_redis_failed_at is not None and time.monotonic() - _redis_failed_at < REDIS_RETRY_S):
        return _local
    with _backends_lock:
        if url not in _redis_backends:
            _redis_backends[url] = RedisSlots(url=url)
        return _redis_backends[url]


def _redis_failed(error: Exception) -> None:
    global _redis_failed_at
    _redis_failed_at = time.monotonic()
    logger.warning("the generation line in Redis is unreachable (%s): this process keeps its own line", error)


class GenerationSlot:
    """One generation's place: wait() in line, then hold the slot (renewed in the background) until release()."""

    def __init__(self, *, capacity: int, timeout_s: float, backend: SlotBackend | None = None) -> None:
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.backend = backend or slot_backend()
        self.token = uuid.uuid4().hex
        self.held = False
        self._joined = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def wait(self) -> Iterator[QueuePosition]:
        """Yields the place in line each time it changes while waiting; returns once the slot is held."""
        if self.capacity <= 0:  # no limit configured
            return
        started = time.monotonic()
        last_ahead: int | None = None
        while True:
            try:
                ahead = self._poll(joined=last_ahead is not None)
            except Exception as error:
                if self.backend is _local or not (_is_redis_error(error) or isinstance(error, OSError)):
                    self.release()
                    raise
                _redis_failed(error)  # Redis went away: wait in this process's line instead
                self.backend, last_ahead = _local, None
                continue
            if ahead == HELD:
                break
            waited = time.monotonic() - started
            if waited > self.timeout_s:
                self.release()
                raise GenerationQueueTimeout(
                    f"The model server is busy: {self.capacity} answers are being written and this one waited "
                    f"{waited:.0f} s in line ({ahead} still ahead of it)."
                )
            if ahead != last_ahead:
                last_ahead = ahead
                yield QueuePosition(ahead=ahead, waited_s=round(waited, 1))
            time.sleep(POLL_S)
        self.held = True
        if last_ahead is not None:
            logger.info("generation slot taken after %.1f s in line", time.monotonic() - started)
        self._renewer = threading.Thread(target=self._renew_until_released, daemon=True, name="llm-slot-renew")
        self._renewer.start()

    def _poll(self, *, joined: bool) -> int:
        if not joined:
            self._joined = True
            self.backend.join(token=self.token)
        return self.backend.poll(token=self.token, capacity=self.capacity)

    def _renew_until_released(self) -> None:
        while not self._stop.wait(self.backend.lease_s / 3):
            try:
                self.backend.renew(token=self.token)
            except Exception:  # Redis gone mid-generation: the reply goes on; the lease lapses at worst
                logger.warning("could not renew the generation slot", exc_info=True)

    def release(self) -> None:
        self._stop.set()
        self.held = False
        if not self._joined:
            return  # never in line (no limit configured): nothing to give back
        try:
            self.backend.leave(token=self.token)
        except Exception:  # its lease lapses on its own
            logger.warning("could not release the generation slot", exc_info=True)


def _is_redis_error(error: Exception) -> bool:
    try:
        import redis
    except ImportError:
        return False
    return isinstance(error, redis.RedisError)


@contextlib.contextmanager
def generation_slot(*, capacity: int | None = None, timeout_s: float | None = None) -> Iterator[GenerationSlot]:
    """A slot for one generation, released when the block ends (also when a reader stops a stream early).

    Call `slot.wait()` inside the block (a streaming caller relays the positions it yields; others drain it).
    """
    slot = GenerationSlot(
        capacity=settings.LLM_MAX_CONCURRENT if capacity is None else capacity,
        timeout_s=settings.LLM_QUEUE_TIMEOUT_S if timeout_s is None else timeout_s,
    )
    try:
        yield slot
    finally:
        slot.release()


def queued_message(*, ahead: int, language: str) -> str:
    """What a waiting reader is told."""
    if language == "zh":
        return f"模型正忙，已排队：前面还有 {ahead} 个请求，轮到时自动开始回答。"
    return f"The model is busy: queued, {ahead} ahead of you. The answer starts when its turn comes."
