"""The audit log as CSV for an auditor's spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.db.models import QuerySet

from audit.models import AuditEvent

CSV_COLUMNS = [
    "id", "time", "user_id", "username", "interface", "action", "collections", "question", "chunk_ids", "text",
    "citations", "model", "timings", "object_type", "object_ids", "detail",
]


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
