"""BM25 that starts in seconds: a fresh process loads the saved, memory-mapped index and answers its first search,
against building the index from the chunks as a starting web process did; query latency of both, same run.

    python bench/lexical_start.py [--limit N] [--queries Q] [--copies C] [--directory D]

Chunks as in bench/lexical.py: each NGC guideline as Markdown cut into pieces of about 800 characters, indexed
`--copies` times as distinct documents (12 copies: about a million chunks). No Django, no database: this measures
the index alone (a real start adds one aggregate query when nothing changed; a rebuild also reads every chunk).

1. build: the index built in memory from the chunks (tokenising every one): what a starting process did before.
2. save: retrieval/lexical_store.py writes it to --directory (default: a temporary folder, removed at the end).
3. fresh process: a new Python interpreter imports retrieval.lexical_store, loads the state (sha256 of every file,
   then memory-maps the arrays) and answers one search; timed from before the interpreter is started. It then
   applies one changed guideline (removed and added again: the catch-up by difference) and times its queries.
   Twice: with the files in the page cache (just written), then cold, the saved files evicted from the page cache
   first (posix_fadvise DONTNEED), as after a reboot.
4. here: the same queries alternately on the in-memory index and on a loaded (memory-mapped) one, p50/p95 each,
   unfiltered and filtered to 1% of the documents; the two must return the same hits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

CHILD_FLAG = "--fresh-process"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def memory_mib() -> dict[str, float]:
    """This process's peak and current resident memory, the current split into its own (anonymous) pages and
    mapped file pages (shared with every process mapping the same files). From /proc: ru_maxrss survives exec."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmHWM", "RssAnon", "RssFile")}


def fresh_process(directory: Path, plan_path: Path) -> None:
    """Run in a new interpreter: load, first search, catch up one changed guideline, then the queries."""
    started = time.perf_counter()
    from retrieval.lexical import LexicalEntry
    from retrieval.lexical_store import lexical_state_load

    imported = time.perf_counter()
    plan = json.loads(plan_path.read_text())
    queries = plan["queries"]
    state = lexical_state_load(directory=directory)
    loaded = time.perf_counter()
    first_hits = state.index.search(query=queries[0], k=50)
    answered = time.perf_counter()
    first_answer_at = time.time()
    changed = [LexicalEntry(*row) for row in plan["changed_document"]]
    state.index.remove_documents([changed[0].document_id])
    state.index.add(changed)
    caught_up = time.perf_counter()
    latencies = []
    for query in queries:
        before = time.perf_counter()
        state.index.search(query=query, k=50)
        latencies.append((time.perf_counter() - before) * 1000)
    print(json.dumps({
        "import_ms": (imported - started) * 1000,
        "load_ms": (loaded - imported) * 1000,
        "first_search_ms": (answered - loaded) * 1000,
        "first_answer_at": first_answer_at,
        "first_hits": len(first_hits),
        "catch_up_ms": (caught_up - answered) * 1000,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        **memory_mib(),
        "size": state.index.size,
    }))


