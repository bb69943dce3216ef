"""Calibrate the citation support score: labelled (statement, evidence, supported?) pairs from the shared data.

    .venv/bin/python -m bench.support_calibration [--limit N] [--seed S] [--json OUT]

Pairs (`support_pairs`):
- cpgQA: the gold answer span (4+ words) and the sentence holding it are supported by their passage; both are
  unsupported by the passage BM25 ranks next for the question (the one a model would most plausibly cite by
  mistake), and perturbed copies of the sentence are unsupported by its own passage: a number changed, a negation
  inserted or removed, the statement's rarest word swapped for a rare word of another passage.
- PubMedQA: the conclusion (LONG_ANSWER) is supported by its own abstract (CONTEXTS) and unsupported by the
  abstract BM25 ranks next for the question.
- LeCoQA (Chinese): the sentences of the lawyer's answer that invoke the law (规定, 根据, 依照, 依据, 《...》) are
  supported by the gold statute articles and unsupported by as many non-gold articles, the ones BM25 ranks first for
  the question; perturbed copies (a number changed, a negation inserted or removed) are unsupported by the gold ones.

Labels are as the data gives them, so they carry noise: a lawyer's sentence may say more than its article, a
conclusion may say more than its abstract. Pairs are split in halves by a seeded shuffle of their groups (cpgQA:
the passage, since many questions share one sentence; the others: the question). The threshold is chosen on the
development half and every figure is reported on the test half, per dataset and overall, for each scorer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.datasets.cpgqa import SHARED_DATA  # noqa: E402
from retrieval.lexical import LexicalEntry, LexicalIndex  # noqa: E402

TARGET_PRECISION = 0.9
F1_TOLERANCE = 0.01
MIN_SPAN_WORDS = 4
ENGLISH_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(\"'])")
CHINESE_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")
GREETING = re.compile(r"^\s*您好[，,！!。]?")
LAW_CUE = re.compile(r"规定|根据|依照|依据|《")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
REFERENCE = re.compile(r"\[[\d,\s–-]+\]")  # the guideline's bibliography markers, "[58,59]"
ENGLISH_NEGATION = re.compile(r"\b(?:not|never|no)\b ?|n't\b", re.IGNORECASE)
# Where a negation goes in an English sentence: after its first auxiliary or modal verb.
ENGLISH_AUXILIARY = re.compile(
    r"\b(is|are|was|were|should|can|may|will|must|could|would|might|has been|have been|be)\b", re.IGNORECASE
)
CHINESE_NEGATED = [("不得", "可以"), ("不应", "应"), ("不能", "能"), ("无权", "有权"), ("不予", "予以"), ("不", "")]
CHINESE_AFFIRMED = [("应当", "不应当"), ("可以", "不得"), ("有权", "无权"), ("必须", "不必"), ("予以", "不予")]
WORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")


@dataclass(frozen=True)
class SupportPair:
    dataset: str
    group: str  # pairs of one group fall in the same half
    kind: str  # how the pair was made: "span", "sentence", "other passage", "number", ...
    statement: str
    evidence: str
    supported: bool


# --- pair builders ----------------------------------------------------------------------------------------------


def _bm25_index(texts: Sequence[str]) -> LexicalIndex:
    index = LexicalIndex()
    index.add(LexicalEntry(chunk_id=i, collection_id=1, document_id=i, text=t) for i, t in enumerate(texts))
    return index


def _ranked_others(index: LexicalIndex, *, query: str, exclude: set[int], count: int) -> list[int]:
    hits = index.search(query=query, k=count + len(exclude) + 5)
    return [hit.chunk_id for hit in hits if hit.chunk_id not in exclude][:count]


def _english_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of an English text."""
    spans, start = [], 0
    for match in ENGLISH_SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text.rstrip())))
    return spans


