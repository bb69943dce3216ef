"""Check each statement against what it cites: the cited sentences must support it by a measured score at or above
the calibrated threshold.

A statement cites sentences by id ([2.3], grounding/sentences.py): the quote shown is that sentence of the passage,
exact by construction, and support is measured on the cited sentences of each passage. An id that names no sentence
given is an invalid citation. From servers without the schema a citation may instead carry the model's own quote: it
is found when it occurs in the passage after normalising width, case, whitespace and quotation marks (an ellipsis may
join pieces found in order), else the passage's best-supporting sentence is shown and the citation says so; support is
then measured on the whole passage, as the threshold was first calibrated.
A statement whose citations fail may still stand on the sentences of a passage that support it ("matched"), which
keeps small models' right answers with a wrong id; a statement nothing supports is unsupported.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from assistant.grounding.reply import DraftStatement
from assistant.grounding.sentences import PassageSentences, Span, sentence_spans
from assistant.grounding.support import content_terms, support_score
from ingestion.models import Chunk

MIN_TERMS = 2
NUMERIC = re.compile(r"[\d./-]+")
QUOTE_CHARS = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "「": '"', "」": '"', "—": "-", "–": "-"})
ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…+)\s*")


def _normalised(text: str) -> tuple[str, list[int]]:
    """Text folded for matching (NFKC, lower case, one space per whitespace run) and each folded char's source index."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).lower().translate(QUOTE_CHARS)
        for piece in folded:
            if piece.isspace():
                if not chars or chars[-1] == " ":
                    continue
                piece = " "
            chars.append(piece)
            origin.append(index)
    return "".join(chars), origin


def quote_locate(*, quote: str, passage: str) -> Span | None:
    """Where the quote occurs in the passage (character offsets of the passage), or None."""
    pieces = [p for p in ELLIPSIS.split(quote.strip().strip("\"'“”「」")) if p.strip()]
    if not pieces:
        return None
    folded, origin = _normalised(passage)
    start = end = None
    cursor = 0
    for piece in pieces:
        needle, _ = _normalised(piece.strip())
        at = folded.find(needle, cursor)
        if not needle or at < 0:
            return None
        start = at if start is None else start
        end = at + len(needle)
        cursor = end
    assert start is not None and end is not None
    return Span(origin[start], origin[end - 1] + 1)


def best_evidence(*, statement: str, passage: str) -> tuple[Span, float]:
    """The sentence, or pair of adjacent sentences, of the passage that best supports the statement."""
    sentences = sentence_spans(passage)
    windows = sentences + [Span(a.start, b.end) for a, b in itertools.pairwise(sentences)]
    scored = [(support_score(statement=statement, evidence=passage[w.start : w.end]), w) for w in windows]
    # The higher score wins; among equals the shorter window, so the quote shown is as tight as the support allows.
    score, window = max(scored, key=lambda item: (item[0], -(item[1].end - item[1].start)))
    return window, score


@dataclass(frozen=True)
class VerifiedCitation:
    number: int
    chunk_id: int
    document_id: int
    document_title: str
    section_path: str
    page_start: int | None
    page_end: int | None
    quote: str
    quote_start: int
    quote_end: int
    quote_found: bool  # the model's own quote occurs in the passage
    support: float
    # The quoted pieces, [start, end) in passage order: sentences cited apart are marked apart, and the quote joins
    # them with " … ", so what lies between them is never shown as cited.
    quote_spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class VerifiedStatement:
    index: int
    text: str
    supported: bool
    support: float
    method: str  # "cited": its own citations hold; "matched": another passage supports it; "unsupported"
    citations: list[VerifiedCitation] = field(default_factory=list)
    invalid_citations: int = 0  # numbers naming no given passage

    def as_dict(self) -> dict:
        return asdict(self)


QUOTE_GAP = " … "


def _citation(
    *, number: int, chunk: Chunk, span: Span, found: bool, support: float, pieces: Sequence[Span] = (),
) -> VerifiedCitation:
    pieces = list(pieces) or [span]
    return VerifiedCitation(
        number=number,
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        document_title=chunk.document.title,
        section_path=chunk.section_path,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        quote=QUOTE_GAP.join(chunk.text[p.start : p.end] for p in pieces),
        quote_start=span.start,
        quote_end=span.end,
        quote_found=found,
        support=round(support, 3),
        quote_spans=[(p.start, p.end) for p in pieces],
    )


