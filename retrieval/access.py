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
from ingestion.selectors import collections_with_indexed_documents

__all__ = ["OPERATOR", "Operator", "Reader"]

ROLE_ADMIN: Final = "admin"
ROLE_CLINICIAN: Final = "clinician"
ROLE_POLICY_OFFICER: Final = "policy officer"
ROLE_READ_ONLY: Final = "read-only"
ROLES: Final = (ROLE_ADMIN, ROLE_CLINICIAN, ROLE_POLICY_OFFICER, ROLE_READ_ONLY)


Reader = AbstractBaseUser | AnonymousUser | Operator


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


def collections_askable(*, user: Reader) -> QuerySet[Collection]:
    """The sets a user may ask of and that have something indexed: what forms offer and /v1/models lists."""
    return collections_with_indexed_documents().filter(id__in=collections_readable(reader=user).values("id"))


def collection_readable_lookup(*, value: str, user: Reader) -> Collection | None:
    """A set named by its name or id among those the user may read; None for one they may not, as for a missing
    one, so an API never tells that a set they cannot read exists. The one lookup of a set by name or id."""
    readable = collections_readable(reader=user)
    collection = readable.filter(name=value).first()
    # An id too long for the column is no id (and must not reach the database as one).
    if collection is None and value.isdigit() and len(value) < 10:
        collection = readable.filter(id=int(value)).first()
    return collection
