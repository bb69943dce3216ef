"""Section paths and segment offsets, on real Chinese laws and notices and on small made-up documents.

Recommendations (clinical guidelines) are tested in test_structure_recommendations.py, English regulations
and numbered rules in test_structure_regulations.py.
"""

from __future__ import annotations

import json
import re

import pytest

from ingestion.chunking import document_chunk
from ingestion.headings import chinese_numeral, normalize_label
from ingestion.parsing.document import document_parse
from ingestion.structure import ARTICLE_SPLIT_CHARS, document_structure
from ingestion.types import Block, ParsedDocument, Segment
from tests.conftest import SHARED_DATA

CN_LAWS = SHARED_DATA / "cn_laws"
# The shared data is part of the test contract: without it these tests fail (the fixture asserts), never skip.
needs_cn_laws = pytest.mark.usefixtures("shared_data")


def assert_offsets_exact(document: ParsedDocument) -> None:
    """Each segment is exactly its slice of the full text, trimmed, and segments never overlap."""
    previous_end = 0
    for segment in document.segments:
        assert document.text[segment.char_start : segment.char_end] == segment.text
        assert segment.text and segment.text == segment.text.strip()
        assert segment.char_start >= previous_end
        previous_end = segment.char_end


def uncovered_lines(document: ParsedDocument) -> list[str]:
    """Non-blank text outside every segment, line by line: must be heading labels only."""
    characters = list(document.text)
    for segment in document.segments:
        characters[segment.char_start : segment.char_end] = ["\n"] * (segment.char_end - segment.char_start)
    return [normalize_label(line) for line in "".join(characters).split("\n") if normalize_label(line)]


def structure_lines(lines: list[str], *, title: str = "") -> ParsedDocument:
    document = document_structure(title=title, blocks=[Block(text=line) for line in lines], page_count=None)
    assert_offsets_exact(document)
    return document


def segment_containing(document: ParsedDocument, needle: str) -> Segment:
    matches = [segment for segment in document.segments if needle in segment.text]
    assert len(matches) == 1, f"{needle!r} found in {len(matches)} segments"
    return matches[0]


def law_document(file_name: str) -> ParsedDocument:
    title, blocks, page_count = document_parse(path=CN_LAWS / file_name)
    document = document_structure(title=title, blocks=blocks, page_count=page_count)
    assert_offsets_exact(document)
    return document


def manifest_article_count(key: str) -> int:
    manifest = json.loads((CN_LAWS / "manifest.json").read_text(encoding="utf-8"))
    return next(entry["article_count"] for entry in manifest if entry["key"] == key)


ARTICLE_RE = re.compile(r"^第[零一二三四五六七八九十百千]+条$")
HEADING_LINE_RE = re.compile(r"^第[零一二三四五六七八九十百千]+[编章节条]")


# --- real laws and notices ---------------------------------------------------------------------------------


@needs_cn_laws
def test_pip_law_articles_sit_under_their_chapters() -> None:
    document = law_document("pip_law.txt")

    cross_border = segment_containing(document, "个人信息处理者因业务等需要，确需向中华人民共和国境外提供个人信息的")
    assert cross_border.section_path == ("第三章 个人信息跨境提供的规则", "第三十八条")
    # the article's （一）…； items are its list, not headings
    assert "（四）法律、行政法规或者国家网信部门规定的其他条件。" in cross_border.text
    assert segment_containing(document, "任何组织、个人不得非法收集").section_path == ("第一章 总 则", "第十条")
    assert segment_containing(document, "敏感个人信息是一旦泄露").section_path == (
        "第二章 个人信息处理规则",
        "第二节 敏感个人信息的处理规则",
        "第二十八条",
    )
    # 第三章 closes the 第二章's 节: nothing of 第二章 leaks into it
    assert document.title == "中华人民共和国个人信息保护法"
    articles = {segment.section_path[-1] for segment in document.segments if segment.section_path}
    assert len({label for label in articles if ARTICLE_RE.match(label)}) == manifest_article_count("pip_law")


