"""What an answer in the making reports, in order: retrieval, reasoning and answer text, verified statements, done."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AnswerEventKind = Literal["retrieval", "reasoning", "answer", "statement", "done", "error"]


@dataclass(frozen=True)
class AnswerEvent:
    kind: AnswerEventKind
    data: dict[str, Any] = field(default_factory=dict)
