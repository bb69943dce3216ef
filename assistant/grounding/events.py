"""What an answer in the making reports, in order: retrieval, reasoning and answer text, verified statements, done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

GroundedEventKind = Literal["retrieval", "queued", "reasoning", "answer", "statement", "item", "done", "error"]


@dataclass(frozen=True)
class GroundedEvent:
    kind: GroundedEventKind
    data: dict[str, Any] = field(default_factory=dict)


def queued_event(*, ahead: int, language: str) -> GroundedEvent:
    """While every generation slot is taken: the place in line, said plainly, so nobody waits on a silent page."""
    from assistant.grounding.llm.slots import queued_message  # the events module stays free of the LLM stack at import

    return GroundedEvent("queued", {"ahead": ahead, "message": queued_message(ahead=ahead, language=language)})
