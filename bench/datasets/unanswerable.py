"""Unanswerable evaluation sets: questions asked of a corpus from another field, so none of them is answered there.

Two directions, both with `"gold": []` on every question (`manage.py evaluate_answers` counts how often the answer
says the documents do not answer it; `evaluate_retrieval` has nothing to measure on them):

- `cpgqa-on-laws`: cpgQA's English questions on opioid therapy, asked of the Chinese laws and regulations in
  shared/data/cn_laws (laws, regulations and notices on personal information, data security and public data;
  PROVENANCE.txt: official state documents). Corpus: one document per entry of its manifest.json (7 in the snapshot),
  id = the entry's key, title = its title, text = `<key>.txt`.
- `laws-on-cpgqa`: LeCoQA's Chinese legal questions (the chosen split), asked of cpgQA's 190 guideline passages.

The questions carry neither "answer" nor "label": there is nothing in the corpus for an answer to contain.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.datasets.cpgqa import cpgqa_evaluation_set
from bench.datasets.lecoqa import lecoqa_evaluation_set

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_LAWS = SHARED_DATA / "cn_laws"
DIRECTIONS = ("cpgqa-on-laws", "laws-on-cpgqa")


def cn_laws_corpus(*, source: Path = DEFAULT_LAWS) -> list[dict[str, Any]]:
    """Every document the manifest lists, in manifest order, as corpus records (id = key, title, full text)."""
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    corpus = []
    for entry in manifest:
        path = source / f"{entry['key']}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is listed in {source / 'manifest.json'} but missing")
        corpus.append({"id": entry["key"], "title": entry["title"], "text": path.read_text(encoding="utf-8").strip()})
    return corpus


def _unanswered(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Only what the question is: its gold, answer and label belong to the other corpus.
    return [{"id": question["id"], "question": question["question"], "gold": []} for question in questions]


def unanswerable_evaluation_set(
    *, direction: str, limit: int | None = None, seed: int = 0, split: str = "test", laws: Path = DEFAULT_LAWS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus, questions) for one direction; all questions, or `limit` drawn by seed (LeCoQA: of `split`)."""
    if direction == "cpgqa-on-laws":
        _, questions = cpgqa_evaluation_set(limit=limit, seed=seed)
        return cn_laws_corpus(source=laws), _unanswered(questions)
    if direction == "laws-on-cpgqa":
        corpus, _ = cpgqa_evaluation_set()
        _, questions = lecoqa_evaluation_set(split=split, limit=limit, seed=seed)
        return corpus, _unanswered(questions)
    raise ValueError(f"unknown direction {direction!r}: one of {', '.join(DIRECTIONS)}")
