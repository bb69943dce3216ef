"""Policy matching over real regulations: the 7 cn_laws documents and the LeCoQA statute articles on 个体工商户 and
small enterprises, for a 个体工商户 and a small data-services enterprise.

What must hold is that a condition shown to the business is cited from a clause that states a condition on the
applicant: not a definition, not a duty of the registering authority, not a rule on everyone. The clause classifier is
checked on the regulations' own text; retrieval is checked to hand the model the article that states the conditions;
and a run with the local model is checked to keep only such clauses, each quoted exactly and cited by article."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from assistant.policies.clauses import applicant_condition_missing, clause_label
from assistant.policies.profile import BusinessProfile
from assistant.policies.prompts import clause_query
from assistant.policies.services import policies_match
from bench.datasets.portal import cn_laws_documents, lecoqa_small_business_articles
from ingestion.models import Chunk, Collection, Document
from retrieval.access import OPERATOR
from retrieval.services import passages_retrieve
from tests.factories import ingest_documents

TODAY = date(2026, 11, 30)
SOLE_TRADER = BusinessProfile(
    province="四川省", city="成都市", industry="餐饮业", enterprise_type="个体工商户", size="micro",
    founded=date(2025, 6, 1), employees=0, annual_revenue=400_000,
    notes="无雇工的个体工商户，想了解登记、社会保险和扶持政策",
)
DATA_SME = BusinessProfile(
    province="四川省", city="成都市", industry="软件和信息技术服务业", enterprise_type="有限责任公司", size="small",
    founded=date(2019, 5, 1), employees=80, annual_revenue=30_000_000, rd_ratio=0.06, certificates=["高新技术企业"],
    notes="希望成为公共数据资源授权运营机构，开展数据加工和数据产品服务",
)
ELIGIBILITY = "运营机构应具备数据资源加工、运营所需的管理和技术服务能力"


def law_lines(shared_data: Path, key: str, *needles: str) -> list[str]:
    text = (shared_data / "cn_laws" / f"{key}.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    found = [next(line for line in lines if needle in line) for needle in needles]
    return [re.sub(r"^第[一二三四五六七八九十百]+条\s*", "", line) for line in found]


def test_clauses_of_real_regulations_are_told_apart(shared_data: Path) -> None:
    """Read from the files: what an operating institution must have is a condition; definitions, the registering
    authority's duties and rules on everyone are not."""
    conditions = law_lines(shared_data, "sc_op_measures", ELIGIBILITY)
    conditions += law_lines(shared_data, "pip_law", "确需向中华人民共和国境外提供个人信息的，应当具备下列条件之一")
    definitions = law_lines(shared_data, "data_sec_law", "本法所称数据，是指", "数据安全，是指")
    definitions += law_lines(shared_data, "sc_op_measures", "授权运营，是指县级以上地方人民政府")
    duties = law_lines(shared_data, "sc_reg_measures", "登记机构应自收到申请之日起，3个工作日内予以受理")
    duties += law_lines(shared_data, "sc_op_measures", "实施机构应定期对其授权的运营机构进行评估")
    for clause in conditions:
        assert applicant_condition_missing(passage=clause, start=0, clause=clause) == "", clause
    for clause in definitions:
        assert "定义" in applicant_condition_missing(passage=clause, start=0, clause=clause), clause
    for clause in duties:
        assert "不是对申请者的条件" in applicant_condition_missing(passage=clause, start=0, clause=clause), clause
    # An item of a list under "应当具备下列条件" is a condition, whatever its own words.
    article = next(p for p in (shared_data / "cn_laws" / "pip_law.txt").read_text(encoding="utf-8").split("第三十九条")
                   if "应当具备下列条件之一" in p)
    item = re.search(r"（二）[^\n]+", article).group(0)
    assert applicant_condition_missing(passage=article, start=article.index(item), clause=item) == ""


@pytest.fixture
def regulations(shared_data: Path) -> Collection:
    ingest_documents(documents=cn_laws_documents(), collection="regulations")
    articles = lecoqa_small_business_articles()
    assert len(articles) >= 5
    return ingest_documents(documents=articles, collection="regulations")


@pytest.mark.django_db
def test_clause_search_hands_the_model_the_article_that_states_the_conditions(regulations: Collection) -> None:
    measures = Document.objects.get(collection=regulations, external_id="sc_op_measures")
    clauses = passages_retrieve(reader=OPERATOR, query=clause_query(DATA_SME), collection_ids=[regulations.id],
                                document_ids=[measures.id], k=4)
    eligibility = [p.chunk for p in clauses.passages if ELIGIBILITY in p.chunk.text]
    assert eligibility, [p.chunk.text[:60] for p in clauses.passages]
    label = clause_label(eligibility[0])
    assert re.fullmatch(r"《四川省公共数据资源授权运营实施办法》第[一二三四五六七八九十]+条", label), label
    # A statute article filed as its own document is cited as 《law》第X条, not as part of the title.
    article = Chunk.objects.select_related("document").filter(
        document__collection=regulations, document__title="中华人民共和国民法典第五十四条").first()
    assert article is not None and clause_label(article) == "《中华人民共和国民法典》第五十四条"


@pytest.mark.django_db
@pytest.mark.parametrize("profile", [SOLE_TRADER, DATA_SME], ids=["sole_trader", "data_sme"])
def test_conditions_shown_cite_clauses_that_state_them(local_llm: str, regulations: Collection,
                                                       profile: BusinessProfile) -> None:
    result = policies_match(
        user=OPERATOR, profile=profile, collection_ids=[regulations.id], max_policies=3, today=TODAY
    )
    assert result.policies and all(not p.error for p in result.policies)
    titles = {d.title for d in Document.objects.filter(collection=regulations)}
    assert {p.document_title for p in result.policies} <= titles
    shown = [c for p in result.policies for c in p.conditions]
    for policy in result.policies:
        for item in [*policy.conditions, *policy.benefits]:
            citation = item.citation
            chunk = Chunk.objects.select_related("document").get(id=citation["chunk_id"])
            assert chunk.document_id == policy.document_id
            assert chunk.text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] != ""
            assert citation["clause"].startswith(f"《{chunk.document.title.split('第')[0]}")
        for condition in policy.conditions:
            quote = condition.citation["quote"]
            assert not re.search(r"是指|本(?:办法|条例|规范|法)所称", quote), quote
            authority = r"(?:[（(][一二三四五六七八九十]+[)）])?(?:登记机构|实施机构|任何单位和个人)"
            assert not re.match(authority, quote), quote
            assert condition.status in ("met", "not_met", "unknown") and condition.reason
        for left_out in policy.unsupported:
            assert left_out.status == ""  # never decided on
    # The ranking puts policies with conditions all met, then fewest unknown, first.
    assert [p.rank_key() for p in result.policies] == sorted(p.rank_key() for p in result.policies)
    print(f"\n{profile.enterprise_type}: {len(shown)} conditions shown over {len(result.policies)} policies")
