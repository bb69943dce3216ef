"""What an admin does to document sets and documents, each as one service: the writes in one transaction, the
ingestion queued only once they have committed (so the worker finds the rows), and one audit record.

The admin pages (ingestion/admin.py) call these and only render; the command line (manage.py ingest) records its
uploads the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from audit.actors import Actor
from audit.models import AuditEvent
from ingestion.audit import collection_audit, collection_grants, documents_audit, grant_change_audit
from ingestion.models import Collection, Document, DocumentRelation
from ingestion.relations import relation_link, relation_unlink
from ingestion.services import DocumentRegistration, collection_delete, document_register, documents_delete
from ingestion.tasks import documents_ingest_queue
from ingestion.uploads import UploadReport, upload_register


def documents_enqueue(*, document_ids: Iterable[int]) -> None:
    """Queue ingestion once the registering transaction has committed, so the worker finds the rows; short documents
    go many to a task."""
    document_ids = list(document_ids)
    if document_ids:
        transaction.on_commit(lambda: documents_ingest_queue(document_ids=document_ids))


def documents_upload(*, collection: Collection, uploads: list[UploadedFile], user: Actor) -> UploadReport:
    """Files and zips into the set: each a document (refused ones failed with a reason), new ones queued."""
    report = UploadReport()
    with transaction.atomic():
        for upload in uploads:
            report.extend(upload_register(collection=collection, name=upload.name, stream=upload))
        documents_enqueue(document_ids=report.to_ingest)
        documents_audit(
            action=AuditEvent.Action.DOCUMENT_UPLOAD, user=user, documents=[*report.created, *report.rejected],
            detail={"files": [upload.name for upload in uploads], "duplicates": len(report.duplicates),
                    "refused": len(report.rejected)},
        )
    return report


def document_upload(
    *, collection: Collection, file_name: str, content: bytes, title: str, external_id: str, user: Actor
) -> DocumentRegistration:
    """One file with its title and id (the admin's add-document form); an identical file already there is kept."""
    with transaction.atomic():
        registration = document_register(collection=collection, file_name=file_name, content=content, title=title,
                                         external_id=external_id)
        documents_audit(action=AuditEvent.Action.DOCUMENT_UPLOAD, user=user, documents=[registration.document],
                        detail={"created": registration.created})
        if registration.created and not registration.document.is_finished:
            documents_enqueue(document_ids=[registration.document.id])
    return registration


def document_change_record(*, document: Document, changed: list[str], user: Actor) -> None:
    """An edit the admin form saved (title, set, id): recorded with the fields that changed."""
    documents_audit(action=AuditEvent.Action.DOCUMENT_CHANGE, user=user, documents=[document],
                    detail={"changed": changed})


def documents_ingest_again(*, documents: Iterable[Document], user: Actor) -> int:
    """Failed documents queued again, for failures whose cause is gone (OCR installed since, a parser fixed); bad
    files simply fail again. Others are left as they are. Returns how many were queued."""
    retry = [d.id for d in documents if d.status == Document.Status.FAILED and d.file]
    with transaction.atomic():
        Document.objects.filter(id__in=retry).update(status=Document.Status.QUEUED, failure_reason="", chunk_count=0)
        documents_enqueue(document_ids=retry)
        documents_audit(action=AuditEvent.Action.DOCUMENT_REINGEST, user=user,
                        documents=Document.objects.filter(id__in=retry))
    return len(retry)


def documents_remove(*, documents: list[Document], user: Actor) -> int:
    """Documents deleted with their chunks and vectors; the record keeps what each was."""
    documents_audit(action=AuditEvent.Action.DOCUMENT_DELETE, user=user, documents=documents)
    return documents_delete(documents=documents)


def collection_save_record(*, collection: Collection, created: bool, changed: list[str], user: Actor) -> None:
    """A set created or edited in the admin (grants are recorded apart, by `collection_grants_record`)."""
    if created:
        collection_audit(action=AuditEvent.Action.COLLECTION_CREATE, user=user, collection=collection)
    elif changed:
        collection_audit(action=AuditEvent.Action.COLLECTION_CHANGE, user=user, collection=collection,
                         detail={"changed": changed})


def collection_grants_record(*, collection: Collection, before: list[str], user: Actor) -> None:
    """The groups reading the set as they are now, against `before`; nothing is recorded when they did not change."""
    grant_change_audit(user=user, collection=collection, before=before, after=collection_grants(collection=collection))


def collection_remove(*, collection: Collection, user: Actor) -> None:
    """The set deleted with its documents. Recorded first: the event keeps the name, documents and readers."""
    collection_audit(action=AuditEvent.Action.COLLECTION_DELETE, user=user, collection=collection,
                     detail={"documents": collection.documents.count(),
                             "readers": collection_grants(collection=collection)})
    collection_delete(collection=collection)


def documents_link(*, newer: Document, older: Document, kind: str, user: Actor) -> DocumentRelation:
    """An admin links two documents: `newer` supersedes (a newer edition, a repeal) or amends `older`."""
    with transaction.atomic():
        relation = relation_link(newer=newer, older=older, kind=kind)
        documents_audit(action=AuditEvent.Action.DOCUMENT_CHANGE, user=user, documents=[newer, older],
                        detail={"linked": {"newer": newer.id, "older": older.id, "kind": kind}})
    return relation


def editions_link_by_date(*, documents: list[Document], user: Actor) -> list[DocumentRelation]:
    """An admin marks documents as editions of one work: each is superseded by the next issued after it. Raises
    ValueError when fewer than two are given or an issue date is missing (the order would be a guess)."""
    if len(documents) < 2:
        raise ValueError("Select at least two editions of one work.")
    undated = [d for d in documents if d.issued_on is None]
    if undated:
        raise ValueError("Give each edition its issue date first: " + ", ".join(str(d) for d in undated))
    ordered = sorted(documents, key=lambda d: (d.issued_on, d.id))
    return [documents_link(newer=newer, older=older, kind=DocumentRelation.Kind.EDITION, user=user)
            for older, newer in pairwise(ordered)]


def documents_unlink(*, relation: DocumentRelation, user: Actor) -> DocumentRelation:
    """An admin unlinks two documents; detection never links them again."""
    with transaction.atomic():
        relation_unlink(relation=relation)
        documents_audit(action=AuditEvent.Action.DOCUMENT_CHANGE, user=user,
                        documents=[d for d in (relation.newer, relation.older) if d is not None],
                        detail={"unlinked": {"newer": relation.newer_id, "older": relation.older_id,
                                             "kind": relation.kind}})
    return relation
