"""How to fuse dense and BM25 rankings: chosen on a development half of each set, reported on the other half.

    python bench/fusion.py [--sets cpgqa,pubmedqa,stard,lecoqa] [--limit N] [--model NAME] [--json OUT]

Each set (bench/datasets) is ingested through the real path into a temporary SQLite database; every question's dense
and BM25 top-50 (chunk, score) lists are collected once, through retrieval.services.passages_retrieve. Fusion
candidates are then scored offline on those lists: reciprocal rank fusion and normalised score fusion, each with the
dense weight from 0.1 to 0.9. Questions are split in two halves by a seeded shuffle: the configuration with the best
mean nDCG@10 gain over the better single method, on the development halves of all sets together, is chosen, and the
table reports all methods on the held-out halves.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEPTH = 50
WEIGHTS = [round(0.1 * i, 1) for i in range(1, 10)]


@dataclass
class Ranked:
    """One question: gold ids, and each method's top chunks as (chunk id, document id, score)."""

    gold: frozenset[str]
    dense: list[tuple[int, str, float]]
    lexical: list[tuple[int, str, float]]


def collect(*, name: str, limit: int | None) -> list[Ranked]:
    from bench.datasets.cpgqa import cpgqa_evaluation_set
    from bench.datasets.lecoqa import lecoqa_evaluation_set
    from bench.datasets.pubmedqa import pubmedqa_evaluation_set
    from bench.datasets.stard import stard_evaluation_set
    from retrieval.access import OPERATOR
    from retrieval.evaluation import CorpusDocument, evaluation_corpus_ingested
    from retrieval.services import passages_retrieve

    loaders: dict[str, Callable] = {
        "cpgqa": lambda: cpgqa_evaluation_set(limit=limit),
        "pubmedqa": lambda: pubmedqa_evaluation_set(limit=limit),
        "stard": lambda: stard_evaluation_set(limit=limit),
        "lecoqa": lambda: lecoqa_evaluation_set(split="all", limit=limit),
    }
    corpus, questions = loaders[name]()
    documents = [CorpusDocument(id=c["id"], text=c["text"], title=c.get("title", "")) for c in corpus]
    ranked: list[Ranked] = []
    with evaluation_corpus_ingested(corpus=documents) as ingested:
        print(
            f"{name}: {ingested.documents} documents, {ingested.chunks} chunks, {len(questions)} questions", flush=True
        )
        for question in questions:
            if not question["gold"]:
                continue
            lists = []
            for methods in [("dense",), ("lexical",)]:
                result = passages_retrieve(
                    reader=OPERATOR,
                    query=question["question"],
                    collection_ids=[ingested.collection.id],
                    k=DEPTH,
                    methods=methods,
                    reranker="",
                )
                lists.append([(p.chunk.id, p.chunk.document.external_id, p.score) for p in result.passages])
            gold = frozenset(ingested.aliases.get(g, g) for g in question["gold"])
            ranked.append(Ranked(gold=gold, dense=lists[0], lexical=lists[1]))
    return ranked


def ndcg(ranked: list[tuple[int, str, float]] | list[str], gold: frozenset[str]) -> float:
    from retrieval.evaluation import ndcg_at

    documents = [item if isinstance(item, str) else item[1] for item in ranked[:10]]
    return ndcg_at(ranked_document_ids=documents, gold_ids=gold)


