"""What every feature's REST API shares: reading back one of one's own stored records (an answer, a report, a
match) through the feature's Output serializer; another user's record is as absent as a missing one (404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.db import models
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.grounding.serializers import RETRY_AFTER, api_errors, id_parameter


# GET one of the caller's records by the id in the route (its one keyword argument). No docstring: the schema takes
# each operation's description from its own extend_schema.
class OwnRecordDetailApi(APIView):

    model: ClassVar[type[models.Model]]
    OutputSerializer: ClassVar[type[serializers.Serializer]]

    def get(self, request: Request, **route: int) -> Response:
        (record_id,) = route.values()
        record = get_object_or_404(self.model, id=record_id, user=request.user)
        return Response(self.OutputSerializer(record).data)


# GET the caller's records of one kind, newest first (the latest LISTED), through the feature's Output serializer.
class OwnRecordListApi(APIView):
    LISTED: ClassVar[int] = 100
    OutputSerializer: ClassVar[type[serializers.Serializer]]

    records: ClassVar[Callable[..., QuerySet]]  # the feature's selector: records(user=...), newest first

    def get(self, request: Request) -> Response:
        records = type(self).records(user=request.user)[: self.LISTED]
        return Response(self.OutputSerializer(records, many=True).data)


def own_records_schema(*, tag: str, listed: tuple[str, str], created: tuple[str, str]) -> Callable[[type], type]:
    """The OpenAPI description of an OwnRecordListApi that also creates, from its own Input and Output serializers:
    `listed` and `created` are (operation id, summary) of each operation."""

    def describe(api: type) -> type:
        output, request = api.OutputSerializer, api.InputSerializer
        return extend_schema_view(
            get=extend_schema(parameters=[RETRY_AFTER], tags=[tag], operation_id=listed[0], summary=listed[1],
                              responses={200: output(many=True), **api_errors()}),
            post=extend_schema(parameters=[RETRY_AFTER], tags=[tag], operation_id=created[0], summary=created[1],
                               request=request, responses={201: output, **api_errors(validation=True)}),
        )(api)

    return describe


def input_validated(*, serializer: type[serializers.Serializer], request: Request) -> dict:
    """The request body validated by the API's Input serializer (400 with field errors otherwise)."""
    payload = serializer(data=request.data, context={"user": request.user})
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def own_record_detail_schema(*, tag: str, operation_id: str, summary: str, route_id: str) -> Callable[[type], type]:
    """The OpenAPI description of an OwnRecordDetailApi: its id parameter, its Output serializer, its errors."""

    def describe(api: type) -> type:
        return extend_schema_view(get=extend_schema(
            tags=[tag], operation_id=operation_id, summary=summary,
            parameters=[id_parameter(route_id, route_id.removesuffix("_id")), RETRY_AFTER],
            responses={200: api.OutputSerializer, **api_errors(not_found=True)},
        ))(api)

    return describe
