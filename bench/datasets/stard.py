"""STARD (shared/data/stard) as an evaluation set: Chinese statute articles are the corpus.

Source: GitHub oneal2000/STARD @ bae10e1f (data/queries.json, data/example/*). License: MIT. 1,543 real layperson
legal questions (Chinese), each with its gold statute articles under "相关法规" as {article name: article text},
names like 中华人民共和国民法典第五十四条. The full statute corpus (data/corpus.jsonl, 55,348 articles) is not in
the snapshot, so the corpus here is the pool of gold articles of all 1,543 questions: 1,445 distinct articles from
133 laws and regulations (about 180,000 characters), the same pool whatever is sampled, so the distractors are real
articles other questions cite.

Corpus: one document per article, id and title = the article name, text = the article text.
Questions: "问题", id = query_id, gold = the names of its articles.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SOURCE = SHARED_DATA / "stard" / "data" / "queries.json"


def statute_articles(*, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every gold article of the queries once, sorted by name, as corpus records (name = id = title)."""
    articles: dict[str, str] = {}
    for query in queries:
        for name, text in query["相关法规"].items():
            articles.setdefault(name, text.strip())
    return [{"id": name, "title": name, "text": text} for name, text in sorted(articles.items())]


def statute_questions(*, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": str(query["query_id"]), "question": query["问题"], "gold": list(query["相关法规"])} for query in queries
    ]


def stard_evaluation_set(
    *, source: Path = DEFAULT_SOURCE, limit: int | None = None, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus, questions): the gold articles of all questions; all questions, or `limit` drawn by seed."""
    queries = json.loads(source.read_text(encoding="utf-8"))
    asked = queries
    if limit is not None and limit < len(queries):
        chosen = set(random.Random(seed).sample(range(len(queries)), limit))
        asked = [query for index, query in enumerate(queries) if index in chosen]
    return statute_articles(queries=queries), statute_questions(queries=asked)
