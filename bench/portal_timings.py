"""Where the time of a clinician report and of a policy match goes, on real documents, against a grounded answer to
the same complaint measured in the same run (the baseline).

    .venv/bin/python bench/portal_timings.py [--runs N] [--keep]

Ingests, into a fresh temporary SQLite data directory, the NGC guideline summaries on low back pain and opioids with
the cpgQA opioid-therapy passages (clinical set), and the 7 cn_laws regulations with the LeCoQA articles on
个体工商户 and small enterprises (policy set). Then, one at a time (unloaded), for each complaint (English and
Chinese): a grounded answer to the complaint as a question (baseline), and a clinician report; for each business
profile: a policy match over 3 candidate policies, their extractions one after another (baseline) and all at once
(POLICY_CONCURRENCY=3, the default). Uses LLM_BASE_URL when set (e.g. from `manage.py serve_llm`),
else starts the local vLLM CPU server. Prints a table per flow (median over runs of each stage), the ratios against
the baseline, a projection of the same token counts onto one H100 (4.54 ms per decoded token for a 7B model, see
bench/README.md "Grounded answers"), and one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import django_setup

COMPLAINTS = [
    "Chronic low back pain for three years, on long-term opioid therapy (oxycodone 60 mg a day); asks about tapering",
    "慢性腰痛三年，长期服用阿片类药物（羟考酮每日60毫克），询问是否减量",
]
H100_MS_PER_TOKEN = 4.54


def corpora_ingest() -> tuple[int, int, dict[str, float]]:
    """(clinical collection id, policy collection id, seconds per set)."""
    from bench.datasets.ngc import ngc_markdown
    from bench.datasets.portal import (
        SourceDocument,
        cn_laws_documents,
        cpgqa_opioid_passages,
        lecoqa_small_business_articles,
        ngc_back_pain_and_opioid_guidelines,
    )
    from ingestion.services import collection_get_or_create, document_ingest, document_register

    def ingest(name: str, documents: list[SourceDocument]) -> int:
        collection = collection_get_or_create(name=name)
        for source in documents:
            registration = document_register(collection=collection, file_name=source.name, content=source.content,
                                             external_id=source.external_id, title=source.title)
            document_ingest(document_id=registration.document.id)
        return collection.id

    started = time.perf_counter()
    summaries = [SourceDocument(f"{g.doc_id}.md", ngc_markdown(guideline=g).encode(), g.doc_id)
                 for g in ngc_back_pain_and_opioid_guidelines()]
    clinical_id = ingest("guidelines (NGC + cpgQA)", summaries + cpgqa_opioid_passages(limit=30))
    seconds = {"clinical_ingest_s": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    policy_id = ingest("regulations (cn_laws + LeCoQA)", cn_laws_documents() + lecoqa_small_business_articles())
    seconds["policy_ingest_s"] = round(time.perf_counter() - started, 1)
    return clinical_id, policy_id, seconds


def answer_run(*, question: str, collection_id: int) -> dict:
    from assistant.answers.services import answer_stream
    from retrieval.access import OPERATOR

    for event in answer_stream(user=OPERATOR, question=question, collection_ids=[collection_id]):
        if event.kind == "done":
            timings = event.record.timings  # the stored Answer (grounding/run.py)
            return {"first_item_ms": timings.get("first_statement_ms"), **timings}
    raise RuntimeError("the answer stream ended without done")


def report_run(*, complaint: str, collection_id: int) -> dict:
    from assistant.clinical.services import clinical_report_stream
    from retrieval.access import OPERATOR

    items = supported = 0
    for event in clinical_report_stream(user=OPERATOR, complaint=complaint, collection_ids=[collection_id], age=52,
                                        sex="male"):
        if event.kind == "item":
            items += 1
            supported += bool(event.data["item"]["supported"])
        if event.kind == "done":
            return {**event.record.timings, "items": items, "supported_items": supported}
    raise RuntimeError("the report stream ended without done")


def policy_run(*, profile, collection_id: int) -> dict:
    from django.conf import settings

    from assistant.policies.services import policies_match_stream
    from retrieval.access import OPERATOR

    first_policy_ms = None
    started = time.perf_counter()
    for event in policies_match_stream(user=OPERATOR, profile=profile, collection_ids=[collection_id],
                                       max_policies=3, today=date(2026, 11, 30)):
        if event.kind == "policy" and first_policy_ms is None:
            first_policy_ms = round((time.perf_counter() - started) * 1000, 1)
        if event.kind == "done":
            result = event.data["result"]
            per_policy = [p.timings for p in result.policies]
            clause_ms = sum(t.get("clause_retrieval_ms") or 0 for t in per_policy)
            check_ms = sum(t.get("check_ms") or 0 for t in per_policy)
            return {
                "retrieval_ms": result.timings.get("retrieval_ms"),
                "first_item_ms": first_policy_ms,  # the first policy checked and sent
                "ttft_ms": statistics.median(t["ttft_ms"] for t in per_policy if t.get("ttft_ms") is not None)
                if any(t.get("ttft_ms") is not None for t in per_policy) else None,
                # Wall-clock time waiting on the model: with concurrent extractions their own times overlap.
                "generation_ms": round(result.timings["total_ms"] - result.timings.get("retrieval_ms", 0)
                                       - clause_ms - check_ms, 1),
                "clause_retrieval_ms": round(clause_ms, 1),
                "check_ms": round(check_ms, 1),
                "input_tokens": sum(t.get("input_tokens") or 0 for t in per_policy),
                "answer_tokens": sum(t.get("answer_tokens") or 0 for t in per_policy),
                "reasoning_tokens": 0,
                "total_ms": result.timings.get("total_ms"),
                "conditions": sum(len(p.conditions) for p in result.policies),
                # Decoded one after another, the policies' tokens add up; batched together, the longest reply sets
                # the time (decoding a 7B model at batch 3 is still bandwidth-bound on an H100).
                "projected_tokens": (max if settings.POLICY_CONCURRENCY > 1 else sum)(
                    t.get("answer_tokens") or 0 for t in per_policy) if per_policy else 0,
            }
    raise RuntimeError("the policy stream ended without done")


STAGES = ["retrieval_ms", "ttft_ms", "first_item_ms", "generation_ms", "reasoning_tokens", "answer_tokens",
          "input_tokens", "total_ms"]


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def table_print(title: str, rows: dict[str, list[dict]], baseline: str) -> dict[str, dict]:
    print(f"\n{title}")
    header = ["flow", *STAGES, "total / baseline", "H100 projection s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    medians: dict[str, dict] = {}
    for name, runs in rows.items():
        medians[name] = {key: median_of(runs, key) for key in STAGES}
        medians[name]["runs"] = len(runs)
    base = medians[baseline]["total_ms"]
    for name, values in medians.items():
        tokens = median_of(rows[name], "projected_tokens")
        if tokens is None:
            tokens = (values["reasoning_tokens"] or 0) + (values["answer_tokens"] or 0)
        projection = round(((values["retrieval_ms"] or 0) + tokens * H100_MS_PER_TOKEN) / 1000, 2)
        values["ratio_to_baseline"] = round(values["total_ms"] / base, 2) if base and values["total_ms"] else None
        values["h100_projection_s"] = projection
        cells = [name, *["-" if values[k] is None else f"{values[k]:g}" for k in STAGES],
                 "-" if values["ratio_to_baseline"] is None else f"{values['ratio_to_baseline']:.2f}", f"{projection}"]
        print("| " + " | ".join(cells) + " |")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs of each flow per input (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--only", choices=("clinical", "policy"), help="run one of the two flows")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="yiju-portal-bench-"))
    try:
        django_setup(data_dir=data_dir, batch_size=None)
        from assistant.grounding.llm.client import llm_endpoint
        from assistant.policies.profile import BusinessProfile

        clinical_id, policy_id, ingest_seconds = corpora_ingest()
        endpoint = llm_endpoint()  # started (or reached) before anything is timed
        print(f"model {endpoint.model} at {endpoint.base_url}; ingestion {ingest_seconds}")
        profiles = {
            "个体工商户": BusinessProfile(province="四川省", city="成都市", industry="餐饮业",
                                     enterprise_type="个体工商户", size="micro", founded=date(2025, 6, 1),
                                     employees=0, annual_revenue=400_000, notes="无雇工的个体工商户"),
            "small data firm": BusinessProfile(province="四川省", city="成都市", industry="软件和信息技术服务业",
                                               enterprise_type="有限责任公司", size="small",
                                               founded=date(2019, 5, 1), employees=80, annual_revenue=30_000_000,
                                               rd_ratio=0.06, certificates=["高新技术企业"],
                                               notes="希望成为公共数据资源授权运营机构"),
        }
        clinical_rows: dict[str, list[dict]] = {}
        clinical: dict = {}
        policy: dict = {}
        for run in range(args.runs if args.only != "policy" else 0):
            for complaint in COMPLAINTS:
                language = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in complaint) else "en"
                clinical_rows.setdefault(f"answer ({language}, baseline)", []).append(
                    answer_run(question=complaint, collection_id=clinical_id))
                clinical_rows.setdefault(f"clinician report ({language})", []).append(
                    report_run(complaint=complaint, collection_id=clinical_id))
                print(f"run {run + 1}: {language} done", flush=True)
        if clinical_rows:  # one baseline row for both languages keeps the ratio readable
            rows = {"answer (baseline)": clinical_rows.pop("answer (en, baseline)") +
                    clinical_rows.pop("answer (zh, baseline)"), **clinical_rows}
            clinical = table_print("Clinician report vs grounded answer (median, unloaded)", rows,
                                   "answer (baseline)")
        from django.test import override_settings

        policy_rows: dict[str, list[dict]] = {}
        for run in range(args.runs if args.only != "clinical" else 0):
            for name, profile in profiles.items():
                for concurrency in (1, 3):  # one policy after another (the baseline), then all three at once
                    with override_settings(POLICY_CONCURRENCY=concurrency):
                        policy_rows.setdefault(f"3 policies, {concurrency} at a time ({name})", []).append(
                            policy_run(profile=profile, collection_id=policy_id))
                print(f"run {run + 1}: {name} done", flush=True)
        for name in profiles if policy_rows else ():
            policy |= table_print(
                f"Policy match, {name}: all three extractions at once vs one after another (median, unloaded)",
                {key: runs for key, runs in policy_rows.items() if key.endswith(f"({name})")},
                f"3 policies, 1 at a time ({name})")
        items = [r for name, runs in clinical_rows.items() for r in runs]
        if items:
            print(f"\nreport items: {sum(r['items'] for r in items)}, "
                  f"supported {sum(r['supported_items'] for r in items)} over {len(items)} reports")
        print(json.dumps({"ingest": ingest_seconds, "model": endpoint.model, "clinical": clinical, "policy": policy},
                         ensure_ascii=False))
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
