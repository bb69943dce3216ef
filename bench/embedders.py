"""Embedding models compared in memory: retrieval quality on English, Chinese and cross-language sets, and speed.

    python bench/embedders.py [--models NAME ...] [--cpgqa-queries N] [--stard-queries N] [--speed-passages N]
                              [--speed-queries N] [--threads T] [--seed S]

No database and no FAISS: each model embeds a small real corpus and its queries through the project's embedder
interface (`ingestion.embedding.embedder_get`), and an exact cosine search (a matrix product) ranks the corpus.

Sets (the data stays in ../shared/data; YIJU_SHARED_DATA overrides):
- cpgqa (English): a sample of the cpgQA questions, each against the 190 passages of the VA/DoD opioid guideline
  (section title + passage, as the pipeline embeds a chunk with its headings); gold = the passage it was asked on.
- stard (Chinese): a sample of the STARD legal questions; the corpus is the union of their gold statute articles
  ("name\\ntext"); gold = every article in the question's 相关法规.
- xling-en / xling-zh: 28 cpgQA questions (every 40th, ids 0-1080) in English and in Chinese, over the same 190
  English passages. No translation tool exists offline: the Chinese versions below were written by hand for this
  benchmark, one per question, without looking at the passages. Same questions, same corpus, only the question's
  language changes, so the gap between the two rows is the cost of asking in Chinese.
- xling-mixed: the Chinese questions over a collection mixing both languages (the 190 English passages plus the
  Chinese STARD articles): does an unrelated passage in the question's language push the English answer down?

Speed, per model, with EMBEDDING_THREADS threads (the embedders' default: half the cores): load time, passages/s
on ~800-character chunks (the cpgQA passages, 807 characters on average, and 800-character windows of the Chinese
laws in ../shared/data/cn_laws) at the embedder's default batch size, queries/s and single-query latency (p50,
p95) embedding questions one at a time, as the web process does.

Prints one table for quality and one for speed, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `ingestion` importable
    sys.path.insert(0, str(REPO_ROOT))

SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CUTOFFS = (1, 5, 10)
SPEED_CHUNK_CHARS = 800

# cpgQA question id -> the same question in Chinese, translated by hand (see the module docstring).
CPGQA_CHINESE = {
    0: "阿片类药物减量决策工具的用途是什么？",
    40: "哪些行为可以被认定为不安全行为？",
    80: "如何为阿片类物质使用障碍的治疗提供美沙酮？",
    120: "对于用药过量风险增加的患者，应该提供什么？",
    160: (
        "在较快的阿片类药物减量方案中，若第1周将吗啡缓释片90毫克每8小时一次（每日吗啡当量270毫克）减少16%，"
        "第5周应服用多大剂量？"
    ),
    200: "建议将哪项工作作为团队的职能？",
    240: "加巴喷丁有助于减轻什么？",
    280: "成功实施本指南的预期结果是什么？",
    320: "在考虑开始或继续长期阿片类药物治疗时，建议怎么做？",
    360: "选择用算法流程图的形式来表示患者管理，依据是什么？",
    400: "多大幅度的剂量递增未被证明能改善功能，反而会增加风险？",
    440: "停药后应在什么时候随访？",
    480: "如果患者的阿片类药物处方剂量超过每日吗啡当量90毫克，应该怎么办？",
    520: "在哪里可以找到有关物质使用障碍治疗的更多信息？",
    560: "国家疼痛战略的目标是什么？",
    600: "CARA法案的主要重点是什么？",
    640: "2004至2012财年，退伍军人中阿片类药物处方的流行率增加了多少？",
    680: "在哪里可以找到关于创伤后应激障碍的更多信息？",
    720: "当患者对阿片类药物过敏而又在考虑阿片类药物治疗时，应该怎么办？",
    760: (
        "什么可能有助于在治疗早期确定哪些患者最有可能从特定的非药物疗法或非阿片类药物疗法"
        "（单独使用或作为多模式方法的一部分）中获益？"
    ),
    800: "当风险超过获益时，应对哪些患者考虑减量苯二氮䓬类药物和阿片类药物中的一种或两种，并酌情寻求专科会诊？",
    840: "哪些人有阿片类物质使用障碍和用药过量的风险？",
    880: "在开具阿片类药物处方之前应该做什么？",
    920: "什么时候应该使用纳洛酮？",
    960: "美国退伍军人事务部和国防部的自杀临床实践指南建议对哪些患者限制获取致命手段？",
    1000: "持续的阿片类药物治疗处方实践包括哪些内容？",
    1040: "什么情况需要极其谨慎地处理并需要专科会诊？",
    1080: "本临床实践指南的适用范围是什么？",
}


@dataclass(frozen=True)
class Query:
    text: str
    gold: frozenset[int]  # positions in the corpus


@dataclass(frozen=True)
class Corpus:
    """Passages that several sets may share; each corpus is embedded once per model."""

    key: str
    passages: tuple[str, ...]


@dataclass(frozen=True)
class EvalSet:
    name: str
    language: str
    corpus: Corpus
    queries: tuple[Query, ...]


@dataclass
class Quality:
    model: str
    set: str
    queries: int
    corpus: int
    recall: dict[int, float]
    mrr10: float
    ndcg10: float


@dataclass
class Speed:
    model: str
    threads: int
    load_s: float
    dimension: int
    passages_en_per_s: float
    passages_zh_per_s: float
    queries_per_s: float
    query_p50_ms: float
    query_p95_ms: float
    corpus_encode_s: float  # the evaluation corpora, en and zh together
    rss_load_mib: float


def _cpgqa_records() -> list[dict]:
    data = json.loads((SHARED_DATA / "cpgqa" / "dataset" / "cpgQA-v1.0.json").read_text(encoding="utf-8"))["data"]
    return [
        {"id": qa["id"], "question": qa["question"], "context": item["paragraphs"]["context"], "title": item["title"]}
        for item in data
        for qa in item["paragraphs"]["qas"]
    ]


def _stard_records() -> list[dict]:
    return json.loads((SHARED_DATA / "stard" / "data" / "queries.json").read_text(encoding="utf-8"))


def eval_sets_build(*, cpgqa_queries: int, stard_queries: int, seed: int) -> list[EvalSet]:
    rng = random.Random(seed)

    records = _cpgqa_records()
    position_of_context: dict[str, int] = {}
    cpgqa_passages: list[str] = []
    for record in records:
        if record["context"] not in position_of_context:
            position_of_context[record["context"]] = len(cpgqa_passages)
            cpgqa_passages.append(f"{record['title']}\n{record['context']}")
    english = Corpus(key="cpgqa", passages=tuple(cpgqa_passages))
    sampled = rng.sample(records, min(cpgqa_queries, len(records)))
    cpgqa = tuple(Query(r["question"], frozenset({position_of_context[r["context"]]})) for r in sampled)

    stard_sample = rng.sample(_stard_records(), min(stard_queries, len(_stard_records())))
    position_of_article: dict[str, int] = {}
    articles: list[str] = []
    stard: list[Query] = []
    for record in stard_sample:
        gold = set()
        for name, text in record["相关法规"].items():
            if name not in position_of_article:
                position_of_article[name] = len(articles)
                articles.append(f"{name}\n{text.strip()}")
            gold.add(position_of_article[name])
        stard.append(Query(record["问题"], frozenset(gold)))
    chinese = Corpus(key="stard", passages=tuple(articles))

    by_id = {r["id"]: r for r in records}
    xling_en = tuple(
        Query(by_id[i]["question"], frozenset({position_of_context[by_id[i]["context"]]})) for i in CPGQA_CHINESE
    )
    xling_zh = tuple(Query(CPGQA_CHINESE[i], q.gold) for i, q in zip(CPGQA_CHINESE, xling_en, strict=True))
    # English passages first, so the gold positions stay valid in the mixed corpus.
    mixed = Corpus(key="cpgqa+stard", passages=english.passages + chinese.passages)
    return [
        EvalSet("cpgqa", "en", english, cpgqa),
        EvalSet("stard", "zh", chinese, tuple(stard)),
        EvalSet("xling-en", "en", english, xling_en),
        EvalSet("xling-zh", "zh->en", english, xling_zh),
        EvalSet("xling-mixed", "zh->en+zh", mixed, xling_zh),
    ]


def ranking_quality(*, ranked: np.ndarray, queries: Sequence[Query]) -> tuple[dict[int, float], float, float]:
    """Recall@k (share of a query's gold passages in its top k), MRR@10 and binary nDCG@10, averaged over queries."""
    recall = {k: 0.0 for k in CUTOFFS}
    mrr = ndcg = 0.0
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for row, query in zip(ranked, queries, strict=True):
        hits = np.array([int(position) in query.gold for position in row[:10]])
        for k in CUTOFFS:
            recall[k] += hits[:k].sum() / len(query.gold)
        if hits.any():
            mrr += 1.0 / (int(np.argmax(hits)) + 1)
        ideal = discounts[: min(len(query.gold), 10)].sum()
        ndcg += float((hits * discounts).sum() / ideal)
    n = len(queries)
    return {k: v / n for k, v in recall.items()}, mrr / n, ndcg / n


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _chinese_speed_chunks(*, count: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED_DATA / "cn_laws").glob("*.txt"))]
    chunks = [
        text[start : start + SPEED_CHUNK_CHARS]
        for text in texts
        for start in range(0, len(text) - SPEED_CHUNK_CHARS + 1, SPEED_CHUNK_CHARS)
    ]
    return chunks[:count]


