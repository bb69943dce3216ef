"""Render an answer's [n] markers as links to the passages they cite."""

from __future__ import annotations

import re

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
MARK = re.compile(r"\[(\d+)\]")


@register.filter
def cite_links(text: str, citations: list[dict]) -> SafeString:
    chunk_of = {c["number"]: c["chunk_id"] for c in citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in chunk_of:
            return match.group(0)
        url = reverse("assistant:passage", args=[chunk_of[number]])
        return f'<a class="cite" href="{url}" data-cite="{number}">[{number}]</a>'

    return mark_safe(MARK.sub(link, escape(text)).replace("\n", "<br>"))
