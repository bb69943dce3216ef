"""PubMedQA (shared/data/pubmedqa) as an evaluation set: abstracts are the corpus, each question finds its own.

Source: GitHub pubmedqa/pubmedqa @ 1cbae8e9 (data/ori_pqal.json, data/test_ground_truth.json). License: MIT.
Only PQA-L is in the snapshot: 1,000 expert-labelled questions, each with the sections of its own abstract
(CONTEXTS, with LABELS such as BACKGROUND / RESULTS), the conclusion (LONG_ANSWER) and a yes/no/maybe decision. The
unlabelled (PQA-U) and artificial (PQA-A) sets are not there, so distractors come from the other labelled abstracts.

Corpus: an abstract is its CONTEXTS joined by blank lines, id = its PubMed id; the conclusion is left out (it is the
answer). PubMedQA gives no article titles. Questions: QUESTION, id = the PubMed id, gold = that abstract, and
"label" = final_decision (yes/no/maybe, read by `manage.py evaluate_answers`). No "answer": the long answer is a
conclusion written in other words, not a span an answer could contain.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SOURCE = SHARED_DATA / "pubmedqa" / "data" / "ori_pqal.json"


def pubmedqa_evaluation_set(
    *, source: Path = DEFAULT_SOURCE, limit: int | None = None, seed: int = 0, distractors: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus, questions): `limit` questions drawn by seed (all when None), their abstracts, and `distractors`
    abstracts of the questions not asked (all of them when None), drawn by the same seed."""
    labelled = json.loads(source.read_text(encoding="utf-8"))
    pubmed_ids = list(labelled)
    rng = random.Random(seed)
    asked = pubmed_ids if limit is None or limit >= len(pubmed_ids) else rng.sample(pubmed_ids, limit)
    asked_set = set(asked)
    others = [pubmed_id for pubmed_id in pubmed_ids if pubmed_id not in asked_set]
    if distractors is not None and distractors < len(others):
        others = rng.sample(others, distractors)
    in_corpus = asked_set | set(others)
    corpus = [
        {"id": pubmed_id, "text": "\n\n".join(part.strip() for part in labelled[pubmed_id]["CONTEXTS"])}
        for pubmed_id in pubmed_ids
        if pubmed_id in in_corpus
    ]
    questions = [
        {
            "id": pubmed_id,
            "question": labelled[pubmed_id]["QUESTION"],
            "gold": [pubmed_id],
            "label": labelled[pubmed_id]["final_decision"],
        }
        for pubmed_id in pubmed_ids
        if pubmed_id in asked_set
    ]
    return corpus, questions
