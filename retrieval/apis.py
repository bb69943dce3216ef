"""Search API: the passages retrieval finds for a query, no model involved (GET /api/search/?q=...&collections=...).

What a client or a load test needs to exercise retrieval alone: the same hybrid search the answers use, restricted
to the sets the caller may read (an unreadable or unknown set is refused as unknown, never searched).
"""

from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ingestion.selectors import superseding_documents
from retrieval.access import collection_readable_lookup, collections_readable, readable_collection_ids
from retrieval.editions import CURRENT_FIRST, EDITION_MODES
from retrieval.services import passages_retrieve

MAX_K = 50


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=2000, help_text="The query, Chinese or English.")
    collections = serializers.CharField(
        required=False, help_text="Document sets to search, by name or id, comma-separated; default: all readable."
    )
    k = serializers.IntegerField(required=False, min_value=1, max_value=MAX_K, help_text="How many passages.")
    editions = serializers.ChoiceField(
        choices=EDITION_MODES, default=CURRENT_FIRST,
        help_text="current_first: every edition, the one in force ranked above those it replaced; current_only: "
        "replaced documents left out; all: retrieval's own order.",
    )

    def validate_collections(self, value: str) -> list[int]:
        ids = []
        for name in (part.strip() for part in value.split(",")):
            if not name:
                continue
            found = collection_readable_lookup(value=name, user=self.context["user"])
            if found is None:
                raise serializers.ValidationError(f"No document set named {name!r}.")  # unreadable = unknown
            ids.append(found.id)
        return ids


class SearchPassageSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1 for the best passage.")
    score = serializers.SerializerMethodField(help_text="The fused retrieval score (higher is better).")
    chunk_id = serializers.IntegerField(source="chunk.id")
    document_id = serializers.IntegerField(source="chunk.document_id")
    document_title = serializers.CharField(source="chunk.document.title", allow_blank=True)
    collection_id = serializers.IntegerField(source="chunk.collection_id")
    section_path = serializers.CharField(source="chunk.section_path", allow_blank=True)
    page_start = serializers.IntegerField(source="chunk.page_start", allow_null=True)
    page_end = serializers.IntegerField(source="chunk.page_end", allow_null=True)
    text = serializers.CharField(source="chunk.text", allow_blank=True)
    superseded_by_document_id = serializers.IntegerField(
        allow_null=True, read_only=True,
        help_text="The document in force that replaced this passage's document (a newer edition, a repeal); null "
        "when it is in force.",
    )
    superseded_by_title = serializers.CharField(allow_blank=True, read_only=True)

    def get_score(self, passage: object) -> float:
        score = float(passage.score)
        return round(score, 6) if math.isfinite(score) else 0.0


class SearchResponseSerializer(serializers.Serializer):
    passages = SearchPassageSerializer(many=True)
    timings = serializers.DictField(child=serializers.FloatField())


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Field errors: each parameter named with its messages."),
    401: OpenApiResponse(ErrorSerializer, description="Credentials given but wrong."),
    403: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    429: OpenApiResponse(ErrorSerializer, description="Over the request rate; see Retry-After."),
}


class SearchApi(APIView):
    @extend_schema(parameters=[SearchQuerySerializer], responses={200: SearchResponseSerializer, **ERRORS},
                   summary="Passages for a query, from the sets the caller may read (no model)")
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params, context={"user": request.user})
        query.is_valid(raise_exception=True)
        collection_ids = query.validated_data.get("collections") or list(
            collections_readable(reader=request.user).values_list("id", flat=True)
        )
        result = passages_retrieve(
            reader=request.user, query=query.validated_data["q"], collection_ids=collection_ids,
            k=query.validated_data.get("k"), editions=query.validated_data["editions"],
        )
        replaced = superseding_documents(
            document_ids={p.chunk.document_id for p in result.passages},
            collection_ids=readable_collection_ids(reader=request.user, collection_ids=collection_ids),
        )
        for rank, passage in enumerate(result.passages, start=1):
            passage.rank = rank
            superseding = replaced.get(passage.chunk.document_id)
            in_force = superseding is None or not superseding.superseded
            passage.superseded_by_document_id = None if in_force else superseding.by_id
            passage.superseded_by_title = "" if in_force else superseding.by_title
        body = {"passages": result.passages, "timings": {k: round(v, 1) for k, v in result.timings_ms.items()}}
        return Response(SearchResponseSerializer(body).data)
