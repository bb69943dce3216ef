"""OCR of scanned PDF pages with the real Tesseract: recognised text and pages, and clear failures without it.

The scans are made here: text drawn into a picture with Pillow, the picture put on a PDF page with no text layer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ingestion.parsing.document import document_parse
from ingestion.parsing.ocr import ocr_text_normalize, page_image_ocr
from ingestion.structure import document_structure
from ingestion.types import IngestionError
from tests.ingestion.parsing.test_parsing import build_pdf, parse_and_structure, segment_containing

FONT_POINTS = 12
# Fonts with Chinese glyphs that Debian packages install (fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk, ...)
CJK_FONT_NAMES = re.compile(r"wqy|noto\S*cjk|sourcehan|droidsansfallback|uming|ukai|arphic", re.IGNORECASE)


def cjk_font() -> Path | None:
    for folder in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
        if folder.is_dir():
            for font in sorted(folder.rglob("*")):
                if font.suffix.lower() in (".ttf", ".ttc", ".otf") and CJK_FONT_NAMES.search(font.name):
                    return font
    return None


def scanned_page(lines: list[str], *, font_path: Path | None = None, dpi: int = 150) -> Image.Image:
    """A white US Letter page with black 12pt text lines from the top-left margin, as a flatbed scanner gives it.

    font_path None draws with Pillow's own scalable font, so Latin text needs no system font.
    """
    pixels = round(FONT_POINTS * dpi / 72)
    font = ImageFont.load_default(size=pixels) if font_path is None else ImageFont.truetype(str(font_path), pixels)
    picture = Image.new("L", (round(8.5 * dpi), 11 * dpi), 255)
    draw = ImageDraw.Draw(picture)
    for index, line in enumerate(lines):
        draw.text((dpi, dpi + index * pixels * 1.8), line, font=font, fill=0)
    return picture


def full_page(picture: Image.Image) -> tuple[float, float, float, float, Image.Image]:
    return (0, 0, 612, 792, picture)


def test_scanned_pages_are_read_by_ocr_between_text_pages(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    page_1 = scanned_page(["1. Morphine", "Give 5 mg by mouth every four hours."], dpi=300)
    page_3 = scanned_page(["2. Codeine", "Review the dose after two weeks."], dpi=200)
    text_layer_page = [(72, 700, "This page has a text layer.")]
    path.write_bytes(build_pdf([[], text_layer_page, []], images={0: full_page(page_1), 2: full_page(page_3)}))

    progress: list[None] = []

    title, blocks, page_count = document_parse(path=path, on_page=lambda: progress.append(None))
    document = document_structure(title=title, blocks=blocks, page_count=page_count)

    assert len(progress) == 3 + 2  # each page read, then each scanned page OCR'd: a caller can renew its lease
    assert [(block.text, block.page) for block in blocks] == [
        ("1. Morphine", 1),
        ("Give 5 mg by mouth every four hours.", 1),
        ("This page has a text layer.", 2),
        ("2. Codeine", 3),
        ("Review the dose after two weeks.", 3),
    ]
    assert document.page_count == 3
    review = segment_containing(document, "two weeks")
    assert (review.section_path, review.page) == (("2. Codeine",), 3)


CHINESE_ARTICLES = [
    "第一章　总　则",
    "第二条　本办法适用于各级卫生健康行政部门以及各级各类医疗机构医疗质量管理工作。",
    "第三条　国家卫生健康委负责全国医疗机构医疗质量管理工作。县级以上地方卫生健康行政部门负责本行政区域内医疗"
    "机构医疗质量管理工作。",
    "第四条　医疗质量管理是医疗管理的核心，各级各类医疗机构是医疗质量管理的第一责任主体，应当全面加强医疗质量管理，"
    "持续改进医疗质量，保障医疗安全。",
]


def test_chinese_scanned_page_keeps_articles_and_joins_wrapped_lines(tmp_path: Path) -> None:
    font_path = cjk_font()
    # scripts/test.sh installs Debian's fonts-wqy-microhei; without a CJK font this test cannot draw its scan.
    assert font_path is not None, "no font with Chinese glyphs is installed (Debian's fonts-wqy-microhei)"
    # printed like a notice: 34 characters a line, articles wrapping onto the next line; scanned at 300 dpi
    lines = [paragraph[start : start + 34] for paragraph in CHINESE_ARTICLES for start in range(0, len(paragraph), 34)]
    path = tmp_path / "scan_cn.pdf"
    path.write_bytes(build_pdf([[]], images={0: full_page(scanned_page(lines, font_path=font_path, dpi=300))}))

    blocks, document = parse_and_structure(path)

    # Tesseract spaces out Chinese characters: the text keeps only the space after 第X条, as printed, and each
    # article's wrapped lines are one paragraph again
    expected = [re.sub(r"(?<=[条章])　", " ", paragraph).replace("　", "") for paragraph in CHINESE_ARTICLES]
    assert [(block.text, block.page) for block in blocks] == [(text, 1) for text in expected]
    assert segment_containing(document, "县级以上地方").section_path == ("第一章 总则", "第三条")


def test_page_image_ocr_gives_lines_with_boxes_in_reading_order() -> None:
    picture = scanned_page(["Scanned Guideline", "Section one text."])

    lines = page_image_ocr(image=picture, languages="eng", dpi=150)

    assert [line.text for line in lines] == ["Scanned Guideline", "Section one text."]
    first, second = lines
    assert 140 <= first.left < 160 and first.bottom <= second.top  # pixels of the image, top to bottom


def test_ocr_text_normalize_removes_the_spaces_between_chinese_characters() -> None:
    assert ocr_text_normalize("第 一 条 为 了 规 范 ， 制 定 本 办 法 。") == "第一条 为了规范，制定本办法。"
    assert ocr_text_normalize("2024 年 1 月 使 用 CT 检 查") == "2024年1月使用 CT 检查"
    assert ocr_text_normalize("Give  5 mg\tdaily") == "Give 5 mg daily"


def test_scanned_pdf_without_tesseract_fails_clearly(tmp_path: Path, settings) -> None:
    settings.OCR_TESSERACT_CMD = str(tmp_path / "not-installed" / "tesseract")
    path = tmp_path / "scan.pdf"
    picture = full_page(scanned_page(["Any text"]))
    path.write_bytes(
        build_pdf([[], [], [(72, 700, "Typed page.")], [], []], images={0: picture, 1: picture, 4: picture})
    )

    with pytest.raises(IngestionError) as failure:
        document_parse(path=path)

    message = str(failure.value)
    assert message.startswith("This PDF is scanned (no text layer on page 1-2, 5) and OCR is not available: ")
    assert "was not found; install tesseract-ocr (and tesseract-ocr-chi-sim for Chinese)" in message


def test_drawing_without_text_is_left_out_when_ocr_is_not_available(tmp_path: Path, settings) -> None:
    settings.OCR_TESSERACT_CMD = str(tmp_path / "not-installed" / "tesseract")
    path = tmp_path / "with_diagram.pdf"
    path.write_bytes(build_pdf([[(72, 700, "Typed page.")], []]))  # page 2: a line drawing, no text, no picture

    _, blocks, page_count = document_parse(path=path)

    assert [(block.text, block.page) for block in blocks] == [("Typed page.", 1)]
    assert page_count == 2


def test_few_words_over_a_page_sized_picture_are_read_by_ocr(tmp_path: Path) -> None:
    path = tmp_path / "stamped_scan.pdf"
    picture = full_page(scanned_page(["Scanned text under a stamp."], dpi=300))
    path.write_bytes(build_pdf([[(500, 30, "p. 1")]], images={0: picture}))  # a page number typed over the scan

    _, blocks, _ = document_parse(path=path)

    assert [block.text for block in blocks] == ["Scanned text under a stamp.", "p. 1"]


def test_cover_picture_with_a_title_keeps_its_text_layer_when_ocr_is_not_available(tmp_path: Path, settings) -> None:
    settings.OCR_TESSERACT_CMD = str(tmp_path / "not-installed" / "tesseract")
    path = tmp_path / "report.pdf"
    photo = full_page(Image.new("L", (300, 400), 128))  # a cover photo filling the page
    path.write_bytes(build_pdf([[(72, 700, "Annual Report")], [(72, 700, "Body text.")]], images={0: photo}))

    _, blocks, _ = document_parse(path=path)

    assert [(block.text, block.page) for block in blocks] == [("Annual Report", 1), ("Body text.", 2)]


def test_drawings_alone_without_ocr_fail_clearly(tmp_path: Path, settings) -> None:
    settings.OCR_TESSERACT_CMD = str(tmp_path / "not-installed" / "tesseract")
    path = tmp_path / "drawings.pdf"
    path.write_bytes(build_pdf([[], []]))

    with pytest.raises(IngestionError, match=re.escape("no text layer on page 1-2) and OCR is not available")):
        document_parse(path=path)


def test_scanned_pdf_without_language_data_fails_clearly(tmp_path: Path, settings) -> None:
    settings.OCR_LANGUAGES = "eng+xyz_test"
    path = tmp_path / "scan.pdf"
    path.write_bytes(build_pdf([[]], images={0: full_page(scanned_page(["Any text"]))}))

    with pytest.raises(
        IngestionError, match=re.escape("no language data for xyz_test; install tesseract-ocr-xyz-test")
    ):
        document_parse(path=path)


def test_blank_scanned_pages_fail_clearly(tmp_path: Path) -> None:
    path = tmp_path / "blank_scan.pdf"
    path.write_bytes(build_pdf([[], []]))  # pages with a drawing and no text: OCR runs and finds nothing

    with pytest.raises(IngestionError, match=re.escape("it has no text layer and OCR found no text on its 2 scanned")):
        document_parse(path=path)
