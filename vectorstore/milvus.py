"""Chunks in a Milvus collection: the shared search engine when several machines serve one installation.

One collection per embedding model. A row is a chunk: its id (the primary key, the Chunk's), set, document and
version, language, the dense vector (HNSW, inner product like the embedded FAISS index) and its BM25 terms.

Why the terms are the app's own tokens (vectorstore/analysis.py) and not raw text through a Milvus analyzer: the
embedded engine's BM25 uses jieba's search-mode words plus every Chinese character and character pair, and Snowball
stemming for English, on any mix of the two in one chunk. Milvus Lite 3.2.2 offers only the `standard` (\\w+) and
`jieba` tokenizers: no stemming filter, no multi-language analyzer keyed by a field. With the same words on both
sides, and k1/b set to the embedded engine's, Milvus's BM25 function scores what the embedded BM25 scores (its IDF,
length normalisation and global statistics are the same formula). The analyzer only has to split on spaces:
`standard` does on Milvus Lite; on Milvus Standalone/Distributed set MILVUS_TERMS_ANALYZER to
{"tokenizer": "whitespace"} (its standard tokenizer would cut Chinese words into characters).

Read rights and set or document choices are a filter expression evaluated inside both searches. Visibility (which
version of a document is served) stays the database's decision: callers drop rows whose chunk is not searchable.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

ENGINE_SCHEME = "milvus://"
TERMS_MAX_BYTES = 65_535  # Milvus's VARCHAR limit
DEFAULT_ANALYZER = {"tokenizer": "standard"}
BM25_PARAMS = {"bm25_k1": 1.2, "bm25_b": 0.75}  # the embedded BM25's (retrieval/lexical.py)
HNSW_BUILD = {"M": 16, "efConstruction": 200}
IDS_BATCH = 5_000
# Milvus Lite has no server timestamp for iterators; pymilvus warns on every ids() and goes on with its own.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)

__all__ = [
    "MilvusChunkStore", "MilvusException", "MilvusRow", "analyzer_from_setting", "filter_expression", "milvus_client",
    "milvus_uri",
]


@dataclass(frozen=True)
class MilvusRow:
    chunk_id: int
    collection_id: int
    document_id: int
    version: int
    language: str
    terms: str
    vector: np.ndarray


def milvus_uri(engine: str) -> str:
    """milvus://HOST:PORT (the SEARCH_ENGINE setting) as the address pymilvus connects to."""
    if not engine.startswith(ENGINE_SCHEME) or not engine[len(ENGINE_SCHEME):].strip("/"):
        raise ValueError(f"not a Milvus engine address (milvus://HOST:PORT): {engine!r}")
    return "http://" + engine[len(ENGINE_SCHEME):].strip("/")


_clients: dict[tuple[str, int], MilvusClient] = {}
_clients_lock = threading.Lock()


def milvus_client(uri: str) -> MilvusClient:
    """One client per address and process: a gRPC channel does not survive a fork (Celery's prefork workers)."""
    key = (uri, os.getpid())
    with _clients_lock:
        if key not in _clients:
            _clients[key] = MilvusClient(uri=uri)
        return _clients[key]


def filter_expression(*, collection_ids: Iterable[int] | None, document_ids: Iterable[int] | None) -> str:
    """The rows of these sets (and these documents, when given); ids are ints, so nothing can be injected."""
    parts = []
    if collection_ids is not None:
        parts.append(f"collection_id in {[int(i) for i in collection_ids]}")
    if document_ids is not None:
        parts.append(f"document_id in {[int(i) for i in document_ids]}")
    return " and ".join(parts)


def _build(params: dict) -> dict:
    """Index build parameters as Milvus reads them (one key each) and as Milvus Lite's gRPC adapter reads them (one
    JSON "params" key; it ignores the others, and BM25 would silently score with k1 = 1.5)."""
    return {**params, "params": dict(params)}


def _bounded(terms: str) -> str:
    encoded = terms.encode()
    if len(encoded) <= TERMS_MAX_BYTES:
        return terms
    return encoded[:TERMS_MAX_BYTES].decode(errors="ignore").rsplit(" ", 1)[0]


