"""The sample document set: written idempotently, every format opens, every document is marked as a sample."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest

from assistant.demo.disclaimers import SAMPLE_DISCLAIMER_EN, SAMPLE_DISCLAIMER_ZH
from assistant.demo.sample_set import (
    HYPERTENSION_GUIDELINE_FILE_NAME,
    PNEUMONIA_GUIDELINE_FILE_NAME,
    RD_GRANT_NOTICE_FILE_NAME,
    SAMPLE_FILE_NAMES,
    SAMPLE_QUESTIONS,
    SME_POLICY_FILE_NAME,
    sample_set_write,
)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_text(*, html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    return re.sub(r"\s+", " ", " ".join(collector.parts))


def _docx_text(*, path: Path) -> str:
    document = docx.Document(str(path))
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(cell.text for cell in row.cells)
    return "\n".join(lines)


def _document_text(*, path: Path) -> str:
    if path.suffix == ".docx":
        return _docx_text(path=path)
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        return _html_text(html=raw)
    return raw


@pytest.fixture()
def written(tmp_path: Path) -> dict[str, Path]:
    paths = sample_set_write(directory=tmp_path / "samples")
    return {path.name: path for path in paths}


def test_writes_the_four_documents_and_returns_their_paths(tmp_path: Path) -> None:
    directory = tmp_path / "samples"
    paths = sample_set_write(directory=directory)
    assert [path.name for path in paths] == list(SAMPLE_FILE_NAMES)
    assert {path.suffix for path in paths} == {".md", ".html", ".docx", ".txt"}
    assert all(path.parent == directory and path.is_file() and path.stat().st_size > 0 for path in paths)
    assert sorted(p.name for p in directory.iterdir()) == sorted(SAMPLE_FILE_NAMES)  # nothing else in the directory


def test_writing_twice_gives_identical_bytes_and_overwrites_changes(tmp_path: Path) -> None:
    first = {path.name: path.read_bytes() for path in sample_set_write(directory=tmp_path)}
    (tmp_path / RD_GRANT_NOTICE_FILE_NAME).write_text("tampered", encoding="utf-8")
    (tmp_path / SME_POLICY_FILE_NAME).write_bytes(b"tampered")
    second = {path.name: path.read_bytes() for path in sample_set_write(directory=tmp_path)}
    assert first == second
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SAMPLE_FILE_NAMES)


def test_markdown_guideline_has_title_chapters_and_sample_marker(written: dict[str, Path]) -> None:
    text = written[HYPERTENSION_GUIDELINE_FILE_NAME].read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ") and "示例" in lines[0]
    first_paragraph = next(line for line in lines[1:] if line.strip())
    assert first_paragraph.startswith(SAMPLE_DISCLAIMER_ZH)
    assert "## 第一章 概述" in lines
    assert "## 第三章 诊断" in lines
    assert "## 第四章 治疗" in lines
    assert "### 第一节 血压测量" in lines
    for fact in ("≥140/90 mmHg", "血钾", "双侧肾动脉狭窄", "高钾血症", "高血压急症", "推荐等级 I 类", "证据等级 A"):
        assert fact in text
    chinese_characters = len(re.findall(r"[\u4e00-\u9fff]", text))
    assert 2500 <= chinese_characters <= 4000


def test_html_guideline_has_nav_footer_table_and_sample_marker(written: dict[str, Path]) -> None:
    raw = written[PNEUMONIA_GUIDELINE_FILE_NAME].read_text(encoding="utf-8")
    for tag in ("<nav", "</nav>", "<footer", "</footer>", "<h1>", "<h2>", "<h3>", "<table>", "CURB-65"):
        assert tag in raw
    assert "Illustrative Sample" in re.search(r"<h1>(.*?)</h1>", raw).group(1)
    first_paragraph = re.search(r"</h1>\s*<p>(.*?)</p>", raw, re.DOTALL).group(1)
    assert first_paragraph.startswith(SAMPLE_DISCLAIMER_EN)
    assert "Strong recommendation, moderate-quality evidence" in _html_text(html=raw)
    main = re.search(r"<main>(.*)</main>", raw, re.DOTALL).group(1)
    words = len(_html_text(html=main).split())
    assert 800 <= words <= 1200


def test_docx_policy_opens_with_heading_styles_articles_and_table(written: dict[str, Path]) -> None:
    document = docx.Document(str(written[SME_POLICY_FILE_NAME]))
    paragraphs = [paragraph for paragraph in document.paragraphs if paragraph.text.strip()]
    assert paragraphs[0].style.name == "Title" and "示例" in paragraphs[0].text
    assert paragraphs[1].text.startswith(SAMPLE_DISCLAIMER_ZH)
    chapters = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    assert chapters == [
        "第一章　总则",
        "第二章　支持对象与条件",
        "第三章　支持措施",
        "第四章　申报程序",
        "第五章　附则",
    ]
    articles = [p for p in paragraphs if re.match(r"第[一二三四五六七八九十]+条　", p.text)]
    assert len(articles) >= 10 and all(p.style.name == "Normal" for p in articles)
    items = [p.text for p in paragraphs if p.text.startswith("（一）")]
    assert items and all(item.endswith("；") for item in items)
    assert len(document.tables) == 1 and document.tables[0].cell(0, 0).text == "支持项目"
    assert document.core_properties.title and "示例" in document.core_properties.title


def test_txt_notice_has_numbered_rules_and_sample_marker(written: dict[str, Path]) -> None:
    lines = written[RD_GRANT_NOTICE_FILE_NAME].read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("SAMPLE NOTICE") and "(Illustrative)" in lines[0]
    assert next(line for line in lines[1:] if line.strip()).startswith(SAMPLE_DISCLAIMER_EN)
    for heading in ("1. Purpose", "2. Eligibility", "3. Grant amounts", "4. Application"):
        assert heading in lines
    assert any(line.startswith("2.1 ") for line in lines) and any(line.startswith("2.2 ") for line in lines)


@pytest.mark.parametrize("name", SAMPLE_FILE_NAMES)
def test_every_document_is_marked_as_sample(written: dict[str, Path], name: str) -> None:
    text = _document_text(path=written[name])
    assert "SAMPLE" in text
    assert (SAMPLE_DISCLAIMER_ZH in text) or (SAMPLE_DISCLAIMER_EN in text)


def test_sample_questions_shape() -> None:
    assert len(SAMPLE_QUESTIONS) >= 4
    chinese = [q for q in SAMPLE_QUESTIONS if re.search(r"[\u4e00-\u9fff]", q["question"])]
    english = [q for q in SAMPLE_QUESTIONS if q not in chinese]
    assert len(chinese) >= 2 and len(english) >= 2
    demo = [q for q in SAMPLE_QUESTIONS if q.get("demo")]
    assert len(demo) == 2
    assert sum(q in chinese for q in demo) == 1
    assert {q["document"] for q in SAMPLE_QUESTIONS} == set(SAMPLE_FILE_NAMES)


@pytest.mark.parametrize("question", SAMPLE_QUESTIONS, ids=lambda q: q["question"])
def test_expected_phrase_occurs_in_its_document(written: dict[str, Path], question: dict) -> None:
    assert question["expected_phrase"] in _document_text(path=written[question["document"]])
