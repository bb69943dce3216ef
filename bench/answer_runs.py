"""Run `manage.py evaluate_answers` over several dev sets with one configuration and print one table row per set.

    .venv/bin/python bench/answer_runs.py --label "0.5B, sentence ids" --sets cpgqa pubmedqa lecoqa \
        --data /tmp/eval --out bench/results/answers/after [--concurrency 4] [--limit N] [--repo DIR]

Each set is a folder of `bench.datasets` output (corpus.jsonl, questions.jsonl). The model server is whatever the
environment says (LLM_BASE_URL, LLM_MODEL, LLM_REASONING, ...), so two configurations, or two checkouts (--repo),
measured against one running server compare like for like. Writes <out>/<set>.json (the metrics and diagnostics lines)
and <out>/<set>.answers.jsonl (one line per question), and prints the rows as Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COLUMNS = [
    ("gold_cited", "gold cited"), ("answer_contains_gold", "contains gold"), ("label_accuracy", "label acc."),
    ("supported_statements", "supported"), ("invalid_citations_per_statement", "invalid cit./stmt"),
    ("unfinished_statements", "unfinished"), ("relevance_failures", "relevance fail."),
    ("answer_tokens_per_statement", "answer tok/stmt"), ("abstained_when_answerable", "abstained: answerable"),
    ("abstained_when_unanswerable", "abstained: unanswerable"), ("p50_total_ms", "p50 s"), ("p95_total_ms", "p95 s"),
]


def run_set(*, repo: Path, data: Path, name: str, out: Path, concurrency: int, limit: int | None) -> dict:
    """One evaluate_answers run; its metrics and diagnostics, also written to <out>/<name>.json."""
    answers = out / f"{name}.answers.jsonl"
    command = [str(repo / ".venv/bin/python"), "manage.py", "evaluate_answers",
               "--corpus", str(data / name / "corpus.jsonl"), "--questions", str(data / name / "questions.jsonl"),
               "--concurrency", str(concurrency), "--output", str(answers)]
    if limit:
        command += ["--limit", str(limit)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{name}: evaluate_answers failed ({done.returncode}):\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = {"set": name, "diagnostics": json.loads(lines[-2]), "metrics": json.loads(lines[-1]),
              "wall_s": round(time.perf_counter() - started, 1)}
    _metrics_derived(result=result, answers=answers)
    (out / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return result


def _metrics_derived(*, result: dict, answers: Path) -> None:
    """Figures an older checkout's evaluate_answers does not print, from its per-question lines."""
    metrics, diagnostics = result["metrics"], result["diagnostics"]
    lines = [json.loads(line) for line in answers.read_text().splitlines() if line.strip()]
    statements = sum(line["statements"] for line in lines)
    if metrics.get("invalid_citations_per_statement") is None and statements:
        metrics["invalid_citations_per_statement"] = round(diagnostics.get("invalid_citations", 0) / statements, 4)
    tokens = [line["timings"].get("answer_tokens") for line in lines if line["timings"].get("answer_tokens")]
    if metrics.get("answer_tokens_per_statement") is None and statements and tokens:
        metrics["answer_tokens_per_statement"] = round(sum(tokens) / statements, 1)
    metrics.setdefault("unfinished_statements", None)
    metrics.setdefault("relevance_failures", None)
    result["statements"] = statements
    result["answer_tokens"] = sum(tokens)


def _cell(key: str, value: object) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms"):
        return f"{float(value) / 1000:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table_rows(*, label: str, results: list[dict]) -> list[str]:
    rows = []
    for result in results:
        metrics = result["metrics"]
        cells = [label, result["set"], str(metrics["questions"])] + [_cell(key, metrics.get(key)) for key, _ in COLUMNS]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--sets", nargs="+", required=True)
    parser.add_argument("--data", type=Path, default=Path("/tmp/eval"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.sets:
        results.append(run_set(repo=args.repo.resolve(), data=args.data, name=name, out=args.out,
                               concurrency=args.concurrency, limit=args.limit))
        print(table_rows(label=args.label, results=results[-1:])[0], flush=True)
    print("| run | set | questions | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---|" * (3 + len(COLUMNS)))
    print("\n".join(table_rows(label=args.label, results=results)))


if __name__ == "__main__":
    main()
