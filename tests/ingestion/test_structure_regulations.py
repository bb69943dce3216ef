"""English regulations: numbered rules ("2.1 The applicant must …"), § sections, Rules and Articles as sections,
nested by their numbering, and the numbers in running text (decimals, dates, versions, list items) left alone."""

from __future__ import annotations

from pathlib import Path

from assistant.demo.sample_set import RD_GRANT_NOTICE_FILE_NAME, sample_set_write
from ingestion.chunking import document_chunk
from ingestion.headings import starts_with_numbering
from ingestion.parsing.document import document_parse
from ingestion.structure import document_structure
from ingestion.types import Block
from tests.ingestion.test_structure import assert_offsets_exact, segment_containing, structure_lines, uncovered_lines


def test_sample_notice_rules_are_sections_under_their_headings(tmp_path: Path) -> None:
    [path] = [path for path in sample_set_write(directory=tmp_path) if path.name == RD_GRANT_NOTICE_FILE_NAME]
    title, blocks, page_count = document_parse(path=path)
    document = document_structure(title=title, blocks=blocks, page_count=page_count)
    assert_offsets_exact(document)

    employees = segment_containing(document, "fewer than 250 employees")
    assert employees.section_path == ("2. Eligibility", "2.2")
    assert employees.text.startswith("The applicant must have fewer than 250 employees")  # "2.2" is the label
    assert segment_containing(document, "maximum of 200,000 euros").section_path == ("3. Grant amounts", "3.1")
    # "(a) … (b) …" inside a rule are its items, not grades or headings
    assert segment_containing(document, "(a) the completed application form").section_path == ("4. Application", "4.2")
    chunks = document_chunk(document=document, max_chars=800, overlap_chars=100)
    assert {" > ".join(chunk.section_path) for chunk in chunks} >= {"2. Eligibility > 2.1", "2. Eligibility > 2.6"}


def test_rule_numbers_nest_by_depth_and_continue_the_open_numbering() -> None:
    document = structure_lines(
        [
            "14. Applications",
            "14.1 General",
            "14.1.1 The applicant shall submit the form before 1 March.",
            "14.1.2 The form shall be signed by a director.",
            "14.2 The authority shall decide within 60 days.",
            "14.2.1 A decision may be appealed.",
            "15. Reporting",
            "15.1 Grant holders shall report every 6 months.",
        ]
    )

    paths = {segment.text: segment.section_path for segment in document.segments}
    assert paths["The applicant shall submit the form before 1 March."] == (
        "14. Applications",
        "14.1 General",
        "14.1.1",
    )
    assert paths["The form shall be signed by a director."] == ("14. Applications", "14.1 General", "14.1.2")
    assert paths["The authority shall decide within 60 days."] == ("14. Applications", "14.2")
    assert paths["A decision may be appealed."] == ("14. Applications", "14.2", "14.2.1")
    assert paths["Grant holders shall report every 6 months."] == ("15. Reporting", "15.1")


def test_numbers_in_running_text_are_not_rules() -> None:
    document = structure_lines(
        [
            "2. Dosing",
            "2.1 Adults receive 3.5 mg once daily.",
            "3.5 mg may be given to children over 12 years.",
            "12.05.2024 The dose was revised.",
            "1.3.1 This number goes backwards, so it continues nothing.",
            "7.4 Million people were treated in 2023.",
            "Version 2.3.1 of the protocol applies.",
            "1. Take the tablet with food.",
            "2.2 Children receive half the adult dose.",
        ]
    )

    adults = segment_containing(document, "Adults receive 3.5 mg")
    assert adults.section_path == ("2. Dosing", "2.1")
    for body_line in (
        "3.5 mg may be given",
        "12.05.2024 The dose",
        "1.3.1 This number",
        "7.4 Million people",
        "Version 2.3.1",
        "1. Take the tablet with food.",
    ):
        assert body_line in adults.text
    assert segment_containing(document, "Children receive half").section_path == ("2. Dosing", "2.2")


