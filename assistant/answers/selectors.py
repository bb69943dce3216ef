"""Reads for the assistant pages and API."""

from __future__ import annotations

from django.db.models import QuerySet

from assistant.models import Answer
from ingestion.models import Chunk
from retrieval.selectors import chunks_in_order


def answer_passages(*, answer: Answer) -> list[Chunk]:
    """The passages given to the model, in prompt order, so that [n] is the n-th."""
    return chunks_in_order(chunk_ids=answer.passages)


def answers_of_user(*, user: object) -> QuerySet[Answer]:
    return Answer.objects.filter(user=user).order_by("-created_at")
