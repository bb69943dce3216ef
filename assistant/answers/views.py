"""Thin page views: the ask page (streamed answers, or a plain form post), an answer, and a cited passage."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator

from django.contrib.auth.decorators import login_required, permission_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from assistant.accounts.roles import PERMISSION_ASK
from assistant.answers import services
from assistant.answers.forms import AskForm
from assistant.answers.selectors import answer_passages, answers_of_user
from assistant.answers.services import CLOSEST_PASSAGES
from assistant.grounding.citations import (
    quote_spans_parse,
    statements_for_display,
    statements_joiner,
    text_highlight,
)
from assistant.grounding.events import AnswerEvent
from assistant.models import Answer, AuditEvent
from ingestion.models import Chunk
from retrieval.access import collections_readable

logger = logging.getLogger(__name__)


@login_required
@permission_required(PERMISSION_ASK, raise_exception=True)
def ask(request: HttpRequest) -> HttpResponse:
    """The ask page; its form streams the answer with JavaScript, and without it posts here and redirects."""
    form = AskForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        answer = services.question_answer(
            question=form.cleaned_data["question"],
            collection_ids=[c.id for c in form.cleaned_data["collections"]],
            user=request.user,
            interface=AuditEvent.Interface.ASK_PAGE,
        )
        return redirect("assistant:answer", answer_id=answer.id)
    recent = answers_of_user(user=request.user)[:10]
    return render(request, "assistant/ask.html", {"form": form, "recent": recent})


def sse_frame(*, kind: str, data: dict) -> str:
    # json.dumps escapes newlines inside strings, so one `data:` line carries the whole event.
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder)}\n\n"


def answer_event_frames(*, events: Iterable[AnswerEvent]) -> Iterator[str]:
    """Server-sent event frames of an answer in the making; a failure mid-way ends the stream with an error event."""
    try:
        for event in events:
            yield sse_frame(kind=event.kind, data=event.data)
    except Exception as error:  # the page must hear of it instead of waiting on a stream that just stops
        logger.exception("answer stream failed")
        yield sse_frame(kind="error", data={"message": f"The answer could not be completed ({type(error).__name__})."})


def event_stream_response(*, frames: Iterator[str], status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type="text/event-stream; charset=utf-8", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the events back until the answer is done
    return response


@require_POST
@login_required
@permission_required(PERMISSION_ASK, raise_exception=True)
def answer_stream_events(request: HttpRequest) -> StreamingHttpResponse:
    """POST the ask form; the answer comes back as server-sent events: retrieval, reasoning, answer, statement, done."""
    form = AskForm(request.POST, user=request.user)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        frame = sse_frame(kind="error", data={"message": message, "errors": form.errors.get_json_data()})
        return event_stream_response(frames=iter([frame]), status=400)
    events = services.answer_stream(
        question=form.cleaned_data["question"],
        collection_ids=[c.id for c in form.cleaned_data["collections"]],
        user=request.user,
        interface=AuditEvent.Interface.ASK_STREAM,
    )
    return event_stream_response(frames=answer_event_frames(events=events))


@login_required
def answer_detail(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = get_object_or_404(Answer, id=answer_id, user=request.user)
    statements = statements_for_display(statements=answer.statements, citations=answer.citations)
    passages = answer_passages(answer=answer)
    return render(
        request,
        "assistant/answer.html",
        {
            "answer": answer,
            "statements": statements,
            "statements_joiner": statements_joiner(statements=statements),
            "closest_passages": [] if answer.grounded else passages[:CLOSEST_PASSAGES],
            "form": AskForm(user=request.user),
        },
    )


@login_required
def passage_detail(request: HttpRequest, chunk_id: int) -> HttpResponse:
    """A passage; `?q=start-end` (character offsets in it) marks a cited quote.

    A passage of a set the user may not read is as absent as a missing one (404), whatever id is guessed.
    """
    readable = collections_readable(reader=request.user)
    chunk = get_object_or_404(Chunk.objects.select_related("document", "collection"), id=chunk_id,
                              collection__in=readable)
    spans = quote_spans_parse(value=request.GET.get("q", ""), text_length=len(chunk.text))
    return render(
        request,
        "assistant/passage.html",
        {"chunk": chunk, "passage_html": text_highlight(text=chunk.text, spans=spans), "quoted": bool(spans)},
    )
