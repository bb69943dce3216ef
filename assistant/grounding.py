"""Check each statement of an answer against the passages: a citation stands only where its passage supports it.

Small local models often answer correctly but forget the [n] markers, and any model may cite the wrong passage or
state what no passage says. Support is measured as the share of a statement's content terms (English words,
numbers, Chinese character bigrams) found in the passage; a statement no passage supports is dropped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ingestion.models import Chunk
from retrieval.language import CJK

MARKERS = r"(?:\s*[\[【]\s*\d+(?:\s*[,，、;；]\s*\d+)*\s*[\]】])*"
# A statement runs to a sentence end (。！？!? or a full stop before a space) and keeps the markers after it.
STATEMENT = re.compile(rf".+?(?:[。！？!?；;]|\.(?=\s|$)|\n|$){MARKERS}", re.DOTALL)
MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、;；]\s*\d+)*)\s*[\]】]")
LATIN_TERM = re.compile(r"[a-z0-9]+(?:[./-][a-z0-9]+)*")
MIN_TERMS = 2
NUMERIC = re.compile(r"[\d./-]+")
STOPWORDS = frozenset(
    """a an and are as at be by for from has have in is it its of on or that the this to was were will with
    should can may not no""".split()
)


def content_terms(text: str) -> set[str]:
    lowered = text.lower()
    terms = {t for t in LATIN_TERM.findall(lowered) if t not in STOPWORDS}
    for run in re.findall(rf"{CJK.pattern}+", lowered):
        terms.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return terms


def support_score(statement: str, passage: str) -> float:
    terms = content_terms(statement)
    if not terms:
        return 0.0
    return len(terms & content_terms(passage)) / len(terms)


@dataclass(frozen=True)
class Statement:
    text: str  # without markers
    citations: list[int]  # passage numbers (1-based) that support it
    support: float  # best support among its citations
    method: str  # "model": cited by the model and checked; "matched": attributed by the check; "unsupported"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GroundedAnswer:
    statements: list[Statement]
    invalid_citation_count: int  # markers naming no given passage

    @property
    def supported(self) -> list[Statement]:
        return [s for s in self.statements if s.method != "unsupported"]

    @property
    def text(self) -> str:
        """The supported statements, each with its markers before the closing punctuation."""
        joiner = "" if any(CJK.search(s.text) for s in self.supported) else " "
        return joiner.join(_with_markers(s) for s in self.supported).strip()


def _with_markers(statement: Statement) -> str:
    markers = "".join(f"[{n}]" for n in statement.citations)
    body = statement.text.rstrip()
    if body and body[-1] in "。！？!?；;.":
        return f"{body[:-1]}{'' if CJK.search(body) else ' '}{markers}{body[-1]}"
    return f"{body}{'' if CJK.search(body) else ' '}{markers}"


def answer_ground(*, answer: str, passages: Sequence[Chunk], threshold: float) -> GroundedAnswer:
    statements: list[Statement] = []
    invalid = 0
    for match in STATEMENT.finditer(answer):
        raw = match.group(0)
        text = re.sub(r"\s+([。，,；;！？!?.])", r"\1", MARKER.sub("", raw)).strip()
        if not text:
            continue
        named = [int(n) for m in MARKER.finditer(raw) for n in re.split(r"\s*[,，、;；]\s*", m.group(1))]
        valid = [n for n in dict.fromkeys(named) if 1 <= n <= len(passages)]
        invalid += len(named) - len([n for n in named if 1 <= n <= len(passages)])
        terms = content_terms(text)
        if not terms:
            continue  # punctuation or filler states nothing that needs grounds
        if len(terms) < MIN_TERMS or all(NUMERIC.fullmatch(t) for t in terms):
            # "3", "Yes" or "2+2=4" match almost any passage: too little to check, so they cannot stand as grounded.
            statements.append(Statement(text, [], 0.0, "unsupported"))
            continue
        scores = {n: support_score(text, passages[n - 1].text) for n in range(1, len(passages) + 1)}
        checked = [n for n in valid if scores[n] >= threshold]
        if checked:
            statements.append(Statement(text, checked, max(scores[n] for n in checked), "model"))
            continue
        best = max(scores, key=scores.get) if scores else None
        if best is not None and scores[best] >= threshold:
            statements.append(Statement(text, [best], scores[best], "matched"))
        else:
            statements.append(Statement(text, [], max(scores.values(), default=0.0), "unsupported"))
    return GroundedAnswer(statements=statements, invalid_citation_count=invalid)
