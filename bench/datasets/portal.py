"""The real documents the clinician portal and policy matching are tested and timed on, chosen in one place.

Clinical: cpgQA's VA/DoD opioid-therapy passages on tapering and long-term use, and the NGC summaries whose title is
about back pain or opioids. Policy: the cn_laws regulations (with their manifest's titles) and the LeCoQA statute
articles on 个体工商户 and small enterprises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench.datasets.cpgqa import SHARED_DATA, cpgqa_evaluation_set
from bench.datasets.lecoqa import lecoqa_evaluation_set
from bench.datasets.ngc import Guideline, ngc_guidelines

OPIOID_WORDS = ("taper", "long-term opioid", "withdrawal", "morphine equivalent", "low back pain")
BACK_PAIN_AND_OPIOID_WORDS = ("low back pain", "back pain", "opioid")
SMALL_BUSINESS_WORDS = ("个体工商户", "小型微利", "小微企业", "中小企业")


@dataclass(frozen=True)
class SourceDocument:
    """One document to ingest: its file name, bytes, external id and title ("" lets ingestion read the title)."""

    name: str
    content: bytes
    external_id: str
    title: str = ""


def cpgqa_opioid_passages(*, limit: int) -> list[SourceDocument]:
    """The first `limit` cpgQA passages on opioid tapering and long-term therapy, each as a text document."""
    corpus, _ = cpgqa_evaluation_set()
    chosen = [p for p in corpus if any(word in p["text"].lower() for word in OPIOID_WORDS)][:limit]
    return [SourceDocument(f"{p['id']}.txt", p["text"].encode(), p["id"], p["title"]) for p in chosen]


def ngc_back_pain_and_opioid_guidelines() -> list[Guideline]:
    return [g for g in ngc_guidelines() if any(word in g.title.lower() for word in BACK_PAIN_AND_OPIOID_WORDS)]


def cn_laws_documents() -> list[SourceDocument]:
    folder = SHARED_DATA / "cn_laws"
    return [
        SourceDocument(f"{entry['key']}.txt", (folder / f"{entry['key']}.txt").read_bytes(), entry["key"],
                       entry["title"])
        for entry in json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    ]


def lecoqa_small_business_articles() -> list[SourceDocument]:
    articles, _ = lecoqa_evaluation_set()
    return [
        SourceDocument(f"{a['id']}.txt", a["text"].encode(), a["id"], a["title"])
        for a in articles if any(word in a["text"] for word in SMALL_BUSINESS_WORDS)
    ]
