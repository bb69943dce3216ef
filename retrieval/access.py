"""Who may read which document sets, decided once here and applied inside retrieval.

A set (ingestion.models.Collection) grants read to groups (`reader_groups`). A user reads the sets granted to any of
their groups; superusers and members of the "admin" role group read every set. A set granted to no group is read by
admins only: a newly uploaded set stays private until an admin grants it. Anonymous and inactive users read nothing.

Command-line tools and evaluations run by whoever operates the server pass OPERATOR, which reads every set; a web
request always passes its user (an anonymous one reads nothing), so that no page or API can reach around the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from audit.actors import OPERATOR, Operator
from ingestion.models import Collection

__all__ = ["OPERATOR", "CollectionsNotReadable", "Operator", "Reader"]

ROLE_ADMIN: Final = "admin"
ROLE_CLINICIAN: Final = "clinician"
ROLE_POLICY_OFFICER: Final = "policy officer"
ROLE_READ_ONLY: Final = "read-only"
ROLES: Final = (ROLE_ADMIN, ROLE_CLINICIAN, ROLE_POLICY_OFFICER, ROLE_READ_ONLY)


Reader = AbstractBaseUser | AnonymousUser | Operator


class CollectionsNotReadable(Exception):
    """Some requested sets do not exist or may not be read by this reader (which of the two is not said)."""

    def __init__(self, collection_ids: list[int]) -> None:
        self.collection_ids = collection_ids
        super().__init__(f"No readable document set with id {', '.join(map(str, collection_ids))}.")


def reader_reads_everything(*, reader: Reader) -> bool:
    if isinstance(reader, Operator):
        return True
    if reader is None or not reader.is_authenticated or not reader.is_active:
        return False
    return bool(reader.is_superuser) or reader.groups.filter(name=ROLE_ADMIN).exists()


def collections_readable(*, reader: Reader) -> QuerySet[Collection]:
    """The sets this reader may ask questions of and see passages of."""
    if reader_reads_everything(reader=reader):
        return Collection.objects.all()
    if isinstance(reader, Operator) or reader is None or not reader.is_authenticated or not reader.is_active:
        return Collection.objects.none()
    return Collection.objects.filter(reader_groups__user=reader).distinct()


def readable_collection_ids(*, reader: Reader, collection_ids: Iterable[int]) -> list[int]:
    """The requested sets this reader may read, sorted; the others silently dropped (retrieval's own guard)."""
    requested = sorted(set(collection_ids))
    if reader_reads_everything(reader=reader):
        return requested
    return sorted(collections_readable(reader=reader).filter(id__in=requested).values_list("id", flat=True))


def collection_ids_permitted(*, reader: Reader, collection_ids: Iterable[int]) -> list[int]:
    """The requested sets, sorted, when this reader may read all of them; else CollectionsNotReadable.

    Interfaces call this to refuse a request naming an unreadable set instead of answering from fewer sets.
    """
    requested = sorted(set(collection_ids))
    readable = set(readable_collection_ids(reader=reader, collection_ids=requested))
    refused = [i for i in requested if i not in readable]
    if refused:
        raise CollectionsNotReadable(refused)
    return requested


def collection_readable(*, reader: Reader, collection_id: int) -> bool:
    return bool(readable_collection_ids(reader=reader, collection_ids=[collection_id]))
