"""Quote-level citation links for the pages: a statement's [n] opens its passage with the quoted span marked."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from assistant.grounding.reply import CLOSING_PUNCTUATION
from retrieval.language import CJK

QUOTE_SPAN = re.compile(r"^(\d+)-(\d+)$")
MAX_QUOTE_SPANS = 20  # a link names a handful of spans; more is not a citation


def citation_url(*, citation: dict) -> str:
    """The cited passage's page, with `?q=start-end[,start-end...]` marking the quote (the cited sentences, the model's
    quote, or the best evidence) there."""
    url = reverse("assistant:passage", args=[citation["chunk_id"]])
    pieces = [f"{s}-{e}" for s, e in citation.get("quote_spans") or []
              if isinstance(s, int) and isinstance(e, int) and 0 <= s < e]
    if pieces:
        return f"{url}?q={','.join(pieces)}"
    start, end = citation.get("quote_start"), citation.get("quote_end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
        return f"{url}?q={start}-{end}"
    return url


def quote_spans_parse(*, value: str, text_length: int) -> list[tuple[int, int]]:
    """`start-end[,start-end...]` as sorted, merged character spans inside the text; anything malformed is dropped."""
    spans = []
    for part in value.split(",")[:MAX_QUOTE_SPANS]:
        match = QUOTE_SPAN.match(part.strip())
        if not match:
            continue
        start, end = int(match.group(1)), min(int(match.group(2)), text_length)
        if start < end:
            spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def text_highlight(*, text: str, spans: Iterable[tuple[int, int]]) -> SafeString:
    """The text, escaped, with each span wrapped in <mark> (the first one gets id="quote" to scroll to)."""
    parts, position = [], 0
    for number, (start, end) in enumerate(spans):
        parts.append(escape(text[position:start]))
        mark_id = ' id="quote"' if number == 0 else ""
        parts.append(f'<mark class="quote"{mark_id}>{escape(text[start:end])}</mark>')
        position = end
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))


@dataclass(frozen=True)
class CitationLink:
    number: int
    url: str
    title: str  # document · section · pages: the link's tooltip
    quote: str


@dataclass(frozen=True)
class StatementView:
    text: str
    supported: bool
    support: float | None
    citations: list[CitationLink]

    @property
    def body(self) -> str:
        """The text without its closing punctuation: markers go before it, as in the stored answer text."""
        text = self.text.rstrip()
        return text[:-1] if text and text[-1] in CLOSING_PUNCTUATION else text

    @property
    def marker_gap(self) -> str:
        """A space before the [n] markers of a Latin-script statement, none in Chinese."""
        return "" if not self.citations or CJK.search(self.text) else " "

    @property
    def closing(self) -> str:
        text = self.text.rstrip()
        return text[-1] if text and text[-1] in CLOSING_PUNCTUATION else ""


def statements_for_display(*, statements: list[dict], citations: list[dict]) -> list[StatementView]:
    """Statements with their citation links; reads both the quote-level shape and the earlier one (numbers only)."""
    passage_of_number = {c["number"]: c for c in citations}
    views = []
    for statement in statements:
        links: list[CitationLink] = []
        for cited in statement.get("citations") or []:
            citation = cited if isinstance(cited, dict) else passage_of_number.get(cited)
            if citation is None or any(link.number == citation["number"] for link in links):
                continue
            links.append(
                CitationLink(
                    number=citation["number"],
                    url=citation_url(citation=citation),
                    title=citation_source_label(citation=citation),
                    quote=citation.get("quote") or "",
                )
            )
        supported = bool(statement.get("supported", statement.get("method") != "unsupported"))
        views.append(
            # An unsupported statement is flagged, not linked: no passage stands behind it.
            StatementView(text=statement["text"], supported=supported, support=statement.get("support"),
                          citations=links if supported else [])
        )
    return views


def citation_source_label(*, citation: dict) -> str:
    parts = [citation.get("document_title") or ""]
    if citation.get("section_path"):
        parts.append(citation["section_path"])
    start, end = citation.get("page_start"), citation.get("page_end")
    if start:
        parts.append(f"p. {start}" if end in (None, start) else f"pp. {start}-{end}")
    return " · ".join(str(p) for p in parts if p)


def statements_joiner(*, statements: list[StatementView]) -> str:
    """Chinese statements run on without spaces; others are separated by one."""
    return "" if any(CJK.search(s.text) for s in statements) else " "
