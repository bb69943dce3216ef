"""BM25 kept up to date in place vs rebuilt on every change, on the NGC clinical guideline summaries.

    python bench/lexical.py [--limit N] [--queries Q] [--copies C]

--copies C indexes every guideline C times as distinct documents, to measure at scale (12 copies: about a million
chunks); the bm25s rebuild is then measured over the same chunks.

Chunks: each guideline as Markdown (bench/datasets/ngc.py), cut into pieces of about 800 characters at paragraph
boundaries (no Django, no database: this measures the index alone). Queries: the guidelines' titles, in a fixed
random order. One run, two indexes over the same chunks:

- yiju: retrieval.lexical.LexicalIndex (Snowball stemming, jieba, segments, statistics at query time);
- baseline: bm25s, which the previous version rebuilt from scratch whenever a document of the collection changed.

Prints a table with, for each: the full build (chunks/s), the cost of one document added or removed once the
index holds everything else, and query latency p50/p95 over all chunks and filtered to a 1% share of documents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import bm25s  # noqa: E402
import numpy as np  # noqa: E402

from bench.datasets.ngc import ngc_guidelines, ngc_markdown  # noqa: E402
from retrieval.lexical import LexicalEntry, LexicalIndex, tokenize  # noqa: E402

CHUNK_CHARS = 800


def pieces(text: str) -> list[str]:
    chunks: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        if current and len(current) + len(paragraph) > CHUNK_CHARS:
            chunks.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
        while len(current) > CHUNK_CHARS:
            chunks.append(current[:CHUNK_CHARS])
            current = current[CHUNK_CHARS:]
    if current:
        chunks.append(current)
    return chunks


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return (time.perf_counter() - started) * 1000, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N guidelines (default: all 1,416)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--copies", type=int, default=1, help="index every guideline this many times, as distinct documents (scale)"
    )
    args = parser.parse_args()

    entries: list[LexicalEntry] = []
    titles: list[str] = []
    guidelines = list(ngc_guidelines(limit=args.limit))
    for copy in range(args.copies):
        for number, guideline in enumerate(guidelines):
            titles.append(guideline.title)
            for text in pieces(ngc_markdown(guideline=guideline)):
                entries.append(LexicalEntry(len(entries), 1, copy * len(guidelines) + number, text))
    documents = len(titles)
    rng = random.Random(5)
    queries = rng.sample(titles, min(args.queries, len(titles)))
    permitted = rng.sample(range(documents), max(1, documents // 100))
    last_document = [e for e in entries if e.document_id == documents - 1]
    rest = [e for e in entries if e.document_id != documents - 1]
    copies = f"{args.copies} copies of each" if args.copies > 1 else "one copy of each"
    print(f"{documents} guidelines ({copies}), {len(entries)} chunks, {len(queries)} queries; ", end="")
    print(f"1% share = {len(permitted)} docs")

    # --- yiju: build everything but the last document, then add it, remove it and add it back.
    index = LexicalIndex()
    build_ms, _ = timed(lambda: [index.add(rest[i : i + 5000]) for i in range(0, len(rest), 5000)])
    add_ms, _ = timed(lambda: index.add(last_document))
    remove_ms, _ = timed(lambda: index.remove(e.chunk_id for e in last_document))
    index.add(last_document)
    latencies = [timed(lambda q=q: index.search(query=q, k=50))[0] for q in queries]
    filtered = [timed(lambda q=q: index.search(query=q, k=50, document_ids=permitted))[0] for q in queries]
    yiju = {
        "build_ms": build_ms,
        "add_ms": add_ms,
        "remove_ms": remove_ms,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "filtered_p50": percentile(filtered, 0.5),
        "filtered_p95": percentile(filtered, 0.95),
    }

    # --- baseline: bm25s over the same tokens; any change means building it again over all chunks.
    def bm25s_build(texts: list[str]) -> bm25s.BM25:
        model = bm25s.BM25()
        model.index([tokenize(t) for t in texts], show_progress=False)
        return model

    base_build_ms, _ = timed(lambda: bm25s_build([e.text for e in rest]))
    base_add_ms, baseline = timed(lambda: bm25s_build([e.text for e in entries]))
    all_ids = np.arange(len(entries))
    permitted_set = set(permitted)
    permitted_rows = np.asarray([e.chunk_id for e in entries if e.document_id in permitted_set])

    def baseline_search(query: str, *, rows: np.ndarray | None = None) -> object:
        tokens = tokenize(query)
        if rows is None:
            return baseline.retrieve([tokens], k=50, show_progress=False, n_threads=1)
        # bm25s has no filter inside the search: score everything, keep the permitted rows.
        scores = baseline.get_scores(tokens)
        return rows[np.argsort(-scores[rows])[:50]]

    base_latencies = [timed(lambda q=q: baseline_search(q))[0] for q in queries]
    base_filtered = [timed(lambda q=q: baseline_search(q, rows=permitted_rows))[0] for q in queries]
    base = {
        "build_ms": base_build_ms,
        "add_ms": base_add_ms,
        "remove_ms": base_add_ms,  # removal is also a rebuild over what is left
        "p50": percentile(base_latencies, 0.5),
        "p95": percentile(base_latencies, 0.95),
        "filtered_p50": percentile(base_filtered, 0.5),
        "filtered_p95": percentile(base_filtered, 0.95),
    }
    del all_ids

    rows = [
        ("full build (chunks/s)", len(rest) / yiju["build_ms"] * 1000, len(rest) / base["build_ms"] * 1000),
        ("add one guideline (ms)", yiju["add_ms"], base["add_ms"]),
        ("remove one guideline (ms)", yiju["remove_ms"], base["remove_ms"]),
        ("query p50 (ms)", yiju["p50"], base["p50"]),
        ("query p95 (ms)", yiju["p95"], base["p95"]),
        ("query at 1% share p50 (ms)", yiju["filtered_p50"], base["filtered_p50"]),
        ("query at 1% share p95 (ms)", yiju["filtered_p95"], base["filtered_p95"]),
    ]
    print("\n| measure | yiju LexicalIndex | bm25s rebuilt | yiju/bm25s |\n|---|---|---|---|")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours:,.1f} | {theirs:,.1f} | {ours / theirs:.3g} |")
    print(f"\n(last guideline: {len(last_document)} chunks; segments after the run: {index.segment_count})")
    print(f"mean query latency {statistics.mean(latencies):.1f} ms over {len(latencies)} queries")


if __name__ == "__main__":
    main()
