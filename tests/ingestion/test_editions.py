"""Editions and repeals through real ingestion, on real documents: the Chinese specification 《公共数据资源授权运营实施
规范（试行）》 (cn_laws) and NGC guideline summaries.

The final edition and the repealing notice are written here on the real trial text (no later edition is in the shared
data): the final edition is the trial's own text under its final title, issued later by the same bodies, as the NDRC
issues final texts. The negatives are all real: two real guidelines titled "Induction of labour" by different bodies,
whose "updates a previous version" clauses name a 2001 guideline of that title, and near-identical titles by one body.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from pathlib import Path

import pytest

from bench.datasets.ngc import Guideline, ngc_guidelines, ngc_markdown
from ingestion.editions import (
    REPLACES,
    clause_names_title,
    issuer_find,
    source_clauses_find,
    work_title,
)
from ingestion.models import Collection, Document, DocumentRelation
from ingestion.relations import relation_unlink, relations_detect
from ingestion.selectors import superseding_documents
from retrieval.access import OPERATOR
from retrieval.editions import ALL_EDITIONS, CURRENT_ONLY
from retrieval.services import passages_retrieve
from tests.factories import ingest_bytes

TRIAL_TITLE = "公共数据资源授权运营实施规范（试行）"
FINAL_TITLE = "公共数据资源授权运营实施规范"
ISSUERS = "国家发展改革委、国家数据局"
QUERY = "公共数据资源授权运营 运营机构 授权运营协议"


def trial_text(shared_data: Path) -> str:
    return (shared_data / "cn_laws" / "spec_trial.txt").read_text(encoding="utf-8")


def final_edition_text(shared_data: Path) -> str:
    """The trial's own articles under the final title, with the head an issued text carries."""
    body = trial_text(shared_data).split("\n", 1)[1]
    return f"{FINAL_TITLE}\n发布机构：{ISSUERS}\n2026年3月1日\n{body}"


def repeal_notice_text() -> str:
    return (
        "国家发展改革委 国家数据局关于印发《公共数据资源授权运营实施规范》的通知\n"
        f"发布机构：{ISSUERS}\n2026年3月1日\n"
        "各省、自治区、直辖市发展改革委、数据管理部门：\n"
        "现将《公共数据资源授权运营实施规范》印发给你们，请认真贯彻执行。"
        f"本规范自2026年3月1日起施行，原《{TRIAL_TITLE}》同时废止。\n"
    )


def ingest_trial(shared_data: Path, collection: str) -> Document:
    trial = ingest_bytes(name="spec_trial.txt", content=trial_text(shared_data).encode(), collection=collection)
    assert trial.status == Document.Status.INDEXED, trial.failure_reason
    # The trial's text carries no date; an admin enters the publication date (manifest.json: 2025-01-16).
    Document.objects.filter(id=trial.id).update(issued_on=date(2025, 1, 16), issued_as="2025年1月16日")
    trial.refresh_from_db()
    return trial


def ngc(doc_ids: set[str]) -> dict[str, Guideline]:
    return {g.doc_id: g for g in ngc_guidelines() if g.doc_id in doc_ids}


# --- reading the text -----------------------------------------------------------------------------------------------


def test_the_work_title_drops_years_and_edition_words_only() -> None:
    assert work_title("中国高血压防治指南（2018年修订版）") == work_title("《中国高血压防治指南2024年版》") != ""
    assert work_title(TRIAL_TITLE) == work_title(FINAL_TITLE)
    assert work_title("Management of hypertension: 2019 update") == work_title("Management of hypertension")
    assert work_title("Asthma (2nd edition)") == work_title("Asthma") == "asthma"
    assert work_title("Prevention of pressure ulcers") != work_title("Treatment of pressure ulcers")
    assert work_title("指南") == ""  # names no particular work


def test_issuers_are_read_from_real_heads(shared_data: Path) -> None:
    guidelines = ngc({"ngc-7176", "ngc-10091"})
    assert issuer_find(ngc_markdown(guideline=guidelines["ngc-10091"])) == (
        "Society of Obstetricians and Gynaecologists of Canada")
    assert issuer_find(ngc_markdown(guideline=guidelines["ngc-7176"])) == "National Guideline Alliance"
    assert issuer_find(final_edition_text(shared_data)) == ISSUERS


def test_repeal_and_replacement_clauses_are_read_with_their_sentence(shared_data: Path) -> None:
    (clause,) = source_clauses_find(repeal_notice_text())
    assert clause.kind == REPLACES and clause.named == TRIAL_TITLE
    assert clause.sentence == f"本规范自2026年3月1日起施行，原《{TRIAL_TITLE}》同时废止。"
    # No real law of cn_laws repeals anything: "本法自2021年9月1日起施行。" is not a clause.
    for name in ("data_sec_law.txt", "pip_law.txt", "net_data_reg.txt", "spec_trial.txt"):
        assert source_clauses_find((shared_data / "cn_laws" / name).read_text(encoding="utf-8")) == []
    # The NGC's "updates a previous version: <citation>" names the earlier guideline, with its year.
    status = next(f["text"] for f in ngc({"ngc-7176"})["ngc-7176"].fields if f["field"] == "Guideline Status")
    (update,) = source_clauses_find(status)
    assert update.sentence.startswith("This guideline updates a previous version: Royal College")
    assert clause_names_title(clause=update, title="Induction of labour.") and update.years == {2001}


