"""LeCoQA (shared/data/lecoqa) as an evaluation set: Chinese statute articles are the corpus, test split asked.

Source: GitHub oneal2000/LeCoQA @ 538b2993 (data/queries.json, data/example/train.json, data/example/test.json).
License: MIT. The same 1,543 layperson legal questions as STARD, with lawyer-written answers (答案文本), keywords
(关键词) and gold statute articles ("相关法规": {article name: text}); split 1,234 train / 309 test. The full
statute corpus (data/corpus.jsonl, 55,348 articles) is not in the snapshot, so, as for STARD, the corpus is the pool
of gold articles of all 1,543 questions (1,445 articles from 133 laws and regulations).

Corpus: one document per article, id and title = the article name. Questions: "问题" of the chosen split,
id = query_id, gold = the names of its articles. No "answer" for `manage.py evaluate_answers`: the lawyers' answers
are written in their own words, not spans of the articles.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from bench.datasets.stard import statute_articles, statute_questions

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SOURCE = SHARED_DATA / "lecoqa" / "data"
SPLITS = ("test", "train", "all")


def lecoqa_evaluation_set(
    *, source: Path = DEFAULT_SOURCE, split: str = "test", limit: int | None = None, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus, questions): the gold articles of all questions; the split's questions, or `limit` drawn by seed."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    queries = json.loads((source / "queries.json").read_text(encoding="utf-8"))
    if split == "all":
        asked = queries
    else:
        # The split files hold whole records; their query ids say which of queries.json they are.
        split_ids = {item["query_id"] for item in json.loads((source / "example" / f"{split}.json").read_text("utf-8"))}
        asked = [query for query in queries if query["query_id"] in split_ids]
    if limit is not None and limit < len(asked):
        chosen = set(random.Random(seed).sample(range(len(asked)), limit))
        asked = [query for index, query in enumerate(asked) if index in chosen]
    return statute_articles(queries=queries), statute_questions(queries=asked)
