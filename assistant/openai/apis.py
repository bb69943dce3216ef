"""An OpenAI-compatible chat-completions endpoint, so that existing chat clients can ask Yiju.

`POST /v1/chat/completions` answers the last user message from the document set the `model` names (or, with model
"yiju", from the sets in the request's extra `collections`, else every set). This version answers one question:
earlier turns of the conversation are ignored for retrieval and generation. The reply is OpenAI's `chat.completion`
(or, with `"stream": true`, `chat.completion.chunk` server-sent events ending in `data: [DONE]`): `content` is the
answer with [n] markers, `reasoning_content` the model's reasoning kept apart, and two extra top-level fields,
`citations` (each cited passage with its quotes) and `yiju` (the stored answer's id, grounding, statements,
timings). Streamed, `delta.reasoning_content` arrives as the model reasons and `delta.content` one verified
statement at a time (unsupported statements are not streamed); the last chunk carries `citations`, `yiju` and
`usage`. `GET /v1/models` lists the askable document sets as models. Errors come in OpenAI's shape.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assistant.accounts.authentication import BearerTokenAuthentication
from assistant.accounts.permissions import AsksQuestions
from assistant.answers import services
from assistant.answers.apis import AnswerOutputSerializer
from assistant.grounding.serializers import RETRY_AFTER
from assistant.models import AuditEvent
from assistant.openai.serializers import (
    SSE_EVENT,
    YIJU_MODEL,
    ChatCompletionRequestSerializer,
    ChatCompletionSerializer,
    ModelListSerializer,
    OpenAiErrorSerializer,
    chat_completion,
    chat_completion_chunk,
    citations_with_quotes,
    openai_error,
    usage_from_timings,
    yiju_metadata,
)
from retrieval.access import Reader, collections_askable, collections_readable
from retrieval.language import language_of

logger = logging.getLogger(__name__)


class ModelNotFound(exceptions.NotFound):
    default_code = "model_not_found"


class OpenAiApiView(APIView):
    """JSON in, JSON out, errors as `{"error": {"message", "type", "param", "code"}}`; Bearer tokens accepted."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication, BasicAuthentication]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.ValidationError):
            param, message = _first_validation_error(exc.detail)
            response.data = openai_error(message=message, param=param)
        elif isinstance(exc, exceptions.APIException):
            error_type = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error"}.get(
                response.status_code, "invalid_request_error" if response.status_code < 500 else "server_error"
            )
            codes = exc.get_codes()
            response.data = openai_error(message=str(exc.detail), error_type=error_type,
                                         code=codes if isinstance(codes, str) else None)
        return response


