"""The words both search engines index: one tokenizer for the embedded BM25 (retrieval/lexical.py) and for the terms
written to Milvus (vectorstore/milvus.py), so the two engines rank by the same BM25 over the same words.

Why here, low: ingestion writes a chunk's terms to Milvus as it publishes the chunk, and retrieval tokenises the
question; both layers sit above this one.
"""

from __future__ import annotations

import logging
import re
import threading

import jieba
import Stemmer

jieba.setLogLevel(logging.WARNING)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+(?:[.'-][A-Za-z0-9]+)*")
ENGLISH_STOPWORDS = frozenset(
    """a an and are as at be by for from has have in is it its of on or that the this to was were will with what
    which who whom when where why how do does did can should would may not no""".split()
)
CHINESE_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 等 对 为 中 上 下 之 其 有 也 就 都 而 被 把 吗 呢 什么 哪些 怎么 如何""".split()
)
NOT_WORD = re.compile(r"\W")

_stemmer = Stemmer.Stemmer("english")
_stemmer_lock = threading.Lock()  # PyStemmer objects keep a cache and are not thread-safe


def tokenize(text: str) -> list[str]:
    """Stemmed lowercase English words (numbers kept whole); for Chinese, jieba's search-mode words plus every
    character and character pair, stopwords left out.

    Why characters and pairs too: a layperson's question and a statute segment the same idea into different words
    (measured on STARD, choosing on one half of the questions and reporting the other: nDCG@10 of BM25 0.499 with
    jieba alone, 0.521 with characters and pairs added; bench/README.md).
    """
    tokens: list[str] = []
    english: list[str] = []
    for match in WORD.finditer(text.lower()):
        piece = match.group(0)
        if CJK_RUN.fullmatch(piece):
            tokens.extend(t for t in jieba.lcut_for_search(piece) if t not in CHINESE_STOPWORDS)
            tokens.extend(c for c in piece if c not in CHINESE_STOPWORDS)
            tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        elif piece not in ENGLISH_STOPWORDS:
            english.append(piece)
    if english:
        with _stemmer_lock:
            tokens.extend(_stemmer.stemWords(english))
    return tokens


def _term(token: str) -> str:
    # "covid-19" and "e.g" stay one word for an analyzer that splits on non-word characters.
    return NOT_WORD.sub("_", token)


def indexed_terms(text: str) -> str:
    """The text's tokens as one space-separated string, every occurrence kept (term frequencies count)."""
    return " ".join(_term(token) for token in tokenize(text))


def query_terms(text: str) -> str:
    """A question's tokens, each once: the embedded BM25 scores each distinct query term once, and so must Milvus."""
    return " ".join(dict.fromkeys(_term(token) for token in tokenize(text)))


def language_of(text: str) -> str:
    """'zh' when Chinese characters are a large share of the letters, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if CJK.match(c)) / len(letters) > 0.3 else "en"
