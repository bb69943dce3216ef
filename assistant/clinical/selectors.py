"""Reads of clinical reports."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from assistant.models import ClinicalReport


def clinical_reports_of_user(*, user: AbstractBaseUser) -> QuerySet[ClinicalReport]:
    """The user's reports, newest first (the history page)."""
    return ClinicalReport.objects.filter(user=user).prefetch_related("collections").order_by("-created_at")