def fresh_process_run(*, directory: Path, plan_path: Path) -> dict:
    spawned = time.time()
    child = subprocess.run(
        [sys.executable, __file__, CHILD_FLAG, str(directory), str(plan_path)],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    fresh = json.loads(child.stdout.strip().splitlines()[-1])
    fresh["start_to_first_answer_ms"] = (fresh["first_answer_at"] - spawned) * 1000
    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N guidelines (default: all 1,416)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--copies", type=int, default=1, help="index every guideline this many times (scale)")
    parser.add_argument("--directory", type=Path, default=None, help="where to save (default: a temporary folder)")
    args = parser.parse_args()
    directory = args.directory or Path(tempfile.mkdtemp(prefix="bm25-start-"))
    try:
        run(args=args, directory=directory)
    finally:
        if args.directory is None:
            shutil.rmtree(directory, ignore_errors=True)


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return (time.perf_counter() - started) * 1000, value


def run(*, args: argparse.Namespace, directory: Path) -> None:
    import random

    from bench.datasets.ngc import ngc_guidelines, ngc_markdown
    from bench.lexical import pieces
    from retrieval.lexical import LexicalEntry, LexicalIndex
    from retrieval.lexical_store import lexical_state_load, lexical_state_save

    guidelines = list(ngc_guidelines(limit=args.limit))
    texts = [pieces(ngc_markdown(guideline=guideline)) for guideline in guidelines]  # shared by every copy
    documents = len(guidelines) * args.copies
    chunk_count = sum(len(t) for t in texts) * args.copies
    rng = random.Random(5)
    queries = rng.sample([g.title for g in guidelines] * args.copies, min(args.queries, documents))
    permitted = rng.sample(range(documents), max(1, documents // 100))
    print(f"{documents} guidelines ({args.copies} copies of each), {chunk_count} chunks, {len(queries)} queries")

    def entries():
        chunk_id = 0
        for copy in range(args.copies):
            for number, guideline_texts in enumerate(texts):
                for text in guideline_texts:
                    yield LexicalEntry(chunk_id, 1, copy * len(guidelines) + number, text)
                    chunk_id += 1

    def build() -> LexicalIndex:
        index = LexicalIndex()
        batch: list[LexicalEntry] = []
        for entry in entries():
            batch.append(entry)
            if len(batch) >= 5000:  # retrieval/searchable.py's ADD_BATCH
                index.add(batch)
                batch = []
        index.add(batch)
        return index

    build_ms, index = timed(build)
    print(f"built in memory: {build_ms / 1000:.1f} s ({index.segment_count} segments)", flush=True)
    stamps = {d: 1 for d in range(documents)}
    save_ms, _ = timed(lambda: lexical_state_save(directory=directory, index=index, documents=stamps, version=[1]))
    files = [p for p in directory.iterdir() if p.is_file()]
    saved_mib = sum(p.stat().st_size for p in files) / 2**20
    print(f"saved in {save_ms / 1000:.1f} s: {saved_mib:,.0f} MiB in {len(files)} files", flush=True)
    last = documents - 1
    changed = [(e.chunk_id, e.collection_id, e.document_id, e.text) for e in entries() if e.document_id == last]
    plan_path = directory / "bench-plan.json"  # not one of the store's files: left alone by its clean-up
    plan_path.write_text(json.dumps({"queries": queries, "changed_document": changed}))
    fresh = {"warm": fresh_process_run(directory=directory, plan_path=plan_path)}
    for path in files:
        descriptor = os.open(path, os.O_RDONLY)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(descriptor)
    fresh["cold"] = fresh_process_run(directory=directory, plan_path=plan_path)
    assert fresh["warm"]["size"] == fresh["cold"]["size"] == index.size, "the fresh process lacks part of the index"

    loaded = lexical_state_load(directory=directory).index
    memory_times: dict[str, list[float]] = {"all": [], "share": []}
    mapped_times: dict[str, list[float]] = {"all": [], "share": []}
    for query in queries:  # alternately, so that the machine's other load falls on both alike
        for name, filters in [("all", {}), ("share", {"document_ids": permitted})]:
            ms, ours = timed(lambda q=query, f=filters: index.search(query=q, k=50, **f))
            memory_times[name].append(ms)
            ms, theirs = timed(lambda q=query, f=filters: loaded.search(query=q, k=50, **f))
            mapped_times[name].append(ms)
            assert [h.chunk_id for h in ours] == [h.chunk_id for h in theirs], query

    rows = [
        ("start to first search, files in page cache (ms)", fresh["warm"]["start_to_first_answer_ms"], build_ms),
        ("start to first search, files evicted first (ms)", fresh["cold"]["start_to_first_answer_ms"], build_ms),
        ("query p50 (ms)", percentile(mapped_times["all"], 0.5), percentile(memory_times["all"], 0.5)),
        ("query p95 (ms)", percentile(mapped_times["all"], 0.95), percentile(memory_times["all"], 0.95)),
        ("query at 1% share p50 (ms)", percentile(mapped_times["share"], 0.5), percentile(memory_times["share"], 0.5)),
        ("query at 1% share p95 (ms)",
         percentile(mapped_times["share"], 0.95), percentile(memory_times["share"], 0.95)),
    ]
    print("\n| measure | saved, memory-mapped | built in memory | ratio |\n|---|---|---|---|")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours:,.1f} | {theirs:,.1f} | {ours / theirs:.3g} |")
    for cache, run in fresh.items():
        print(f"\nfresh process, {cache}: interpreter start and imports "
              f"{run['start_to_first_answer_ms'] - run['load_ms'] - run['first_search_ms']:,.0f} ms "
              f"(imports {run['import_ms']:,.0f}), load {run['load_ms']:,.0f} ms, first search "
              f"{run['first_search_ms']:,.1f} ms ({run['first_hits']} hits); one changed guideline "
              f"({len(changed)} chunks) caught up in {run['catch_up_ms']:,.1f} ms; its queries p50/p95 "
              f"{run['p50']:,.1f}/{run['p95']:,.1f} ms; peak RSS {run['VmHWM']:,.0f} MiB, at the end "
              f"{run['RssAnon']:,.0f} MiB own + {run['RssFile']:,.0f} MiB mapped files")
    print(f"this process (built in memory, plus a loaded copy): peak RSS {memory_mib()['VmHWM']:,.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == CHILD_FLAG:
        fresh_process(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
