from django.urls import path

from assistant.answers import apis as api
from assistant.answers import views
from assistant.clinical import urls as clinical_urls
from assistant.policies import urls as policy_urls

app_name = "assistant"

urlpatterns = [
    path("", views.ask, name="ask"),
    path("answers/stream/", views.answer_stream_events, name="answer-stream"),
    path("answers/<int:answer_id>/", views.answer_detail, name="answer"),
    path("passages/<int:chunk_id>/", views.passage_detail, name="passage"),
    path("documents/<int:document_id>/", views.document_first_passage, name="passage-document"),
    path("api/answers/", api.AnswerCreateApi.as_view(), name="api-answer-create"),
    path("api/answers/<int:answer_id>/", api.AnswerDetailApi.as_view(), name="api-answer-detail"),
]
urlpatterns += clinical_urls.urlpatterns + policy_urls.urlpatterns
