"""Section paths and segment offsets, on real Chinese laws and notices and on small made-up documents."""

from __future__ import annotations

import json
import re

import pytest

from ingestion.parsing import document_parse
from ingestion.structure import document_structure
from ingestion.structure_patterns import normalize_label
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
