"""REST API: match a business profile against named policy sets (stored); read one's own matches back."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.accounts.permissions import UsesPolicyMatching
from assistant.models import AuditEvent, PolicyMatchRecord
from assistant.policies.serializers import PolicyMatchCreateSerializer, PolicyMatchRecordSerializer
from assistant.policies.services import policy_match_store, policy_matches_of_user

LIST_LIMIT = 100


class PolicyMatchListCreateApi(APIView):
    permission_classes = [UsesPolicyMatching]

    def get(self, request: Request) -> Response:
        records = policy_matches_of_user(user=request.user)[:LIST_LIMIT]
        return Response(PolicyMatchRecordSerializer(records, many=True).data)

    def post(self, request: Request) -> Response:
        payload = PolicyMatchCreateSerializer(data=request.data, context={"user": request.user})
        payload.is_valid(raise_exception=True)
        record = policy_match_store(
            profile=payload.validated_data["profile"],
            collection_ids=payload.validated_data["collections"],
            user=request.user,
            language=get_language() or "en",
            max_policies=payload.validated_data["max_policies"],
            interface=AuditEvent.Interface.POLICY_API,
        )
        return Response(PolicyMatchRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class PolicyMatchDetailApi(APIView):
    permission_classes = [UsesPolicyMatching]

    def get(self, request: Request, match_id: int) -> Response:
        record = get_object_or_404(PolicyMatchRecord, id=match_id, user=request.user)
        return Response(PolicyMatchRecordSerializer(record).data)
