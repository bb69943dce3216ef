"""How well question-statement similarity tells statements that answer the question from supported ones beside it.

    .venv/bin/python bench/relevance.py --answerable OUT/cpgqa.answers.jsonl ... --unanswerable OUT/cpgqa-on-laws...

Reads `evaluate_answers --output` lines (question, shown statements); scores each supported statement with
assistant.grounding.relevance (cosine similarity in the embedding model's space) and prints, per threshold, the share
of supported statements dropped on answerable questions (a cost: right statements lost) and on unanswerable ones (the
gain: statements that should not stand), and the abstention the unanswerable runs would then reach.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from assistant.grounding.relevance import statements_relevance  # noqa: E402

THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)


def scored(paths: list[Path]) -> list[list[float]]:
    """Per answered question, the relevance of each of its supported statements."""
    questions = []
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            supported = [s["text"] for s in record.get("shown", []) if s["supported"]]
            questions.append(statements_relevance(question=record["question"], statements=supported))
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answerable", nargs="+", type=Path, required=True)
    parser.add_argument("--unanswerable", nargs="+", type=Path, required=True)
    args = parser.parse_args()
    answerable, unanswerable = scored(args.answerable), scored(args.unanswerable)
    print("| threshold | answerable: supported statements dropped | answerable: questions left with none "
          "| unanswerable: supported statements dropped | unanswerable: abstained |")
    print("|---|---|---|---|---|")
    for threshold in THRESHOLDS:
        a_all = [s for q in answerable for s in q]
        u_all = [s for q in unanswerable for s in q]
        a_dropped = sum(s < threshold for s in a_all) / len(a_all) if a_all else 0.0
        a_emptied = sum(1 for q in answerable if q and all(s < threshold for s in q)) / max(1, len(answerable))
        u_dropped = sum(s < threshold for s in u_all) / len(u_all) if u_all else 0.0
        u_abstained = sum(1 for q in unanswerable if all(s < threshold for s in q)) / max(1, len(unanswerable))
        print(f"| {threshold:.2f} | {a_dropped:.3f} ({len(a_all)}) | {a_emptied:.3f} | {u_dropped:.3f} ({len(u_all)}) "
              f"| {u_abstained:.3f} |")


if __name__ == "__main__":
    main()
