"""cpgQA (shared/data/cpgqa) as an evaluation set: the guideline passages are the corpus.

Source: GitHub mmahbub/cpgQA @ 39632da2 (dataset/cpgQA-v1.0.json). License: MIT (the dataset repository); the
underlying text is the VA/DoD Clinical Practice Guideline for Opioid Therapy for Chronic Pain (2017), a US federal
government publication. 1,097 extractive questions (SQuAD format) over 190 distinct passages in 5 guideline sections.

Corpus: each distinct context is one document, `cpg-<n>` in order of first appearance, titled with its section.
Questions: each qa's question, `cpgqa-<qa id>`, with its own context as the only gold document, and its answer
span as "answer" (every qa has exactly one; `manage.py evaluate_answers` looks for it in the answer text,
`evaluate_retrieval` ignores it).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SOURCE = SHARED_DATA / "cpgqa" / "dataset" / "cpgQA-v1.0.json"


def cpgqa_evaluation_set(
    *, source: Path = DEFAULT_SOURCE, limit: int | None = None, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus, questions): all 190 passages; all questions, or `limit` of them drawn by seed (file order kept)."""
    entries = json.loads(source.read_text(encoding="utf-8"))["data"]
    passage_ids: dict[str, str] = {}
    corpus: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    for entry in entries:
        context = entry["paragraphs"]["context"]
        if context not in passage_ids:
            passage_ids[context] = f"cpg-{len(passage_ids)}"
            # The same title form as tests/retrieval/test_hybrid_recall.py, so the figures compare.
            title = f"Opioid therapy guideline: {entry['title']}"
            corpus.append({"id": passage_ids[context], "title": title, "text": context})
        for qa in entry["paragraphs"]["qas"]:
            questions.append(
                {
                    "id": f"cpgqa-{qa['id']}",
                    "question": qa["question"],
                    "gold": [passage_ids[context]],
                    "answer": qa["answers"][0]["text"].strip(),
                }
            )
    if limit is not None and limit < len(questions):
        chosen = set(random.Random(seed).sample(range(len(questions)), limit))
        questions = [question for index, question in enumerate(questions) if index in chosen]
    return corpus, questions
