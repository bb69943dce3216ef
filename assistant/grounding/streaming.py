"""Server-sent events for every streamed page (answer, clinical report, policy match): one frame format, one
response, and the error rules: a form that does not validate answers 400 with its errors as one event, and a
failure mid-stream ends the stream with an error event instead of a stream that just stops."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

from assistant.grounding.events import GroundedEvent

logger = logging.getLogger(__name__)


def sse_frame(*, kind: str, data: dict) -> str:
    # json.dumps escapes newlines inside strings, so one `data:` line carries the whole event.
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder)}\n\n"


def event_frames(
    *, events: Iterable[GroundedEvent], failure: str, done: Callable[[Any], dict] | None = None,
) -> Iterator[str]:
    """The frames of a result in the making; a failure the service did not catch still ends with an error event
    (`failure`, a message with an %(error)s place for the exception's name). `done` adds the stored record as the
    page shows it (the feature's API Output serializer) to the "done" event."""
    try:
        for event in events:
            data = event.data
            if event.kind == "done" and done is not None and event.record is not None:
                data = {**data, **done(event.record)}
            yield sse_frame(kind=event.kind, data=data)
    except Exception as error:  # the page must hear of it instead of waiting on a stream that just stops
        logger.exception("event stream failed")
        yield sse_frame(kind="error", data={"message": failure % {"error": type(error).__name__}})


def event_stream_response(*, frames: Iterator[str], status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type="text/event-stream; charset=utf-8", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the events back until the result is done
    return response


def events_response(
    *, events: Iterable[GroundedEvent], failure: str, done: Callable[[Any], dict] | None = None,
) -> StreamingHttpResponse:
    return event_stream_response(frames=event_frames(events=events, failure=failure, done=done))


def invalid_form_response(*, form: forms.Form) -> StreamingHttpResponse:
    """A posted form that does not validate: 400, its errors as one error event for the page to show."""
    message = " ".join(str(e) for errors in form.errors.values() for e in errors)
    frame = sse_frame(kind="error", data={"message": message, "errors": form.errors.get_json_data()})
    return event_stream_response(frames=iter([frame]), status=400)
