from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from assistant import api_schema
from assistant.openai import apis as openai_api
from retrieval.apis import SearchApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # OpenAPI: the schema (YAML, or ?format=json), Swagger UI and Redoc; described in assistant/api_schema.py.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
         name="api-redoc"),
    # OpenAI-compatible: clients append these paths to a base URL ending in /v1, with or without a slash.
    re_path(r"^v1/chat/completions/?$", openai_api.ChatCompletionsApi.as_view(), name="openai-chat-completions"),
    re_path(r"^v1/models/?$", openai_api.ModelsApi.as_view(), name="openai-models"),
    path("api/search/", SearchApi.as_view(), name="api-search"),  # retrieval only, no model (retrieval/apis.py)
    path("", include("assistant.urls")),
]
assert api_schema  # imported for its view extensions, which must be registered before a schema is generated
