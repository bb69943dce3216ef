"""BM25 over chunks, with jieba for Chinese, built per set of collections and cached until their chunks change."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import bm25s
import jieba
import numpy as np

jieba.setLogLevel(logging.WARNING)

CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+(?:[.'-][A-Za-z0-9]+)*")
ENGLISH_STOPWORDS = frozenset(
    """a an and are as at be by for from has have in is it its of on or that the this to was were will with what
    which who whom when where why how do does did can should would may not no""".split()
)
CHINESE_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 等 对 为 中 上 下 之 其 有 也 就 都 而 被 把 吗 呢 什么 哪些 怎么 如何""".split()
)


def tokenize(text: str) -> list[str]:
    """Lowercased English words and jieba's search-mode Chinese words, without stopwords."""
    tokens: list[str] = []
    for match in WORD.finditer(text.lower()):
        piece = match.group(0)
        if CJK_RUN.fullmatch(piece):
            tokens.extend(t for t in jieba.lcut_for_search(piece) if t not in CHINESE_STOPWORDS)
        elif piece not in ENGLISH_STOPWORDS:
            tokens.append(piece)
    return tokens


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: int
    score: float


class LexicalIndex:
    def __init__(self, *, chunk_ids: list[int], texts: list[str]) -> None:
        self._chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self._bm25 = bm25s.BM25()
        if chunk_ids:
            self._bm25.index([tokenize(t) for t in texts], show_progress=False)

    def search(self, *, query: str, k: int) -> list[LexicalHit]:
        query_tokens = tokenize(query)
        if not query_tokens or len(self._chunk_ids) == 0:
            return []
        documents, scores = self._bm25.retrieve(
            [query_tokens], k=min(k, len(self._chunk_ids)), show_progress=False, n_threads=1
        )
        return [
            LexicalHit(chunk_id=int(self._chunk_ids[d]), score=float(s))
            for d, s in zip(documents[0], scores[0], strict=True)
            if s > 0
        ]


class LexicalIndexCache:
    """Keeps the most recently used BM25 indexes; a key carries the collections' state, so changes rebuild."""

    def __init__(self, *, capacity: int = 8) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple, LexicalIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, *, key: tuple, build: Callable[[], LexicalIndex]) -> LexicalIndex:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        index = build()
        with self._lock:
            self._entries[key] = index
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return index


lexical_index_cache = LexicalIndexCache()