def model_measure(
    *, model_name: str, sets: list[EvalSet], speed_passages: int, speed_queries: int, seed: int
) -> tuple[list[Quality], Speed]:
    from ingestion.embedding import embedder_get

    rss_before = _rss_mib()
    started = time.perf_counter()
    embedder = embedder_get(model_name=model_name)
    load_s = time.perf_counter() - started
    rss_load = _rss_mib() - rss_before
    embedder.embed_passages(["warm-up 预热"])

    # Quality: each corpus embedded once, then exact cosine search for every set over it.
    corpus_vectors: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for corpus in {s.corpus.key: s.corpus for s in sets if s.corpus.key in ("cpgqa", "stard")}.values():
        corpus_vectors[corpus.key] = embedder.embed_passages(list(corpus.passages))
    corpus_encode_s = time.perf_counter() - started
    corpus_vectors["cpgqa+stard"] = np.concatenate([corpus_vectors["cpgqa"], corpus_vectors["stard"]])
    qualities = []
    for eval_set in sets:
        query_vectors = np.stack([embedder.embed_query(q.text) for q in eval_set.queries])
        scores = query_vectors @ corpus_vectors[eval_set.corpus.key].T
        ranked = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        recall, mrr, ndcg = ranking_quality(ranked=ranked, queries=eval_set.queries)
        qualities.append(
            Quality(model_name, eval_set.name, len(eval_set.queries), len(eval_set.corpus.passages), recall, mrr, ndcg)
        )

    # Speed: ~800-character chunks per language at the default batch size; questions one at a time.
    english_chunks = list(next(s for s in sets if s.name == "cpgqa").corpus.passages[:speed_passages])
    chinese_chunks = _chinese_speed_chunks(count=speed_passages)
    rates = []
    for chunks in (english_chunks, chinese_chunks):
        started = time.perf_counter()
        embedder.embed_passages(chunks)
        rates.append(len(chunks) / (time.perf_counter() - started))
    questions = [q.text for s in sets[:2] for q in s.queries]
    random.Random(seed).shuffle(questions)
    latencies = []
    for question in questions[:speed_queries]:
        started = time.perf_counter()
        embedder.embed_query(question)
        latencies.append(time.perf_counter() - started)
    speed = Speed(
        model=model_name,
        threads=int(os.environ.get("EMBEDDING_THREADS") or max(1, (os.cpu_count() or 2) // 2)),
        load_s=load_s,
        dimension=embedder.dimension,
        passages_en_per_s=rates[0],
        passages_zh_per_s=rates[1],
        queries_per_s=len(latencies) / sum(latencies),
        query_p50_ms=statistics.median(latencies) * 1000,
        query_p95_ms=float(np.percentile(latencies, 95)) * 1000,
        corpus_encode_s=corpus_encode_s,
        rss_load_mib=rss_load,
    )
    return qualities, speed


def _print_tables(*, qualities: list[Quality], speeds: list[Speed]) -> None:
    print("| model | set | queries | corpus | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for q in sorted(qualities, key=lambda q: (q.set, q.model)):
        print(
            f"| {q.model} | {q.set} | {q.queries} | {q.corpus} | {q.recall[1]:.3f} | {q.recall[5]:.3f} | "
            f"{q.recall[10]:.3f} | {q.mrr10:.3f} | {q.ndcg10:.3f} |"
        )
    print()
    print(
        "| model | dim | threads | load s | RSS at load MiB | passages/s en | passages/s zh | queries/s | "
        "query p50 ms | query p95 ms | eval corpora s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in speeds:
        print(
            f"| {s.model} | {s.dimension} | {s.threads} | {s.load_s:.1f} | {s.rss_load_mib:.0f} | "
            f"{s.passages_en_per_s:.1f} | {s.passages_zh_per_s:.1f} | {s.queries_per_s:.1f} | {s.query_p50_ms:.1f} | "
            f"{s.query_p95_ms:.1f} | {s.corpus_encode_s:.1f} |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    from ingestion.embedding import E5_MULTILINGUAL_SMALL, USE_MULTILINGUAL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", USE_MULTILINGUAL, E5_MULTILINGUAL_SMALL])
    parser.add_argument("--cpgqa-queries", type=int, default=300, help="English questions sampled (of 1,097)")
    parser.add_argument("--stard-queries", type=int, default=400, help="Chinese questions sampled (of 1,543)")
    parser.add_argument("--speed-passages", type=int, default=48, help="~800-character chunks per language")
    parser.add_argument("--speed-queries", type=int, default=200, help="questions embedded one at a time")
    parser.add_argument("--threads", type=int, default=None, help="EMBEDDING_THREADS for every model")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["EMBEDDING_THREADS"] = str(args.threads)

    sets = eval_sets_build(cpgqa_queries=args.cpgqa_queries, stard_queries=args.stard_queries, seed=args.seed)
    qualities: list[Quality] = []
    speeds: list[Speed] = []
    for model_name in args.models:
        started = time.perf_counter()
        model_qualities, speed = model_measure(
            model_name=model_name,
            sets=sets,
            speed_passages=args.speed_passages,
            speed_queries=args.speed_queries,
            seed=args.seed,
        )
        qualities += model_qualities
        speeds.append(speed)
        print(f"{model_name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    _print_tables(qualities=qualities, speeds=speeds)
    print(json.dumps({"quality": [asdict(q) for q in qualities], "speed": [asdict(s) for s in speeds]}))


if __name__ == "__main__":
    main()
