"""What a grounded result in the making reports, in order: retrieval, queue place, reasoning, the feature's own
events (answer text and statements, report items, policies), then done (or error first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

GroundedEventKind = Literal[
    "retrieval", "queued", "reasoning", "answer", "statement", "item", "policy", "done", "error",
]


@dataclass(frozen=True)
class GroundedEvent:
    kind: GroundedEventKind
    data: dict[str, Any] = field(default_factory=dict)
    # The stored record on "done", for callers that want the model rather than its page form (never sent).
    record: Any = field(default=None, compare=False, repr=False)


def queued_event(*, ahead: int, language: str) -> GroundedEvent:
    """While every generation slot is taken: the place in line, said plainly, so nobody waits on a silent page."""
    from assistant.grounding.llm.slots import queued_message  # the events module stays free of the LLM stack at import

    return GroundedEvent("queued", {"ahead": ahead, "message": queued_message(ahead=ahead, language=language)})
