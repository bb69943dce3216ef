"""Quantities and disagreements between sources (assistant/grounding/quantities.py), on real sentences from
../shared/data (read at test time, never copied) and a few written ones."""

from __future__ import annotations

import pytest

from assistant.grounding.quantities import quantities_find, value_conflicts
from bench.disagreements import DATA, cn_law, ngc_documents

needs_data = pytest.mark.skipif(not (DATA / "cn_laws").exists(), reason="../shared/data not available")


def _sentence(text: str, needle: str, stops: str = "。\n") -> str:
    at = text.index(needle)
    start = max(text.rfind(c, 0, at) for c in stops) + 1
    ends = [i for i in (text.find(c, at) for c in stops) if i != -1]
    return text[start : min(ends) + 1 if ends else len(text)]


def test_english_units_ranges_and_ages():
    found = {q.text: q for q in quantities_find("Give 40 mg daily for 5 to 7 days in adults aged 60 years or older.")}
    assert found["40 mg"].dimension == "dose" and found["40 mg"].low == 40
    assert (found["5 to 7 days"].low, found["5 to 7 days"].high) == (5, 7)
    assert found["60 years"].dimension == "age"


def test_chinese_numerals_money_deadlines_percent():
    found = {q.text: q for q in quantities_find("处五万元以上五十万元以下罚款，二十个工作日内答复，营业额百分之五。")}
    assert (found["五万元以上五十万元以下"].low, found["五万元以上五十万元以下"].high) == (50_000, 500_000)
    assert found["二十个工作日"].low == 20 and found["二十个工作日"].dimension == "working_days"
    assert found["百分之五"].low == 5 and found["百分之五"].unit == "%"


def test_article_numbers_grades_and_citation_years_are_not_quantities():
    text = "第十二条 见 Br J Haematol. 2011;154:1-10 (grade 1, Recommendation 3, Level A)."
    assert [q.text for q in quantities_find(text)] == []


def test_blood_pressure_conflict_and_agreement():
    a = "Treat to a target blood pressure of 140/90 mmHg in adults with diabetes."
    conflicts = value_conflicts(a, "Treat to a target blood pressure of 130/80 mmHg in adults with diabetes.")
    assert [(c.a.text, c.b.text) for c in conflicts] == [("140/90 mmHg", "130/80 mmHg")]
    assert "target" in conflicts[0].subject
    assert value_conflicts(a, "Treat to a target blood pressure of 140/90 mm Hg in adults with diabetes.") == []


def test_units_equivalence_and_ranges_containing_a_value():
    assert value_conflicts("The daily dose of paracetamol is 1 g.", "The daily dose of paracetamol is 1000 mg.") == []
    assert (
        value_conflicts("Offer induction of labour at 41 weeks.", "Offer induction of labour at 41 to 42 weeks.") == []
    )
    assert value_conflicts("Offer induction of labour at 40 weeks.", "Offer induction of labour at 41 to 42 weeks.")


def test_different_subjects_are_not_conflicts():
    assert value_conflicts("Repeat the scan after 6 months.", "Antibiotics are given for 7 days after surgery.") == []


@needs_data
def test_real_fines_differ_between_laws_and_agree_across_numeral_scripts():
    data_law = _sentence(cn_law("data_sec_law"), "拒不改正或者造成大量数据泄露等严重后果的，处五十万元", "。\n；")
    regulation_200 = _sentence(cn_law("net_data_reg"), "拒不改正或者造成大量数据泄露等严重后果的，处50万元", "。\n；")
    regulation_1000 = _sentence(cn_law("net_data_reg"), "拒不改正或者情节严重的，处100万元以上1000万元", "。\n；")
    assert value_conflicts(data_law, regulation_200) == []  # 五十万元..二百万元 == 50万元..200万元
    conflicts = value_conflicts(data_law, regulation_1000)
    assert conflicts and conflicts[0].a.dimension == "money"


@needs_data
def test_real_guidelines_same_threshold_and_article_reference():
    hypertension = ngc_documents()["ngc-10397"]["Major Recommendations"]
    acp = ngc_documents()["ngc-11186"]["Major Recommendations"]
    jnc = _sentence(hypertension, "In the general population aged 60 years or older, initiate", ".\n")
    acp_1 = _sentence(acp, "recommend that clinicians initiate treatment in adults aged 60", "\n")
    assert value_conflicts(jnc, acp_1) == []  # both: 150 mm Hg
    pip = cn_law("pip_law")
    article = pip[pip.index("第六十六条") : pip.index("第六十六条") + 6]
    assert quantities_find(article) == []
