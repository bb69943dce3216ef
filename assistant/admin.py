from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from assistant.models import Answer, AuditEvent, ClinicalReport, PolicyMatchRecord
from audit.export import audit_events_csv
from ingestion.models import Collection


class ReadOnlyAdmin(admin.ModelAdmin):
    """What was asked and shown is a record: admins read it, nobody edits it through the app."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ["question", "grounded", "model", "user", "created_at"]
    list_filter = ["grounded", "model"]
    search_fields = ["question", "text"]


@admin.register(ClinicalReport)
class ClinicalReportAdmin(ReadOnlyAdmin):
    list_display = ["complaint", "language", "model", "user", "created_at"]
    list_filter = ["language", "model"]
    search_fields = ["complaint", "history"]


@admin.register(PolicyMatchRecord)
class PolicyMatchRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "language", "model", "user", "created_at"]
    list_filter = ["language", "model"]


class AuditCollectionFilter(admin.SimpleListFilter):
    """By document set: the sets as named when the event was recorded (a deleted set's events still filter)."""

    title = _("document set")
    parameter_name = "set"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in Collection.objects.order_by("name").values_list("name", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.value():
            return queryset
        return queryset.filter(collection_names__contains=f"|{self.value().replace('|', '/')}|")


def _audit_csv_response(events: QuerySet[AuditEvent]) -> HttpResponse:
    response = HttpResponse(audit_events_csv(events=events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="yiju-audit.csv"'
    return response


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log: read and export only; no one adds, edits or deletes an event here (nor, on PostgreSQL, at all)."""

    list_display = ["created_at", "username", "interface", "action", "sets", "question_start", "model"]
    list_filter = ["interface", "action", AuditCollectionFilter, "created_at", "username"]
    search_fields = ["username", "question", "text", "collection_names"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    change_list_template = "admin/assistant/auditevent/change_list.html"

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=_("Document sets"))
    def sets(self, event: AuditEvent) -> str:
        return ", ".join(name for name in event.collection_names.split("|") if name)

    @admin.display(description=_("Question or action"))
    def question_start(self, event: AuditEvent) -> str:
        return (event.question or event.text)[:100]

    @admin.action(description=_("Export the selected events as CSV"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> HttpResponse:
        return _audit_csv_response(queryset)

    def get_urls(self) -> list[URLPattern]:
        own = [path("export/", self.admin_site.admin_view(self.export_view), name="assistant_auditevent_export")]
        return own + super().get_urls()

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The events the list shows with its current filters and search, as CSV."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        changelist = self.get_changelist_instance(request)
        return _audit_csv_response(changelist.get_queryset(request))
