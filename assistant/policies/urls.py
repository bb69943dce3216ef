"""Policy-matching routes (part of the assistant namespace)."""

from __future__ import annotations

from django.urls import URLPattern, path

from assistant.policies import apis as policy_api
from assistant.policies import views as policy_views

urlpatterns: list[URLPattern] = [
    path("policies/", policy_views.policy_form, name="policy"),
    path("policies/stream/", policy_views.policy_stream, name="policy-stream"),
    path("policies/matches/", policy_views.policy_history, name="policy-history"),
    path("policies/matches/<int:match_id>/", policy_views.policy_match_detail, name="policy-match"),
    path("policies/matches/<int:match_id>/csv/", policy_views.policy_match_csv, name="policy-match-csv"),
    path("policies/matches/<int:match_id>/pdf/", policy_views.policy_match_pdf_download, name="policy-match-pdf"),
    path("api/policy-matches/", policy_api.PolicyMatchListCreateApi.as_view(), name="policy-api-matches"),
    path(
        "api/policy-matches/<int:match_id>/", policy_api.PolicyMatchDetailApi.as_view(), name="policy-api-match-detail"
    ),
]