def fused_documents(question: Ranked, *, fusion: str, weight: float) -> list[str]:
    from retrieval.fusion import reciprocal_rank_fusion, score_fusion

    owner = {chunk: document for chunk, document, _ in [*question.dense, *question.lexical]}
    dense = [(chunk, score) for chunk, _, score in question.dense]
    lexical = [(chunk, score) for chunk, _, score in question.lexical]
    if not dense or not lexical:
        fused = dense or lexical
    elif fusion == "rrf":
        fused = reciprocal_rank_fusion(
            rankings=[[c for c, _ in dense], [c for c, _ in lexical]], weights=[weight, 1 - weight]
        )
    else:
        fused = score_fusion(scored=[dense, lexical], weights=[weight, 1 - weight])
    return [owner[chunk] for chunk, _ in fused[:10]]


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="cpgqa,pubmedqa,stard", help="lecoqa asks the same questions as stard")
    parser.add_argument("--limit", type=int, default=None, help="questions per set (default: all)")
    parser.add_argument("--model", default=None, help="EMBEDDING_MODEL (default: the settings' default)")
    parser.add_argument("--json", type=Path, default=None, help="also write the collected lists here")
    args = parser.parse_args()

    import os

    from bench.ingest import django_setup

    if args.model:
        os.environ["EMBEDDING_MODEL"] = args.model
    django_setup(data_dir=Path(tempfile.mkdtemp(prefix="yiju-fusion-")), batch_size=None)
    from django.conf import settings

    data = {name: collect(name=name, limit=args.limit) for name in args.sets.split(",")}
    splits: dict[str, tuple[list[Ranked], list[Ranked]]] = {}
    for name, questions in data.items():
        order = list(range(len(questions)))
        random.Random(17).shuffle(order)
        half = len(order) // 2
        splits[name] = ([questions[i] for i in order[:half]], [questions[i] for i in order[half:]])

    def gains(fusion: str, weight: float, part: int) -> dict[str, float]:
        out = {}
        for name, halves in splits.items():
            questions = halves[part]
            hybrid = mean([ndcg(fused_documents(q, fusion=fusion, weight=weight), q.gold) for q in questions])
            best_single = max(
                mean([ndcg(q.dense, q.gold) for q in questions]), mean([ndcg(q.lexical, q.gold) for q in questions])
            )
            out[name] = hybrid - best_single
        return out

    print(
        f"\nembedder {settings.EMBEDDING_MODEL}; development halves: "
        "nDCG@10 gain of hybrid over the better single method"
    )
    print("| fusion | dense weight | " + " | ".join(splits) + " | mean | min |")
    print("|---|---|" + "---|" * (len(splits) + 2))
    best = None
    for fusion in ["rrf", "score"]:
        for weight in WEIGHTS:
            gain = gains(fusion, weight, 0)
            row = (mean(list(gain.values())), min(gain.values()))
            print(
                f"| {fusion} | {weight} | "
                + " | ".join(f"{g:+.4f}" for g in gain.values())
                + f" | {row[0]:+.4f} | {row[1]:+.4f} |"
            )
            if best is None or row > best[0]:
                best = (row, fusion, weight)
    assert best is not None
    _, fusion, weight = best
    print(f"\nchosen on the development halves: {fusion}, dense weight {weight}")
    print("\nheld-out halves, nDCG@10:")
    # "either": each question takes whichever of the two single rankings serves it better, a ceiling for any
    # fusion that only chooses between them (fusion can pass it only by reordering within a list).
    print("| set | questions | bm25 | dense | either (per question) | hybrid | hybrid - better |")
    print("|---|---|---|---|---|---|---|")
    for name, (_, test) in splits.items():
        bm25 = mean([ndcg(q.lexical, q.gold) for q in test])
        dense = mean([ndcg(q.dense, q.gold) for q in test])
        either = mean([max(ndcg(q.lexical, q.gold), ndcg(q.dense, q.gold)) for q in test])
        hybrid = mean([ndcg(fused_documents(q, fusion=fusion, weight=weight), q.gold) for q in test])
        gain = hybrid - max(bm25, dense)
        print(f"| {name} | {len(test)} | {bm25:.4f} | {dense:.4f} | {either:.4f} | {hybrid:.4f} | {gain:+.4f} |")
    if args.json:
        args.json.write_text(
            json.dumps({n: [q.__dict__ | {"gold": sorted(q.gold)} for q in qs] for n, qs in data.items()})
        )


if __name__ == "__main__":
    main()
