"""Reads of policy matches: a user's history, and a stored match read back as a result."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from assistant.models import PolicyMatchRecord
from assistant.policies.profile import profile_from_dict
from assistant.policies.results import PolicyMatchResult, policy_match_from_dict


def policy_match_result(record: PolicyMatchRecord) -> PolicyMatchResult:
    """A stored record as the result the matching returned (ranked policies, profile, timings, model)."""
    return PolicyMatchResult(profile=profile_from_dict(record.profile),
                             policies=[policy_match_from_dict(p) for p in record.policies],
                             timings=record.timings, model=record.model)


def policy_matches_of_user(*, user: AbstractBaseUser) -> QuerySet[PolicyMatchRecord]:
    """The user's policy matches, newest first (the history page and the API list)."""
    return PolicyMatchRecord.objects.filter(user=user).prefetch_related("collections").order_by("-created_at")
