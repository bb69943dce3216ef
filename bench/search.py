"""Dense search latency, recall and memory: Yiju's adaptive index against the flat (exact) index, same run.

    python bench/search.py [--sizes 100000,1000000] [--queries 200] [--base N] [--model NAME] [--noise 0.5]
                           [--nprobes 16,32,64]

The corpus, stated in the output too: `--base` real chunks (the NGC guideline summaries split into ~800-character
pieces, field by field, plus the 190 cpgQA guideline passages) embedded with the real model, then grown to each size
by perturbing them: vector i (past the base) is normalise(base[i mod B] + noise·g/sqrt(d)), g standard normal, so
each copy keeps cosine ≈ 1/sqrt(1 + noise²) with its source. Queries are real questions (cpgQA), each embedded
inside the timed loop, one at a time: latency = query embedding + search.

Per size, the flat row is the old index (IndexIDMap2 over IndexFlatIP, exact); its top 10 is the ground truth.
The adaptive row is VectorIndex with the settings' tuning (IVF-PQ past VECTOR_INDEX_IVF_THRESHOLD), built with one
add and searched through a fresh reader, as another process would. Bytes per vector are measured on disk: resident
= the files search holds in RAM (inverted lists with codes and ids, the trained model, flat segments); on disk adds
the memory-mapped float32 vectors and their ids, read only to re-rank. The filtered rows allow a random 1% of ids.
Base embeddings are cached under $TMPDIR/yiju-bench-search (never in the project).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `config`, `ingestion`, `retrieval` and `bench` importable
    sys.path.insert(0, str(REPO_ROOT))

from bench.datasets.ngc import DEFAULT_SOURCE, SHARED_DATA  # noqa: E402

CPGQA = SHARED_DATA / "cpgqa" / "dataset" / "cpgQA-v1.0.json"
PIECE_CHARS = 800
K = 10
FILTER_SHARE = 0.01
GROW_BATCH = 100_000


@dataclass
class Row:
    size: int
    index: str
    build_seconds: float
    p50_ms: float
    p95_ms: float
    search_p50_ms: float  # search alone, without the query embedding
    recall: float
    resident_bytes: float  # per vector
    disk_bytes: float  # per vector
    detail: str = ""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- corpus ---------------------------------------------------------------------------------------------------


def _pieces(text: str) -> Iterator[str]:
    """~800-character pieces cut at whitespace (the chunker's size; its structure does not matter here)."""
    text = re.sub(r"\s+", " ", text).strip()
    while text:
        if len(text) <= PIECE_CHARS:
            yield text
            return
        cut = text.rfind(" ", 0, PIECE_CHARS)
        cut = cut if cut > PIECE_CHARS // 2 else PIECE_CHARS
        yield text[:cut]
        text = text[cut:].lstrip()


def base_texts(*, count: int) -> list[str]:
    """cpgQA's passages, then NGC guideline fields as pieces, until `count` texts."""
    cpgqa = json.loads(CPGQA.read_text())["data"]
    texts = list(dict.fromkeys(entry["paragraphs"]["context"] for entry in cpgqa))
    with gzip.open(DEFAULT_SOURCE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            for field in record["fields"]:
                for piece in _pieces(f"{record['title']}. {field['field']}: {field['text']}"):
                    if len(piece) >= 100:  # skip stubs like "Not stated"
                        texts.append(piece)
            if len(texts) >= count:
                break
    return texts[:count]


def cpgqa_questions(*, count: int) -> list[str]:
    cpgqa = json.loads(CPGQA.read_text())["data"]
    questions = [qa["question"] for entry in cpgqa for qa in entry["paragraphs"]["qas"]]
    order = np.random.default_rng(0).permutation(len(questions))
    return [questions[i] for i in order[:count]]


def base_vectors(*, embedder: object, count: int) -> np.ndarray:
    cache = Path(tempfile.gettempdir()) / "yiju-bench-search"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.name)
    path = cache / f"{slug}-{count}.npy"
    if path.is_file():
        log(f"base vectors from cache {path}")
        return np.load(path)
    texts = base_texts(count=count)
    log(f"embedding {len(texts)} base chunks (about {len(texts) / 60:.0f} s at 60 chunks/s)")
    started = time.perf_counter()
    vectors = embedder.embed_passages(texts)
    log(f"  embedded in {time.perf_counter() - started:.1f} s")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def grown(*, base: np.ndarray, size: int, noise: float) -> np.ndarray:
    """The base, then perturbed copies of it, to `size` unit vectors."""
    random = np.random.default_rng(size)
    dimension = base.shape[1]
    out = np.empty((size, dimension), dtype=np.float32)
    out[: min(size, len(base))] = base[:size]
    for start in range(len(base), size, GROW_BATCH):
        stop = min(size, start + GROW_BATCH)
        block = base[np.arange(start, stop) % len(base)]
        block = block + (noise / np.sqrt(dimension)) * random.standard_normal(block.shape, dtype=np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


# --- measuring ------------------------------------------------------------------------------------------------


def timed(
    *, questions: list[str], embed: Callable[[str], np.ndarray], search: Callable[[np.ndarray], list[int]]
) -> tuple[list[float], list[float], list[list[int]]]:
    """One query at a time: (total ms, search-only ms, ids) per question."""
    totals, searches, results = [], [], []
    for question in questions:
        started = time.perf_counter()
        vector = embed(question)
        embedded = time.perf_counter()
        ids = search(vector)
        done = time.perf_counter()
        totals.append((done - started) * 1000)
        searches.append((done - embedded) * 1000)
        results.append(ids)
    return totals, searches, results


def recall_of(results: list[list[int]], truth: list[list[int]]) -> float:
    found = sum(len(set(r) & set(t)) for r, t in zip(results, truth, strict=True))
    return found / sum(len(t) for t in truth)


def directory_bytes(directory: Path, *, patterns: tuple[str, ...]) -> int:
    return sum(p.stat().st_size for pattern in patterns for p in directory.glob(pattern))


def flat_run(
    *,
    size: int,
    vectors: np.ndarray,
    ids: np.ndarray,
    allowed: np.ndarray,
    questions: list[str],
    embed: Callable,
    work: Path,
) -> tuple[list[Row], list[list[int]], list[list[int]]]:
    """The exact index the project had (IndexIDMap2 over IndexFlatIP): its rows, and the ground truth."""
    import faiss

    from vectorstore.segments import index_tuning_from_settings

    started = time.perf_counter()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, ids)
    build = time.perf_counter() - started
    flat_file = work / "flat.faiss"
    faiss.write_index(flat, str(flat_file))
    flat_bytes = flat_file.stat().st_size / size
    flat_file.unlink()

    def flat_search(vector: np.ndarray, params: object = None) -> list[int]:
        return flat.search(vector.reshape(1, -1), K, params=params)[1][0].tolist()

    # The same thread count as the adaptive index searches with, so the ratio compares indexes, not threading.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(index_tuning_from_settings().search_threads)
    try:
        totals, searches, truth = timed(questions=questions, embed=embed, search=flat_search)
        rows = [row(size, "flat (exact)", build, totals, searches, 1.0, flat_bytes, flat_bytes)]
        filtered_params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        totals, searches, filtered_truth = timed(
            questions=questions, embed=embed, search=lambda v: flat_search(v, filtered_params)
        )
        rows.append(row(size, "flat, 1% filter", 0.0, totals, searches, 1.0, flat_bytes, flat_bytes))
    finally:
        faiss.omp_set_num_threads(threads)
    return rows, truth, filtered_truth


def run_size(
    *, size: int, base: np.ndarray, questions: list[str], embed: Callable, noise: float, nprobes: list[int], work: Path
) -> list[Row]:
    import faiss

    from vectorstore.segments import VectorIndex, index_tuning_from_settings

    vectors = grown(base=base, size=size, noise=noise)
    ids = np.arange(1, size + 1, dtype=np.int64)  # chunk primary keys start at 1
    dimension = vectors.shape[1]
    rows: list[Row] = []
    random = np.random.default_rng(1)
    allowed = np.sort(random.choice(ids, size=max(K, int(size * FILTER_SHARE)), replace=False))

    flat_rows, truth, filtered_truth = flat_run(
        size=size, vectors=vectors, ids=ids, allowed=allowed, questions=questions, embed=embed, work=work
    )
    rows.extend(flat_rows)

    # Adaptive: through the public API, read back by a fresh reader.
    directory = work / f"index-{size}"
    started = time.perf_counter()
    with VectorIndex(directory=directory, dimension=dimension).updating() as index:
        index.add(ids=ids, vectors=vectors)
    build = time.perf_counter() - started
    del vectors, index
    reader = VectorIndex(directory=directory, dimension=dimension)
    reader.refresh()
    kind = f"{reader.ivf_segment_count} IVF + {reader.segment_count - reader.ivf_segment_count} flat segments"
    if reader.trained_file is not None:
        model = faiss.read_index(str(reader.trained_file))
        kind += f", nlist {model.nlist}, PQ{model.pq.M}x{model.pq.nbits}"
    resident = directory_bytes(directory, patterns=("ivf-*.lists", "trained-*.faiss", "segment-*.faiss")) / size
    disk = directory_bytes(directory, patterns=("*.lists", "*.faiss", "*.npy")) / size
    log(f"  adaptive index built in {build:.1f} s: {kind}")

    def adaptive_search(vector: np.ndarray, allowed_ids: np.ndarray | None = None) -> list[int]:
        return [hit.chunk_id for hit in reader.search(query=vector, k=K, allowed_ids=allowed_ids)]

    tuning = reader.tuning
    for nprobe in nprobes or [tuning.nprobe]:
        reader.tuning = dataclasses.replace(tuning, nprobe=nprobe)
        totals, searches, results = timed(questions=questions, embed=embed, search=adaptive_search)
        label = f"adaptive, nprobe {nprobe}" + (" (default)" if nprobe == tuning.nprobe else "")
        rows.append(row(size, label, build, totals, searches, recall_of(results, truth), resident, disk, kind))
    reader.tuning = tuning
    # retrieval.services always passes the searchable chunks of the asked collections as allowed_ids: with one
    # collection holding everything, that is every id, through the IVF search with a bitmap selector.
    totals, searches, results = timed(questions=questions, embed=embed, search=lambda v: adaptive_search(v, ids))
    everything = row(size, "adaptive, all ids allowed", 0.0, totals, searches, 0.0, resident, disk, kind)
    everything.recall = recall_of(results, truth)
    rows.append(everything)
    totals, searches, results = timed(
        questions=questions, embed=embed, search=lambda v: adaptive_search(v, allowed_ids=allowed)
    )
    filtered = row(size, "adaptive, 1% filter", 0.0, totals, searches, 0.0, resident, disk, kind)
    filtered.recall = recall_of(results, filtered_truth)
    rows.append(filtered)
    log(f"  tuning: {index_tuning_from_settings()}")
    shutil.rmtree(directory)
    return rows


def row(
    size: int,
    name: str,
    build: float,
    totals: list[float],
    searches: list[float],
    recall: float,
    resident: float,
    disk: float,
    detail: str = "",
) -> Row:
    return Row(
        size=size,
        index=name,
        build_seconds=build,
        p50_ms=float(np.percentile(totals, 50)),
        p95_ms=float(np.percentile(totals, 95)),
        search_p50_ms=float(np.percentile(searches, 50)),
        recall=recall,
        resident_bytes=resident,
        disk_bytes=disk,
        detail=detail,
    )


def table(rows: list[Row]) -> str:
    header = (
        "| size | index | build s | p50 ms | p95 ms | search p50 ms | recall@10 | resident B/vec | disk B/vec "
        "| p95 vs flat | resident vs flat |"
    )
    lines = [header, "|" + "---|" * 11]
    flat = {r.size: r for r in rows if r.index == "flat (exact)"}
    for r in rows:
        base = flat[r.size]
        lines.append(
            f"| {r.size:,} | {r.index} | {r.build_seconds:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
            f"{r.search_p50_ms:.2f} | {r.recall:.3f} | {r.resident_bytes:.0f} | {r.disk_bytes:.0f} | "
            f"{r.p95_ms / base.p95_ms:.2f} | {r.resident_bytes / base.resident_bytes:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="index sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="cpgQA questions, one at a time")
    parser.add_argument("--base", type=int, default=10_000, help="real chunks embedded before growing")
    parser.add_argument("--model", default=None, help="embedding model (default: settings.EMBEDDING_MODEL)")
    parser.add_argument("--noise", type=float, default=0.5, help="norm of the perturbation added to copies")
    parser.add_argument("--nprobes", default="", help="nprobe values to sweep (default: the setting's only)")
    args = parser.parse_args()

    if args.model:
        os.environ["EMBEDDING_MODEL"] = args.model
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from ingestion.embedding import embedder_get
    from vectorstore.segments import index_tuning_from_settings

    embedder = embedder_get()
    tuning = index_tuning_from_settings()
    base = base_vectors(embedder=embedder, count=args.base)
    questions = cpgqa_questions(count=args.queries)
    embedder.embed_query(questions[0])  # the first call warms the model up; not a user's latency
    sizes = [int(s) for s in args.sizes.split(",") if s]
    nprobes = [int(n) for n in args.nprobes.split(",") if n]
    corpus = (
        f"corpus: {len(base)} real chunks (cpgQA passages + NGC guideline fields in ~{PIECE_CHARS}-char pieces) "
        f"embedded with {embedder.name} (d={embedder.dimension}), "
        f"grown by copies normalise(v + {args.noise}·g/sqrt(d)) "
        f"(cosine to source ≈ {1 / np.sqrt(1 + args.noise**2):.2f}); queries: {len(questions)} cpgQA questions, "
        f"embedded one at a time inside the timing; faiss threads per query {tuning.search_threads}, "
        f"{os.cpu_count()} cores"
    )
    log(corpus)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="yiju-bench-search-") as work:
        for size in sizes:
            log(f"size {size:,}")
            rows.extend(
                run_size(
                    size=size,
                    base=base,
                    questions=questions,
                    embed=embedder.embed_query,
                    noise=args.noise,
                    nprobes=nprobes,
                    work=Path(work),
                )
            )
            log(table([r for r in rows if r.size == size]))
    print(corpus)
    print(table(rows))
    details = sorted({f"{r.size:,}: {r.detail}" for r in rows if r.detail})
    print("adaptive layout: " + "; ".join(details))
    print(json.dumps({"corpus": corpus, "rows": [dataclasses.asdict(r) for r in rows]}))


if __name__ == "__main__":
    main()