def _number_changed(statement: str, *, evidence: str, rng: random.Random) -> str | None:
    """The statement with one of its numbers replaced by another number that the evidence does not contain."""
    references = [m.span() for m in REFERENCE.finditer(statement)]
    numbers = [m for m in NUMBER.finditer(statement) if not any(a <= m.start() < b for a, b in references)]
    if not numbers:
        return None
    match = rng.choice(numbers)
    value = match.group(0)
    evidence_numbers = {float(n) for n in NUMBER.findall(evidence)}
    for candidate in _number_candidates(value, rng=rng):
        if float(candidate) != float(value) and float(candidate) not in evidence_numbers:
            return statement[: match.start()] + candidate + statement[match.end() :]
    return None


def _number_candidates(value: str, *, rng: random.Random) -> list[str]:
    if "." in value:
        whole, fraction = value.split(".")
        return [f"{whole}.{(int(fraction) + step) % 10 ** len(fraction):0{len(fraction)}d}" for step in (1, 3, 5)] + [
            f"{int(whole) + 1}.{fraction}"
        ]
    number = int(value)
    options = [number * 2, number + 1, number + rng.randint(2, 9), max(number - 1, 0), number * 10]
    return [str(option) for option in options]


def _english_negation_flipped(sentence: str) -> str | None:
    """The sentence with its first negation removed, or, when it has none, one inserted after its first auxiliary."""
    negation = ENGLISH_NEGATION.search(sentence)
    if negation:
        token = negation.group(0).strip().lower()
        if token == "n't":
            flipped = sentence[: negation.start()] + sentence[negation.end() :]
            return flipped.replace("ca ", "can ").replace("wo ", "will ")
        return sentence[: negation.start()] + sentence[negation.end() :]
    auxiliary = ENGLISH_AUXILIARY.search(sentence)
    if not auxiliary:
        return None
    return sentence[: auxiliary.end()] + " not" + sentence[auxiliary.end() :]


def _chinese_negation_flipped(sentence: str) -> str | None:
    for negated, affirmed in CHINESE_NEGATED:
        if negated in sentence:
            return sentence.replace(negated, affirmed, 1)
    for affirmed, negated in CHINESE_AFFIRMED:
        if affirmed in sentence:
            return sentence.replace(affirmed, negated, 1)
    return None


def _term_swapped(
    sentence: str, *, evidence: str, document_frequency: Counter, vocabulary: list[str], rng: random.Random
) -> str | None:
    """The sentence with its rarest word (4+ letters) replaced by a rare word that the evidence does not contain."""
    words = [m for m in WORD.finditer(sentence) if m.group(0).lower() in document_frequency]
    if not words:
        return None
    target = min(words, key=lambda m: (document_frequency[m.group(0).lower()], m.start()))
    lowered_evidence = evidence.lower()
    replacements = [w for w in vocabulary if w not in lowered_evidence]
    if not replacements:
        return None
    replacement = rng.choice(replacements)
    if target.group(0)[0].isupper():
        replacement = replacement.capitalize()
    return sentence[: target.start()] + replacement + sentence[target.end() :]


