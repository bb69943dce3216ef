"""Passages as numbered sentences, the unit a statement cites.

The model reads each passage split into sentences with ids ([2.3] is the third sentence of passage 2) and cites ids,
which the reply schema allows only among those given. The quote shown for a citation is that sentence of the stored
passage, exact by construction, and the model spends no tokens copying text. Chinese splits after 。！？；and at line
breaks, English after a sentence end (. ! ? ;) followed by a space; a fragment too short to say anything ("1.", "(一)")
joins the sentence after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingestion.models import Chunk

SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+")
MIN_SENTENCE_CHARS = 6  # shorter pieces (list numbers, "(一)", "e.g.") join the next sentence
SENTENCE_ID = re.compile(r"^\s*\[?\s*(\d+)\s*[.．]\s*(\d+)\s*\]?\s*$")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def _trimmed(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def sentence_spans(text: str) -> list[Span]:
    """The sentences of a passage as character spans of it (trimmed), short fragments joined to the next."""
    pieces, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if match.start() > start and text[start : match.start()].strip():
            pieces.append(_trimmed(text, Span(start, match.start())))
        start = match.end()
    if text[start:].strip():
        pieces.append(_trimmed(text, Span(start, len(text))))
    spans: list[Span] = []
    pending: Span | None = None
    for piece in pieces:
        span = Span(pending.start, piece.end) if pending else piece
        if span.end - span.start < MIN_SENTENCE_CHARS:
            pending = span
            continue
        spans.append(span)
        pending = None
    if pending is not None:
        spans.append(Span(spans.pop().start, pending.end) if spans else pending)
    return spans or [Span(0, len(text))]


def sentence_id(*, passage: int, sentence: int) -> str:
    return f"{passage}.{sentence}"


def sentence_id_read(value: object) -> tuple[int, int] | None:
    """(passage, sentence), both 1-based, from an id as the model wrote it ("2.3", "[2.3]"); None if it is none."""
    match = SENTENCE_ID.match(value) if isinstance(value, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class PassageSentences:
    """The sentences of the passages given to the model, by id."""

    spans: list[list[Span]]  # per passage (0-based), its sentences' spans

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> PassageSentences:
        return cls(spans=[sentence_spans(chunk.text) for chunk in chunks])

    def ids(self) -> list[str]:
        return [sentence_id(passage=p, sentence=s) for p, spans in enumerate(self.spans, start=1)
                for s in range(1, len(spans) + 1)]

    def span(self, *, passage: int, sentence: int) -> Span | None:
        """The sentence's span in its passage's text; None for an id that was not given."""
        if 1 <= passage <= len(self.spans) and 1 <= sentence <= len(self.spans[passage - 1]):
            return self.spans[passage - 1][sentence - 1]
        return None
