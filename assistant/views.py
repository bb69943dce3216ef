"""Thin page views: the ask page, an answer with its citations, and a cited passage."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from assistant.forms import AskForm
from assistant.models import Answer
from assistant.selectors import answer_passages, answers_of_user
from assistant.services import question_answer
from ingestion.models import Chunk


@login_required
def ask(request: HttpRequest) -> HttpResponse:
    form = AskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        answer = question_answer(
            question=form.cleaned_data["question"],
            collection_ids=[c.id for c in form.cleaned_data["collections"]],
            user=request.user,
        )
        return redirect("assistant:answer", answer_id=answer.id)
    recent = answers_of_user(user=request.user)[:10]
    return render(request, "assistant/ask.html", {"form": form, "recent": recent})


@login_required
def answer_detail(request: HttpRequest, answer_id: int) -> HttpResponse:
    answer = get_object_or_404(Answer, id=answer_id, user=request.user)
    return render(
        request,
        "assistant/answer.html",
        {"answer": answer, "passages": answer_passages(answer=answer), "form": AskForm()},
    )


@login_required
def passage_detail(request: HttpRequest, chunk_id: int) -> HttpResponse:
    chunk = get_object_or_404(Chunk.objects.select_related("document", "collection"), id=chunk_id)
    return render(request, "assistant/passage.html", {"chunk": chunk})
