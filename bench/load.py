"""Load: the web app under gunicorn with production settings, driven over loopback at rising concurrency; and how
many answers at once the model server sustains, and what the app does past that.

    .venv/bin/python bench/load.py [--duration 15] [--levels 1,2,4,8,16,32,64] [--workers 3] [--threads 4]
                                   [--llm] [--llm-levels 1,2,4,8]

Web part. Prepares a PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/yiju_load,
created if missing) with the sample set and the cn_laws regulations ingested, a superuser, its API token and a
session; starts gunicorn (gthread workers) with DEBUG off, persistent database connections, Redis as broker and
cache (db 14), the vector index and media of this run; then, from this process (a second process on loopback),
holds N clients each sending its next request as soon as the last returns, for --duration seconds per level.
The mix: 60% GET /api/search/ (hybrid retrieval, Bearer token), 20% the ask page, 20% a passage page (session).
Levels rise until the app degrades (errors over 1%, or p95 over 10x the first level's); the first level is the
baseline of the ratios.

LLM part (--llm; LLM_BASE_URL must name a running server, e.g. `manage.py serve_llm`): N streamed completions at
once straight to the server (64 tokens each), per level: requests per second, tokens per second, time to first token
and total time, against one at a time. Then the app's answer to saturation: 3x LLM_MAX_CONCURRENT replies at once
through grounding.llm.generation.reply_stream with a small LLM_MAX_CONCURRENT: how many were queued, the places in
line they were told, how long they waited, and that none timed out.

Prints one table per part and one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUERIES = [
    "高血压的诊断标准是什么？", "Which antibiotics treat community-acquired pneumonia?", "个人信息处理者的义务",
    "数据安全保护义务", "grant application deadline", "中小企业 研发费用 补贴", "blood pressure target in elderly",
    "价格违法行为的处罚", "网络数据处理者应当履行哪些义务", "first-line treatment for pneumonia in adults",
]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/yiju_load"
REDIS_URL = "redis://127.0.0.1:6379/14"


# --- setup ----------------------------------------------------------------------------------------------------


def database_ensure(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Fixture:
    token: str
    session: str
    chunk_ids: list[int]
    collections: str


def data_prepare(*, data_dir: Path, database_url: str) -> Fixture:
    """Migrate, ingest (in this process, no broker), and make the user, token and session the clients use."""
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url, "DJANGO_DEBUG": "false",
        "YIJU_INDEX_DIR": str(data_dir / "index"), "YIJU_MEDIA_ROOT": str(data_dir / "media"),
    })
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from assistant.demo.sample_set import sample_set_write
    from ingestion.models import Chunk, Collection
    from tests.factories import ingest_file

    call_command("migrate", verbosity=0)
    shared = REPO.parent / "shared" / "data" / "cn_laws"
    for name, paths in (("sample", sample_set_write(directory=data_dir / "sample")),
                        ("laws", sorted(shared.glob("*.txt")))):
        if not Collection.objects.filter(name=name, documents__status="indexed").exists():
            for path in paths:
                ingest_file(path=path, collection=name)
    user = User.objects.filter(username="load").first() or User.objects.create_superuser("load", password="load-pw")
    token, _ = Token.objects.get_or_create(user=user)
    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return Fixture(
        token=token.key, session=session.session_key,
        chunk_ids=list(Chunk.objects.values_list("id", flat=True)[:500]), collections="sample,laws",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_start(*, port: int, data_dir: Path, database_url: str, workers: int, threads: int,
                   log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "false", "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60", "CELERY_BROKER_URL": REDIS_URL, "CACHE_URL": REDIS_URL,
        "YIJU_INDEX_DIR": str(data_dir / "index"), "YIJU_MEDIA_ROOT": str(data_dir / "media"),
        "API_THROTTLE_USER": "1000000/min", "LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
               "--timeout", "120", "--preload"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer: {log.read_text()[-3000:]}")


# --- the load generator ---------------------------------------------------------------------------------------


@dataclass
class LevelResult:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")

    def row(self) -> dict:
        return {
            "concurrency": self.concurrency, "requests": self.requests,
            "rps": round(self.requests / self.seconds, 1), "p50_ms": round(self.percentile(0.50), 1),
            "p95_ms": round(self.percentile(0.95), 1), "p99_ms": round(self.percentile(0.99), 1),
            "errors": self.errors, "error_share": round(self.errors / max(self.requests, 1), 4),
            "statuses": self.by_status,
        }


def request_maker(*, base: str, fixture: Fixture) -> Callable[[httpx.Client, random.Random], httpx.Response]:
    def make(client: httpx.Client, rng: random.Random) -> httpx.Response:
        pick = rng.random()
        if pick < 0.6:
            params = {"q": rng.choice(QUERIES), "collections": fixture.collections}
            return client.get(f"{base}/api/search/", params=params,
                              headers={"Authorization": f"Bearer {fixture.token}"})
        cookies = {"sessionid": fixture.session}
        if pick < 0.8:
            return client.get(f"{base}/", cookies=cookies)
        return client.get(f"{base}/passages/{rng.choice(fixture.chunk_ids)}/", cookies=cookies)

    return make


def level_run(*, concurrency: int, duration: float, make: Callable) -> LevelResult:
    result = LevelResult(concurrency=concurrency)
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    response = make(client, rng)
                    status = str(response.status_code)
                    ok = response.status_code == 200
                except httpx.HTTPError as error:
                    status, ok = type(error).__name__, False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    result.by_status[status] = result.by_status.get(status, 0) + 1
                    if ok:
                        result.latencies_ms.append(elapsed)
                    else:
                        result.errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(seed,)) for seed in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def web_bench(args: argparse.Namespace) -> list[dict]:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    database_ensure(database_url)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="yiju-load-"))
    fixture = data_prepare(data_dir=data_dir, database_url=database_url)
    port = free_port()
    server = gunicorn_start(port=port, data_dir=data_dir, database_url=database_url, workers=args.workers,
                            threads=args.threads, log=data_dir / "gunicorn.log")
    rows: list[dict] = []
    try:
        make = request_maker(base=f"http://127.0.0.1:{port}", fixture=fixture)
        level_run(concurrency=2 * args.workers, duration=5, make=make)  # warm-up: each worker loads its models
        print(f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'errors':>6} {'req/s x':>7} {'p95 x':>6}")
        for concurrency in args.levels:
            row = level_run(concurrency=concurrency, duration=args.duration, make=make).row()
            base = rows[0] if rows else row
            row["rps_ratio"] = round(row["rps"] / base["rps"], 2)
            row["p95_ratio"] = round(row["p95_ms"] / base["p95_ms"], 2)
            rows.append(row)
            print_row(row)
            if row["error_share"] > 0.01 or row["p95_ratio"] > 10:
                print(f"degraded at {concurrency} concurrent clients: stopping")
                break
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return rows


def print_row(row: dict) -> None:
    print(f"{row['concurrency']:>7} {row['requests']:>8} {row['rps']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
          f"{row['p99_ms']:>8} {row['errors']:>6} {row['rps_ratio']:>7} {row['p95_ratio']:>6}", flush=True)


# --- the model server -----------------------------------------------------------------------------------------


def llm_level(*, base_url: str, model: str, concurrency: int, max_tokens: int) -> dict:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=os.environ.get("LLM_API_KEY", "EMPTY"), timeout=600)
    outcomes: list[dict] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        started = time.perf_counter()
        first = None
        tokens = 0
        try:
            stream = client.chat.completions.create(
                model=model, max_tokens=max_tokens, temperature=0.1, stream=True,
                messages=[{"role": "user", "content": f"Write a short paragraph about hypertension ({number})."}],
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    first = first or time.perf_counter()
                    tokens += 1
            error = None
        except Exception as failure:  # reported, not raised: a timeout is a figure here
            error = type(failure).__name__
        with lock:
            outcomes.append({"ttft_s": (first - started) if first else None, "total_s": time.perf_counter() - started,
                             "tokens": tokens, "error": error})

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done = [o for o in outcomes if not o["error"]]
    return {
        "concurrency": concurrency, "wall_s": round(wall, 2), "answers_per_s": round(len(done) / wall, 3),
        "tokens_per_s": round(sum(o["tokens"] for o in done) / wall, 1),
        "ttft_p50_s": round(statistics.median(o["ttft_s"] for o in done if o["ttft_s"]), 2) if done else None,
        "total_p50_s": round(statistics.median(o["total_s"] for o in done), 2) if done else None,
        "total_max_s": round(max(o["total_s"] for o in done), 2) if done else None,
        "errors": len(outcomes) - len(done),
    }


ANSWER_QUESTIONS = [
    "高血压的诊断标准是什么？", "Which antibiotics treat community-acquired pneumonia?",
    "高血压患者的血压控制目标是多少？", "When should a patient with pneumonia be admitted to hospital?",
]


def answers_level(*, concurrency: int, collection_ids: list[int]) -> dict:
    """concurrency grounded answers at once through the whole app path (retrieval, prompt, model, verification),
    with no line in front of the model (LLM_MAX_CONCURRENT=0): what the server itself sustains."""
    from django.conf import settings
    from django.db import connections

    from assistant.answers.services import question_answer
    from retrieval.access import OPERATOR

    settings.LLM_MAX_CONCURRENT = 0
    outcomes: list[dict] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        try:
            answer = question_answer(user=OPERATOR, question=ANSWER_QUESTIONS[number % len(ANSWER_QUESTIONS)],
                                     collection_ids=collection_ids)
            row = {"total_s": answer.timings["total_ms"] / 1000, "error": answer.error or None,
                   "ttft_s": (answer.timings.get("ttft_ms") or 0) / 1000,
                   "tokens": (answer.timings.get("reasoning_tokens") or 0) + (answer.timings.get("answer_tokens") or 0)}
        except Exception as failure:
            row = {"total_s": None, "ttft_s": None, "tokens": 0, "error": type(failure).__name__}
        finally:
            connections.close_all()
        with lock:
            outcomes.append(row)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done = [o for o in outcomes if not o["error"]]
    return {
        "concurrency": concurrency, "wall_s": round(wall, 1), "answers_per_min": round(60 * len(done) / wall, 1),
        "ttft_p50_s": round(statistics.median(o["ttft_s"] for o in done), 1) if done else None,
        "total_p50_s": round(statistics.median(o["total_s"] for o in done), 1) if done else None,
        "total_max_s": round(max(o["total_s"] for o in done), 1) if done else None,
        "tokens_per_s": round(sum(o["tokens"] for o in done) / wall, 1), "errors": len(outcomes) - len(done),
    }


def saturation_run(*, capacity: int, replies: int) -> dict:
    """replies at once through the app's reply_stream with LLM_MAX_CONCURRENT=capacity."""
    from django.conf import settings
    from langchain_core.messages import HumanMessage

    from assistant.grounding.llm.client import llm_endpoint
    from assistant.grounding.llm.generation import ReplyStats, reply_stream

    settings.LLM_MAX_CONCURRENT, settings.LLM_MAX_TOKENS = capacity, 64
    endpoint = llm_endpoint()
    outcomes: list[dict] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        started = time.perf_counter()
        places: list[int] = []
        slot_at = None
        error = None
        try:
            for delta in reply_stream(endpoint=endpoint, stats=ReplyStats(), reasoning_mode="off", reasoning_budget=0,
                                      messages=[HumanMessage(f"Write a paragraph on hypertension ({number}).")],
                                      output_format={"type": "text"}):
                if delta.kind == "queued":
                    places.append(delta.ahead)
                elif slot_at is None:
                    slot_at = time.perf_counter()
        except Exception as failure:
            error = f"{type(failure).__name__}: {failure}"[:200]
        with lock:
            outcomes.append({"places": places, "wait_s": (slot_at - started) if slot_at and places else 0.0,
                             "total_s": time.perf_counter() - started, "error": error})

    threads = [threading.Thread(target=one, args=(n,)) for n in range(replies)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # arrivals in a known order
    for thread in threads:
        thread.join()
    queued = [o for o in outcomes if o["places"]]
    return {
        "capacity": capacity or "none", "replies": replies, "queued": len(queued),
        "total_p50_s": round(statistics.median(o["total_s"] for o in outcomes), 1),
        "first_places_told": sorted(o["places"][0] for o in queued),
        "wait_max_s": round(max((o["wait_s"] for o in queued), default=0.0), 1),
        "total_max_s": round(max(o["total_s"] for o in outcomes), 1),
        "errors": [o["error"] for o in outcomes if o["error"]],
    }


def llm_bench(args: argparse.Namespace) -> dict:
    base_url = os.environ.get("LLM_BASE_URL")
    if not base_url:
        raise SystemExit("--llm needs LLM_BASE_URL (start one with `manage.py serve_llm`)")
    if "django" not in sys.modules or not _django_ready():  # --no-web: the same database and sample set
        database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        database_ensure(database_url)
        data_prepare(data_dir=Path(args.data_dir or tempfile.mkdtemp(prefix="yiju-load-")), database_url=database_url)
    from django.conf import settings

    model = settings.LLM_MODEL or settings.LOCAL_LLM_MODEL
    llm_level(base_url=base_url, model=model, concurrency=1, max_tokens=8)  # warm-up: not the baseline
    levels = []
    print(f"\n{'at once':>7} {'wall s':>7} {'answers/s':>9} {'tok/s':>7} {'ttft p50':>8} {'total p50':>9} "
          f"{'total max':>9} {'errors':>6} {'tok/s x':>7}")
    for concurrency in args.llm_levels:
        row = llm_level(base_url=base_url, model=model, concurrency=concurrency, max_tokens=64)
        row["tokens_per_s_ratio"] = round(row["tokens_per_s"] / levels[0]["tokens_per_s"], 2) if levels else 1.0
        levels.append(row)
        print(f"{row['concurrency']:>7} {row['wall_s']:>7} {row['answers_per_s']:>9} {row['tokens_per_s']:>7} "
              f"{row['ttft_p50_s']!s:>8} {row['total_p50_s']!s:>9} {row['total_max_s']!s:>9} {row['errors']:>6} "
              f"{row['tokens_per_s_ratio']:>7}", flush=True)
    if args.answers_levels:
        from ingestion.models import Collection

        collection_ids = [Collection.objects.get(name="sample").id]
        answers: list[dict] = []
        print(f"\n{'answers':>7} {'wall s':>7} {'per min':>7} {'ttft p50':>8} {'total p50':>9} {'total max':>9} "
              f"{'tok/s':>6} {'errors':>6} {'per min x':>9}")
        for concurrency in args.answers_levels:
            row = answers_level(concurrency=concurrency, collection_ids=collection_ids)
            row["per_min_ratio"] = round(row["answers_per_min"] / answers[0]["answers_per_min"], 2) if answers else 1.0
            answers.append(row)
            print(f"{row['concurrency']:>7} {row['wall_s']:>7} {row['answers_per_min']:>7} {row['ttft_p50_s']!s:>8} "
                  f"{row['total_p50_s']!s:>9} {row['total_max_s']!s:>9} {row['tokens_per_s']:>6} {row['errors']:>6} "
                  f"{row['per_min_ratio']:>9}", flush=True)
    replies = 3 * args.saturation_capacity
    saturation = [saturation_run(capacity=capacity, replies=replies) for capacity in (0, args.saturation_capacity)]
    print(f"\n{replies} replies at once through reply_stream (64 tokens each):")
    for row in saturation:
        print(f"  LLM_MAX_CONCURRENT={row['capacity']}: {row['queued']} queued, told places "
              f"{row['first_places_told']}, longest wait {row['wait_max_s']} s, reply p50 {row['total_p50_s']} s, "
              f"slowest {row['total_max_s']} s, errors {row['errors']}")
    return {"levels": levels, "answers": answers if args.answers_levels else [], "saturation": saturation}


def _django_ready() -> bool:
    from django.apps import apps

    return apps.ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per concurrency level")
    parser.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--data-dir", help="index and media folder (default: a new temporary one)")
    parser.add_argument("--no-web", action="store_true", help="skip the web part")
    parser.add_argument("--llm", action="store_true", help="also measure the model server and saturation")
    parser.add_argument("--llm-levels", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4, 8])
    parser.add_argument("--saturation-capacity", type=int, default=2)
    parser.add_argument("--answers-levels", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4, 8],
                        help="whole grounded answers at once (with --llm); empty to skip")
    args = parser.parse_args()
    figures: dict = {}
    if not args.no_web:
        print(f"web: gunicorn {args.workers} workers x {args.threads} threads, {args.duration:.0f} s per level, "
              "60% search API / 20% ask page / 20% passage page")
        figures["web"] = web_bench(args)
    if args.llm:
        figures["llm"] = llm_bench(args)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
