"""Admin for document sets, documents (upload) and chunks."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from ingestion.models import Chunk, Collection, Document
from ingestion.selectors import collection_status_counts
from ingestion.services import collection_delete, document_register, documents_delete
from ingestion.tasks import document_ingest_task


class DocumentUploadForm(forms.ModelForm):
    upload = forms.FileField(help_text="PDF, DOCX, HTML, Markdown or text.")

    class Meta:
        model = Document
        fields = ["collection", "title", "external_id"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "document_summary", "created_at"]
    search_fields = ["name"]

    @admin.display(description="Documents by status")
    def document_summary(self, collection: Collection) -> str:
        counts = collection_status_counts(collection=collection)
        return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())) or "empty"

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        collection_delete(collection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        for collection in queryset:
            collection_delete(collection=collection)


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "collection", "status", "chunk_count", "page_count", "failure_reason", "updated_at"]
    list_filter = ["collection", "status", "file_type"]
    search_fields = ["title", "original_name", "external_id", "sha256"]
    readonly_fields = ["sha256", "size_bytes", "file_type", "status", "failure_reason", "page_count", "chunk_count"]
    exclude = ["text"]

    def get_form(self, request: HttpRequest, obj: Document | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = DocumentUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Document | None = None) -> list[str]:
        return [] if obj is None else [*self.readonly_fields, "file", "original_name"]

    def save_model(self, request: HttpRequest, obj: Document, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        upload = form.cleaned_data["upload"]
        registration = document_register(
            collection=form.cleaned_data["collection"],
            file_name=upload.name,
            content=upload.read(),
            title=form.cleaned_data.get("title") or "",
            external_id=form.cleaned_data.get("external_id") or "",
        )
        obj.pk = registration.document.pk
        if registration.created:
            document_id = registration.document.id
            transaction.on_commit(lambda: document_ingest_task.delay(document_id))
        else:
            messages.info(request, "An identical file is already in this set; nothing was added.")

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        documents_delete(documents=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        documents_delete(documents=list(queryset))


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["document", "ordinal", "section_path", "page_start", "page_end"]
    list_filter = ["collection"]
    search_fields = ["text", "section_path"]
    readonly_fields = [f.name for f in Chunk._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # chunks come from ingestion only
