"""Recommendation statements of clinical guidelines become sections of their own, labelled with number and grade.

Real text: the "Major Recommendations" of the National Guideline Clearinghouse summaries (one block per line, as
a plain-text parse gives them) and the project's own sample guidelines; small made-up Chinese guideline text.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

import pytest

from assistant.demo.sample_set import HYPERTENSION_GUIDELINE_FILE_NAME, PNEUMONIA_GUIDELINE_FILE_NAME, sample_set_write
from ingestion.chunking import document_chunk
from ingestion.headings import normalize_label
from ingestion.parsing.document import document_parse
from ingestion.structure import document_structure
from ingestion.types import Block, ParsedDocument
from tests.conftest import SHARED_DATA
from tests.ingestion.test_structure import assert_offsets_exact, segment_containing, structure_lines, uncovered_lines

NGC = SHARED_DATA / "ngc_guidelines" / "ngc_summaries.jsonl.gz"
needs_ngc = pytest.mark.usefixtures("shared_data")
RECOMMENDATION_LABEL_RE = re.compile(r"^(?:Recommendation|推荐意见|推荐)")


@functools.cache
def ngc_major_recommendations() -> dict[str, str]:
    with gzip.open(NGC, "rt", encoding="utf-8") as handle:
        summaries = [json.loads(line) for line in handle]
    return {
        summary["doc_id"]: field["text"]
        for summary in summaries
        for field in summary["fields"]
        if field["field"] == "Major Recommendations"
    }


def ngc_document(doc_id: str) -> ParsedDocument:
    text = ngc_major_recommendations()[doc_id]
    document = document_structure(title=doc_id, blocks=[Block(text=line) for line in text.split("\n")], page_count=None)
    assert_offsets_exact(document)
    return document


def section_of(document: ParsedDocument, needle: str) -> tuple[str, ...]:
    return segment_containing(document, needle).section_path


# --- real guideline summaries ------------------------------------------------------------------------------


@needs_ngc
def test_bcsh_graded_statements_are_sections_of_their_own() -> None:
    document = ngc_document("ngc-10000")  # BCSH, mature T-cell neoplasms: "( Grade 1B )" after each statement

    assert section_of(document, "Intravenous alemtuzumab should be used as first line therapy for T-PLL") == (
        "Recommendation (Grade 1B)",
    )
    assert section_of(document, "Patients failing to respond should receive the combination") == (
        "Recommendation (Grade 1C)",
    )
    # an ungraded statement between graded ones is plain body
    assert section_of(document, "Staging should include blood and bone marrow examination") == ()
    # two grades in one statement give one label
    assert section_of(document, "Induction with cyclophosphamide, doxorubicin, vincristine") == (
        "Recommendation (Grade 1B)",
    )
    # the rating scheme at the end defines grades; it recommends nothing
    assert section_of(document, "The quality of evidence is graded as high (A), moderate (B) or low (C)") == ()


@needs_ngc
def test_two_statements_with_the_same_grade_never_share_a_chunk() -> None:
    document = ngc_document("ngc-10000")
    chunks = document_chunk(document=document, max_chars=800, overlap_chars=100)

    failing = next(chunk for chunk in chunks if "Patients failing to respond" in chunk.text)
    eligible = next(chunk for chunk in chunks if "All eligible patients should proceed" in chunk.text)
    assert failing is not eligible
    assert failing.section_path == eligible.section_path == ("Recommendation (Grade 1C)",)
    assert "All eligible patients" not in failing.text
    assert all(document.text[chunk.char_start : chunk.char_end] == chunk.text for chunk in chunks)


@needs_ngc
def test_aabb_recommendation_headings_take_the_grade_line_below() -> None:
    document = ngc_document("ngc-10718")  # "Recommendation 1" / statements / "Quality of evidence: …" lines

    label = "Recommendation 1 (Quality of evidence: moderate; strength of recommendation: strong)"
    first = segment_containing(document, "platelets should be transfused prophylactically")
    assert first.section_path == (label,)
    assert "The AABB recommends transfusing up to a single apheresis unit" in first.text  # all statements under it
    assert first.text.endswith("Quality of evidence: moderate; strength of recommendation: strong")
    assert section_of(document, "elective central venous catheter placement") == (
        "Recommendation 2 (Quality of evidence: low; strength of recommendation: weak)",
    )
    assert section_of(document, "Clinical Setting 2: Adult Patients Having Minor Invasive Procedures") == ()
    assert "Recommendation 1" in uncovered_lines(document)  # the marker line is the label, not body


@needs_ngc
def test_asco_numbered_recommendations_without_grades_keep_their_numbers() -> None:
    document = ngc_document("ngc-10026")  # "Recommendation 1.2. Health care providers should refer …"

    refer = segment_containing(document, "Health care providers should refer patients")
    assert refer.section_path == ("Recommendation 1.2",)
    assert refer.text.startswith("Health care providers should refer")  # "Recommendation 1.2." is the label
    assert section_of(document, "Sperm cryopreservation is effective") == ("Recommendation 2.1",)
    # a question between two recommendations belongs to neither
    assert section_of(document, "What Can Health Care Providers Do to Educate Patients") == ()


@needs_ngc
def test_titled_recommendation_markers_own_the_statements_below() -> None:
    document = ngc_document("ngc-10068")  # "Recommendation 3: Pre-test Risk Assessment" / statement lines

    assert section_of(document, "Pre-test risk assessment should include an estimate of CF carrier frequency") == (
        "Recommendation 3: Pre-test Risk Assessment",
    )
    assert section_of(document, "Carrier testing for CF should be offered to all women") == (
        "Recommendation 2: To Whom Should Carrier Testing for CF Be Offered?",
    )


@needs_ngc
@pytest.mark.parametrize(
    ("doc_id", "needle", "label"),
    [
        ("ngc-9890", "Liver histology should be obtained when parenchymal injury", "Recommendation (Grade 1, Level A)"),
        ("ngc-10959", "diagnostic testing to exclude primary adrenal insufficiency", "Recommendation (1|+++O)"),
        ("ngc-10745", "Employers must assess the risk of handling antineoplastic", "Recommendation (LE=4, GR=C)"),
        (
            "ngc-9902",
            "implantation is indicated for symptomatic chronotropic incompetence",
            "Recommendation (Level of Evidence: C)",
        ),
        ("ngc-9909", "Recommend adequate analgesia for all children with AOM", "Recommendation (I, D)"),
    ],
)
def test_common_grade_notations(doc_id: str, needle: str, label: str) -> None:
    assert section_of(ngc_document(doc_id), needle)[-1] == label


@needs_ngc
def test_grades_across_the_summaries() -> None:
    doc_ids = sorted(ngc_major_recommendations())[::10]  # a fixed tenth of the 1,416 summaries
    with_recommendations = 0
    for doc_id in doc_ids:
        document = ngc_document(doc_id)
        statements = [segment for segment in document.segments if segment.new_section]
        with_recommendations += bool(statements)
        for segment in statements:
            label = segment.section_path[-1]
            assert RECOMMENDATION_LABEL_RE.match(label), (doc_id, label)
            # NICE's "[2008]" / "[new 2014]" say when a statement was written, not how strong it is
            assert not re.search(r"\((?:new )?(?:19|20)\d\d\)", label), (doc_id, label)
            grade = re.search(r" \((.*)\)$", label)
            if grade and not re.match(r"Recommendation \d", label):
                # the grade a label shows is written in the statement itself
                assert normalize_label(grade.group(1).split("; ")[0])[:12] in normalize_label(segment.text), (
                    doc_id,
                    label,
                    segment.text[-120:],
                )
    assert with_recommendations >= 0.45 * len(doc_ids)


# --- made-up Chinese guideline text ------------------------------------------------------------------------


def test_chinese_numbered_recommendations_carry_number_and_grade() -> None:
    document = structure_lines(
        [
            "四、药物治疗",
            "推荐意见3：对于1级高血压且心血管风险低危的患者，推荐先进行3个月生活方式干预（1A）。",
            "推荐意见4：不推荐ACEI与ARB联合使用（1B）。",
            "说明：联合使用增加高钾血症和急性肾损伤的风险。",
            "推荐 2.1 对于合并糖尿病的高血压患者，推荐首选ACEI或ARB。(证据等级：B，推荐强度：强)",
            "推荐 2.2 老年患者起始剂量减半。",
            "（证据等级：C，推荐强度：弱）",
            "【推荐意见5】合并心力衰竭的患者推荐使用β受体阻滞剂（1A）。",
            "推荐 2 种联合方案，均可选用。",
        ]
    )

    lifestyle = segment_containing(document, "推荐先进行3个月生活方式干预")
    assert lifestyle.section_path == ("四、药物治疗", "推荐意见3（1A）")
    assert lifestyle.text.startswith("对于1级高血压")  # "推荐意见3：" is the label
    assert section_of(document, "不推荐ACEI与ARB联合使用") == ("四、药物治疗", "推荐意见4（1B）")
    assert section_of(document, "联合使用增加高钾血症") == ("四、药物治疗",)  # the explanation is not the statement
    assert section_of(document, "推荐首选ACEI或ARB") == ("四、药物治疗", "推荐2.1（证据等级：B，推荐强度：强）")
    halved = segment_containing(document, "老年患者起始剂量减半")
    assert halved.section_path == ("四、药物治疗", "推荐2.2（证据等级：C，推荐强度：弱）")  # grade on the next line
    assert halved.text.endswith("（证据等级：C，推荐强度：弱）")
    assert section_of(document, "β受体阻滞剂") == ("四、药物治疗", "推荐意见5（1A）")
    assert section_of(document, "推荐 2 种联合方案") == ("四、药物治疗",)  # a count, not a number
    assert uncovered_lines(document) == [
        "四、药物治疗",
        "推荐意见3：",
        "推荐意见4：",
        "推荐 2.1",
        "推荐 2.2",
        "【推荐意见5】",
    ]


def test_recommendations_nest_under_numbered_guideline_headings() -> None:
    document = structure_lines(
        [
            "1 范围",
            "本指南适用于基层医疗卫生机构的成人高血压管理。",
            "2 诊断",
            "2.1 诊断标准",
            "非同日3次测量诊室血压≥140/90 mmHg可诊断为高血压。",
            "2 型糖尿病患者应每年至少测量1次血压。",
            "3 治疗",
            "3.1 药物治疗",
            "3.1.1 起始治疗",
            "推荐意见1：血压≥160/100 mmHg的患者应立即启动药物治疗（1A）。",
        ]
    )
    enumerated = structure_lines(["四、联合用药", "（一）两药联合", "推荐意见2：优先选择单片复方制剂（2B）。"])

    assert section_of(document, "本指南适用于") == ("1 范围",)
    # "2 型糖尿病…" is out of sequence (and a sentence): body of 2.1
    assert section_of(document, "2 型糖尿病患者") == ("2 诊断", "2.1 诊断标准")
    assert section_of(document, "应立即启动药物治疗") == ("3 治疗", "3.1 药物治疗", "3.1.1 起始治疗", "推荐意见1（1A）")
    assert section_of(enumerated, "单片复方制剂") == ("四、联合用药", "（一）两药联合", "推荐意见2（2B）")


def test_chinese_graded_sentence_inside_a_paragraph_is_cut_out_of_it() -> None:
    document = structure_lines(
        [
            "第一节 降压目标",
            "高血压治疗的根本目标是降低总危险。一般患者血压应降至＜140/90 mmHg（推荐等级 I 类，证据等级 A）。"
            "80岁及以上老年人的降压目标为＜150/90 mmHg。",
            "建议每6个月测量1次血压。推荐意见：所有成人均应在首诊时测量血压（推荐等级 I 类，证据等级 C）。",
            "所有高血压患者均应进行生活方式干预（推荐等级 I 类，证据等级 A），包括：",
            "- 减少钠盐摄入；",
            "- 增加运动。",
            "生活方式干预应长期坚持。",
        ]
    )

    graded = "推荐意见（推荐等级 I 类，证据等级 A）"
    assert segment_containing(document, "一般患者血压应降至").text == (
        "一般患者血压应降至＜140/90 mmHg（推荐等级 I 类，证据等级 A）。"
    )
    assert section_of(document, "一般患者血压应降至") == ("第一节 降压目标", graded)
    assert section_of(document, "根本目标是降低总危险") == ("第一节 降压目标",)
    assert section_of(document, "80岁及以上老年人") == ("第一节 降压目标",)
    assert section_of(document, "所有成人均应在首诊时测量血压") == (
        "第一节 降压目标",
        "推荐意见（推荐等级 I 类，证据等级 C）",
    )
    assert section_of(document, "建议每6个月测量1次血压") == ("第一节 降压目标",)
    lifestyle = segment_containing(document, "均应进行生活方式干预")
    assert lifestyle.section_path == ("第一节 降压目标", graded)
    assert lifestyle.text.endswith("- 增加运动。")  # the list the statement introduces is part of it
    assert section_of(document, "生活方式干预应长期坚持") == ("第一节 降压目标",)


def test_recommendation_heading_of_the_format_takes_the_grade_of_its_statement() -> None:
    blocks = [
        Block(text="高血压指南", heading_level=1),
        Block(text="推荐意见", heading_level=2),
        Block(text="推荐意见5", heading_level=3),
        Block(text="合并蛋白尿的患者推荐使用ACEI或ARB。"),
        Block(text="（1B）"),
        Block(text="推荐意见6", heading_level=3),
        Block(text="不推荐常规使用α受体阻滞剂（2C）。"),
    ]
    document = document_structure(title="", blocks=blocks, page_count=None)
    assert_offsets_exact(document)

    assert section_of(document, "合并蛋白尿") == ("高血压指南", "推荐意见", "推荐意见5（1B）")
    assert section_of(document, "α受体阻滞剂") == ("高血压指南", "推荐意见", "推荐意见6（2C）")


# --- English -----------------------------------------------------------------------------------------------


def test_english_recommendation_markers_and_grade_notations() -> None:
    document = structure_lines(
        [
            "3. Antiplatelet therapy",
            "Recommendation 4: Offer low-dose aspirin to adults with a prior ischaemic stroke (Grade B).",
            "Recommendation 5: Do not offer dual antiplatelet therapy beyond 90 days [1B].",
            "Clopidogrel is an alternative for people who cannot take aspirin (Level A).",
            "Discuss bleeding risk with every patient.",
            "Statins reduce recurrent stroke. Offer a high-intensity statin (Strong recommendation, moderate-quality "
            "evidence).",
        ]
    )

    assert section_of(document, "Offer low-dose aspirin") == ("3. Antiplatelet therapy", "Recommendation 4 (Grade B)")
    assert section_of(document, "dual antiplatelet therapy") == ("3. Antiplatelet therapy", "Recommendation 5 (1B)")
    assert section_of(document, "Clopidogrel is an alternative") == (
        "3. Antiplatelet therapy",
        "Recommendation (Level A)",
    )
    assert section_of(document, "Discuss bleeding risk") == ("3. Antiplatelet therapy",)
    statin = segment_containing(document, "Offer a high-intensity statin")
    assert statin.section_path[-1] == "Recommendation (Strong recommendation, moderate-quality evidence)"
    assert statin.text.startswith("Offer a high-intensity statin")  # the sentence before is not graded
    assert section_of(document, "Statins reduce recurrent stroke") == ("3. Antiplatelet therapy",)


def test_lines_that_only_look_graded_stay_body() -> None:
    document = structure_lines(
        [
            "Recommendations",
            "Recommendation based on observational studies with a preponderance of benefit over harm.",
            "An application must include: (a) the completed form; (b) the certificate; and (c) the accounts.",
            "Offer cognitive behavioural therapy to adults with insomnia. [2008]",
            "Neutropenia was more frequent with the combination (grade 3 or 4).",
            "The quality of evidence is graded as high (A), moderate (B) or low (C).",
            "Strong recommendation",
        ]
    )

    assert [segment.section_path for segment in document.segments] == [()]
    assert not any(segment.new_section for segment in document.segments)


@pytest.fixture()
def sample_paths(tmp_path: Path) -> dict[str, Path]:
    return {path.name: path for path in sample_set_write(directory=tmp_path / "samples")}


def test_sample_guidelines_get_their_graded_statements(sample_paths: dict[str, Path]) -> None:
    title, blocks, page_count = document_parse(path=sample_paths[HYPERTENSION_GUIDELINE_FILE_NAME])
    chinese = document_structure(title=title, blocks=blocks, page_count=page_count)
    assert_offsets_exact(chinese)
    title, blocks, page_count = document_parse(path=sample_paths[PNEUMONIA_GUIDELINE_FILE_NAME])
    english = document_structure(title=title, blocks=blocks, page_count=page_count)
    assert_offsets_exact(english)

    arb = "二、血管紧张素Ⅱ受体拮抗剂（ARB）"
    assert segment_containing(chinese, "不推荐ACEI与ARB联合使用").section_path[-2:] == (
        arb,
        "推荐意见（推荐等级 III 类，证据等级 A）",
    )
    assert segment_containing(chinese, "厄贝沙坦150～300 mg").section_path[-1] == arb  # the dosing text is not graded
    amoxicillin = segment_containing(english, "offer oral amoxicillin 1 g three times daily")
    assert amoxicillin.section_path[-2:] == (
        "3.1 Outpatient antibiotic therapy",
        "Recommendation (Strong recommendation, moderate-quality evidence)",
    )
    assert segment_containing(english, "oral doxycycline").section_path[-1] == (
        "Recommendation (Conditional recommendation, low-quality evidence)"
    )
    assert segment_containing(english, "Advise people treated at home to rest").section_path[-1] == (
        "3.3 Supportive care and advice"
    )
