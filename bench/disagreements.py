"""Disagreements between sources: precision and recall of assistant.grounding.quantities.value_conflicts on real
sentence pairs from two documents on one topic (NGC guideline summaries of one condition from different years; the
Chinese laws and regulations of shared/data/cn_laws against each other).

    .venv/bin/python -m bench.disagreements            # the table, and the test-split errors
    .venv/bin/python -m bench.disagreements --build /tmp/candidates.jsonl   # candidate pairs to label

The labelled pairs (bench/disagreement_pairs.jsonl) hold document ids and character offsets only, never the text:
the sentences are read from ../shared/data at run time. An NGC offset is into the text of the named field of the
summary (the field's first occurrence); a cn_laws offset is into the law's .txt file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from itertools import combinations
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DATA = REPO_ROOT.parent / "shared" / "data"
PAIRS = REPO_ROOT / "bench" / "disagreement_pairs.jsonl"
NGC_FIELDS = ("Major Recommendations", "Target Population")
CN_LAWS = ("pip_law", "data_sec_law", "net_data_reg", "sc_op_measures", "sc_reg_measures", "spec_trial", "price_65")


@cache
def ngc_documents() -> dict[str, dict[str, str]]:
    """doc_id -> {field name -> text} (a field's first occurrence), plus "title"."""
    documents: dict[str, dict[str, str]] = {}
    with gzip.open(DATA / "ngc_guidelines" / "ngc_summaries.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            fields: dict[str, str] = {"title": record["title"]}
            for field in record["fields"]:
                fields.setdefault(field["field"], field["text"])
            documents[record["doc_id"]] = fields
    return documents


@cache
def cn_law(key: str) -> str:
    return (DATA / "cn_laws" / f"{key}.txt").read_text(encoding="utf-8")


def passage_text(ref: dict) -> str:
    """The text a pair side points at: {"doc", "field", "start", "end"}."""
    whole = ngc_documents()[ref["doc"]][ref["field"]] if ref.get("field") else cn_law(ref["doc"])
    return whole[ref["start"] : ref["end"]]


def source_of(ref: dict) -> str:
    return "ngc" if ref.get("field") else "cn_laws"


def load_pairs(path: Path = PAIRS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- candidates (--build)

EN_SENTENCE = re.compile(r"[^\n]+?(?:[.!?](?=\s+[A-Z(\"])|\n|$)")
CN_SENTENCE = re.compile(r"[^\n。；]+[。；]?")
EN_WORD = re.compile(r"[a-z]{3,}")
EN_STOP = frozenset(
    """the and for with are should was were that this from have has been not may can who all any other than into
    their there these those such which when where more less each also per use used using patients patient women
    recommend recommended recommendation recommendations evidence level grade strong weak quality good fair poor
    acr appropriateness criteria""".split()
)
EN_BOILERPLATE = re.compile(
    r"Rating Scale|original guideline|defined at the end|grades? of recommendation|Table \d|Figure \d|Ref\. \d", re.I
)
CN_NUMBER = re.compile(
    r"[0-9０-９]|[一二三四五六七八九十百千两]+(?:个)?(?:万|元|工作日|日|天|年|月|小时|倍|周岁|次)|百分之"
)
CN_NOISE = re.compile(r"ICP|公网安备|网站标识码|^\S*\d{4}[年/]\d+[月/]\d+日?\s*\S*$")
CN_ARTICLE = re.compile(r"第[一二三四五六七八九十百零〇0-9]+[条章节款项]")
UNIT_AFTER = re.compile(
    r"(?:\d|[一二三四五六七八九十百千])\s*(?:个)?([a-zA-Z%]+|万元|元|工作日|日|天|年|个月|月|小时|倍)"
)


def _en_sentences(text: str) -> Iterator[tuple[int, int]]:
    for match in EN_SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if 30 <= end - start <= 600:
            yield start, end


def _cn_sentences(text: str) -> Iterator[tuple[int, int]]:
    for match in CN_SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        if 10 <= end - start <= 400:
            yield start, end


def _units(text: str) -> set[str]:
    return {unit.lower() for unit in UNIT_AFTER.findall(text)}


def _year(released: str) -> str:
    match = re.search(r"(?:revised|updated|reaffirmed)\s+(\d{4})", released) or re.search(r"\d{4}", released)
    return match.group(1) if match and match.groups() else (match.group(0) if match else "")


def _ngc_topic_pairs() -> list[tuple[str, str]]:
    documents = ngc_documents()
    words = {
        doc: frozenset(EN_WORD.findall((fields.get("Disease/Condition(s)", "") + " " + fields["title"]).lower()))
        - EN_STOP
        - {"guideline", "guidelines", "management", "clinical", "practice", "diagnosis", "treatment", "care"}
        for doc, fields in documents.items()
    }
    condition = {doc: fields.get("Disease/Condition(s)", "").strip().lower() for doc, fields in documents.items()}
    year = {doc: _year(fields.get("Date Released", "")) for doc, fields in documents.items()}
    index: dict[str, list[str]] = defaultdict(list)
    for doc, terms in words.items():
        for term in terms:
            index[term].append(doc)
    pairs = set()
    for doc, terms in words.items():
        for other in {o for term in terms for o in index[term] if o > doc}:
            if year[doc] == year[other]:
                continue
            union = words[doc] | words[other]
            jaccard = len(words[doc] & words[other]) / len(union) if union else 0.0
            if condition[doc] == condition[other] or jaccard >= 0.5:
                pairs.add((doc, other))
    return sorted(pairs)


def _candidates_ngc(rng: random.Random) -> list[dict]:
    documents = ngc_documents()
    out = []
    for doc_a, doc_b in _ngc_topic_pairs():
        sides = []
        for doc in (doc_a, doc_b):
            sentences = []
            for field in NGC_FIELDS:
                text = documents[doc].get(field, "")
                for start, end in _en_sentences(text):
                    sentence = text[start:end]
                    if re.search(r"\d", sentence) and not EN_BOILERPLATE.search(sentence):
                        sentences.append((field, start, end, set(EN_WORD.findall(sentence.lower())) - EN_STOP))
            sides.append(sentences)
        best = []
        for fa, sa, ea, wa in sides[0]:
            for fb, sb, eb, wb in sides[1]:
                shared = wa & wb
                if len(shared) < 3:
                    continue
                ta = documents[doc_a][fa][sa:ea]
                tb = documents[doc_b][fb][sb:eb]
                unit = bool(_units(ta) & _units(tb))
                score = len(shared) / len(wa | wb) + (0.5 if unit else 0.0)
                best.append((score, unit, (doc_a, fa, sa, ea), (doc_b, fb, sb, eb)))
        best.sort(key=lambda item: -item[0])
        out.extend(
            {"source": "ngc", "score": s, "unit": u, "topic": f"{doc_a}|{doc_b}", "a": a, "b": b}
            for s, u, a, b in best[:3]
        )
    return out


def _candidates_cn(rng: random.Random) -> list[dict]:
    sentences: dict[str, list[tuple[int, int, set[str]]]] = {}
    for key in CN_LAWS:
        text = cn_law(key)
        kept = []
        for start, end in _cn_sentences(text):
            sentence = text[start:end]
            cleaned = CN_ARTICLE.sub("", sentence)
            if CN_NUMBER.search(cleaned) and not CN_NOISE.search(cleaned.strip()):
                kept.append((start, end, {sentence[i : i + 2] for i in range(len(sentence) - 1)}))
        sentences[key] = kept
    out = []
    for key_a, key_b in combinations(CN_LAWS, 2):
        best = []
        for sa, ea, ga in sentences[key_a]:
            for sb, eb, gb in sentences[key_b]:
                jaccard = len(ga & gb) / min(len(ga), len(gb))
                ta, tb = cn_law(key_a)[sa:ea], cn_law(key_b)[sb:eb]
                unit = bool(_units(ta) & _units(tb))
                if jaccard >= 0.2:
                    best.append((jaccard + (0.3 if unit else 0.0), unit, (key_a, None, sa, ea), (key_b, None, sb, eb)))
        best.sort(key=lambda item: -item[0])
        uses: dict[tuple, int] = defaultdict(int)
        kept = []
        for item in best:
            if uses[item[2]] < 3 and uses[item[3]] < 3:
                uses[item[2]] += 1
                uses[item[3]] += 1
                kept.append(item)
        out.extend(
            {"source": "cn_laws", "score": s, "unit": u, "topic": f"{key_a}|{key_b}", "a": a, "b": b}
            for s, u, a, b in kept[:12]
        )
    return out


def build(path: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    rows = _candidates_ngc(rng) + _candidates_cn(rng)
    with path.open("w", encoding="utf-8") as out:
        for number, row in enumerate(rows):
            refs = {}
            for side in ("a", "b"):
                doc, field, start, end = row[side]
                refs[side] = {"doc": doc, "field": field, "start": start, "end": end}
            record = {"id": f"c{number:04d}", "source": row["source"], "topic": row["topic"], "unit": row["unit"]}
            record |= refs
            record["text_a"] = passage_text(refs["a"])
            record["text_b"] = passage_text(refs["b"])
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"{len(rows)} candidates -> {path}")


# ---------------------------------------------------------------- measure


def _ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "-"


def measure(path: Path = PAIRS) -> None:
    from assistant.grounding.quantities import value_conflicts

    pairs = load_pairs(path)
    results = []
    started = time.perf_counter()
    for pair in pairs:
        conflicts = value_conflicts(passage_text(pair["a"]), passage_text(pair["b"]))
        results.append((pair, conflicts))
    elapsed = time.perf_counter() - started

    print("| split | source | pairs | positives | flagged | true positives | precision | recall |")
    print("|---|---|---|---|---|---|---|---|")
    for split in ("dev", "test"):
        for source in ("ngc", "cn_laws", "all"):
            rows = [(p, c) for p, c in results if p["split"] == split and (source == "all" or p["source"] == source)]
            positives = sum(p["disagree"] for p, _ in rows)
            flagged = sum(bool(c) for _, c in rows)
            hits = sum(p["disagree"] and bool(c) for p, c in rows)
            print(
                f"| {split} | {source} | {len(rows)} | {positives} | {flagged} | {hits} | "
                f"{_ratio(hits, flagged)} | {_ratio(hits, positives)} |"
            )
    print(f"\n{len(pairs)} pairs in {elapsed:.2f} s ({1000 * elapsed / max(len(pairs), 1):.1f} ms a pair)")
    print("\nTest-split errors:")
    for pair, conflicts in results:
        if pair["split"] != "test" or pair["disagree"] == bool(conflicts):
            continue
        kind = "missed" if pair["disagree"] else "false alarm"
        shown = "; ".join(f"{c.a.text} vs {c.b.text}" for c in conflicts[:2]) if conflicts else ""
        print(f"- {pair['id']} ({kind}): {pair['why']}" + (f" [flagged: {shown}]" if shown else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, metavar="OUT", help="write candidate pairs (with text) to OUT")
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    args = parser.parse_args(argv)
    if args.build:
        build(args.build)
    else:
        measure(args.pairs)


if __name__ == "__main__":
    main()