@needs_cn_laws
def test_pip_law_loses_no_text_outside_headings() -> None:
    document = law_document("pip_law.txt")

    leftovers = uncovered_lines(document)
    assert leftovers and all(HEADING_LINE_RE.match(line) for line in leftovers), leftovers[:5]
    # the table of contents repeats the chapter headings: they are headings with empty sections
    assert leftovers.count("第三章 个人信息跨境提供的规则") == 2
    preamble = document.segments[0]
    assert preamble.section_path == () and "目 录" in preamble.text


@needs_cn_laws
def test_net_data_regulation_joins_chapter_label_and_title_lines() -> None:
    # the source breaks "第一章" and "总 则" onto separate lines
    document = law_document("net_data_reg.txt")

    assert segment_containing(document, "为了规范网络数据处理活动").section_path == ("第一章 总 则", "第一条")
    articles = {segment.section_path[-1] for segment in document.segments if segment.section_path}
    assert len({label for label in articles if ARTICLE_RE.match(label)}) == manifest_article_count("net_data_reg")


@needs_cn_laws
def test_price_notice_uses_enumerated_headings() -> None:
    document = law_document("price_65.txt")

    assert segment_containing(document, "评估周期原则上不超过3年").section_path == ("四、建立定期评估调整制度。",)
    assert segment_containing(document, "准许利润按照经营成本乘以准许利润率确定").section_path == (
        "三、制定最高准许收入和上限收费标准",
        "（一）科学核定最高准许收入。",
    )
    assert segment_containing(document, "具体可按产品数量、服务次数").section_path == (
        "三、制定最高准许收入和上限收费标准",
        "（二）合理制定上限收费标准。",
    )
    # the long opening line ending in "现就有关事项通知如下。" is body before the first heading
    assert segment_containing(document, "现就有关事项通知如下").section_path == ()


@needs_cn_laws
@pytest.mark.parametrize("key", ["data_sec_law", "spec_trial", "sc_op_measures"])
def test_every_article_of_other_laws_is_found(key: str) -> None:
    document = law_document(f"{key}.txt")

    articles = {segment.section_path[-1] for segment in document.segments if segment.section_path}
    article_labels = {label for label in articles if ARTICLE_RE.match(label)}
    assert len(article_labels) == manifest_article_count(key)
    first_article = next(segment for segment in document.segments if segment.section_path[-1:] == ("第一条",))
    assert re.match(r"^第一章 总 ?则$", first_article.section_path[0])


# --- article and chapter lines -----------------------------------------------------------------------------


def test_article_label_and_body_on_one_line() -> None:
    document = structure_lines(
        ["第一章　总　则", "第一条　为了规范管理，制定本办法。", "第二条", "本办法适用于全体员工。"]
    )

    first, second = document.segments
    assert first.section_path == ("第一章 总 则", "第一条")
    assert first.text == "为了规范管理，制定本办法。"  # the label and the ideographic space are not in it
    assert document.text[first.char_start - 1] == "\u3000"
    assert second.section_path == ("第一章 总 则", "第二条")
    assert uncovered_lines(document) == ["第一章 总 则", "第一条", "第二条"]


def test_articles_nest_by_rank() -> None:
    document = structure_lines(
        [
            "第一编 总则",
            "第一章 基本规定",
            "第一节 一般规定",
            "第一条 甲。",
            "第二条 乙。",
            "第二章 其他规定",
            "第三条 丙。",
            "第二编 分则",
            "第四条 丁。",
        ]
    )

    paths = {segment.text: segment.section_path for segment in document.segments}
    assert paths["甲。"] == ("第一编 总则", "第一章 基本规定", "第一节 一般规定", "第一条")
    assert paths["乙。"] == ("第一编 总则", "第一章 基本规定", "第一节 一般规定", "第二条")
    assert paths["丙。"] == ("第一编 总则", "第二章 其他规定", "第三条")
    assert paths["丁。"] == ("第二编 分则", "第四条")


def test_amendment_and_annotated_articles() -> None:
    document = structure_lines(
        ["第一百二十条之一　帮助恐怖活动的，处五年以下有期徒刑。", "第一条【立法目的】为了规范管理。"]
    )

    assert [(segment.section_path, segment.text) for segment in document.segments] == [
        (("第一百二十条之一",), "帮助恐怖活动的，处五年以下有期徒刑。"),
        (("第一条",), "【立法目的】为了规范管理。"),
    ]