class MilvusChunkStore:
    """One embedding model's chunk rows in one Milvus collection, created on first use."""

    def __init__(self, *, uri: str, name: str, dimension: int, analyzer: dict | None = None, search_ef: int = 256):
        self.uri = uri
        self.name = name
        self.dimension = dimension
        self.analyzer = analyzer or DEFAULT_ANALYZER
        self.search_ef = search_ef
        self._ready = False

    @property
    def client(self) -> MilvusClient:
        return milvus_client(self.uri)

    def ensure(self) -> None:
        """Create the collection with its BM25 function and indexes unless it exists; idempotent."""
        if self._ready:
            return
        if not self.client.has_collection(self.name):
            self.client.create_collection(self.name, schema=self._schema(), index_params=self._indexes(),
                                          consistency_level="Strong")
        self._ready = True

    def _schema(self):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.INT64, is_primary=True)
        schema.add_field("collection_id", DataType.INT64)
        schema.add_field("document_id", DataType.INT64)
        schema.add_field("version", DataType.INT32)
        schema.add_field("language", DataType.VARCHAR, max_length=8)
        schema.add_field("terms", DataType.VARCHAR, max_length=TERMS_MAX_BYTES, enable_analyzer=True,
                         analyzer_params=self.analyzer)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=["sparse"]))
        return schema

    def _indexes(self):
        indexes = self.client.prepare_index_params()
        indexes.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params=_build(HNSW_BUILD))
        indexes.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                          params=_build(BM25_PARAMS))
        indexes.add_index(field_name="collection_id", index_type="INVERTED")
        indexes.add_index(field_name="document_id", index_type="INVERTED")
        return indexes

    def upsert(self, rows: Sequence[MilvusRow]) -> None:
        """Insert or replace these rows (by chunk id)."""
        if not rows:
            return
        self.ensure()
        self.client.upsert(self.name, [
            {"chunk_id": int(r.chunk_id), "collection_id": int(r.collection_id), "document_id": int(r.document_id),
             "version": int(r.version), "language": r.language, "terms": _bounded(r.terms),
             "vector": np.asarray(r.vector, dtype=np.float32).tolist()}
            for r in rows
        ])

    def delete(self, ids: Iterable[int]) -> None:
        ids = [int(i) for i in ids]
        if ids:
            self.ensure()
            self.client.delete(self.name, ids=ids)

    def count(self) -> int:
        self.ensure()
        return int(self.client.query(self.name, filter="", output_fields=["count(*)"])[0]["count(*)"])

    def ids(self) -> np.ndarray:
        """Every chunk id in the collection, sorted."""
        self.ensure()
        found = [np.asarray(batch, dtype=np.int64) for batch in self._id_batches()]
        return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)

    def _id_batches(self) -> Iterator[list[int]]:
        iterator = self.client.query_iterator(self.name, batch_size=IDS_BATCH, filter="", output_fields=["chunk_id"])
        try:
            while batch := iterator.next():
                yield [row["chunk_id"] for row in batch]
        finally:
            iterator.close()

    def dense_search(
        self, *, vector: np.ndarray, k: int, collection_ids: Iterable[int] | None,
        document_ids: Iterable[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, inner product) of the k nearest rows within the filter, best first."""
        self.ensure()
        hits = self.client.search(
            self.name, data=[np.asarray(vector, dtype=np.float32).tolist()], anns_field="vector", limit=k,
            filter=filter_expression(collection_ids=collection_ids, document_ids=document_ids),
            search_params={"metric_type": "IP", "params": {"ef": max(self.search_ef, k)}}, output_fields=["chunk_id"],
        )[0]
        return [(int(hit["chunk_id"]), float(hit["distance"])) for hit in hits]

    def text_search(
        self, *, terms: str, k: int, collection_ids: Iterable[int] | None, document_ids: Iterable[int] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best rows for these query terms within the filter, best first."""
        if not terms.strip():
            return []
        self.ensure()
        hits = self.client.search(
            self.name, data=[terms], anns_field="sparse", limit=k,
            filter=filter_expression(collection_ids=collection_ids, document_ids=document_ids),
            search_params={"metric_type": "BM25", "params": dict(BM25_PARAMS)}, output_fields=["chunk_id"],
        )[0]
        # BM25 scores are never negative; Milvus Lite reports them negated (as a distance), Milvus as they are.
        return [(int(hit["chunk_id"]), abs(float(hit["distance"]))) for hit in hits]

    def drop(self) -> None:
        if self.client.has_collection(self.name):
            self.client.drop_collection(self.name)
        self._ready = False


def analyzer_from_setting(value: str | dict | None) -> dict:
    """MILVUS_TERMS_ANALYZER as a dict: JSON text from the environment, or a dict from settings."""
    if not value:
        return dict(DEFAULT_ANALYZER)
    return json.loads(value) if isinstance(value, str) else dict(value)
