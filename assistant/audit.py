"""The audit log: every question asked (what was searched, shown and answered) and every admin action on documents.

Rows are only ever added (AuditEvent; PostgreSQL refuses UPDATE and DELETE on the table). Each interface records
its own event through the services (services.answer_stream, clinical.clinical_report_stream,
policy_matching.policy_match_stream_store) and the admin through the functions below.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from assistant.models import Answer, AuditEvent, ClinicalReport, PolicyMatchRecord
from ingestion.models import Collection, Document
from retrieval.access import Operator

Actor = AbstractBaseUser | AnonymousUser | Operator | None

CSV_COLUMNS = [
    "id", "time", "user_id", "username", "interface", "action", "collections", "question", "chunk_ids", "text",
    "citations", "model", "timings", "object_type", "object_ids", "detail",
]


def _names_field(names: Iterable[str]) -> str:
    listed = [name.replace("|", "/") for name in names]
    return f"|{'|'.join(listed)}|" if listed else ""


def audit_record(
    *,
    interface: str,
    action: str,
    user: Actor,
    collection_ids: Iterable[int] = (),
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
    """Append one event; the set names are copied so the row reads the same after a set is renamed or deleted."""
    ids = sorted(set(collection_ids))
    names = dict(Collection.objects.filter(id__in=ids).values_list("id", "name"))
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


def answer_audit(*, answer: Answer, user: Actor, interface: str, collection_ids: list[int]) -> AuditEvent:
    return audit_record(
        interface=interface, action=AuditEvent.Action.QUESTION, user=user, collection_ids=collection_ids,
        question=answer.question, chunk_ids=answer.passages, text=answer.text, citations=answer.citations,
        model=answer.model, timings=answer.timings, object_type="answer", object_ids=[answer.id],
        detail={"grounded": answer.grounded, "verdict": answer.verdict, "supported_share": answer.supported_share,
                "statements": answer.statements, "error": answer.error},
    )


def clinical_report_audit(
    *, report: ClinicalReport, user: Actor, interface: str, collection_ids: list[int]
) -> AuditEvent:
    items = [item for section in (report.sections or {}).values() for item in section]
    citations = [citation for item in items if item.get("supported") for citation in item.get("citations") or []]
    patient = {"age": report.age, "sex": report.sex, "vitals": report.vitals, "history": report.history,
               "medications": report.medications}
    return audit_record(
        interface=interface, action=AuditEvent.Action.CLINICAL_REPORT, user=user, collection_ids=collection_ids,
        question=report.complaint, chunk_ids=report.passages,
        text=json.dumps(report.sections, ensure_ascii=False), citations=citations, model=report.model,
        timings=report.timings, object_type="clinical_report", object_ids=[report.id],
        detail={"patient": patient, "error": report.error},
    )


def policy_match_audit(
    *, record: PolicyMatchRecord, user: Actor, interface: str, collection_ids: list[int]
) -> AuditEvent:
    chunk_ids = [p["chunk_id"] for policy in record.policies for p in policy.get("passages") or []]
    items = [item for policy in record.policies for key in ("conditions", "benefits")
             for item in policy.get(key) or []]
    citations = [item["citation"] for item in items if item.get("citation")]
    return audit_record(
        interface=interface, action=AuditEvent.Action.POLICY_MATCH, user=user, collection_ids=collection_ids,
        question=json.dumps(record.profile, ensure_ascii=False), chunk_ids=list(dict.fromkeys(chunk_ids)),
        text=json.dumps(record.policies, ensure_ascii=False), citations=citations, model=record.model,
        timings=record.timings, object_type="policy_match", object_ids=[record.id],
        detail={"error": record.error, "language": record.language},
    )


def documents_audit(
    *, action: str, user: Actor, documents: Iterable[Document], interface: str = AuditEvent.Interface.ADMIN,
    detail: dict | None = None,
) -> AuditEvent:
    """An admin action on documents: what each was (set, title, file, hash), kept after the documents go."""
    described = [{"id": d.id, "collection_id": d.collection_id, "title": d.title, "original_name": d.original_name,
                  "sha256": d.sha256, "version": d.version, "status": d.status} for d in documents]
    return audit_record(
        interface=interface, action=action, user=user,
        collection_ids={d["collection_id"] for d in described},
        text="; ".join(d["title"] or d["original_name"] for d in described)[:5000],
        object_type="document", object_ids=[d["id"] for d in described],
        detail={"documents": described, **(detail or {})},
    )


def collection_audit(
    *, action: str, user: Actor, collection: Collection, interface: str = AuditEvent.Interface.ADMIN,
    detail: dict | None = None,
) -> AuditEvent:
    return audit_record(
        interface=interface, action=action, user=user, collection_ids=[collection.id], text=collection.name,
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


def _cell(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def audit_events_csv(*, events: QuerySet[AuditEvent]) -> str:
    """The events as CSV text (UTF-8 with a BOM, so Excel reads Chinese), oldest first."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events.order_by("created_at", "id").iterator():
        writer.writerow([
            event.id, event.created_at.isoformat(), _cell(event.user_id), event.username, event.interface,
            event.action, event.collection_names.strip("|").replace("|", "; "), event.question,
            _cell(event.chunk_ids), event.text, _cell(event.citations), event.model, _cell(event.timings),
            event.object_type, _cell(event.object_ids), _cell(event.detail),
        ])
    return out.getvalue()
