"""The citation support score: what it accepts and refuses, in English and Chinese, at the calibrated threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.grounding.support import CALIBRATED_THRESHOLD, SUPPORT_SCORE_VERSION, support_score

TAPER = (
    "Slower taper is done over months. In the slower taper, reduce the opioid dose by 5 to 10% every 4 weeks, "
    "with pauses in the taper as needed. Do not abruptly discontinue opioids in patients on high doses."
)
BENZODIAZEPINES = (
    "We recommend against the concurrent use of benzodiazepines and opioids. For patients currently on "
    "long-term opioid therapy and benzodiazepines, consider tapering one or both when risks exceed benefits."
)
CONTRACT_LAW = (
    "中华人民共和国民法典第七百一十三条 承租人在租赁物需要维修时可以请求出租人在合理期限内维修。"
    "出租人未履行维修义务的，承租人可以自行维修，维修费用由出租人负担。"
    "因承租人的过错致使租赁物需要维修的，出租人不承担前款规定的维修义务。"
)
LABOUR_LAW = (
    "劳动合同法第十四条 用人单位与劳动者协商一致，可以订立无固定期限劳动合同。"
    "劳动者在该用人单位连续工作满十年的，应当订立无固定期限劳动合同。"
)


def supported(statement: str, evidence: str) -> bool:
    return support_score(statement=statement, evidence=evidence) >= CALIBRATED_THRESHOLD


def test_threshold_and_version_are_set() -> None:
    assert 0.0 < CALIBRATED_THRESHOLD < 1.0
    assert SUPPORT_SCORE_VERSION


@pytest.mark.parametrize(
    ("statement", "evidence"),
    [
        # Inflected and reordered: "recommends", "benzodiazepine ... use" (stemming matches them)
        ("The guideline recommends against concurrent benzodiazepine and opioid use.", BENZODIAZEPINES),
        ("In a slower taper the opioid dose is reduced by 5-10% every four weeks.", TAPER),
        ("Opioids should not be discontinued abruptly in patients on high doses.", TAPER),
        ("承租人在租赁物需要维修时，可以请求出租人在合理期限内维修。", CONTRACT_LAW),
        ("因承租人的过错致使租赁物需要维修的，出租人不承担维修义务。", CONTRACT_LAW),
        # 第713条 is 第七百一十三条; 十年 is 10 years
        ("根据民法典第713条，出租人未履行维修义务的，承租人可以自行维修，费用由出租人负担。", CONTRACT_LAW),
        ("劳动者在用人单位连续工作满10年的，用人单位应当订立无固定期限劳动合同。", LABOUR_LAW),
    ],
)
def test_a_restatement_of_the_passage_is_supported(statement: str, evidence: str) -> None:
    assert supported(statement, evidence), support_score(statement=statement, evidence=evidence)


@pytest.mark.parametrize(
    ("statement", "evidence"),
    [
        ("Naloxone kits should be offered to every patient on long-term opioid therapy.", TAPER),
        ("The guideline recommends against concurrent benzodiazepine and opioid use.", TAPER),
        ("承租人在租赁物需要维修时，可以请求出租人在合理期限内维修。", LABOUR_LAW),
        ("劳动者在用人单位连续工作满10年的，用人单位应当订立无固定期限劳动合同。", CONTRACT_LAW),
    ],
)
def test_a_passage_on_something_else_does_not_support(statement: str, evidence: str) -> None:
    assert not supported(statement, evidence)


@pytest.mark.parametrize(
    "statement",
    [
        "In the slower taper, reduce the opioid dose by 5 to 20% every 4 weeks.",  # dose changed
        "In the slower taper, reduce the opioid dose by 5 to 10% every 8 weeks.",  # interval changed
        "In the slower taper, reduce the opioid dose by 5 to 10% every two weeks.",  # in words
    ],
)
def test_a_changed_number_is_not_supported(statement: str) -> None:
    assert supported("In the slower taper, reduce the opioid dose by 5 to 10% every 4 weeks.", TAPER)
    assert support_score(statement=statement, evidence=TAPER) == 0.0


def test_a_changed_number_in_chinese_is_not_supported() -> None:
    assert (
        support_score(statement="劳动者在用人单位连续工作满5年的，应当订立无固定期限劳动合同。", evidence=LABOUR_LAW)
        == 0.0
    )
    assert (
        support_score(
            statement="根据民法典第714条，出租人未履行维修义务的，承租人可以自行维修。", evidence=CONTRACT_LAW
        )
        == 0.0
    )


@pytest.mark.parametrize(
    ("statement", "evidence"),
    [
        ("Opioids should be abruptly discontinued in patients on high doses.", TAPER),  # "not" dropped
        ("We recommend the concurrent use of benzodiazepines and opioids, not against it.", BENZODIAZEPINES),
        ("In the slower taper, do not pause the taper as needed.", TAPER),  # "not" added
        ("因承租人的过错致使租赁物需要维修的，出租人承担前款规定的维修义务。", CONTRACT_LAW),  # 不 dropped
        ("承租人在租赁物需要维修时不得请求出租人在合理期限内维修。", CONTRACT_LAW),  # 可以 -> 不得
    ],
)
def test_a_negation_the_passage_does_not_make_is_not_supported(statement: str, evidence: str) -> None:
    assert not supported(statement, evidence), support_score(statement=statement, evidence=evidence)


def test_the_score_is_a_share_between_zero_and_one_and_repeatable() -> None:
    statement = "In a slower taper the opioid dose is reduced by 5-10% every four weeks."
    scores = {support_score(statement=statement, evidence=TAPER) for _ in range(3)}
    assert len(scores) == 1
    assert 0.0 <= scores.pop() <= 1.0
    assert support_score(statement="", evidence=TAPER) == 0.0
    assert support_score(statement="！？", evidence=TAPER) == 0.0


def test_calibration_pairs_are_built_from_real_cpgqa_items(shared_data: Path) -> None:
    from bench.support_calibration import cpgqa_pairs, pairs_split

    pairs = cpgqa_pairs(limit=12, seed=3, source=shared_data / "cpgqa" / "dataset" / "cpgQA-v1.0.json")
    kinds = {pair.kind for pair in pairs}
    assert {"sentence", "sentence vs other passage", "term swapped"} <= kinds
    assert any(pair.supported for pair in pairs) and not all(pair.supported for pair in pairs)
    for pair in pairs:
        assert pair.statement.strip() and pair.evidence.strip()
        if pair.kind == "sentence":
            # The sentence holding the gold answer, from its own passage.
            assert " ".join(pair.statement.split()) in " ".join(pair.evidence.split())
        if pair.kind.endswith("vs other passage"):
            assert not pair.supported and pair.statement not in pair.evidence
    sentences = {p.evidence: p.statement for p in pairs if p.kind == "sentence"}
    for pair in pairs:
        if pair.kind in {"number changed", "negation flipped", "term swapped"}:
            assert not pair.supported and pair.statement not in pair.evidence
            assert pair.evidence in sentences  # a copy of a sentence of the same passage, altered
    # The final score accepts the gold sentences and refuses the changed numbers and flipped negations.
    for pair in pairs:
        score = support_score(statement=pair.statement, evidence=pair.evidence)
        if pair.kind == "sentence":
            assert score >= CALIBRATED_THRESHOLD, pair.statement
        if pair.kind == "number changed":
            assert score == 0.0, pair.statement
    development, test = pairs_split(pairs, seed=0)
    assert development and test
    assert not {p.group for p in development} & {p.group for p in test}
