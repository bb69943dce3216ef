"""Admin for document sets: upload many files or a zip, watch each document's progress, delete, grant read to groups;
chunks read-only. The pages render; each action is a service of ingestion/actions.py (transaction, queue, audit)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ingestion.actions import (
    collection_grants_record,
    collection_remove,
    collection_save_record,
    document_change_record,
    document_upload,
    documents_ingest_again,
    documents_link,
    documents_remove,
    documents_unlink,
    documents_upload,
    editions_link_by_date,
)
from ingestion.audit import collection_grants
from ingestion.editions import work_title
from ingestion.models import Chunk, Collection, Document, DocumentRelation
from ingestion.selectors import collection_progress, documents_current, documents_history
from ingestion.uploads import UploadReport


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; empty files pass, so they become failed documents with a reason."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(widget=MultipleFileInput(), allow_empty_file=True, **kwargs)

    def clean(self, data: object, initial: object = None) -> list:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class DocumentSetUploadForm(forms.Form):
    files = MultipleFileField(
        label=_("Files"),
        help_text=_("PDF, DOCX, HTML, Markdown or text files, or zip archives of them; select as many as you like."),
    )


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "readers", "progress", "documents_link", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["documents_link"]
    filter_horizontal = ["reader_groups"]

    @admin.display(description=_("Read by"))
    def readers(self, collection: Collection) -> str:
        return ", ".join(collection_grants(collection=collection)) or _("admins only")

    def save_model(self, request: HttpRequest, obj: Collection, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = [name for name in form.changed_data if name != "reader_groups"]  # grants: save_related
        collection_save_record(collection=obj, created=not change, changed=changed, user=request.user)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        collection = form.instance
        before = collection_grants(collection=collection) if change else []
        super().save_related(request, form, formsets, change)
        collection_grants_record(collection=collection, before=before, user=request.user)

    @admin.display(description=_("Progress"))
    def progress(self, collection: Collection) -> str:
        state = collection_progress(collection=collection)
        return format_html(
            '<progress max="100" value="{}"></progress> {} indexed, {} failed, {} in progress',
            state.percent,
            state.indexed,
            state.failed,
            state.in_flight,
        )

    @admin.display(description=_("Documents"))
    def documents_link(self, collection: Collection) -> str:
        if collection.pk is None:
            return "-"
        url = reverse("admin:ingestion_collection_documents", args=[collection.pk])
        return format_html('<a href="{}">{}</a>', url, _("Upload and progress"))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:collection_id>/documents/",
                self.admin_site.admin_view(self.documents_view),
                name="ingestion_collection_documents",
            ),
            path(
                "<int:collection_id>/documents/table/",
                self.admin_site.admin_view(self.documents_table_view),
                name="ingestion_collection_documents_table",
            ),
        ]
        return own + super().get_urls()

    def response_add(self, request: HttpRequest, obj: Collection, post_url_continue: str | None = None) -> HttpResponse:
        # A new set is empty: the next thing an admin does is upload into it.
        return HttpResponseRedirect(reverse("admin:ingestion_collection_documents", args=[obj.pk]))

    def _table_context(self, collection: Collection) -> dict[str, object]:
        return {
            "collection": collection,
            "progress": collection_progress(collection=collection),
            "documents": documents_current(collection=collection),
            "history": documents_history(collection=collection),
        }

    def documents_view(self, request: HttpRequest, collection_id: int) -> HttpResponse:
        collection = get_object_or_404(Collection, pk=collection_id)
        if not self.has_change_permission(request, collection):
            return HttpResponse(status=403)
        form = DocumentSetUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            report = documents_upload(collection=collection, uploads=form.cleaned_data["files"], user=request.user)
            self._report_message(request, report)
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            **self._table_context(collection),
            "opts": self.model._meta,
            "title": _("Documents of %(name)s") % {"name": collection.name},
            "form": form,
            "table_url": reverse("admin:ingestion_collection_documents_table", args=[collection.pk]),
        }
        return TemplateResponse(request, "admin/ingestion/collection/documents.html", context)

    def documents_table_view(self, request: HttpRequest, collection_id: int) -> HttpResponse:
        collection = get_object_or_404(Collection, pk=collection_id)
        if not self.has_view_permission(request, collection):
            return HttpResponse(status=403)
        return TemplateResponse(
            request, "admin/ingestion/collection/_documents_table.html", self._table_context(collection)
        )

    @staticmethod
    def _report_message(request: HttpRequest, report: UploadReport) -> None:
        added, same, refused = len(report.created), len(report.duplicates), len(report.rejected)
        text = ngettext("%(n)d file added", "%(n)d files added", added) % {"n": added}
        if same:
            text += "; " + ngettext(
                "%(n)d identical to a file already in the set (nothing to do)",
                "%(n)d identical to files already in the set (nothing to do)",
                same,
            ) % {"n": same}
        if refused:
            text += "; " + ngettext("%(n)d refused (reason below)", "%(n)d refused (reasons below)", refused) % {
                "n": refused
            }
        messages.add_message(request, messages.WARNING if refused else messages.SUCCESS, text)

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        collection_remove(collection=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        for collection in queryset:
            collection_remove(collection=collection, user=request.user)


class DocumentUploadForm(forms.ModelForm):
    upload = forms.FileField(help_text=_("PDF, DOCX, HTML, Markdown or text."), allow_empty_file=True)

    class Meta:
        model = Document
        fields = ["collection", "title", "external_id"]


class _RelationInline(admin.TabularInline):
    """Links to or from the document, with the sentence that made them; changed on the Document links page."""

    model = DocumentRelation
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["kind", "other", "origin", "active", "sentence"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def other(self, relation: DocumentRelation) -> str:
        raise NotImplementedError


def _older_label(relation: DocumentRelation) -> str:
    return str(relation.older) if relation.older_id else _("《%(named)s》 (not in any set yet)") % {
        "named": relation.named}


class SupersedesInline(_RelationInline):
    fk_name = "newer"
    verbose_name = _("document this one supersedes or amends")
    verbose_name_plural = _("Documents this one supersedes or amends")

    @admin.display(description=_("document"))
    def other(self, relation: DocumentRelation) -> str:
        return _older_label(relation)


class SupersededByInline(_RelationInline):
    fk_name = "older"
    verbose_name = _("document that supersedes or amends this one")
    verbose_name_plural = _("Superseded or amended by")

    @admin.display(description=_("document"))
    def other(self, relation: DocumentRelation) -> str:
        return str(relation.newer)


class DocumentLinkForm(forms.ModelForm):
    """Linking by hand: both documents, and not one document with itself or its own versions."""

    class Meta:
        model = DocumentRelation
        fields = ["newer", "older", "kind"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["older"].required = True

    def clean(self) -> dict:
        cleaned = super().clean()
        newer, older = cleaned.get("newer"), cleaned.get("older")
        if newer and older and newer.lineage == older.lineage:
            raise forms.ValidationError(_("A document cannot supersede itself or another version of itself."))
        return cleaned


@admin.register(DocumentRelation)
class DocumentRelationAdmin(admin.ModelAdmin):
    """Editions, repeals and amendments: detected at ingestion or set here. Adding one links two documents by hand;
    "Unlink" keeps the link inactive so that it is never detected again."""

    list_display = ["newer", "kind", "older_or_named", "origin", "active", "sentence_excerpt", "updated_at"]
    list_filter = ["kind", "origin", "active"]
    search_fields = ["newer__title", "older__title", "named", "sentence"]
    raw_id_fields = ["newer", "older"]
    actions = ["unlink"]
    form = DocumentLinkForm

    def get_fields(self, request: HttpRequest, obj: DocumentRelation | None = None) -> list[str]:
        if obj is None:
            return ["newer", "older", "kind"]
        return ["newer", "older", "named", "kind", "origin", "active", "sentence", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: DocumentRelation | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description=_("older document"))
    def older_or_named(self, relation: DocumentRelation) -> str:
        return _older_label(relation)

    @admin.display(description=_("sentence"))
    def sentence_excerpt(self, relation: DocumentRelation) -> str:
        return relation.sentence[:120] + ("…" if len(relation.sentence) > 120 else "")

    def save_model(self, request: HttpRequest, obj: DocumentRelation, form: forms.ModelForm, change: bool) -> None:
        obj.pk = documents_link(newer=obj.newer, older=obj.older, kind=obj.kind, user=request.user).pk

    @admin.action(description=_("Unlink the selected documents (never detected again)"))
    def unlink(self, request: HttpRequest, queryset: QuerySet[DocumentRelation]) -> None:
        for relation in queryset.select_related("newer", "older"):
            documents_unlink(relation=relation, user=request.user)
        self.message_user(request, ngettext("%(n)d link unlinked", "%(n)d links unlinked", queryset.count())
                          % {"n": queryset.count()})


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "collection",
        "version",
        "issued_on",
        "issuer",
        "in_force",
        "status",
        "progress_percent",
        "chunk_count",
        "page_count",
        "failure_reason",
        "updated_at",
    ]
    list_filter = ["collection", "status", "file_type"]
    search_fields = ["title", "original_name", "source_path", "external_id", "sha256"]
    readonly_fields = [
        "sha256",
        "size_bytes",
        "file_type",
        "source_path",
        "lineage_id",
        "version",
        "status",
        "failure_reason",
        "page_count",
        "chunk_count",
        "chunks_embedded",
        "embedding_model",
        "attempts",
        "work_title",
    ]
    exclude = ["text", "lease_token", "lease_expires_at"]
    actions = ["ingest_again", "link_editions"]
    inlines = [SupersededByInline, SupersedesInline]

    def get_inlines(self, request: HttpRequest, obj: Document | None = None) -> list:
        return [] if obj is None else self.inlines  # an upload has no links yet

    @admin.display(description=_("in force"))
    def in_force(self, document: Document) -> str:
        """"Superseded by …" when an active link replaces it (any set: this page is for admins)."""
        relation = next((r for r in document.relations_as_older.all() if r.supersedes), None)
        if relation is None:
            return _("yes")
        return _("superseded by %(title)s") % {"title": relation.newer}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Document]:
        return super().get_queryset(request).prefetch_related("relations_as_older__newer")

    @admin.action(description=_("Link as editions of one work (the latest issued is in force)"))
    def link_editions(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        try:
            linked = editions_link_by_date(documents=list(queryset), user=request.user)
        except ValueError as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return
        self.message_user(request, ngettext("%(n)d edition link made", "%(n)d edition links made", len(linked))
                          % {"n": len(linked)})

    def get_form(self, request: HttpRequest, obj: Document | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = DocumentUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Document | None = None) -> list[str]:
        return [] if obj is None else [*self.readonly_fields, "file", "original_name"]

    def save_model(self, request: HttpRequest, obj: Document, form: forms.ModelForm, change: bool) -> None:
        if change:
            if "title" in form.changed_data:
                obj.work_title = work_title(obj.title)
            super().save_model(request, obj, form, change)
            document_change_record(document=obj, changed=list(form.changed_data), user=request.user)
            return
        upload = form.cleaned_data["upload"]
        registration = document_upload(
            collection=form.cleaned_data["collection"],
            file_name=upload.name,
            content=upload.read(),
            title=form.cleaned_data.get("title") or "",
            external_id=form.cleaned_data.get("external_id") or "",
            user=request.user,
        )
        obj.pk = registration.document.pk
        if not registration.created:
            messages.info(request, _("An identical file is already in this set; nothing was added."))

    @admin.action(description=_("Ingest the selected failed documents again"))
    def ingest_again(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        queued = documents_ingest_again(documents=queryset, user=request.user)
        self.message_user(
            request, ngettext("%(n)d document queued", "%(n)d documents queued", queued) % {"n": queued}
        )

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        documents_remove(documents=[obj], user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Document]) -> None:
        documents_remove(documents=list(queryset), user=request.user)


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ["document", "ordinal", "section_path", "page_start", "page_end"]
    list_filter = ["collection"]
    search_fields = ["text", "section_path"]
    readonly_fields = [f.name for f in Chunk._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # chunks come from ingestion only
