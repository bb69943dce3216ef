"""What each API needs of its caller, in DRF's terms: signed in and holding the role
permission (assistant/accounts/roles.py)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from assistant.accounts.roles import PERMISSION_ASK, PERMISSION_CLINICAL, PERMISSION_POLICY


class _RolePermission(BasePermission):
    permission = ""
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(self.permission))


class AsksQuestions(_RolePermission):
    permission = PERMISSION_ASK
    message = "Your role does not allow asking questions."


class UsesClinicalPortal(_RolePermission):
    permission = PERMISSION_CLINICAL
    message = "Your role does not allow the clinician portal."


class UsesPolicyMatching(_RolePermission):
    permission = PERMISSION_POLICY
    message = "Your role does not allow policy matching."