def cpgqa_pairs(*, limit: int | None = None, seed: int = 0, source: Path | None = None) -> list[SupportPair]:
    """Pairs from cpgQA questions (all, or `limit` drawn by seed); see the module docstring."""
    source = source or SHARED_DATA / "cpgqa" / "dataset" / "cpgQA-v1.0.json"
    entries = json.loads(source.read_text(encoding="utf-8"))["data"]
    passages: list[str] = list(dict.fromkeys(entry["paragraphs"]["context"] for entry in entries))
    passage_number = {text: n for n, text in enumerate(passages)}
    qas = [(qa, entry["paragraphs"]["context"]) for entry in entries for qa in entry["paragraphs"]["qas"]]
    rng = random.Random(seed)
    if limit is not None and limit < len(qas):
        qas = [qas[i] for i in sorted(rng.sample(range(len(qas)), limit))]
    index = _bm25_index(passages)
    document_frequency: Counter = Counter()
    for text in passages:
        document_frequency.update({w.lower() for w in WORD.findall(text)})
    # Swap-in words: rare (in at most 2 passages) but real guideline vocabulary.
    vocabulary = sorted(w for w, n in document_frequency.items() if n <= 2 and len(w) >= 6)
    pairs: list[SupportPair] = []
    perturbed_sentences: set[str] = set()
    for qa, context in qas:
        number = passage_number[context]
        group = f"cpg-{number}"
        answer = qa["answers"][0]
        start, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        sentence = " ".join(
            context[s:e].strip() for s, e in _english_sentences(context) if s < end and e > start
        ).strip()
        statements = [("sentence", sentence)]
        if len(answer["text"].split()) >= MIN_SPAN_WORDS:
            statements.append(("span", answer["text"].strip()))
        other_numbers = _ranked_others(index, query=qa["question"], exclude={number}, count=1)
        for kind, statement in statements:
            pairs.append(SupportPair("cpgqa", group, kind, statement, context, True))
            for other in other_numbers:
                # The guideline repeats itself: a passage that also holds the answer is no negative.
                if _normalised(answer["text"]) not in _normalised(passages[other]):
                    pairs.append(
                        SupportPair("cpgqa", group, f"{kind} vs other passage", statement, passages[other], False)
                    )
        if sentence in perturbed_sentences:
            continue  # questions on one sentence share its perturbed copies
        perturbed_sentences.add(sentence)
        perturbed = {
            "number changed": _number_changed(sentence, evidence=context, rng=rng),
            "negation flipped": _english_negation_flipped(sentence),
            "term swapped": _term_swapped(
                sentence, evidence=context, document_frequency=document_frequency, vocabulary=vocabulary, rng=rng
            ),
        }
        for kind, statement in perturbed.items():
            if statement and statement != sentence:
                pairs.append(SupportPair("cpgqa", group, kind, statement, context, False))
    return _unique(pairs)


def pubmedqa_pairs(*, limit: int | None = None, seed: int = 0, source: Path | None = None) -> list[SupportPair]:
    source = source or SHARED_DATA / "pubmedqa" / "data" / "ori_pqal.json"
    labelled = json.loads(source.read_text(encoding="utf-8"))
    pubmed_ids = list(labelled)
    abstracts = ["\n\n".join(part.strip() for part in labelled[p]["CONTEXTS"]) for p in pubmed_ids]
    index = _bm25_index(abstracts)
    chosen = range(len(pubmed_ids))
    if limit is not None and limit < len(pubmed_ids):
        chosen = sorted(random.Random(seed).sample(range(len(pubmed_ids)), limit))
    pairs: list[SupportPair] = []
    for number in chosen:
        record = labelled[pubmed_ids[number]]
        group = f"pubmed-{pubmed_ids[number]}"
        conclusion = record["LONG_ANSWER"].strip()
        pairs.append(SupportPair("pubmedqa", group, "conclusion", conclusion, abstracts[number], True))
        for other in _ranked_others(index, query=record["QUESTION"], exclude={number}, count=1):
            pairs.append(SupportPair("pubmedqa", group, "other abstract", conclusion, abstracts[other], False))
    return pairs


