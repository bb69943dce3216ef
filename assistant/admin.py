from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from assistant.models import Answer, ClinicalReport, PolicyMatchRecord


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
