"""Write a shared benchmark as an evaluation set (corpus.jsonl + questions.jsonl) for `manage.py evaluate_retrieval`
and `manage.py evaluate_answers`.

    python -m bench.datasets cpgqa --out DIR [--limit N] [--seed S]
    python -m bench.datasets pubmedqa --out DIR [--limit N] [--seed S] [--distractors N]
    python -m bench.datasets stard --out DIR [--limit N] [--seed S]
    python -m bench.datasets lecoqa --out DIR [--split test|train|all] [--limit N] [--seed S]
    python -m bench.datasets unanswerable --direction cpgqa-on-laws|laws-on-cpgqa --out DIR [--limit N] [--seed S]

cpgQA questions carry their gold "answer" span and PubMedQA questions their yes/no/maybe "label";
the unanswerable sets ask one field's questions of another field's corpus, every question with "gold": [].

The data is read from ../shared/data (or YIJU_SHARED_DATA) and only the two output files are written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.datasets.cpgqa import cpgqa_evaluation_set
from bench.datasets.lecoqa import SPLITS, lecoqa_evaluation_set
from bench.datasets.pubmedqa import pubmedqa_evaluation_set
from bench.datasets.stard import stard_evaluation_set
from bench.datasets.unanswerable import DIRECTIONS, unanswerable_evaluation_set


def jsonl_write(*, path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def evaluation_set_write(
    *, out_dir: Path, corpus: list[dict[str, Any]], questions: list[dict[str, Any]]
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus_path, questions_path = out_dir / "corpus.jsonl", out_dir / "questions.jsonl"
    jsonl_write(path=corpus_path, records=corpus)
    jsonl_write(path=questions_path, records=questions)
    return corpus_path, questions_path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", choices=["cpgqa", "pubmedqa", "stard", "lecoqa", "unanswerable"])
    parser.add_argument("--out", type=Path, required=True, help="folder for corpus.jsonl and questions.jsonl")
    parser.add_argument("--limit", type=int, default=None, help="N questions drawn at random (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit (and --distractors) draw")
    parser.add_argument("--distractors", type=int, default=None, help="pubmedqa: other abstracts (default: all)")
    parser.add_argument(
        "--split", choices=SPLITS, default="test", help="lecoqa, unanswerable laws-on-cpgqa: which questions (test)"
    )
    parser.add_argument("--direction", choices=DIRECTIONS, help="unanswerable: whose questions on whose corpus")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.distractors is not None and args.distractors < 0:
        parser.error("--distractors must be at least 0")
    if (args.dataset == "unanswerable") != (args.direction is not None):
        parser.error("--direction is required for unanswerable, and only for it")
    if args.dataset == "cpgqa":
        corpus, questions = cpgqa_evaluation_set(limit=args.limit, seed=args.seed)
    elif args.dataset == "pubmedqa":
        corpus, questions = pubmedqa_evaluation_set(limit=args.limit, seed=args.seed, distractors=args.distractors)
    elif args.dataset == "stard":
        corpus, questions = stard_evaluation_set(limit=args.limit, seed=args.seed)
    elif args.dataset == "lecoqa":
        corpus, questions = lecoqa_evaluation_set(split=args.split, limit=args.limit, seed=args.seed)
    else:
        corpus, questions = unanswerable_evaluation_set(
            direction=args.direction, limit=args.limit, seed=args.seed, split=args.split
        )
    corpus_path, questions_path = evaluation_set_write(out_dir=args.out, corpus=corpus, questions=questions)
    print(f"{args.dataset}: {len(corpus)} documents -> {corpus_path}, {len(questions)} questions -> {questions_path}")


if __name__ == "__main__":
    main()