def test_lines_that_only_mention_articles_stay_body() -> None:
    document = structure_lines(["第五条", "依照本法第十条规定处理。", "第十条规定的情形除外。"])

    assert len(document.segments) == 1
    assert document.segments[0].section_path == ("第五条",)


def test_enumerated_items_inside_an_article_are_body() -> None:
    document = structure_lines(
        ["第三条 有下列情形之一的：", "（一）取得个人的同意；", "（二）其他情形。", "一、总体要求"]
    )

    assert [segment.section_path for segment in document.segments] == [("第三条",)]
    assert "一、总体要求" in document.segments[0].text  # the article stays open until the next 条/章


def test_notice_headings_must_look_like_titles() -> None:
    document = structure_lines(
        [
            "关于做好数据工作的通知",
            "一、总体要求",
            "（一）基本原则",
            "坚持安全发展。",
            "（二）各单位应当按照本通知要求，及时报送材料；",
            "1. 报送方式",
            "线上报送。",
            "二、保障措施",
            "加强组织领导。",
        ]
    )

    paths = {segment.text.split("\n")[0]: segment.section_path for segment in document.segments}
    assert paths["关于做好数据工作的通知"] == ()  # text before the first heading
    assert paths["坚持安全发展。"] == ("一、总体要求", "（一）基本原则")
    # a long item ending in "；" is a list item under （一）, not a heading
    assert "（二）各单位应当按照本通知要求，及时报送材料；" in segment_containing(document, "坚持安全发展").text
    assert paths["线上报送。"] == ("一、总体要求", "（一）基本原则", "1. 报送方式")
    assert paths["加强组织领导。"] == ("二、保障措施",)


def test_english_numbered_headings_nest_by_depth() -> None:
    document = structure_lines(
        [
            "1. Introduction",
            "Background text.",
            "1.1 Scope",
            "Adults only.",
            "2. Recommendations",
            "2.3 Opioid dosing",
            "Start low.",
            "2.3.1 Children",
            "Half dose.",
            "3. This line is a numbered sentence that ends with a period.",
        ]
    )

    assert segment_containing(document, "Adults only").section_path == ("1. Introduction", "1.1 Scope")
    assert segment_containing(document, "Start low").section_path == ("2. Recommendations", "2.3 Opioid dosing")
    assert segment_containing(document, "Half dose").section_path == (
        "2. Recommendations",
        "2.3 Opioid dosing",
        "2.3.1 Children",
    )
    assert "3. This line is a numbered sentence" in segment_containing(document, "Half dose").text


# --- 款: the paragraphs of an article ----------------------------------------------------------------------

# One long article: its first 款 introduces a list, the second refers back to it, the third stands alone.
LONG_ARTICLE_FIRST = (
    "第五十三条　有下列侵权行为的，应当根据情况，承担本法第五十二条规定的民事责任；侵权行为同时损害公共利益的，"
    "由主管著作权的部门责令停止侵权行为，予以警告，没收违法所得，没收、无害化销毁处理侵权复制品以及主要用于制作"
    "侵权复制品的材料、工具、设备等，违法经营额五万元以上的，可以并处违法经营额一倍以上五倍以下的罚款；"
    "构成犯罪的，依法追究刑事责任："
)
LONG_ARTICLE_ITEMS = [
    "（一）未经著作权人许可，复制、发行、表演、放映、广播、汇编、通过信息网络向公众传播其作品的，本法另有规定的除外；",
    "（二）出版他人享有专有出版权的图书的；",
    "（三）未经表演者许可，复制、发行录有其表演的录音录像制品，或者通过信息网络向公众传播其表演的；",
    "（四）未经录音录像制作者许可，复制、发行、通过信息网络向公众传播其制作的录音录像制品的；",
    "（五）未经许可，播放、复制或者通过信息网络向公众传播广播、电视的，本法另有规定的除外；",
    "（六）制作、出售假冒他人署名的作品的。",
]
LONG_ARTICLE_SECOND = (
    "主管著作权的部门查处前款规定的侵权行为时，可以询问有关当事人，调查与涉嫌违法行为有关的情况；对当事人涉嫌违法"
    "行为的场所和物品实施现场检查；查阅、复制与涉嫌违法行为有关的合同、发票、账簿以及其他有关资料；对于涉嫌违法"
    "行为的场所和物品，可以查封或者扣押。主管著作权的部门依法行使前款规定的职权时，当事人应当予以协助、配合，"
    "不得拒绝、阻挠。"
)
LONG_ARTICLE_THIRD = (
    "当事人对行政处罚不服的，可以自收到行政处罚决定书之日起三个月内向人民法院起诉，期满不起诉又不履行的，主管"
    "著作权的部门可以申请人民法院执行。当事人对查封、扣押决定不服的，可以依法申请行政复议或者提起行政诉讼。"
    "行政复议和行政诉讼期间，查封、扣押措施不停止执行，但是法律另有规定的除外。"
)
LONG_ARTICLE_FOURTH = (
    "主管著作权的部门应当将查处侵权行为的情况依法向社会公开，并将有关违法信息记入信用记录；对于情节严重、造成"
    "恶劣社会影响的，应当通报有关部门依法实施联合惩戒。具体办法由国务院著作权主管部门会同有关部门制定。"
)