def test_rules_under_a_format_outline_need_a_numbered_heading_above() -> None:
    blocks = [
        Block(text="Grant Notice", heading_level=1),
        Block(text="2. Eligibility", heading_level=2),
        Block(text="2.1 The applicant must be registered in the region."),
        Block(text="Background", heading_level=2),
        Block(text="1.1 Million businesses are registered in the region."),
    ]
    document = document_structure(title="", blocks=blocks, page_count=None)
    assert_offsets_exact(document)

    assert segment_containing(document, "must be registered").section_path == ("Grant Notice", "2. Eligibility", "2.1")
    assert segment_containing(document, "Million businesses").section_path == ("Grant Notice", "Background")


def test_cfr_parts_subparts_and_sections() -> None:
    document = structure_lines(
        [
            "PART 164—SECURITY AND PRIVACY",
            "Subpart C—Security Standards for the Protection of Electronic Protected Health Information",
            "§ 164.312 Technical safeguards.",
            "A covered entity must, in accordance with § 164.306:",
            "(a)(1) Standard: Access control. Implement technical policies and procedures.",
            "(2) Implementation specifications:",
            "§ 164.314 Organizational requirements.",
            "(a)(1) Standard: Business associate contracts or other arrangements.",
        ]
    )

    part = "PART 164—SECURITY AND PRIVACY"
    subpart = "Subpart C—Security Standards for the Protection of Electronic Protected Health Information"
    safeguards = segment_containing(document, "A covered entity must")
    assert safeguards.section_path == (part, subpart, "§ 164.312 Technical safeguards.")
    assert "(2) Implementation specifications:" in safeguards.text  # paragraphs of a section are its text
    assert segment_containing(document, "Business associate contracts").section_path == (
        part,
        subpart,
        "§ 164.314 Organizational requirements.",
    )


def test_articles_and_rules_are_sections_and_their_numbered_paragraphs_are_text() -> None:
    document = structure_lines(
        [
            "CHAPTER II",
            "Principles",
            "Article 5",
            "Principles relating to processing of personal data",
            "1. Personal data shall be:",
            "(a) processed lawfully, fairly and in a transparent manner;",
            "2. The controller shall be responsible for compliance with paragraph 1.",
            "Article 6 Lawfulness of processing",
            "1. Processing shall be lawful only if the data subject has given consent.",
            "Article 5 of this Regulation applies to all controllers.",
            "Rule 14.2 Service of documents",
            "Rule 14.3 The court may direct service by another method.",
            "Rule 14.2 applies to claims issued after 1 April.",
        ]
    )

    chapter = "CHAPTER II Principles"  # a bare "CHAPTER II" takes the title line below it
    principles = segment_containing(document, "Personal data shall be")
    assert principles.section_path == (chapter, "Article 5 Principles relating to processing of personal data")
    assert "2. The controller shall be responsible" in principles.text
    lawfulness = segment_containing(document, "Processing shall be lawful")
    assert lawfulness.section_path == (chapter, "Article 6 Lawfulness of processing")
    assert "Article 5 of this Regulation applies" in lawfulness.text  # a mention, not a heading
    court = segment_containing(document, "The court may direct service")
    assert court.section_path == (chapter, "Rule 14.3")  # the rule's text follows its number on the line
    assert "Rule 14.2 applies to claims" in court.text
    assert "Rule 14.2 Service of documents" in uncovered_lines(document)


def test_pdf_parser_keeps_units_and_recommendations_on_lines_of_their_own() -> None:
    for line in ("Article 5", "§ 164.312 Technical safeguards.", "Rule 14.2 Service", "CHAPTER II", "14.2.3 The"):
        assert starts_with_numbering(line), line
    assert starts_with_numbering("Recommendation 4: Offer aspirin.")
    assert starts_with_numbering("推荐意见3：对于1级高血压患者")
    assert not starts_with_numbering("Article 5 of this Regulation applies.")
    assert not starts_with_numbering("Recommendations were made by the panel.")
