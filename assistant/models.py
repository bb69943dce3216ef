"""The records of what was asked and shown: answers, clinical reports and policy matches (and, registered here
from the audit package below, the audit log)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.models import AuditEvent
from ingestion.models import Collection

__all__ = ["Answer", "AuditEvent", "ClinicalReport", "PolicyMatchRecord"]


class Answer(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    question = models.TextField()
    collections = models.ManyToManyField(Collection, related_name="answers")
    language = models.CharField(max_length=8, default="en")
    text = models.TextField(help_text="The answer shown, with [n] markers that name passages.")
    reasoning = models.TextField(blank=True, help_text="The model's reasoning, kept apart from the answer.")
    raw_reply = models.TextField(blank=True)
    grounded = models.BooleanField(default=False, help_text="False when the documents did not answer the question.")
    verdict = models.CharField(
        max_length=8, blank=True, help_text='For a yes/no question: "yes", "no" or "maybe" as the passages support.'
    )
    passages = models.JSONField(default=list, help_text="Chunk ids given to the model, in prompt order ([n] = n-th).")
    citations = models.JSONField(default=list, help_text="Each cited passage once: document, section, pages.")
    statements = models.JSONField(
        default=list, help_text="Each statement: supported or not, its citations with the quote span and support score."
    )
    invalid_citation_count = models.IntegerField(default=0, help_text="Markers naming no given passage.")
    unsupported_statement_count = models.IntegerField(default=0, help_text="Statements no passage supports.")
    supported_share = models.FloatField(
        null=True, blank=True, help_text="Supported statements / statements the model made; null if it made none."
    )
    model = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True, help_text="Why generation failed, when it did (retrieval is kept).")
    timings = models.JSONField(default=dict)
    sources = models.JSONField(
        default=dict, blank=True,
        help_text="Notes on the sources (assistant/grounding/sources.py): passages of replaced or amended documents, "
        "and disagreements between cited documents.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # What the roles grant (assistant/accounts/roles.py): each page and API checks the one it needs.
        permissions = [
            ("ask_questions", "Can ask questions of the document sets they may read"),
            ("use_clinical_portal", "Can use the clinician portal"),
            ("use_policy_matching", "Can use the policy-matching form"),
        ]

    def __str__(self) -> str:
        return self.question[:80]


class ClinicalReport(models.Model):
    """A clinician's report: the complaint and patient facts given, and the verified items per section."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="clinical_reports"
    )
    complaint = models.TextField()
    age = models.PositiveIntegerField(null=True, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    vitals = models.TextField(blank=True)
    history = models.TextField(blank=True)
    medications = models.TextField(blank=True, help_text="The patient's current medications, as entered.")
    collections = models.ManyToManyField(Collection, related_name="clinical_reports")
    language = models.CharField(max_length=8, default="en")
    sections = models.JSONField(
        default=dict,
        help_text="Section -> verified items (supported or not, with quote-level citations); only supported items "
        "count as recommendations.",
    )
    passages = models.JSONField(default=list, help_text="Chunk ids given to the model, in prompt order ([n] = n-th).")
    reasoning = models.TextField(blank=True, help_text="The model's reasoning, kept apart from the report.")
    raw_reply = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    timings = models.JSONField(default=dict)
    error = models.TextField(blank=True, help_text="Why generation failed, when it did (retrieval is kept).")
    sources = models.JSONField(
        default=dict, blank=True,
        help_text="Notes on the sources (assistant/grounding/sources.py): passages of replaced or amended documents, "
        "and disagreements between cited documents.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.complaint[:80]


class PolicyMatchRecord(models.Model):
    """A business profile matched against policy sets: the policies found, ranked by fit, each condition checked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="policy_matches"
    )
    profile = models.JSONField(help_text="The business profile as entered (BusinessProfile fields; dates ISO).")
    collections = models.ManyToManyField(Collection, related_name="policy_matches")
    language = models.CharField(max_length=8, default="en", help_text="The interface language it was asked in.")
    policies = models.JSONField(
        default=list,
        help_text="PolicyMatch.as_dict() per policy in rank order: conditions (met / not met / unknown, each with "
        "its verified clause and quote), benefits, unsupported items, what the business would need to qualify.",
    )
    model = models.CharField(max_length=200, blank=True)
    timings = models.JSONField(default=dict)
    error = models.TextField(blank=True, help_text="Why matching failed, wholly or for a policy (the profile is kept).")
    sources = models.JSONField(
        default=dict, blank=True,
        help_text="Notes on the sources (assistant/grounding/sources.py): passages of replaced or amended documents, "
        "and disagreements between cited documents.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        profile = self.profile or {}
        return " ".join(str(profile.get(key) or "") for key in ("city", "industry", "enterprise_type")).strip() or (
            f"policy match {self.id}"
        )
