"""What admin actions on document sets, documents and read grants record in the audit log."""

from __future__ import annotations

from collections.abc import Iterable

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from ingestion.models import Collection, Document
from ingestion.selectors import collection_names_get


def documents_audit(
    *, action: str, user: Actor, documents: Iterable[Document], interface: str = AuditEvent.Interface.ADMIN,
    detail: dict | None = None,
) -> AuditEvent:
    """An admin action on documents: what each was (set, title, file, hash), kept after the documents go."""
    described = [{"id": d.id, "collection_id": d.collection_id, "title": d.title, "original_name": d.original_name,
                  "sha256": d.sha256, "version": d.version, "status": d.status} for d in documents]
    collection_ids = {d["collection_id"] for d in described}
    return audit_record(
        interface=interface, action=action, user=user, collection_ids=collection_ids,
        collection_names=collection_names_get(collection_ids=collection_ids),
        text="; ".join(d["title"] or d["original_name"] for d in described)[:5000],
        object_type="document", object_ids=[d["id"] for d in described],
        detail={"documents": described, **(detail or {})},
    )


def collection_audit(
    *, action: str, user: Actor, collection: Collection, interface: str = AuditEvent.Interface.ADMIN,
    detail: dict | None = None,
) -> AuditEvent:
    return audit_record(
        interface=interface, action=action, user=user, collection_ids=[collection.id],
        collection_names={collection.id: collection.name}, text=collection.name,
        object_type="collection", object_ids=[collection.id], detail=detail or {},
    )


def collection_grants(*, collection: Collection) -> list[str]:
    return sorted(collection.reader_groups.values_list("name", flat=True))


def grant_change_audit(
    *, user: Actor, collection: Collection, before: list[str], after: list[str],
    interface: str = AuditEvent.Interface.ADMIN,
) -> AuditEvent | None:
    """Record a change of the groups that read a set; nothing when they did not change."""
    if sorted(before) == sorted(after):
        return None
    return collection_audit(
        action=AuditEvent.Action.GRANT_CHANGE, user=user, collection=collection, interface=interface,
        detail={"before": sorted(before), "after": sorted(after),
                "granted": sorted(set(after) - set(before)), "revoked": sorted(set(before) - set(after))},
    )
