"""Policy matching: the rule checks on real clause texts (the sample SME policy's 第四条/第五条, cn_laws articles)
for a 个体工商户 and a small-enterprise profile, profile validation, quote verification and clause citation over the
ingested policy, ranking, CSV, and one run against the local model."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from assistant.demo.sample_set import SME_POLICY_FILE_NAME, SME_POLICY_MARKUP, SME_POLICY_TITLE, sample_set_write
from assistant.grounding.reply import Citation
from assistant.policies.clauses import (
    clause_label,
    exclusion_check,
    exclusion_clause,
    policy_items_check,
    policy_reply_parse,
)
from assistant.policies.export import policy_matches_csv
from assistant.policies.profile import BusinessProfile, ProfileInvalid, profile_validate
from assistant.policies.results import PolicyItem, PolicyMatch, PolicyMatchResult
from assistant.policies.rules import MET, NOT_MET, UNKNOWN, ConditionCheck, cn_number, condition_check, threshold_find
from assistant.policies.services import policies_match
from ingestion.models import Chunk, Collection
from retrieval.access import OPERATOR
from tests.factories import ingest_file

TODAY = date(2026, 11, 30)
SMALL = BusinessProfile(
    province="广东省", city="深圳市", district="南山区", industry="软件和信息技术服务业",
    enterprise_type="有限责任公司",
    size="small", founded=date(2020, 3, 1), employees=120, annual_revenue=8_000_0000, rd_ratio=0.05,
    certificates=["高新技术企业"],
)
SOLE_TRADER = BusinessProfile(  # 个体工商户: no legal person, no R&D ratio given, opened seven months ago
    province="广东省", city="深圳市", industry="餐饮业", enterprise_type="个体工商户", size="micro",
    founded=date(2026, 4, 20), employees=4, annual_revenue=600_000,
)


def sme_clause(start: str) -> str:
    """One line of the sample SME policy as written (the clause the ingested chunk holds)."""
    lines = [line for line in SME_POLICY_MARKUP.splitlines() if line.startswith(start)]
    assert len(lines) == 1, start
    return lines[0]


def test_chinese_numbers_and_thresholds() -> None:
    assert [cn_number(t) for t in ("3", "3.5", "三", "十二", "三百", "一千五百", "两")] == [3, 3.5, 3, 12, 300, 1500, 2]
    assert threshold_find("上一年度营业收入不超过2亿元", r"亿元|万元|元").holds(2e8)
    assert not threshold_find("上一年度营业收入不超过2亿元", r"亿元|万元|元").holds(2.01e8)
    assert threshold_find("职工50人以上", r"人").op == ">="
    fifty = threshold_find("营业收入超过五千万元", r"亿元|万元|元")
    assert fifty is not None and fifty.value == 5e7 and not fifty.holds(5e7)  # 超过 excludes the number
    assert threshold_find("成立不满三年", r"年").op == "<"
    assert threshold_find("研发投入比例不低于3%", r"%|％").value == 3


@pytest.mark.parametrize(
    ("clause", "small", "sole_trader"),
    [
        ("（一）在本市注册登记满一年", UNKNOWN, NOT_MET),  # 本市 and 依法纳税 need review; no legal person, too young
        ("（二）上一年度营业收入不超过2亿元", MET, MET),
        ("（三）职工人数不超过300人", MET, MET),
        ("（四）上一年度研发投入占营业收入比例不低于3%", MET, UNKNOWN),
        ("（五）近三年内未发生重大安全", UNKNOWN, UNKNOWN),
        ("（一）持有有效期内的高新技术企业证书", MET, NOT_MET),
        ("（二）被认定为专精特新中小企业", NOT_MET, NOT_MET),
        ("（三）拥有与主营业务相关的发明专利", UNKNOWN, UNKNOWN),
        ("第二条", UNKNOWN, NOT_MET),  # 具有独立法人资格的中小企业: a 个体工商户 is no legal person
    ],
)
def test_sample_policy_conditions_for_two_profiles(clause: str, small: str, sole_trader: str) -> None:
    text = sme_clause(clause)
    assert condition_check(text=text, profile=SMALL, today=TODAY).status == small
    assert condition_check(text=text, profile=SOLE_TRADER, today=TODAY).status == sole_trader


def test_reasons_say_why_not_met_and_which_fact_is_missing() -> None:
    rd = condition_check(text=sme_clause("（四）上一年度"), profile=SOLE_TRADER, today=TODAY)
    assert rd.missing == "rd_ratio" and "3%" in rd.reason
    young = condition_check(text="在本市注册登记满一年，具有独立法人资格，依法纳税", profile=SOLE_TRADER, today=TODAY)
    assert young.status == NOT_MET and "个体工商户不具有法人资格" in young.reason and "要求不低于1年" in young.reason
    big = BusinessProfile(size="medium", employees=450, annual_revenue=3.5e8, rd_ratio=0.02)
    revenue = condition_check(text=sme_clause("（二）上一年度"), profile=big, today=TODAY)
    assert revenue.status == NOT_MET and "350000000" in revenue.reason and "200000000" in revenue.reason
    assert condition_check(text=sme_clause("（三）职工"), profile=big, today=TODAY).status == NOT_MET
    assert condition_check(text=sme_clause("（四）上一年度"), profile=big, today=TODAY).status == NOT_MET
    unknown = condition_check(text=sme_clause("（三）职工"), profile=BusinessProfile(city="深圳市"), today=TODAY)
    assert unknown.status == UNKNOWN and unknown.missing == "employees"
    # The lead-in of the list is no condition; the region named by the profile is met.
    assert condition_check(text="申请本措施支持的企业，应当同时符合下列条件：注册在深圳市", profile=SMALL,
                           today=TODAY).status == MET


def test_cn_laws_clauses_the_rules_cannot_read_are_unknown_for_review(shared_data: Path) -> None:
    """Real statute text: a qualification without a profile fact, and a threshold on something no profile holds
    (1000万人 of personal data is not a headcount), stay "needs review" rather than being misread."""
    measures = (shared_data / "cn_laws" / "sc_op_measures.txt").read_text(encoding="utf-8")
    qualification = next(line.strip() for line in measures.splitlines() if "运营机构应具备数据资源加工" in line)
    regulation = (shared_data / "cn_laws" / "net_data_reg.txt").read_text(encoding="utf-8")
    volume = next(line.strip() for line in regulation.splitlines() if "处理1000万人以上个人信息" in line)
    for text in (qualification, volume):
        for profile in (SMALL, SOLE_TRADER):
            checked = condition_check(text=text, profile=profile, today=TODAY)
            assert checked.status == UNKNOWN and checked.missing == "" and "needs review" in checked.reason


def test_profile_validation_names_every_bad_field() -> None:
    assert profile_validate(profile=SMALL, today=TODAY) is SMALL
    bad = BusinessProfile(size="tiny", founded=date(2030, 1, 1), employees=-1, rd_ratio=3.0, certificates=[" "])
    with pytest.raises(ProfileInvalid) as raised:
        profile_validate(profile=bad, today=TODAY)
    assert set(raised.value.errors) == {"size", "founded", "employees", "rd_ratio", "certificates"}
    with pytest.raises(ProfileInvalid) as raised:
        profile_validate(profile=BusinessProfile(notes="想了解补贴"), today=TODAY)
    assert set(raised.value.errors) == {"profile"}


def test_reply_parse_is_tolerant_of_a_reply_cut_short() -> None:
    read = policy_reply_parse('{"conditions": [{"text": "职工人数不超过300人", "passage": "1", '
                              '"quote": "职工人数不超过300人"}, {"text": "营业收入不超过2亿元", "pass')
    legacy = Citation(1, quote="职工人数不超过300人")
    assert read["conditions"] == [{"text": "职工人数不超过300人", "citations": [legacy]}]
    assert read["benefits"] == []  # the condition the limit cut is no condition
    read = policy_reply_parse('{"conditions": [{"text": "职工人数不超过300人", "cite": ["1.2"]}], "benefits": []}')
    assert read["conditions"] == [{"text": "职工人数不超过300人", "citations": [Citation(1, sentence=2)]}]


@pytest.fixture
def sme_policy(tmp_path: Path) -> Collection:
    paths = {p.name: p for p in sample_set_write(directory=tmp_path / "sample")}
    ingest_file(path=paths[SME_POLICY_FILE_NAME], collection="policies")
    return Collection.objects.get(name="policies")


def _article(collection: Collection, article: str) -> Chunk:
    return Chunk.objects.select_related("document").get(collection=collection,
                                                        section_path__endswith=f"> {article}")


@pytest.mark.django_db
def test_items_are_verified_split_per_listed_condition_and_cited_by_article(sme_policy: Collection) -> None:
    article_4, article_7 = _article(sme_policy, "第四条"), _article(sme_policy, "第七条")
    assert clause_label(article_4) == f"《{SME_POLICY_TITLE}》第四条"
    extracted = {
        "conditions": [
            # The small model copies the whole article as one condition: checked and cited item by item.
            {"text": re.sub(r"\s+", "", article_4.text), "passage": 1, "quote": "职工人数不超过300人"},
            {"text": "企业须在海外上市满十年", "passage": 1, "quote": "在纳斯达克上市满十年"},  # nowhere in the text
        ],
        "benefits": [{"text": "研发费用补助最高不超过50万元", "passage": 2,
                      "quote": "单个企业每年补助金额最高不超过50万元"}],
    }
    conditions, benefits, unsupported = policy_items_check(extracted=extracted, chunks=[article_4, article_7],
                                                           profile=SMALL, today=TODAY)
    assert [c.status for c in conditions] == [UNKNOWN, MET, MET, MET, UNKNOWN]
    for condition in conditions:
        citation = condition.citation
        assert citation["clause"] == f"《{SME_POLICY_TITLE}》第四条"
        assert article_4.text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] == condition.text
        assert re.match(r"（[一二三四五]）", citation["quote"])
    assert [u.text for u in unsupported] == ["企业须在海外上市满十年"] and unsupported[0].status == ""
    assert benefits[0].citation["clause"].endswith("第七条") and "50万元" in benefits[0].citation["quote"]


@pytest.mark.django_db
def test_a_condition_shows_the_clause_it_was_checked_on_not_a_wider_text_of_the_model(sme_policy: Collection) -> None:
    """Seen with the local model: the whole article, reworded, as the condition, quoting only its item (三). The
    status is that of item (三), so item (三) is what the business is shown."""
    article_4 = _article(sme_policy, "第四条")
    reworded = ("企业应当同时符合下列条件：一、在本市注册登记满一年；二、上一年度营业收入不超过2亿元；"
                "三、职工人数不超过300人；四、上一年度研发投入占营业收入比例不低于3%；五、近三年内未发生重大安全、质量、环境事故")
    extracted = {"conditions": [{"text": reworded, "passage": 1, "quote": "（三）职工人数不超过300人；"}],
                 "benefits": []}
    conditions, _, _ = policy_items_check(extracted=extracted, chunks=[article_4], profile=SMALL, today=TODAY)
    assert [(c.status, c.text) for c in conditions] == [(MET, conditions[0].citation["quote"])]
    assert conditions[0].text.startswith("（三）职工人数不超过300人")


@pytest.mark.django_db
def test_excluding_situations_are_read_the_other_way(sme_policy: Collection) -> None:
    """第六条 lists situations that rule a business out: matching one of them is "not met"."""
    article_4, article_6 = _article(sme_policy, "第四条"), _article(sme_policy, "第六条")
    assert exclusion_clause(passage=article_6.text, start=article_6.text.index("（一）"))
    assert not exclusion_clause(passage=article_4.text, start=article_4.text.index("（三）"))
    assert exclusion_check(ConditionCheck(MET, "职工人数500人")).status == NOT_MET
    assert exclusion_check(ConditionCheck(NOT_MET, "职工人数120人")).status == MET
    assert exclusion_check(ConditionCheck(UNKNOWN, "needs review")).status == UNKNOWN


def _policy(title: str, *statuses: str) -> PolicyMatch:
    policy = PolicyMatch(document_id=len(title), document_title=title)
    policy.conditions = [PolicyItem("condition", f"条件{i}", True, 1.0, {"clause": f"《{title}》第{i}条", "quote": "q"},
                                    status=s, reason=f"原因{i}") for i, s in enumerate(statuses, start=1)]
    return policy


def test_ranking_all_met_first_then_fewest_unknown_then_fewest_not_met() -> None:
    policies = [_policy("甲", MET, NOT_MET), _policy("乙", UNKNOWN, UNKNOWN), _policy("丙", MET, MET),
                _policy("丁", MET, UNKNOWN), _policy("戊", NOT_MET, NOT_MET), _policy("己")]
    ranked = sorted(policies, key=lambda p: p.rank_key())
    assert [p.document_title for p in ranked] == ["丙", "甲", "戊", "丁", "乙", "己"]
    assert ranked[1].to_qualify() == ["不满足：条件2（原因2）"]
    assert ranked[3].to_qualify() == ["待确认：条件2（原因2）"]


def test_csv_has_a_row_per_item_in_rank_order() -> None:
    first, second = _policy("丙", MET), _policy("甲", NOT_MET)
    first.benefits = [PolicyItem("benefit", "补助50万元", True, 1.0, {"clause": "《丙》第7条", "quote": "50万元"})]
    rows = list(csv.reader(io.StringIO(policy_matches_csv(
        result=PolicyMatchResult(profile=SMALL, policies=[first, second])))))
    assert rows[0][:4] == ["rank", "policy", "fit", "kind"]
    assert [(r[0], r[1], r[3], r[5], r[7]) for r in rows[1:]] == [
        ("1", "丙", "condition", "符合", "《丙》第1条"), ("1", "丙", "benefit", "", "《丙》第7条"),
        ("2", "甲", "condition", "不符合", "《甲》第1条")]


@pytest.mark.django_db
def test_small_enterprise_matched_against_the_sme_policy_by_the_local_model(
    local_llm: str, sme_policy: Collection
) -> None:
    """One real run: every kept condition and benefit cites a clause whose text holds its quote; the conditions of
    第四条 the model finds are checked by rules; the small model may miss some, so the counts are not asserted."""
    result = policies_match(user=OPERATOR, profile=SMALL, collection_ids=[sme_policy.id], max_policies=1, today=TODAY)
    assert [p.document_title for p in result.policies] == [SME_POLICY_TITLE]
    policy = result.policies[0]
    assert not policy.error and policy.timings["answer_tokens"] > 0
    assert policy.conditions, policy.as_dict()
    for item in [*policy.conditions, *policy.benefits]:
        citation = item.citation
        chunk = Chunk.objects.get(id=citation["chunk_id"])
        assert chunk.text[citation["quote_start"] : citation["quote_end"]] == citation["quote"] != ""
        assert re.fullmatch(rf"《{re.escape(SME_POLICY_TITLE)}》第[一二三四五六七八九十]+条", citation["clause"])
    for condition in policy.conditions:
        assert condition.status in (MET, NOT_MET, UNKNOWN) and condition.reason
    # Where the model finds the eligibility article, its checkable items are decided by the rules, and correctly.
    article_4 = [c for c in policy.conditions if c.citation["clause"].endswith("第四条")]
    for condition in article_4:
        if "职工人数" in condition.citation["quote"] or "营业收入不超过" in condition.citation["quote"]:
            assert condition.status == MET
    assert policy_matches_csv(result=result).count("\n") >= 1 + len(policy.conditions) + len(policy.benefits)
