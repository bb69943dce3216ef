"""The app's own time per search on each engine: passages_retrieve's wall time less the embedding and the engine's
searches, for the embedded engine (the baseline, measured in the same run) and for Milvus.

    python bench/search_engines.py [--set cpgqa|pubmedqa|stard] [--limit N] [--repeat R]

A set (bench/datasets) is ingested through the real path with SEARCH_ENGINE=embedded into a temporary SQLite
database, then copied into a Milvus Lite server started for the run with milvus_fill (the stored vectors, not
embedded again). Every question is then asked through passages_retrieve (hybrid, k=10, no re-ranker), R times on
each engine, engines alternating per question so that load on the machine falls on both alike.

Columns, per call (p50 / p95 in ms): wall, embed (the question's vector), engine (embedded: BM25 sync, FAISS and
BM25 searches; Milvus: the two pymilvus calls, gRPC and server included), app = wall - embed - engine (Milvus: the
question's BM25 terms, the database check of which candidates may be served, fusion, reading the chunks; embedded:
fusion and reading the chunks). Milvus Lite is pure Python and slow; its searches are not what this measures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

ENGINE_KEYS = {"embedded": ("sync_ms", "dense_ms", "lexical_ms"), "milvus": ("dense_ms", "lexical_ms")}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="cpgqa", choices=["cpgqa", "pubmedqa", "stard"])
    parser.add_argument("--limit", type=int, default=300, help="Questions asked (drawn by seed 0).")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    from bench.ingest import django_setup
    from vectorstore.milvus_lite import free_port, milvus_lite_start, milvus_lite_stop

    data_dir = Path(tempfile.mkdtemp(prefix="yiju-engines-"))
    port = free_port()
    server = milvus_lite_start(data_dir=data_dir / "milvus", port=port, log_path=data_dir / "milvus.log")
    try:
        django_setup(data_dir=data_dir, batch_size=None)
        run(set_name=args.set, limit=args.limit, repeat=args.repeat, engine=f"milvus://127.0.0.1:{port}")
    finally:
        milvus_lite_stop(server)


def run(*, set_name: str, limit: int, repeat: int, engine: str) -> None:
    from django.conf import settings

    from bench.datasets.cpgqa import cpgqa_evaluation_set
    from bench.datasets.pubmedqa import pubmedqa_evaluation_set
    from bench.datasets.stard import stard_evaluation_set
    from ingestion.embedding import embedder_get
    from ingestion.index import milvus_fill
    from retrieval.access import OPERATOR
    from retrieval.evaluation import CorpusDocument, evaluation_corpus_ingested
    from retrieval.services import passages_retrieve

    loader = {"cpgqa": cpgqa_evaluation_set, "pubmedqa": pubmedqa_evaluation_set, "stard": stard_evaluation_set}
    corpus, questions = loader[set_name](limit=limit)
    documents = [CorpusDocument(id=c["id"], text=c["text"], title=c.get("title", "")) for c in corpus]
    settings.SEARCH_ENGINE = "embedded"
    with evaluation_corpus_ingested(corpus=documents) as ingested:
        settings.SEARCH_ENGINE = engine
        started = time.perf_counter()
        filled = milvus_fill(embedder=embedder_get())
        fill_s = time.perf_counter() - started
        print(f"{set_name}: {ingested.documents} documents, {ingested.chunks} chunks; milvus_fill {filled.added} rows "
              f"in {fill_s:.1f} s; {len(questions)} questions x {repeat}", flush=True)
        samples: dict[str, dict[str, list[float]]] = {
            name: {"wall": [], "embed": [], "engine": [], "app": [], "terms": [], "visible": []} for name in ENGINE_KEYS
        }
        for value in ("embedded", engine):  # warm both (models, connections)
            settings.SEARCH_ENGINE = value
            passages_retrieve(reader=OPERATOR, query=questions[0]["question"],
                              collection_ids=[ingested.collection.id], k=10, reranker="")
        for _ in range(repeat):
            for question in questions:
                for name, value in (("embedded", "embedded"), ("milvus", engine)):
                    settings.SEARCH_ENGINE = value
                    started = time.perf_counter()
                    result = passages_retrieve(reader=OPERATOR, query=question["question"],
                                               collection_ids=[ingested.collection.id], k=10, reranker="")
                    wall = (time.perf_counter() - started) * 1000
                    embed = result.timings_ms.get("embed_ms", 0.0)
                    searches = sum(result.timings_ms.get(key, 0.0) for key in ENGINE_KEYS[name])
                    for column, value_ms in (("wall", wall), ("embed", embed), ("engine", searches),
                                             ("app", wall - embed - searches),
                                             ("terms", result.timings_ms.get("terms_ms", 0.0)),
                                             ("visible", result.timings_ms.get("visible_ms", 0.0))):
                        samples[name][column].append(value_ms)
        settings.SEARCH_ENGINE = "embedded"
    report(samples=samples)


def report(*, samples: dict[str, dict[str, list[float]]]) -> None:
    baseline = statistics.median(samples["embedded"]["app"])
    print("\n| engine | wall p50 / p95 | embed p50 | engine searches p50 / p95 | app p50 / p95 | app p50 vs embedded |")
    print("|---|---|---|---|---|---|")
    for name, columns in samples.items():
        def pair(column: str, columns: dict[str, list[float]] = columns) -> str:
            return f"{percentile(columns[column], 0.5):.1f} / {percentile(columns[column], 0.95):.1f}"

        ratio = statistics.median(columns["app"]) / baseline if baseline else float("nan")
        print(f"| {name} | {pair('wall')} | {percentile(columns['embed'], 0.5):.1f} | {pair('engine')} | "
              f"{pair('app')} | {ratio:.2f} |")
    milvus = samples["milvus"]
    print(f"\nMilvus path, app time p50 of which: question's BM25 terms {percentile(milvus['terms'], 0.5):.2f} ms, "
          f"database check of the candidates {percentile(milvus['visible'], 0.5):.2f} ms")


if __name__ == "__main__":
    main()
