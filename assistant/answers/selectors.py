"""Reads for the assistant pages and API."""

from __future__ import annotations

from django.db.models import QuerySet

from assistant.models import Answer
from ingestion.models import Chunk, Collection
from ingestion.selectors import collections_with_indexed_documents
from retrieval.access import Reader, collections_readable


def answer_passages(*, answer: Answer) -> list[Chunk]:
    """The passages given to the model, in prompt order, so that [n] is the n-th."""
    chunks = {c.id: c for c in Chunk.objects.select_related("document").filter(id__in=answer.passages)}
    return [chunks[i] for i in answer.passages if i in chunks]


def answers_of_user(*, user: object) -> QuerySet[Answer]:
    return Answer.objects.filter(user=user).order_by("-created_at")


def collections_askable(*, user: Reader) -> QuerySet[Collection]:
    """The sets a user may ask of and that have something indexed: what forms offer and /v1/models lists."""
    return collections_with_indexed_documents().filter(id__in=collections_readable(reader=user).values("id"))


def collection_readable_lookup(*, value: str, user: Reader) -> Collection | None:
    """A set named by its name or id among those the user may read; None for one they may not, as for a missing
    one, so an API never tells that a set they cannot read exists."""
    readable = collections_readable(reader=user)
    collection = readable.filter(name=value).first()
    # An id too long for the column is no id (and must not reach the database as one).
    if collection is None and value.isdigit() and len(value) < 10:
        collection = readable.filter(id=int(value)).first()
    return collection
