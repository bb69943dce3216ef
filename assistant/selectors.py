"""Reads for the assistant pages and API."""

from __future__ import annotations

from django.db.models import QuerySet

from assistant.models import Answer
from ingestion.models import Chunk, Collection
from ingestion.selectors import collections_with_indexed_documents


def answer_passages(*, answer: Answer) -> list[Chunk]:
    """The passages given to the model, in prompt order, so that [n] is the n-th."""
    chunks = {c.id: c for c in Chunk.objects.select_related("document").filter(id__in=answer.passages)}
    return [chunks[i] for i in answer.passages if i in chunks]


def answers_of_user(*, user: object) -> QuerySet[Answer]:
    return Answer.objects.filter(user=user).order_by("-created_at")


def collections_askable() -> QuerySet[Collection]:
    return collections_with_indexed_documents()
