"""Thin page views: the ask page (streamed answers, or a plain form post), an answer, and a cited passage."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from assistant.accounts.roles import PERMISSION_ASK
from assistant.answers import services
from assistant.answers.apis import AnswerOutputSerializer
from assistant.answers.forms import AskForm
from assistant.answers.selectors import answer_passages, answers_of_user
from assistant.answers.services import CLOSEST_PASSAGES
from assistant.grounding.citations import (
    quote_spans_parse,
    statements_for_display,
    statements_joiner,
    text_highlight,
)
from assistant.grounding.streaming import events_response, invalid_form_response
from assistant.models import Answer, AuditEvent
from ingestion.models import Chunk
from ingestion.selectors import superseding_documents
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
            collection_ids=form.collection_ids(),
            user=request.user,
            interface=AuditEvent.Interface.ASK_PAGE,
        )
        return redirect("assistant:answer", answer_id=answer.id)
    recent = answers_of_user(user=request.user)[:10]
    return render(request, "assistant/ask.html", {"form": form, "recent": recent})


@require_POST
@login_required
@permission_required(PERMISSION_ASK, raise_exception=True)
def answer_stream_events(request: HttpRequest) -> StreamingHttpResponse:
    """POST the ask form; the answer comes back as server-sent events: retrieval, reasoning, answer, statement, done."""
    form = AskForm(request.POST, user=request.user)
    if not form.is_valid():
        return invalid_form_response(form=form)
    events = services.answer_stream(
        question=form.cleaned_data["question"],
        collection_ids=form.collection_ids(),
        user=request.user,
        interface=AuditEvent.Interface.ASK_STREAM,
    )
    return events_response(events=events, failure="The answer could not be completed (%(error)s).",
                           done=lambda answer: {"answer": AnswerOutputSerializer(answer).data})


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
def document_first_passage(request: HttpRequest, document_id: int) -> HttpResponse:
    """A document opened at its first passage (the "document in force" link of a superseded note); 404 for a
    document the user may not read."""
    readable = collections_readable(reader=request.user)
    chunk = (Chunk.objects.filter(document_id=document_id, collection__in=readable).order_by("ordinal")
             .only("id").first())
    if chunk is None:
        raise Http404("No such document.")
    return redirect("assistant:passage", chunk_id=chunk.id)


@login_required
def passage_detail(request: HttpRequest, chunk_id: int) -> HttpResponse:
    """A passage; `?q=start-end` (character offsets in it) marks a cited quote.

    A passage of a set the user may not read is as absent as a missing one (404), whatever id is guessed.
    """
    readable = collections_readable(reader=request.user)
    chunk = get_object_or_404(Chunk.objects.select_related("document", "collection"), id=chunk_id,
                              collection__in=readable)
    spans = quote_spans_parse(value=request.GET.get("q", ""), text_length=len(chunk.text))
    superseding = superseding_documents(document_ids=[chunk.document_id],
                                        collection_ids=readable.values_list("id", flat=True)).get(chunk.document_id)
    return render(
        request,
        "assistant/passage.html",
        {"chunk": chunk, "passage_html": text_highlight(text=chunk.text, spans=spans), "quoted": bool(spans),
         "superseding": superseding},
    )
