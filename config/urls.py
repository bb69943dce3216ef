from django.contrib import admin
from django.urls import include, path, re_path

from assistant import openai_api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # OpenAI-compatible: clients append these paths to a base URL ending in /v1, with or without a slash.
    re_path(r"^v1/chat/completions/?$", openai_api.ChatCompletionsApi.as_view(), name="openai-chat-completions"),
    re_path(r"^v1/models/?$", openai_api.ModelsApi.as_view(), name="openai-models"),
    path("", include("assistant.urls")),
]
