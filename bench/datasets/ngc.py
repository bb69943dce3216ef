"""National Guideline Clearinghouse summaries (shared/data/ngc_guidelines) as Markdown documents.

Each guideline becomes one file, `<doc_id>.md`: "# title", then "## section" when the section changes,
"### field" and the field's text. Run as a script to write them to a folder:

    python bench/datasets/ngc.py OUT_DIR [--limit N] [--source PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YIJU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_SOURCE = SHARED_DATA / "ngc_guidelines" / "ngc_summaries.jsonl.gz"

# Lines of field text that Markdown would read as structure (ATX heading, setext underline, thematic break, code
# fence). Indented by four spaces they stay text: the parser strips the indent and keeps the line as body text.
_STRUCTURE_LINE = re.compile(r"^ {0,3}(#{1,6}(\s|$)|=+\s*$|-+\s*$|([-*_])(\s*\3){2,}\s*$|```|~~~)")


@dataclass(frozen=True)
class Guideline:
    doc_id: str
    title: str
    fields: list[dict[str, str]]  # {"section", "field", "text"} in document order


def ngc_guidelines(*, source: Path = DEFAULT_SOURCE, limit: int | None = None) -> Iterator[Guideline]:
    """The first `limit` guidelines of the corpus (all when None), in file order."""
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found: pass its path, or set YIJU_SHARED_DATA to the shared data folder")
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for count, line in enumerate(lines):
            if limit is not None and count >= limit:
                return
            record = json.loads(line)
            yield Guideline(doc_id=record["doc_id"], title=record["title"].strip(), fields=record["fields"])


def _body_text(text: str) -> str:
    lines = [f"    {line}" if _STRUCTURE_LINE.match(line) else line for line in text.strip().split("\n")]
    return "\n".join(lines)


def ngc_markdown(*, guideline: Guideline) -> str:
    """One guideline as Markdown: its sections as level-2 headings, its fields as level-3 headings."""
    parts = [f"# {guideline.title}"]
    section = None
    for field in guideline.fields:
        if field["section"] != section:
            section = field["section"]
            parts.append(f"## {section}")
        parts.append(f"### {field['field']}")
        if text := _body_text(field["text"]):
            parts.append(text)
    return "\n\n".join(parts) + "\n"


def ngc_convert(*, out_dir: Path, source: Path = DEFAULT_SOURCE, limit: int | None = None) -> list[Path]:
    """Write `<doc_id>.md` for each guideline into out_dir; returns the paths in corpus order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for guideline in ngc_guidelines(source=source, limit=limit):
        path = out_dir / f"{guideline.doc_id}.md"
        path.write_text(ngc_markdown(guideline=guideline), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the NGC guideline summaries as Markdown files.")
    parser.add_argument("out_dir", type=Path, help="folder to write <doc_id>.md files into (created if missing)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N guidelines (default: all)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="ngc_summaries.jsonl.gz")
    args = parser.parse_args()
    paths = ngc_convert(out_dir=args.out_dir, source=args.source, limit=args.limit)
    print(f"wrote {len(paths)} Markdown documents to {args.out_dir}")


if __name__ == "__main__":
    main()
