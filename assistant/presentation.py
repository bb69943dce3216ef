"""Plain-text rendering of an answer for the command line."""

from __future__ import annotations

from assistant.models import Answer
from retrieval.language import language_of


def citation_label(citation: dict) -> str:
    title = citation["document_title"]
    parts = [f"《{title}》" if language_of(title) == "zh" else title]
    if citation["section_path"]:
        parts.append(citation["section_path"])
    if citation["page_start"]:
        pages = citation["page_start"]
        if citation["page_end"] and citation["page_end"] != citation["page_start"]:
            pages = f"{citation['page_start']}-{citation['page_end']}"
        parts.append(f"p. {pages}")
    return " · ".join(str(p) for p in parts)


def answer_as_text(answer: Answer) -> str:
    lines = [f"Q: {answer.question}", "", answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        lines.extend(f"  [{c['number']}] {citation_label(c)}" for c in answer.citations)
    else:
        lines.append("Sources: none (the answer is not grounded in the documents)")
    if answer.invalid_citation_count:
        lines.append(f"  ({answer.invalid_citation_count} citation(s) naming no given passage removed)")
    if answer.reasoning:
        lines += ["", "Reasoning (shown apart, not part of the answer):", *("  | " + r for r in
                                                                          answer.reasoning.splitlines())]
    timings = answer.timings
    lines += ["", f"[{answer.model or 'no model called'}] retrieval {timings.get('retrieval_ms')} ms, "
                  f"generation {timings.get('generation_ms', '-')} ms, total {timings.get('total_ms')} ms"]
    return "\n".join(lines)
