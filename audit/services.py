"""Appending to the audit log. Rows are only ever added (AuditEvent; PostgreSQL refuses UPDATE and DELETE)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from audit.actors import Actor, Operator
from audit.models import AuditEvent


def _names_field(names: Iterable[str]) -> str:
    listed = [name.replace("|", "/") for name in names]
    return f"|{'|'.join(listed)}|" if listed else ""


def audit_record(
    *,
    interface: str,
    action: str,
    user: Actor,
    collection_ids: Iterable[int] = (),
    collection_names: Mapping[int, str] | None = None,
    question: str = "",
    chunk_ids: Iterable[int] = (),
    text: str = "",
    citations: list | None = None,
    model: str = "",
    timings: dict | None = None,
    object_type: str = "",
    object_ids: Iterable[int] = (),
    detail: dict | None = None,
) -> AuditEvent:
    """Append one event. The set names (by id, from the caller) are copied so the row reads the same after a set is
    renamed or deleted."""
    ids = sorted(set(collection_ids))
    names = collection_names or {}
    known = user is not None and not isinstance(user, Operator) and user.is_authenticated
    return AuditEvent.objects.create(
        user_id=user.pk if known else None,
        username=user.get_username() if known else ("(operator)" if isinstance(user, Operator) else ""),
        interface=interface,
        action=action,
        collection_ids=ids,
        collection_names=_names_field(names.get(i, f"#{i}") for i in ids),
        question=question,
        chunk_ids=list(chunk_ids),
        text=text,
        citations=citations or [],
        model=model,
        timings=timings or {},
        object_type=object_type,
        object_ids=list(object_ids),
        detail=detail or {},
    )