def _contiguous_runs(*, text: str, spans: Sequence[Span]) -> list[Span]:
    """Sentences in passage order, those with only whitespace between them joined into one piece."""
    runs: list[Span] = []
    for span in spans:
        if runs and not text[runs[-1].end : span.start].strip():
            runs[-1] = Span(runs[-1].start, max(runs[-1].end, span.end))
        else:
            runs.append(span)
    return runs


def sentences_check(*, statement: str, number: int, chunk: Chunk, spans: Sequence[Span]) -> VerifiedCitation:
    """The cited sentences of one passage (in passage order) as the quote, and their support of the statement."""
    ordered = sorted(set(spans), key=lambda s: s.start)
    evidence = " ".join(chunk.text[s.start : s.end] for s in ordered)
    support = support_score(statement=statement, evidence=evidence)
    return _citation(number=number, chunk=chunk, span=Span(ordered[0].start, ordered[-1].end), found=True,
                     support=support, pieces=_contiguous_runs(text=chunk.text, spans=ordered))


def citation_check(*, statement: str, quote: str, number: int, chunk: Chunk) -> VerifiedCitation:
    """The citation with its quote located (or replaced by the best sentences) and its support measured.

    Support is scored on the whole passage, as the threshold was calibrated (bench/support_calibration.py): scoring
    the best sentence window measured worse there, letting negation flips through from a neighbouring sentence. The
    window only chooses the quote shown when the model's own quote is not in the passage.
    """
    support = support_score(statement=statement, evidence=chunk.text)
    located = quote_locate(quote=quote, passage=chunk.text) if quote.strip() else None
    if located is not None:
        return _citation(number=number, chunk=chunk, span=located, found=True, support=support)
    span, _ = best_evidence(statement=statement, passage=chunk.text)
    return _citation(number=number, chunk=chunk, span=span, found=False, support=support)


def statement_checkable(text: str) -> bool:
    """Enough content to check: "3", "Yes" or "2+2=4" would match almost any passage."""
    terms = content_terms(text)
    return len(terms) >= MIN_TERMS and not all(NUMERIC.fullmatch(t) for t in terms)


def statement_verify(
    *, index: int, draft: DraftStatement, passages: Sequence[Chunk], threshold: float,
    sentences: PassageSentences | None = None,
) -> VerifiedStatement:
    text = draft.text.strip()
    sentences = sentences or PassageSentences.of(passages)
    cited_sentences: dict[int, list[Span]] = {}
    quotes: dict[int, str] = {}
    invalid = 0
    for citation in dict.fromkeys(draft.citations):
        if citation.sentence is not None:
            span = sentences.span(passage=citation.passage, sentence=citation.sentence)
            if span is None:
                invalid += 1
            else:
                cited_sentences.setdefault(citation.passage, []).append(span)
        elif 1 <= citation.passage <= len(passages):
            if not quotes.get(citation.passage):
                quotes[citation.passage] = citation.quote
        else:
            invalid += 1
    if not statement_checkable(text):
        return VerifiedStatement(index, text, False, 0.0, "unsupported", [], invalid)
    checked = [sentences_check(statement=text, number=number, chunk=passages[number - 1], spans=spans)
               for number, spans in cited_sentences.items()]
    checked += [citation_check(statement=text, quote=quote, number=number, chunk=passages[number - 1])
                for number, quote in quotes.items() if number not in cited_sentences]
    holding = [c for c in checked if c.support >= threshold]
    if holding:
        return VerifiedStatement(index, text, True, max(c.support for c in holding), "cited", holding, invalid)
    # The best sentence (or pair) of every passage: a wrong id, or another passage, may hold what the model meant.
    others = [_best_sentences(statement=text, number=number, chunk=chunk)
              for number, chunk in enumerate(passages, start=1)]
    best = max(others, key=lambda c: c.support, default=None)
    if best is not None and best.support >= threshold:
        return VerifiedStatement(index, text, True, best.support, "matched", [best], invalid)
    top = max((c.support for c in [*checked, *others]), default=0.0)
    return VerifiedStatement(index, text, False, top, "unsupported", [], invalid)


def _best_sentences(*, statement: str, number: int, chunk: Chunk) -> VerifiedCitation:
    span, support = best_evidence(statement=statement, passage=chunk.text)
    return _citation(number=number, chunk=chunk, span=span, found=False, support=support)
