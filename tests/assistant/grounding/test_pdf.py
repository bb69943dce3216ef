"""The PDF renderer: Chinese and English text, markup characters and line breaks come back out of the file as given."""

from __future__ import annotations

import pypdfium2 as pdfium

from assistant.grounding.pdf import PdfBlock, pdf_render


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def test_chinese_and_english_blocks_are_laid_out_and_extractable() -> None:
    quote = "企业应当符合下列条件：（一）职工人数不超过300人；<b>&amp;"
    data = pdf_render(
        title="政策匹配结果 Policy match",
        blocks=[PdfBlock("subheading", "《深圳市中小企业扶持办法》第四条"), PdfBlock("quote", quote),
                PdfBlock("item", "Opioid taper: reduce by 10% per month\nreassess pain"),
                PdfBlock("note", "Yiju 依据")],
        footer="Sample 样例",
    )
    assert data.startswith(b"%PDF-")
    text = pdf_text(data).replace("\r\n", "\n")
    for expected in ("政策匹配结果 Policy match", "《深圳市中小企业扶持办法》第四条", quote, "reduce by 10% per month",
                     "reassess pain", "Sample 样例"):
        assert expected in text, expected


def test_a_long_report_flows_onto_more_pages_with_a_footer_on_each() -> None:
    sentence = "长期阿片类药物治疗需要定期评估获益与风险。"
    blocks = [PdfBlock("paragraph", f"段落 {n}：" + sentence * 6) for n in range(60)]
    document = pdfium.PdfDocument(pdf_render(title="长报告", blocks=blocks, footer="Yiju"))
    try:
        assert len(document) >= 3
        for page in document:
            assert "Yiju ·" in page.get_textpage().get_text_range()
    finally:
        document.close()