# --- through ingestion ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_later_edition_in_another_set_supersedes_the_trial_and_ranks_first(shared_data: Path) -> None:
    trial = ingest_trial(shared_data, "trial set")
    final = ingest_bytes(name="spec_final.txt", content=final_edition_text(shared_data).encode(),
                         collection="final set")
    assert final.status == Document.Status.INDEXED and final.issued_on == date(2026, 3, 1)
    assert final.issuer == ISSUERS and final.work_title == trial.work_title

    (relation,) = DocumentRelation.objects.all()
    assert (relation.newer, relation.older, relation.kind) == (final, trial, DocumentRelation.Kind.EDITION)
    trial.refresh_from_db()
    assert trial.status == Document.Status.INDEXED  # kept, viewable, searchable

    both = [trial.collection_id, final.collection_id]
    in_force = superseding_documents(document_ids=[trial.id], collection_ids=both)[trial.id]
    assert (in_force.by_id, in_force.superseded) == (final.id, True)
    # A reader of the trial's set only is told nothing of a document they cannot read.
    assert superseding_documents(document_ids=[trial.id], collection_ids=[trial.collection_id]) == {}

    # The same articles in both editions: the edition in force takes the better places, the old one stays below.
    ranked = passages_retrieve(query=QUERY, collection_ids=both, reader=OPERATOR, k=6).passages
    documents = [p.chunk.document_id for p in ranked]
    assert set(documents) == {trial.id, final.id}
    first_old = documents.index(trial.id)
    assert all(d == final.id for d in documents[:first_old]) and documents[0] == final.id
    unordered = passages_retrieve(query=QUERY, collection_ids=both, reader=OPERATOR, k=6, editions=ALL_EDITIONS)
    assert sorted(p.chunk.id for p in unordered.passages) == sorted(p.chunk.id for p in ranked)
    current = passages_retrieve(query=QUERY, collection_ids=both, reader=OPERATOR, k=6, editions=CURRENT_ONLY)
    assert {p.chunk.document_id for p in current.passages} == {final.id}
    # On request, the superseded edition is still searched alone.
    alone = passages_retrieve(query=QUERY, collection_ids=both, reader=OPERATOR, k=3, document_ids=[trial.id])
    assert {p.chunk.document_id for p in alone.passages} == {trial.id}


@pytest.mark.django_db
def test_an_unlinked_edition_is_never_linked_again(shared_data: Path) -> None:
    trial = ingest_trial(shared_data, "trial set")
    ingest_bytes(name="spec_final.txt", content=final_edition_text(shared_data).encode(), collection="trial set")
    relation = DocumentRelation.objects.get()
    relation_unlink(relation=relation)
    assert relations_detect(documents=list(Document.objects.all())) == []
    assert superseding_documents(document_ids=[trial.id], collection_ids=[trial.collection_id]) == {}


@pytest.mark.django_db
@pytest.mark.parametrize("notice_first", [False, True])
def test_a_repealing_notice_links_the_named_document_whichever_arrives_first(
    shared_data: Path, notice_first: bool
) -> None:
    def notice() -> Document:
        return ingest_bytes(name="notice.txt", content=repeal_notice_text().encode(), collection="notices")

    if notice_first:
        repealing = notice()
        pending = DocumentRelation.objects.get()
        assert pending.older is None and pending.named == TRIAL_TITLE  # kept until the named document arrives
        trial = ingest_trial(shared_data, "specifications")
    else:
        trial = ingest_trial(shared_data, "specifications")
        repealing = notice()
    relation = DocumentRelation.objects.get(older=trial)
    assert (relation.newer, relation.kind) == (repealing, DocumentRelation.Kind.REPLACES)
    assert relation.sentence == f"本规范自2026年3月1日起施行，原《{TRIAL_TITLE}》同时废止。"
    readable = list(Collection.objects.values_list("id", flat=True))
    assert superseding_documents(document_ids=[trial.id], collection_ids=readable)[trial.id].by_id == repealing.id


@pytest.mark.django_db
def test_real_guidelines_of_one_title_by_different_bodies_are_not_editions(shared_data: Path) -> None:
    """NICE's 2008 and the SOGC's 2013 "Induction of labour." are different works; each names a 2001 guideline
    of that title as its previous version, which is neither of them."""
    guidelines = ngc({"ngc-7176", "ngc-10091", "ngc-10603", "ngc-10605"})
    for guideline in guidelines.values():
        document = ingest_bytes(name=f"{guideline.doc_id}.md", content=ngc_markdown(guideline=guideline).encode(),
                                collection="ngc", external_id=guideline.doc_id)
        assert document.status == Document.Status.INDEXED, document.failure_reason
    nice, sogc = Document.objects.get(external_id="ngc-7176"), Document.objects.get(external_id="ngc-10091")
    assert nice.work_title == sogc.work_title and nice.issued_on.year == 2008 and sogc.issued_on.year == 2013
    assert not DocumentRelation.objects.exclude(older=None).exists()
    # Each names its previous version, which is in no set: the clauses wait for it.
    pending = DocumentRelation.objects.all()
    assert {r.newer.external_id for r in pending} == set(guidelines)
    assert all(re.match(r"This guideline updates (a )?previous versions?:", r.sentence) for r in pending)


