"""Quantities and disagreements between sources (assistant/grounding/quantities.py), on real sentences from
../shared/data (read at test time, never copied) and a few written ones."""

from __future__ import annotations

from assistant.grounding.quantities import quantities_find, value_conflicts
from bench.disagreements import cn_law, ngc_documents


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


def test_real_fines_differ_between_laws_and_agree_across_numeral_scripts(shared_data) -> None:
    data_law = _sentence(cn_law("data_sec_law"), "拒不改正或者造成大量数据泄露等严重后果的，处五十万元", "。\n；")
    regulation_200 = _sentence(cn_law("net_data_reg"), "拒不改正或者造成大量数据泄露等严重后果的，处50万元", "。\n；")
    regulation_1000 = _sentence(cn_law("net_data_reg"), "拒不改正或者情节严重的，处100万元以上1000万元", "。\n；")
    assert value_conflicts(data_law, regulation_200) == []  # 五十万元..二百万元 == 50万元..200万元
    conflicts = value_conflicts(data_law, regulation_1000)
    assert conflicts and conflicts[0].a.dimension == "money"


def test_real_guidelines_same_threshold_and_article_reference(shared_data) -> None:
    hypertension = ngc_documents()["ngc-10397"]["Major Recommendations"]
    acp = ngc_documents()["ngc-11186"]["Major Recommendations"]
    jnc = _sentence(hypertension, "In the general population aged 60 years or older, initiate", ".\n")
    acp_1 = _sentence(acp, "recommend that clinicians initiate treatment in adults aged 60", "\n")
    assert value_conflicts(jnc, acp_1) == []  # both: 150 mm Hg
    pip = cn_law("pip_law")
    article = pip[pip.index("第六十六条") : pip.index("第六十六条") + 6]
    assert quantities_find(article) == []


def test_chinese_fine_tier_clauses_before_the_amount():
    refusal = "违反本法规定的，由有关部门责令改正，给予警告，没收违法所得；拒不改正的，并处一百万元以下罚款。"
    serious = "情节严重的，由省级以上部门责令改正，没收违法所得，并处五千万元以下或者上一年度营业额百分之五以下罚款。"
    consequence = "造成严重后果的，处一百万元以上五百万元以下罚款，对直接负责的主管人员处五万元以上五十万元以下罚款。"
    other_refusal = "拒不改正或者造成大量数据泄露的，处五十万元以上二百万元以下罚款。"
    assert [(c.a.text, c.b.text) for c in value_conflicts(serious, consequence)] == [
        ("五千万元", "一百万元以上五百万元以下")
    ]  # 情节严重 and 严重后果 are one tier; the fine on the organisation, not on its persons
    assert value_conflicts(refusal, other_refusal)  # ceiling 100万 vs 200万, though 100万 lies inside 50-200万
    cooperate = "拒不配合数据调取的，由有关主管部门责令改正，给予警告，并处五万元以上五十万元以下罚款。"
    assert value_conflicts(refusal, cooperate) == []  # refusing to correct is not refusing to cooperate


def test_ceiling_against_range_compares_upper_ends():
    (ceiling,) = quantities_find("并处一百万元以下罚款")
    assert (ceiling.low, ceiling.high) == (0, 1_000_000)
    assert value_conflicts("拒不改正的，处十万元以下罚款。", "拒不改正的，处一万元以上十万元以下罚款。") == []


def test_unit_conversions_and_hyphenated_units():
    a = "In chronic kidney disease, ESA therapy should not be used to raise haemoglobin above 11.5 g/dL."
    b = "Do not use ESAs in chronic kidney disease to maintain haemoglobin concentration above 120 g/L in any patient."
    assert [(c.a.text, c.b.text) for c in value_conflicts(a, b)] == [("11.5 g/dL", "120 g/L")]
    assert value_conflicts(a, b.replace("120 g/L", "115 g/L")) == []
    sbp = "In people with diabetes and hypertension, initiate drug treatment to lower blood pressure and treat "
    assert value_conflicts(sbp + "to a systolic goal below 140 mm Hg.", sbp + "to a systolic goal below 150 mmHg.")
    found = quantities_find("followed by administration of a 100-g glucose load")
    assert [(q.text, q.low) for q in found] == [("100-g", 100_000)]
    assert value_conflicts(
        "During the test, a fasting glucose is obtained, followed by a 100-g glucose load, and levels are evaluated.",
        "Blood glucose is measured 2 hours after ingestion of a 75-g oral glucose load.",
    )


def test_adults_and_children_are_different_subgroups():
    a = "Chronic cough in adults is a cough lasting longer than 8 weeks."
    assert value_conflicts(a, "Chronic cough in children is a cough lasting longer than 4 weeks.") == []
    assert value_conflicts(a, "Chronic cough in adults is a cough lasting longer than 3 weeks.")