def test_long_article_is_split_into_its_paragraphs() -> None:
    lines = ["第七章 法律责任", LONG_ARTICLE_FIRST, *LONG_ARTICLE_ITEMS, LONG_ARTICLE_SECOND, LONG_ARTICLE_THIRD]
    lines.append(LONG_ARTICLE_FOURTH)
    lines += ["第五十四条　侵犯著作权的赔偿数额，按照权利人因此受到的实际损失计算。", "第八章 附则"]
    document = structure_lines(lines)
    assert len("\n".join(lines[1:-2])) > ARTICLE_SPLIT_CHARS  # long enough that one passage would not hold it

    first = segment_containing(document, "有下列侵权行为的")
    assert first.section_path == ("第七章 法律责任", "第五十三条", "第一款")
    assert first.text.endswith("（六）制作、出售假冒他人署名的作品的。")  # the items belong to the 款 they end
    assert segment_containing(document, "查处前款规定的侵权行为时").section_path[-2:] == ("第五十三条", "第二款")
    assert segment_containing(document, "当事人对行政处罚不服的").section_path[-2:] == ("第五十三条", "第三款")
    assert segment_containing(document, "依法向社会公开").section_path[-2:] == ("第五十三条", "第四款")
    # each 款 starts a section of its own; the short article after is not split
    assert [segment.new_section for segment in document.segments] == [True, True, True, True, False]
    assert document.segments[-1].section_path == ("第七章 法律责任", "第五十四条")
    assert uncovered_lines(document) == ["第七章 法律责任", "第五十三条", "第五十四条", "第八章 附则"]


def test_paragraph_continued_on_the_next_page_stays_in_its_paragraph() -> None:
    second_start, second_rest = LONG_ARTICLE_SECOND[:60], LONG_ARTICLE_SECOND[60:]  # cut mid-sentence
    blocks = [Block(text=LONG_ARTICLE_FIRST, page=1)] + [Block(text=item, page=1) for item in LONG_ARTICLE_ITEMS]
    blocks += [
        Block(text=second_start, page=1),
        Block(text=second_rest, page=2),
        Block(text=LONG_ARTICLE_THIRD, page=2),
        Block(text=LONG_ARTICLE_FOURTH, page=2),
    ]
    document = document_structure(title="", blocks=blocks, page_count=2)
    assert_offsets_exact(document)

    assert [(segment.section_path[-1], segment.page) for segment in document.segments] == [
        ("第一款", 1),
        ("第二款", 1),
        ("第二款", 2),  # the rest of the sentence, not a new 款
        ("第三款", 2),
        ("第四款", 2),
    ]
    chunks = document_chunk(document=document, max_chars=800, overlap_chars=100)
    second = next(chunk for chunk in chunks if "查处前款规定的侵权行为时" in chunk.text)
    assert second.section_path == ("第五十三条", "第二款") and (second.page_start, second.page_end) == (1, 2)
    assert "当事人对行政处罚不服的" not in second.text


