"""A small SAMPLE document set, written by the project itself, for demos and end-to-end checks.

Four short documents in four formats (Markdown, HTML, DOCX, plain text), two in Chinese and two in
English, two clinical guidelines and two policy notices. Every document says in its title and in its
first paragraph that it is an illustrative sample, not medical or legal advice and not an official
document. The facts in the clinical samples are generic textbook-level facts; the policy samples
describe a fictional city / region.

`sample_set_write(directory=...)` writes the four files (overwriting, byte-for-byte the same on
every run) and returns their paths; `SAMPLE_QUESTIONS` lists questions whose answers sit in a single
passage of one document, with a phrase that passage contains verbatim.

The documents' content is in sample_guidelines.py and sample_policies.py.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from assistant.demo.disclaimers import SAMPLE_DISCLAIMER_EN
from assistant.demo.sample_guidelines import (
    HYPERTENSION_GUIDELINE_MD,
    HYPERTENSION_GUIDELINE_TITLE,
    PNEUMONIA_GUIDELINE_HTML,
    PNEUMONIA_GUIDELINE_TITLE,
)
from assistant.demo.sample_policies import (
    RD_GRANT_NOTICE_TITLE,
    RD_GRANT_NOTICE_TXT,
    SME_POLICY_MARKUP,
    SME_POLICY_TITLE,
)

__all__ = [
    "HYPERTENSION_GUIDELINE_TITLE", "PNEUMONIA_GUIDELINE_TITLE", "RD_GRANT_NOTICE_TITLE", "SAMPLE_QUESTIONS",
    "SME_POLICY_MARKUP", "SME_POLICY_TITLE", "sample_set_write",
]


HYPERTENSION_GUIDELINE_FILE_NAME = "sample_hypertension_guideline_zh.md"
PNEUMONIA_GUIDELINE_FILE_NAME = "sample_pneumonia_guideline_en.html"
SME_POLICY_FILE_NAME = "sample_sme_innovation_policy_zh.docx"
RD_GRANT_NOTICE_FILE_NAME = "sample_rd_grant_notice_en.txt"

SAMPLE_FILE_NAMES: tuple[str, ...] = (
    HYPERTENSION_GUIDELINE_FILE_NAME,
    PNEUMONIA_GUIDELINE_FILE_NAME,
    SME_POLICY_FILE_NAME,
    RD_GRANT_NOTICE_FILE_NAME,
)

# ---------------------------------------------------------------------------------------------------
# Questions whose answer is in one passage of one document; `expected_phrase` occurs verbatim in it.
# The two marked "demo": True are the ones the demo prints cited answers for.
# ---------------------------------------------------------------------------------------------------

SAMPLE_QUESTIONS: list[dict] = [
    {
        "question": "高血压的诊断标准是什么？",
        "document": HYPERTENSION_GUIDELINE_FILE_NAME,
        "expected_phrase": "140/90",
        "demo": True,
    },
    {
        "question": "ACEI类降压药物有哪些禁忌证？",
        "document": HYPERTENSION_GUIDELINE_FILE_NAME,
        "expected_phrase": "双侧肾动脉狭窄",
    },
    {
        "question": "申请中小企业科技创新支持的企业，研发投入占营业收入的比例需要达到多少？",
        "document": SME_POLICY_FILE_NAME,
        "expected_phrase": "不低于3%",
    },
    {
        "question": "研发费用补助每年最高可以拿到多少钱？",
        "document": SME_POLICY_FILE_NAME,
        "expected_phrase": "最高不超过50万元",
    },
    {
        "question": "What antibiotic should adults with low-severity community-acquired pneumonia be given at home?",
        "document": PNEUMONIA_GUIDELINE_FILE_NAME,
        "expected_phrase": "amoxicillin 1 g three times daily",
        "demo": True,
    },
    {
        "question": "How many employees can a business have and still be eligible for the R&D grant?",
        "document": RD_GRANT_NOTICE_FILE_NAME,
        "expected_phrase": "fewer than 250 employees",
    },
    {
        "question": "What is the maximum R&D grant per project?",
        "document": RD_GRANT_NOTICE_FILE_NAME,
        "expected_phrase": "maximum of 200,000 euros per project",
    },
]

# ---------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------

# Fixed timestamp for DOCX metadata and zip entries, so repeated runs write identical bytes.
_FIXED_TIME = datetime(2024, 6, 1, tzinfo=UTC)
_FIXED_ZIP_TIME = (2024, 6, 1, 0, 0, 0)


def sample_set_write(*, directory: Path) -> list[Path]:
    """Write the four sample documents into `directory` (created if needed), overwriting; return their paths.

    The same bytes are written on every run, so re-ingesting the directory finds nothing changed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes] = {
        HYPERTENSION_GUIDELINE_FILE_NAME: HYPERTENSION_GUIDELINE_MD.encode("utf-8"),
        PNEUMONIA_GUIDELINE_FILE_NAME: PNEUMONIA_GUIDELINE_HTML.encode("utf-8"),
        SME_POLICY_FILE_NAME: _docx_bytes(markup=SME_POLICY_MARKUP, title=SME_POLICY_TITLE),
        RD_GRANT_NOTICE_FILE_NAME: RD_GRANT_NOTICE_TXT.encode("utf-8"),
    }
    paths: list[Path] = []
    for name in SAMPLE_FILE_NAMES:
        path = directory / name
        _write_if_changed(path=path, data=contents[name])
        paths.append(path)
    return paths


def _write_if_changed(*, path: Path, data: bytes) -> None:
    """Overwrite `path` with `data`, leaving it (and its mtime) alone when it already holds exactly that."""
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _docx_bytes(*, markup: str, title: str) -> bytes:
    """Render the DOCX markup (see SME_POLICY_MARKUP) with python-docx: real Title / Heading 1 styles and a table."""
    import docx  # imported here so that importing this module needs no python-docx

    document = docx.Document()
    table_rows: list[list[str]] = []

    def flush_table() -> None:
        if not table_rows:
            return
        table = document.add_table(rows=len(table_rows), cols=len(table_rows[0]))
        table.style = "Table Grid"
        for row_index, cells in enumerate(table_rows):
            for cell_index, cell_text in enumerate(cells):
                cell = table.cell(row_index, cell_index)
                cell.text = cell_text
                if row_index == 0:
                    for run in cell.paragraphs[0].runs:
                        run.bold = True
        table_rows.clear()

    for line in markup.splitlines():
        if not line.strip():
            continue
        if line.startswith("|"):
            table_rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        flush_table()
        if line.startswith("= "):
            document.add_heading(line[2:], level=0)
        elif line.startswith("# "):
            document.add_heading(line[2:], level=1)
        else:
            document.add_paragraph(line)
    flush_table()

    core = document.core_properties
    core.title = title
    core.subject = "Illustrative SAMPLE policy document (not an official document)"
    core.author = "Yiju sample set"
    core.last_modified_by = "Yiju sample set"
    core.comments = SAMPLE_DISCLAIMER_EN
    core.revision = 1
    core.created = _FIXED_TIME
    core.modified = _FIXED_TIME
    core.last_printed = _FIXED_TIME

    buffer = io.BytesIO()
    document.save(buffer)
    return _zip_with_fixed_times(data=buffer.getvalue())


def _zip_with_fixed_times(*, data: bytes) -> bytes:
    """Re-pack a zip (DOCX) with a fixed timestamp on every entry, so its bytes do not depend on when it was made."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()
