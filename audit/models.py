"""The audit log's one table.

The model lives in this package, below ingestion and the features, so that anything that acts (an admin upload, a
question) can record itself without reaching up. It is registered under the `assistant` app, where its table, its
migrations, its permission and its admin pages have always been (assistant.models imports it).
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One thing that happened: a question asked (and what was shown), or an admin action on documents or grants.

    Append-only: the app never updates or deletes a row (the admin is read-only) and on PostgreSQL a trigger
    refuses UPDATE and DELETE on the table. The user is kept by id and name, without a foreign key, so deleting a
    user neither cascades into the log nor has to rewrite it.
    """

    class Interface(models.TextChoices):
        ASK_PAGE = "ask_page", "Ask page"
        ASK_STREAM = "ask_stream", "Ask page (streamed)"
        ANSWER_API = "answer_api", "REST API /api/answers/"
        OPENAI_API = "openai_api", "OpenAI-compatible API"
        CLINICAL_PAGE = "clinical_page", "Clinician portal"
        CLINICAL_STREAM = "clinical_stream", "Clinician portal (streamed)"
        CLINICAL_API = "clinical_api", "Clinical API"
        POLICY_PAGE = "policy_page", "Policy form"
        POLICY_STREAM = "policy_stream", "Policy form (streamed)"
        POLICY_API = "policy_api", "Policy API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command line"

    class Action(models.TextChoices):
        QUESTION = "question", "Question answered"
        CLINICAL_REPORT = "clinical_report", "Clinical report"
        POLICY_MATCH = "policy_match", "Policy match"
        DOCUMENT_UPLOAD = "document_upload", "Documents uploaded"
        DOCUMENT_DELETE = "document_delete", "Documents deleted"
        DOCUMENT_REINGEST = "document_reingest", "Documents ingested again"
        DOCUMENT_CHANGE = "document_change", "Document edited"
        COLLECTION_CREATE = "collection_create", "Document set created"
        COLLECTION_CHANGE = "collection_change", "Document set edited"
        COLLECTION_DELETE = "collection_delete", "Document set deleted"
        GRANT_CHANGE = "grant_change", "Read grants changed"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="The user's id when it happened.")
    username = models.CharField(max_length=150, blank=True, db_index=True)
    interface = models.CharField(max_length=20, choices=Interface.choices, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    collection_ids = models.JSONField(default=list, help_text="Ids of the document sets searched or acted on.")
    collection_names = models.TextField(
        blank=True, help_text="Their names as they were, each between | marks (|a|b|), so the list filters by name."
    )
    question = models.TextField(blank=True, help_text="The question, complaint or business profile asked about.")
    chunk_ids = models.JSONField(default=list, help_text="Ids of the passages shown to the model and the user.")
    text = models.TextField(blank=True, help_text="The answer or report as shown, or what the admin action did.")
    citations = models.JSONField(default=list, help_text="The cited passages (with quotes where there are).")
    model = models.CharField(max_length=200, blank=True)
    timings = models.JSONField(default=dict)
    object_type = models.CharField(max_length=40, blank=True, help_text="What the record is: answer, document, ...")
    object_ids = models.JSONField(default=list, help_text="Ids of the stored answer/report/match or documents.")
    detail = models.JSONField(default=dict, help_text="Anything else worth keeping: errors, grants before/after.")

    class Meta:
        app_label = "assistant"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.get_action_display()}"