def test_article_that_fits_one_passage_keeps_its_paragraphs_together() -> None:
    document = structure_lines(
        [
            "第三条 本法适用于境内的活动。",
            "在境外处理境内自然人个人信息的活动，有下列情形之一的，也适用本法：",
            "（一）以向境内自然人提供产品或者服务为目的；",
            "（二）法律、行政法规规定的其他情形。",
            "前款规定的情形，由国家网信部门认定。",
        ]
    )

    [article] = document.segments
    assert article.section_path == ("第三条",)  # the citation is the article; its 款 are its lines, in order
    assert article.text.split("\n")[-1] == "前款规定的情形，由国家网信部门认定。"


@needs_cn_laws
def test_real_articles_fit_one_passage_and_stay_whole() -> None:
    for path in sorted(CN_LAWS.glob("*.txt")):
        document = law_document(path.name)
        # no article of the real laws is long enough to need its 款 in the path
        assert not [segment.section_path for segment in document.segments if segment.section_path[-1:] == ("第二款",)]
        assert not any(segment.new_section for segment in document.segments)

    article_3 = segment_containing(law_document("pip_law.txt"), "在中华人民共和国境外处理中华人民共和国境内自然人")
    assert article_3.section_path == ("第一章 总 则", "第三条")  # two 款 and a list, one section
    assert article_3.text.startswith("在中华人民共和国境内处理自然人个人信息的活动，适用本法。")
    assert article_3.text.endswith("（三）法律、行政法规规定的其他情形。")


def test_chinese_numerals_for_clause_labels() -> None:
    assert [chinese_numeral(number) for number in (1, 2, 10, 11, 20, 23, 100, 105, 110, 123)] == [
        "一",
        "二",
        "十",
        "十一",
        "二十",
        "二十三",
        "一百",
        "一百零五",
        "一百一十",
        "一百二十三",
    ]


# --- explicit headings, pages, titles ----------------------------------------------------------------------


def test_explicit_headings_stack_by_level_and_numbered_lines_stay_body() -> None:
    blocks = [
        Block(text="Guideline", heading_level=1),
        Block(text="Recommendations", heading_level=2),
        Block(text="1. Take with food"),
        Block(text="Dosing", heading_level=3),
        Block(text="Start low."),
        Block(text="Monitoring", heading_level=2),
        Block(text="第一条 Articles still count."),
    ]
    document = document_structure(title="", blocks=blocks, page_count=None)
    assert_offsets_exact(document)

    assert segment_containing(document, "Take with food").section_path == ("Guideline", "Recommendations")
    assert segment_containing(document, "Start low").section_path == ("Guideline", "Recommendations", "Dosing")
    assert segment_containing(document, "Articles still count").section_path == ("Guideline", "Monitoring", "第一条")
    assert document.title == "Guideline"


def test_segments_split_at_page_changes_and_paths_repeat() -> None:
    blocks = [
        Block(text="Intro", page=1, heading_level=1),
        Block(text="one", page=1),
        Block(text="two", page=1),
        Block(text="three", page=2),
        Block(text="Intro", page=2, heading_level=1),
        Block(text="four", page=2),
    ]
    document = document_structure(title="Doc", blocks=blocks, page_count=2)
    assert_offsets_exact(document)

    assert [(segment.text, segment.page) for segment in document.segments] == [
        ("one\ntwo", 1),
        ("three", 2),
        ("four", 2),  # same path as "three", but a heading lies between them
    ]
    assert document.page_count == 2
    assert document.title == "Doc"


def test_multi_line_blocks_are_structured_line_by_line() -> None:
    text = "第一章 总则\n第一条 甲。\n  续行。\n第二条\n乙。"
    document = document_structure(title="", blocks=[Block(text=text)], page_count=None)
    assert_offsets_exact(document)

    assert [(segment.text, segment.section_path) for segment in document.segments] == [
        ("甲。\n  续行。", ("第一章 总则", "第一条")),
        ("乙。", ("第一章 总则", "第二条")),
    ]


def test_empty_input_gives_an_empty_document() -> None:
    document = document_structure(title="", blocks=[], page_count=None)

    assert (document.title, document.text, document.segments) == ("", "", [])
