"""REST API: ask a question of named document sets; read an answer."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.accounts.permissions import AsksQuestions
from assistant.answers.serializers import AnswerSerializer, AskSerializer
from assistant.answers.services import question_answer
from assistant.models import Answer, AuditEvent


class AnswerCreateApi(APIView):
    permission_classes = [AsksQuestions]

    def post(self, request: Request) -> Response:
        payload = AskSerializer(data=request.data, context={"user": request.user})
        payload.is_valid(raise_exception=True)
        answer = question_answer(
            question=payload.validated_data["question"],
            collection_ids=payload.validated_data["collections"],
            user=request.user,
            interface=AuditEvent.Interface.ANSWER_API,
        )
        return Response(AnswerSerializer(answer).data, status=status.HTTP_201_CREATED)


class AnswerDetailApi(APIView):
    permission_classes = [AsksQuestions]

    def get(self, request: Request, answer_id: int) -> Response:
        answer = get_object_or_404(Answer, id=answer_id, user=request.user)
        return Response(AnswerSerializer(answer).data)