def lecoqa_pairs(*, limit: int | None = None, seed: int = 0, source: Path | None = None) -> list[SupportPair]:
    source = source or SHARED_DATA / "lecoqa" / "data" / "queries.json"
    queries = json.loads(source.read_text(encoding="utf-8"))
    articles: dict[str, str] = {}
    for query in queries:
        for name, text in query["相关法规"].items():
            articles.setdefault(name, text.strip())
    names = sorted(articles)
    article_number = {name: n for n, name in enumerate(names)}
    index = _bm25_index([articles[name] for name in names])
    rng = random.Random(seed)
    if limit is not None and limit < len(queries):
        queries = [queries[i] for i in sorted(rng.sample(range(len(queries)), limit))]
    pairs: list[SupportPair] = []
    for query in queries:
        group = f"lecoqa-{query['query_id']}"
        gold = [article_number[name] for name in query["相关法规"]]
        # An article as a passage of the law shows it: its name (中华人民共和国民法典第五十四条) heads its text.
        evidence = "\n".join(f"{names[n]}\n{articles[names[n]]}" for n in gold)
        others = _ranked_others(index, query=query["问题"], exclude=set(gold), count=len(gold))
        other_evidence = "\n".join(f"{names[n]}\n{articles[names[n]]}" for n in others)
        answer = query["答案文本"]
        if not isinstance(answer, str):  # a few records have no answer (NaN)
            continue
        sentences = [GREETING.sub("", s).strip() for s in CHINESE_SENTENCE.findall(answer)]
        # A sentence that invokes the law restates it; the rest of a lawyer's answer is advice and examples.
        cited = [s for s in sentences if LAW_CUE.search(s) and 10 <= len(s) <= 200]
        for sentence in cited[:3]:
            pairs.append(SupportPair("lecoqa", group, "law sentence", sentence, evidence, True))
            if others:
                pairs.append(SupportPair("lecoqa", group, "other articles", sentence, other_evidence, False))
            perturbed = {
                "number changed": _number_changed(sentence, evidence=evidence, rng=rng),
                "negation flipped": _chinese_negation_flipped(sentence),
            }
            for kind, statement in perturbed.items():
                if statement and statement != sentence:
                    pairs.append(SupportPair("lecoqa", group, kind, statement, evidence, False))
    return _unique(pairs)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def _unique(pairs: Iterable[SupportPair]) -> list[SupportPair]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for pair in pairs:
        key = (pair.statement, pair.evidence)
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept


def support_pairs(*, limit: int | None = None, seed: int = 0) -> list[SupportPair]:
    """All labelled pairs: `limit` questions of each dataset (all when None)."""
    return (
        cpgqa_pairs(limit=limit, seed=seed)
        + pubmedqa_pairs(limit=limit, seed=seed)
        + lecoqa_pairs(limit=limit, seed=seed)
    )