def _first_validation_error(detail: object, param: str | None = None) -> tuple[str | None, str]:
    """OpenAI reports one error with the parameter it concerns; DRF's nested details are walked to the first."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = param
            elif isinstance(key, int) or str(key).isdigit():  # an item of a list field
                name = f"{param}[{key}]"
            else:
                name = f"{param}.{key}" if param else str(key)
            return _first_validation_error(value, name)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if value:
                return _first_validation_error(value, f"{param}[{index}]" if isinstance(value, dict) else param)
    return param, (f"{param}: {detail}" if param else str(detail))


def collection_ids_of_model(*, model: str, collection_names: list[str] | None, user: Reader) -> list[int]:
    """The document sets a request asks: the one its model names, or with "yiju" those listed (else all the user
    may read). A set the user may not read is refused as a missing one (404), so its existence is not told."""
    readable = collections_readable(reader=user)
    if model == YIJU_MODEL:
        if not collection_names:
            return list(collections_askable(user=user).values_list("id", flat=True))
        found = dict(readable.filter(name__in=collection_names).values_list("name", "id"))
        missing = [name for name in collection_names if name not in found]
        if missing:
            raise ModelNotFound(f"No document set named {missing[0]!r} (in `collections`).")
        return [found[name] for name in collection_names]
    collection = readable.filter(name=model).first()
    if collection is None:
        raise ModelNotFound(f"The model {model!r} does not exist: models are document set names (GET /v1/models).")
    return [collection.id]


def _openai_errors(*codes: int) -> dict:
    return {code: OpenApiResponse(OpenAiErrorSerializer, description="An OpenAI-shaped error.") for code in codes}


class ChatCompletionsApi(OpenAiApiView):
    permission_classes = [AsksQuestions]

    @extend_schema(
        parameters=[RETRY_AFTER], tags=["openai"], operation_id="chat_completions_create",
        summary="OpenAI-compatible chat completion answered from document sets",
        description="With `\"stream\": true` the reply is `text/event-stream`: `chat.completion.chunk` frames, "
        "the last with `citations`, `yiju` and `usage`, then `data: [DONE]`.",
        request=ChatCompletionRequestSerializer,
        responses={
            (200, "application/json"): ChatCompletionSerializer,
            (200, "text/event-stream"): OpenApiResponse(SSE_EVENT, description="Server-sent events."),
            **_openai_errors(400, 401, 403, 404, 429),
        },
    )
    def post(self, request: Request) -> Response | StreamingHttpResponse:
        payload = ChatCompletionRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        body = payload.validated_data
        collection_ids = collection_ids_of_model(model=body["model"], collection_names=body.get("collections"),
                                                 user=request.user)
        if body["stream"]:
            response = StreamingHttpResponse(
                completion_chunk_frames(
                    question=body["question"], collection_ids=collection_ids, user=request.user, model=body["model"]
                ),
                content_type="text/event-stream; charset=utf-8",
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        answer = services.question_answer(question=body["question"], collection_ids=collection_ids,
                                          user=request.user, interface=AuditEvent.Interface.OPENAI_API)
        completion = chat_completion(answer=AnswerOutputSerializer(answer).data, model=body["model"],
                                     created=int(answer.created_at.timestamp()))
        return Response(ChatCompletionSerializer(completion).data, status=status.HTTP_200_OK)


def _data_frame(payload: dict | str) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, cls=DjangoJSONEncoder)
    return f"data: {text}\n\n"


def completion_chunk_frames(
    *, question: str, collection_ids: list[int], user: Reader, model: str
) -> Iterator[str]:
    """`chat.completion.chunk` frames from the answer stream: reasoning deltas, then verified statements as content.

    The content streamed adds up to the stored answer text: a statement goes out once verified, an unsupported one
    (where the setting shows them, marked) only once a supported one follows, since an answer with no supported
    statement is "the documents do not answer this" instead.
    """
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    language = language_of(question)
    joiner = "" if language == "zh" else " "
    show_unsupported = settings.ANSWER_UNSUPPORTED == "mark"

    def chunk(delta: dict, finish_reason: str | None = None, **extra: object) -> str:
        return _data_frame(chat_completion_chunk(completion_id=completion_id, model=model, created=created,
                                                 delta=delta, finish_reason=finish_reason, **extra))

    def content(parts: list[str]) -> str:
        text = joiner.join(parts)
        return chunk({"content": (joiner if content_sent else "") + text})

    yield chunk({"role": "assistant", "content": ""})
    content_sent, held_back, failed = False, [], False
    try:
        for event in services.answer_stream(question=question, collection_ids=collection_ids, user=user,
                                            interface=AuditEvent.Interface.OPENAI_API):
            if failed:
                continue  # drained so the answer is still stored; the client has had its error
            if event.kind == "reasoning" and event.data.get("delta"):
                yield chunk({"reasoning_content": event.data["delta"]})
            elif event.kind == "statement":
                shown = services.statement_display(statement=event.data, language=language)
                if event.data.get("supported"):
                    yield content([*held_back, shown])
                    content_sent, held_back = True, []
                elif show_unsupported:
                    held_back.append(shown)
            elif event.kind == "done":
                answer = AnswerOutputSerializer(event.record).data
                if answer["grounded"] and held_back:
                    yield content(held_back)
                elif not content_sent:  # "the documents do not answer this", said once at the end
                    yield chunk({"content": answer["text"]})
                yield chunk({}, finish_reason="stop", citations=citations_with_quotes(answer=answer),
                            yiju=yiju_metadata(answer=answer),
                            usage=usage_from_timings(timings=answer.get("timings") or {}))
            elif event.kind == "error":
                yield _data_frame(openai_error(message=event.data.get("message", ""), error_type="server_error"))
                failed = True
    except Exception as error:  # a client waiting on the stream must hear of it, in the shape it reads errors in
        logger.exception("chat completion stream failed")
        yield _data_frame(openai_error(message=f"The answer could not be completed ({type(error).__name__}).",
                                       error_type="server_error"))
    yield _data_frame("[DONE]")


class ModelsApi(OpenAiApiView):
    """The document sets the user may ask as OpenAI models, and "yiju" (the sets named in `collections`, or all)."""

    permission_classes = [AsksQuestions]

    @extend_schema(
        parameters=[RETRY_AFTER], tags=["openai"], operation_id="models_list",
        summary="The askable document sets, as models",
        responses={200: ModelListSerializer, **_openai_errors(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        collections = list(collections_askable(user=request.user).order_by("name"))
        started = min((c.created_at for c in collections), default=None)
        models = [{"id": YIJU_MODEL, "object": "model", "created": int(started.timestamp()) if started else 0,
                   "owned_by": "yiju"}]
        models += [{"id": c.name, "object": "model", "created": int(c.created_at.timestamp()), "owned_by": "yiju"}
                   for c in collections]
        return Response(ModelListSerializer({"object": "list", "data": models}).data)