@pytest.mark.django_db
def test_documents_of_one_title_in_one_set_are_parts_not_editions(shared_data: Path) -> None:
    """Each named by its own id (a guideline's passages loaded as documents, as the cpgQA set is): dates read from
    their text never make one the superseded edition of another."""
    for number, issued in enumerate(("2025年6月1日", "2026年3月1日")):
        text = final_edition_text(shared_data).replace("2026年3月1日", issued)
        document = ingest_bytes(name=f"part-{number}.txt", content=text.encode(), collection="one set",
                                external_id=f"part-{number}")
        assert document.status == Document.Status.INDEXED
    assert not DocumentRelation.objects.exists()
    # The same two in two sets are editions: the later supersedes the earlier.
    later = ingest_bytes(name="elsewhere.txt", content=final_edition_text(shared_data).encode(), collection="other")
    assert DocumentRelation.objects.filter(newer=later, kind=DocumentRelation.Kind.EDITION).count() == 1


def test_the_ngc_corpus_has_no_two_summaries_of_one_work_and_one_body(shared_data: Path) -> None:
    """The measurement the bench repeats: over all 1,416 real summaries, exact work titles by compatible bodies."""
    from ingestion.editions import issuers_compatible

    source = shared_data / "ngc_guidelines" / "ngc_summaries.jsonl.gz"
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    by_work: dict[str, list[str]] = {}
    for record in records:
        guideline = Guideline(doc_id=record["doc_id"], title=record["title"].strip(), fields=record["fields"])
        issuer = issuer_find(ngc_markdown(guideline=guideline))
        by_work.setdefault(work_title(guideline.title), []).append(issuer)
    same_work = {work: issuers for work, issuers in by_work.items() if work and len(issuers) > 1}
    assert set(same_work) == {work_title("Induction of labour.")}
    assert not issuers_compatible(*same_work[work_title("Induction of labour.")])


@pytest.mark.django_db
@pytest.mark.parametrize("replacing_first", [False, True])
def test_an_english_replacement_clause_links_the_guideline_of_the_year_it_cites(
    shared_data: Path, replacing_first: bool
) -> None:
    """A later guideline citing NICE's 2008 "Induction of labour." as the one it replaces links that real summary,
    not the SOGC's 2013 summary of the same title, whichever arrives first."""
    replacing = ("# Inducing labour\n\nDate Released: 2021 Nov 4\n\n## Guideline Status\n\n"
                 "This guideline replaces: National Collaborating Centre for Women's and Children's Health. Induction "
                 "of labour. London (UK): National Institute for Health and Clinical Excellence (NICE); 2008 Jul. "
                 "(Clinical guideline; no. 70).\n")

    def replacing_ingest() -> Document:
        return ingest_bytes(name="ng207.md", content=replacing.encode(), collection="guidelines")

    new = replacing_ingest() if replacing_first else None
    for guideline in ngc({"ngc-7176", "ngc-10091"}).values():
        ingest_bytes(name=f"{guideline.doc_id}.md", content=ngc_markdown(guideline=guideline).encode(),
                     collection="guidelines", external_id=guideline.doc_id)
    new = new or replacing_ingest()
    nice = Document.objects.get(external_id="ngc-7176")
    relation = DocumentRelation.objects.get(newer=new)
    assert (relation.older, relation.kind) == (nice, DocumentRelation.Kind.REPLACES)
    assert relation.sentence.startswith("This guideline replaces: National Collaborating Centre")


@pytest.mark.django_db
def test_an_amending_decision_links_the_document_which_stays_in_force(shared_data: Path) -> None:
    trial = ingest_trial(shared_data, "specifications")
    decision = (f"国家发展改革委 国家数据局关于修改《{TRIAL_TITLE}》的决定\n发布机构：{ISSUERS}\n2025年9月1日\n"
                "一、将第十条修改为：运营机构应当建立健全数据安全管理制度。\n本决定自发布之日起施行。\n")
    amending = ingest_bytes(name="decision.txt", content=decision.encode(), collection="specifications")
    relation = DocumentRelation.objects.get(older=trial)
    assert (relation.newer, relation.kind) == (amending, DocumentRelation.Kind.AMENDS)
    note = superseding_documents(document_ids=[trial.id], collection_ids=[trial.collection_id])[trial.id]
    assert (note.by_id, note.superseded) == (amending.id, False)  # amended, still in force
    current = passages_retrieve(query=QUERY, collection_ids=[trial.collection_id], reader=OPERATOR, k=5,
                                editions=CURRENT_ONLY)
    assert trial.id in {p.chunk.document_id for p in current.passages}
