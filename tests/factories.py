"""Helpers that put real files through the real ingestion path, and users with roles who may read the sets.

A set is read by admins only until granted (retrieval/access.py). Sets ingested here are granted to the group
TEST_READERS unless `readers` says otherwise, and `user_create` puts a user in that group and in roles, so tests
about something else need no grants of their own; the access-control tests pass their own groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group

from assistant.accounts.roles import collection_readers_grant, user_roles_set
from bench.datasets.portal import SourceDocument
from ingestion.models import Collection, Document
from ingestion.services import collection_get_or_create, document_register
from ingestion.tasks import document_ingest_task
from retrieval.access import OPERATOR, ROLE_CLINICIAN, ROLE_POLICY_OFFICER

TEST_READERS = "test readers"
DEFAULT_ROLES = (ROLE_CLINICIAN, ROLE_POLICY_OFFICER)  # between them: the ask page, the portal and the policy form


def user_create(
    username: str, *, password: str | None = None, roles: Iterable[str] = DEFAULT_ROLES,
    groups: Iterable[str] = (TEST_READERS,), superuser: bool = False,
) -> AbstractBaseUser:
    """A user with these roles, in these (reader) groups."""
    model = get_user_model()
    if superuser:
        user = model.objects.create_superuser(username, f"{username}@localhost", password)
    else:
        user = model.objects.create_user(username, password=password)
    user_roles_set(user=user, roles=roles)
    user.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in groups))
    return user


def collection_grant(collection: Collection, *, groups: Iterable[str] = (TEST_READERS,)) -> Collection:
    collection_readers_grant(collection=collection, group_names=groups, actor=OPERATOR)
    return collection


def ingest_file(
    *, path: Path, collection: str | Collection, external_id: str = "", title: str = "",
    readers: Iterable[str] = (TEST_READERS,),
) -> Document:
    return ingest_bytes(
        name=path.name, content=path.read_bytes(), collection=collection, external_id=external_id, title=title,
        readers=readers,
    )


def ingest_bytes(
    *, name: str, content: bytes, collection: str | Collection, external_id: str = "", title: str = "",
    readers: Iterable[str] = (TEST_READERS,),
) -> Document:
    target = collection if isinstance(collection, Collection) else collection_get_or_create(name=collection)
    collection_grant(target, groups=readers)
    registration = document_register(
        collection=target, file_name=name, content=content, external_id=external_id, title=title
    )
    document_ingest_task.delay(registration.document.id)  # in-process: tests run without a broker by default
    registration.document.refresh_from_db()
    return registration.document


def ingest_documents(*, documents: Iterable[SourceDocument], collection: str | Collection) -> Collection:
    """Real documents (bench/datasets/portal.py) through real ingestion into one set, each checked indexed."""
    target = collection if isinstance(collection, Collection) else collection_get_or_create(name=collection)
    for source in documents:
        document = ingest_bytes(name=source.name, content=source.content, collection=target,
                                external_id=source.external_id, title=source.title)
        assert document.status == Document.Status.INDEXED, document.failure_reason
    return target