def pairs_split(pairs: Sequence[SupportPair], *, seed: int = 0) -> tuple[list[SupportPair], list[SupportPair]]:
    """(development, test): the groups of each dataset shuffled by seed and halved."""
    dev_groups: set[str] = set()
    for dataset in sorted({p.dataset for p in pairs}):
        groups = sorted({p.group for p in pairs if p.dataset == dataset})
        random.Random(seed).shuffle(groups)
        dev_groups.update(groups[: len(groups) // 2])
    return [p for p in pairs if p.group in dev_groups], [p for p in pairs if p.group not in dev_groups]


# --- metrics ----------------------------------------------------------------------------------------------------


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The probability that a supported pair outscores an unsupported one (ties count half)."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def classification(scores: Sequence[float], labels: Sequence[bool], *, threshold: float) -> dict[str, float | None]:
    """Precision, recall and F1 of "supported" (score >= threshold)."""
    true_positive = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y)
    predicted = sum(1 for s in scores if s >= threshold)
    actual = sum(labels)
    precision = true_positive / predicted if predicted else None
    recall = true_positive / actual if actual else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


OPERATING_POINTS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
THRESHOLD_GRID = [i / 200 for i in range(1, 201)]  # 0.005 .. 1.0


def _curves(scores: Sequence[float], labels: Sequence[bool]) -> list[dict[str, float | None]]:
    """classification() at every THRESHOLD_GRID value, by cumulative counts (the grid has 200 points)."""
    ordered = sorted(zip(scores, labels, strict=True), key=lambda pair: -pair[0])
    actual = sum(labels)
    curves, index, true_positive = [], 0, 0
    for threshold in reversed(THRESHOLD_GRID):
        while index < len(ordered) and ordered[index][0] >= threshold - 1e-12:
            true_positive += ordered[index][1]
            index += 1
        precision = true_positive / index if index else None
        recall = true_positive / actual if actual else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
        curves.append({"threshold": threshold, "precision": precision, "recall": recall, "f1": f1})
    return list(reversed(curves))


def threshold_choose(pairs: Sequence[SupportPair], scores: Sequence[float]) -> dict[str, float | None]:
    """The highest threshold whose mean F1 over the datasets is within F1_TOLERANCE of the best (each dataset,
    so each language and kind of text, counts alike however many pairs it gave; among near-equal thresholds the
    stricter, since a wrong citation shown as support costs more than a statement marked unsupported), and, for
    comparison, the lowest threshold whose pooled precision on "supported" reaches TARGET_PRECISION, with its
    recall."""
    datasets = sorted({p.dataset for p in pairs})
    per_dataset = [
        _curves(
            [s for s, p in zip(scores, pairs, strict=True) if p.dataset == d],
            [p.supported for p in pairs if p.dataset == d],
        )
        for d in datasets
    ]
    mean_f1 = [sum(curve[i]["f1"] for curve in per_dataset) / len(per_dataset) for i in range(len(THRESHOLD_GRID))]
    best_f1 = max(mean_f1)
    chosen = max(i for i in range(len(THRESHOLD_GRID)) if mean_f1[i] >= best_f1 - F1_TOLERANCE)
    pooled = _curves(scores, [p.supported for p in pairs])
    reaching = [c for c in pooled if (c["precision"] or 0) >= TARGET_PRECISION]
    return {
        "threshold": THRESHOLD_GRID[chosen],
        "mean_f1": mean_f1[chosen],
        "best_mean_f1_threshold": THRESHOLD_GRID[mean_f1.index(best_f1)],
        "best_mean_f1": best_f1,
        "precision_target_threshold": reaching[0]["threshold"] if reaching else None,
        "precision_target_recall": reaching[0]["recall"] if reaching else None,
    }


# --- scorers and the report -------------------------------------------------------------------------------------

OLD_STOPWORDS = frozenset(
    """a an and are as at be by for from has have in is it its of on or that the this to was were will with
    should can may not no""".split()
)


def _old_terms(text: str) -> set[str]:
    lowered = text.lower()
    terms = {t for t in re.findall(r"[a-z0-9]+(?:[./-][a-z0-9]+)*", lowered) if t not in OLD_STOPWORDS}
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", lowered):
        terms.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return terms


def term_overlap(statement: str, evidence: str) -> float:
    """The score assistant/grounding.py used before this benchmark (commit 4acd129), kept here as the baseline:
    the share of the statement's content terms (unstemmed words, numbers, Chinese character pairs) in the evidence."""
    terms = _old_terms(statement)
    return len(terms & _old_terms(evidence)) / len(terms) if terms else 0.0


BASELINE = "term overlap (old)"
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+")  # as grounding/verification.py splits


def best_window_score(statement: str, evidence: str) -> float:
    """support_score on the evidence's best sentence or pair of adjacent sentences: how grounding/verification.py
    scores a citation whose quote is not found (and, around a found quote, it scores the sentences it touches)."""
    from assistant.grounding.support import support_score

    sentences = [part for part in SENTENCE_END.split(evidence) if part.strip()] or [evidence]
    windows = sentences + [f"{a} {b}" for a, b in itertools.pairwise(sentences)]
    return max(support_score(statement=statement, evidence=window) for window in windows)


def scorers(*, embedding: bool = False) -> dict[str, Callable[[str, str], float]]:
    """The old score, the new one's parts added one at a time (the last is support_score), and with `embedding`
    a blend of the final score with the multilingual USE cosine of statement and evidence."""
    from assistant.grounding import support

    def with_numbers(statement: str, evidence: str) -> float:
        return 0.0 if support.numbers_missing(statement, evidence) else support.term_coverage(statement, evidence)

    candidates: dict[str, Callable[[str, str], float]] = {
        BASELINE: term_overlap,
        "stemmed coverage": support.term_coverage,
        "+ number rule": with_numbers,
        f"+ negation rule = final ({support.SUPPORT_SCORE_VERSION})": lambda s, e: support.support_score(
            statement=s, evidence=e
        ),
    }
    candidates["final, on the best 1-2 sentence window"] = best_window_score
    if embedding:
        from functools import lru_cache

        from ingestion.embedding import UniversalSentenceEncoderEmbedder

        embedder = UniversalSentenceEncoderEmbedder()
        vector = lru_cache(maxsize=None)(embedder.embed_query)

        def blended(statement: str, evidence: str) -> float:
            score = support.support_score(statement=statement, evidence=evidence)
            if score == 0.0:
                return 0.0  # the hard rules stand
            return 0.5 * score + 0.5 * max(0.0, float(vector(statement) @ vector(evidence)))

        candidates["final, mean with USE cosine"] = blended
    return candidates


def evaluate(*, pairs: Sequence[SupportPair], seed: int, embedding: bool = False) -> dict[str, dict]:
    development, test = pairs_split(pairs, seed=seed)
    results: dict[str, dict] = {}
    for name, scorer in scorers(embedding=embedding).items():
        started = time.perf_counter()
        dev_scores = [scorer(p.statement, p.evidence) for p in development]
        test_scores = [scorer(p.statement, p.evidence) for p in test]
        ms_per_pair = (time.perf_counter() - started) * 1000 / max(1, len(pairs))
        choice = threshold_choose(development, dev_scores)
        threshold = choice["threshold"]
        rows = {}
        for dataset in ["all", *sorted({p.dataset for p in pairs})]:
            for half, half_pairs, half_scores in [("dev", development, dev_scores), ("test", test, test_scores)]:
                chosen = [
                    (s, p.supported)
                    for s, p in zip(half_scores, half_pairs, strict=True)
                    if dataset == "all" or p.dataset == dataset
                ]
                scores, labels = [s for s, _ in chosen], [y for _, y in chosen]
                rows[f"{dataset}/{half}"] = {
                    **classification(scores, labels, threshold=threshold),
                    "auc": roc_auc(scores, labels),
                    "pairs": len(chosen),
                }
        kinds = {}
        for dataset, kind in sorted({(p.dataset, p.kind) for p in test}):
            chosen = [s for s, p in zip(test_scores, test, strict=True) if (p.dataset, p.kind) == (dataset, kind)]
            supported = next(p.supported for p in test if (p.dataset, p.kind) == (dataset, kind))
            kinds[f"{dataset}/{kind}"] = {
                "pairs": len(chosen),
                "supported": supported,
                "accepted": sum(1 for s in chosen if s >= threshold) / len(chosen),
            }
        operating_points = {}
        for point in OPERATING_POINTS:
            for dataset in ["all", *sorted({p.dataset for p in pairs})]:
                chosen = [
                    (s, p.supported) for s, p in zip(test_scores, test, strict=True) if dataset in ("all", p.dataset)
                ]
                operating_points[f"{point}/{dataset}"] = classification(
                    [s for s, _ in chosen], [y for _, y in chosen], threshold=point
                )
        results[name] = {
            **choice,
            "ms_per_pair": ms_per_pair,
            "rows": rows,
            "kinds": kinds,
            "operating_points": operating_points,
        }
    return results


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(new: float | None, old: float | None) -> str:
    return f"{new / old:.2f}" if new is not None and old else "-"


def markdown(results: dict[str, dict]) -> str:
    """The report: thresholds, figures per dataset on both halves, and the share accepted per kind of pair."""
    lines = [
        "| scorer | threshold chosen on dev (mean F1) | best mean F1 at | pooled P>=0.9 from (recall) | ms/pair |",
        "|---|---|---|---|---|",
    ]
    for name, result in results.items():
        target = result["precision_target_threshold"]
        reached = "never" if target is None else f"{target:.3f} ({result['precision_target_recall']:.3f})"
        lines.append(
            f"| {name} | {result['threshold']:.3f} ({result['mean_f1']:.3f}) | "
            f"{result['best_mean_f1_threshold']:.3f} ({result['best_mean_f1']:.3f}) | {reached} | "
            f"{result['ms_per_pair']:.3f} |"
        )
    lines += [
        "",
        "| scorer | set (test pairs) | P dev | R dev | F1 dev | P test | R test | F1 test | AUC test | "
        "F1 test / old | AUC test / old |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = results.get(BASELINE)
    for name, result in results.items():
        for dataset in ["all", "cpgqa", "pubmedqa", "lecoqa"]:
            dev, test = result["rows"].get(f"{dataset}/dev"), result["rows"].get(f"{dataset}/test")
            if not test:
                continue
            old = base["rows"][f"{dataset}/test"] if base and name != BASELINE else None
            lines.append(
                f"| {name} | {dataset} ({test['pairs']}) | {_figure(dev['precision'])} | {_figure(dev['recall'])} | "
                f"{_figure(dev['f1'])} | {_figure(test['precision'])} | {_figure(test['recall'])} | "
                f"{_figure(test['f1'])} | {_figure(test['auc'])} | "
                f"{_ratio(test['f1'], old['f1']) if old else '-'} | {_ratio(test['auc'], old['auc']) if old else '-'} |"
            )
    kinds = sorted({k for r in results.values() for k in r["kinds"]})
    names = list(results)
    lines += ["", "Share of test pairs accepted as supported (score >= the scorer's threshold), by kind of pair:", ""]
    lines.append("| pair kind | label | pairs | " + " | ".join(names) + " |")
    lines.append("|---|---|---|" + "---|" * len(names))
    for kind in kinds:
        first = results[names[0]]["kinds"][kind]
        label = "supported" if first["supported"] else "unsupported"
        cells = " | ".join(f"{results[n]['kinds'][kind]['accepted']:.3f}" for n in names)
        lines.append(f"| {kind} | {label} | {first['pairs']} | {cells} |")
    final = next(name for name in names if name.startswith("+ negation rule = final"))
    datasets = ["all", "cpgqa", "pubmedqa", "lecoqa"]
    lines += ["", f"Operating points of {final} on the test half (precision / recall / F1):", ""]
    lines.append("| threshold | " + " | ".join(datasets) + " |")
    lines.append("|---|" + "---|" * len(datasets))
    for point in OPERATING_POINTS:
        cells = []
        for dataset in datasets:
            figures = results[final]["operating_points"].get(f"{point}/{dataset}")
            cells.append(
                "-"
                if figures is None
                else f"{_figure(figures['precision'])} / {_figure(figures['recall'])} / {_figure(figures['f1'])}"
            )
        lines.append(f"| {point} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.support_calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="N questions of each dataset (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --limit draw, perturbations and halves")
    parser.add_argument(
        "--embedding", action="store_true", help="also score a blend with the USE cosine (slow: minutes on 2 cores)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    started = time.perf_counter()
    pairs = support_pairs(limit=args.limit, seed=args.seed)
    counts = Counter((p.dataset, p.supported) for p in pairs)
    datasets = sorted({p.dataset for p in pairs})
    print(
        f"{len(pairs)} pairs in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{d} {counts[(d, True)]} supported / {counts[(d, False)]} not" for d in datasets)
    )
    results = evaluate(pairs=pairs, seed=args.seed, embedding=args.embedding)
    print()
    print(markdown(results))
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"pairs": len(pairs), "results": results}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
