"""The date a document was issued, read from the head of its text: 2021年8月20日, 2025-01-16, 16 January 2025,
January 16, 2025, 2025 Jan 16, or to the month only (2013 Nov., 2024年5月). Guidelines and policies are cited by
edition, so the passage page shows it next to the title, as the document writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

HEAD_CHARS = 1500
MONTHS = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
YEAR = r"(?P<y>(?:19|20)\d{2})"
# A day is one or two digits that are not a page count ("2013 Mar. 12 p." is a 12-page report from March 2013).
DAY = r"(?P<d>\d{1,2})(?!\d|\s*p\.)"
PATTERNS = (
    re.compile(rf"{YEAR}\s*年\s*(?P<m>\d{{1,2}})\s*月\s*(?:{DAY}\s*日)?"),
    re.compile(rf"(?<!\d){YEAR}[-/.](?P<m>\d{{1,2}})[-/.]{DAY}"),
    re.compile(rf"(?<!\w)(?P<d>\d{{1,2}})\s+(?P<month>{MONTH})\.?\s+{YEAR}(?!\d)", re.IGNORECASE),
    re.compile(rf"(?<!\w)(?P<month>{MONTH})\.?\s+(?P<d>\d{{1,2}}),?\s+{YEAR}(?!\d)", re.IGNORECASE),
    # The National Guideline Clearinghouse's "Date Released: 2006 Apr 3" and bibliographies' "2013 Nov. 81 p."
    re.compile(rf"(?<!\d){YEAR}\s+(?P<month>{MONTH})\b\.?(?:\s+{DAY})?", re.IGNORECASE),
)


@dataclass(frozen=True)
class IssuedDate:
    on: date  # the first of the month when only the month is stated
    as_written: str  # "2021年8月20日", "2013 Nov": what the page shows


def issued_date_find(text: str) -> IssuedDate | None:
    """The first valid date in the first HEAD_CHARS characters, or None: the head of a regulation or a guideline
    carries its adoption, release or publication date; later dates in the body are usually about something else."""
    head = text[:HEAD_CHARS]
    found: list[tuple[int, IssuedDate]] = []
    for pattern in PATTERNS:
        for match in pattern.finditer(head):
            groups = match.groupdict()
            month = int(groups["m"]) if groups.get("m") else MONTHS[groups["month"].lower()]
            try:
                on = date(int(groups["y"]), month, int(groups["d"]) if groups.get("d") else 1)
            except ValueError:
                continue  # 2021年13月 and the like: not a date
            found.append((match.start(), IssuedDate(on=on, as_written=match.group(0).strip().rstrip("."))))
    return min(found, key=lambda item: item[0])[1] if found else None
