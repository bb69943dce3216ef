from django.contrib import admin

from assistant.models import Answer


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["question", "grounded", "model", "user", "created_at"]
    list_filter = ["grounded", "model"]
    search_fields = ["question", "text"]
    readonly_fields = [f.name for f in Answer._meta.fields]
