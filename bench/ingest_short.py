"""Short documents (`bench/ingest.py --short SOURCE`): the one-document path against batches, and raw encode.

Real short passages, each registered as its own document (a .txt file with an external id):

- pubmedqa: every CONTEXTS section of the 1,000 PubMedQA abstracts (about 3,300 passages of ~400 characters);
- stard: the 1,445 statute articles of STARD (Chinese, ~125 characters each, titled with the article's name);
- cpgqa: the 190 passages of the cpgQA opioid guideline.

One run, same texts, same model loaded once, each path into its own fresh collection and index folder:

- one by one (before): `document_register` a document at a time (autocommit), then `document_ingest` for each;
- batched (after): registered in one transaction, then `documents_ingest_batch` over `ingestion_runs` (short
  documents many to a run), as the batch task runs them;
- raw encode: the texts the batched path embedded (`Chunk.embedding_text()`), in one encode call, measured right
  after each path so that each path's ratio is against the machine as it was then.

documents/s counts ingestion (after registration); "with registration" counts both.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.ingest import Timer, log, raw_encoder

SOURCES = ("pubmedqa", "stard", "cpgqa")


def short_passages(*, source: str, limit: int | None) -> list[dict[str, str]]:
    """[{id, title, text}] of real short passages."""
    if source == "pubmedqa":
        from bench.datasets.pubmedqa import DEFAULT_SOURCE

        labelled = json.loads(DEFAULT_SOURCE.read_text(encoding="utf-8"))
        passages = [
            {"id": f"{pubmed_id}-{n}", "title": "", "text": context.strip()}
            for pubmed_id, record in labelled.items()
            for n, context in enumerate(record["CONTEXTS"])
        ]
    elif source == "stard":
        from bench.datasets.stard import DEFAULT_SOURCE, statute_articles

        passages = statute_articles(queries=json.loads(DEFAULT_SOURCE.read_text(encoding="utf-8")))
    else:
        from bench.datasets.cpgqa import cpgqa_evaluation_set

        passages = cpgqa_evaluation_set()[0]
    return passages[:limit] if limit else passages


def _register(*, collection: Any, passages: list[dict[str, str]]) -> list[int]:
    from ingestion.services import document_register

    return [
        document_register(
            collection=collection, file_name=f"doc-{n}.txt", content=p["text"].encode(), external_id=p["id"],
            title=p.get("title", ""),
        ).document.id
        for n, p in enumerate(passages)
    ]


def _path_run(
    *, name: str, passages: list[dict[str, str]], data_dir: Path, batched: bool
) -> tuple[dict[str, Any], list[str]]:
    from django.conf import settings
    from django.db import transaction

    from ingestion.models import Chunk, Document
    from ingestion.selectors import ingestion_runs
    from ingestion.services import (
        collection_delete,
        collection_get_or_create,
        document_ingest,
        documents_ingest_batch,
    )

    settings.INDEX_DIR = data_dir / f"index-{name}"  # each path its own index: neither grows the other's
    collection = collection_get_or_create(name=f"bench-short-{name}-{uuid.uuid4().hex[:8]}")
    with Timer() as registering:
        if batched:
            with transaction.atomic():
                ids = _register(collection=collection, passages=passages)
        else:
            ids = _register(collection=collection, passages=passages)
    log(f"  {name}: registered {len(ids)} in {registering.seconds:.1f} s")
    with Timer() as ingesting:
        if batched:
            runs = ingestion_runs(document_ids=ids)
            for run in runs:
                documents_ingest_batch(document_ids=run)
        else:
            runs = [[i] for i in ids]
            for document_id in ids:
                document_ingest(document_id=document_id)
    log(f"  {name}: ingested in {ingesting.seconds:.1f} s")
    statuses = Counter(Document.objects.filter(id__in=ids).values_list("status", flat=True))
    chunks = list(Chunk.objects.filter(document_id__in=ids).select_related("document").order_by("id"))
    row = {
        "documents": statuses.get(Document.Status.INDEXED, 0),
        "statuses": dict(statuses),
        "runs": len(runs),
        "chunks": len(chunks),
        "register_seconds": round(registering.seconds, 3),
        "ingest_seconds": round(ingesting.seconds, 3),
        "ingest_cpu_seconds": round(ingesting.cpu_seconds, 3),
    }
    texts = [chunk.embedding_text() for chunk in chunks]
    collection_delete(collection=collection)  # a PostgreSQL database given with --database-url keeps nothing
    return row, texts


def _raw(*, encode: Callable[[list[str]], Any], texts: list[str]) -> float:
    with Timer() as encoding:
        encode(texts)
    return encoding.seconds


def short_bench(*, source: str, limit: int | None) -> dict[str, Any]:
    """Both paths and their raw encodes; prints the table and returns every figure."""
    import os

    import torch
    from django.conf import settings

    from ingestion.embedding import embedder_get

    passages = short_passages(source=source, limit=limit)
    data_dir = settings.DATA_DIR
    embedder = embedder_get()
    embedder.embed_passages(["warm-up passage"] * 8)
    batch_size = settings.EMBEDDING_BATCH_SIZE or embedder.batch_size
    encode = raw_encoder(model=embedder._model, batch_size=batch_size)
    figures: dict[str, Any] = {"source": source, "passages": len(passages), "model": embedder.name,
                               "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
                               "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "rows": {}}
    for name, batched in (("one by one", False), ("batched", True)):
        log(f"{name}")
        row, texts = _path_run(name=name.replace(" ", "-"), passages=passages, data_dir=data_dir, batched=batched)
        row["raw_seconds"] = round(_raw(encode=encode, texts=texts), 3)
        figures["rows"][name] = row
    print()
    print(short_table(figures))
    return figures


def short_table(figures: dict[str, Any]) -> str:
    header = ["path", "documents", "chunks", "runs", "register s", "ingest s", "docs/s", "docs/s with registration",
              "raw encode docs/s (same texts, right after)", "ratio vs raw"]
    lines = [header]
    for name, row in figures["rows"].items():
        documents = row["documents"]
        rate = documents / row["ingest_seconds"]
        raw_rate = documents / row["raw_seconds"]
        lines.append([name, str(documents), str(row["chunks"]), str(row["runs"]), f"{row['register_seconds']:.1f}",
                      f"{row['ingest_seconds']:.1f}", f"{rate:.1f}",
                      f"{documents / (row['ingest_seconds'] + row['register_seconds']):.1f}", f"{raw_rate:.1f}",
                      f"{rate / raw_rate:.2f}"])
        row.update(docs_per_second=round(rate, 2), raw_docs_per_second=round(raw_rate, 2),
                   ratio_vs_raw=round(rate / raw_rate, 3))
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(header))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |" for cells in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    one, batched = figures["rows"].get("one by one"), figures["rows"].get("batched")
    if one and batched:
        out.append("")
        out.append(f"batched/one by one: {batched['docs_per_second'] / one['docs_per_second']:.1f}x documents/s; "
                   f"goal >= 150 documents/s: {'met' if batched['docs_per_second'] >= 150 else 'not met'} "
                   f"({batched['docs_per_second']:.0f}/s; raw encode itself {batched['raw_docs_per_second']:.0f}/s)")
    out.append(f"{figures['source']}: {figures['passages']} passages, model {figures['model']}, "
               f"{figures['database']}, {figures['torch_threads']} torch thread(s) of {figures['cpu_count']} cores")
    return "\n".join(out)
