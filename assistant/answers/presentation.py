"""Plain-text rendering of an answer for the command line."""

from __future__ import annotations

from assistant.answers.services import CLOSEST_PASSAGES
from assistant.grounding.passages import passage_dicts
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
    if answer.grounded:
        lines.append("Statements and their grounds:")
        for statement in answer.statements:
            flag = "ok" if statement["supported"] else "NOT SUPPORTED"
            lines.append(f"  - [{flag}, support {statement['support']:.2f}] {statement['text']}")
            for citation in statement["citations"]:
                found = "" if citation["quote_found"] else " (the passage's best match, not the cited sentence)"
                lines.append(f"      [{citation['number']}] {citation_label(citation)}: \"{citation['quote']}\"{found}")
        if answer.supported_share is not None:
            lines.append(f"  supported statements: {answer.supported_share:.0%}")
    else:
        lines.append("Sources: none (the documents do not answer this). Closest passages:")
        for passage in passage_dicts(chunk_ids=list(answer.passages[:CLOSEST_PASSAGES])):
            lines.append(f"  [{passage['number']}] {citation_label(passage)}")
    if answer.invalid_citation_count:
        lines.append(f"  ({answer.invalid_citation_count} citation(s) naming no given passage removed)")
    if answer.error:
        lines.append(f"  (generation failed: {answer.error})")
    if answer.reasoning:
        lines += ["", "Reasoning (shown apart, not part of the answer):", *("  | " + r for r in
                                                                          answer.reasoning.splitlines())]
    t = answer.timings
    lines += ["", f"[{answer.model or 'no model called'}] retrieval {t.get('retrieval_ms')} ms, first token "
                  f"{t.get('ttft_ms', '-')} ms, reasoning {t.get('reasoning_tokens', '-')} tokens, answer "
                  f"{t.get('answer_tokens', '-')} tokens, total {t.get('total_ms')} ms"]
    return "\n".join(lines)
