"""The OpenAI chat-completions shapes: the request read, the completion and its chunks written from an answer. The
serializers describe each shape once, for the responses and the OpenAPI schema alike."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from assistant.grounding.serializers import PassageSerializer, SourcesSerializer, StatementSerializer

YIJU_MODEL = "yiju"  # the model name that asks the sets listed in the request's "collections" (or every set)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string"},
                                                                     "text": {"type": "string"}}}},
        ],
        "nullable": True,
        "description": "A string, or OpenAI's content parts ({\"type\": \"text\", \"text\": ...}; others ignored).",
    }
)
class ChatContentField(serializers.JSONField):
    pass


class ChatMessageSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="system, user, assistant ...; the last user message is the question.")
    content = ChatContentField(required=False, allow_null=True)

    class Meta:
        ref_name = "ChatMessageIn"

    def validate_content(self, value: object) -> str:
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        elif isinstance(value, list):
            texts = [part.get("text", "") for part in value if isinstance(part, dict) and part.get("type") == "text"]
            if not all(isinstance(part, str) for part in texts):
                raise serializers.ValidationError("The `text` of a text part must be a string.")
            text = "\n".join(texts)
        else:
            raise serializers.ValidationError("Content must be a string or a list of content parts.")
        if "\x00" in text:  # as DRF's own text fields refuse it: PostgreSQL cannot store it (found by fuzzing)
            raise serializers.ValidationError("Null characters are not allowed.")
        return text


class ChatCompletionRequestSerializer(serializers.Serializer):
    """The fields Yiju reads; OpenAI's others (temperature, max_tokens, ...) are accepted and ignored."""

    model = serializers.CharField(help_text=f"A document set's name, or {YIJU_MODEL!r} with `collections`.")
    messages = ChatMessageSerializer(many=True, allow_empty=False)
    stream = serializers.BooleanField(default=False)
    collections = serializers.ListField(
        child=serializers.CharField(), required=False, allow_empty=False,
        help_text=f"Document set names, with model {YIJU_MODEL!r}.",
    )

    class Meta:
        ref_name = "ChatCompletionRequest"

    def validate(self, attrs: dict) -> dict:
        questions = [m["content"].strip() for m in attrs["messages"] if m["role"] == "user" and m["content"].strip()]
        if not questions:
            raise serializers.ValidationError({"messages": "No user message with text to answer."})
        if len(questions[-1]) > 2000:
            raise serializers.ValidationError({"messages": "The last user message is over 2000 characters."})
        attrs["question"] = questions[-1]
        return attrs


def citations_with_quotes(*, answer: dict) -> list[dict]:
    """Each cited passage once (document, section, pages) with the quotes the statements took from it."""
    quotes_of_number: dict[int, list[dict]] = {}
    for statement in answer.get("statements") or []:
        for cited in statement.get("citations") or []:
            if isinstance(cited, dict) and cited.get("quote"):
                quotes_of_number.setdefault(cited["number"], []).append(
                    {
                        "statement_index": statement.get("index"),
                        "quote": cited["quote"],
                        "quote_start": cited.get("quote_start"),
                        "quote_end": cited.get("quote_end"),
                        "quote_spans": cited.get("quote_spans"),
                        "quote_found": cited.get("quote_found"),
                        "support": cited.get("support"),
                    }
                )
    return [{**citation, "quotes": quotes_of_number.get(citation["number"], [])}
            for citation in answer.get("citations") or []]


def yiju_metadata(*, answer: dict) -> dict:
    """What OpenAI's shape has no place for: the stored answer, its grounding, statements and timings."""
    return {
        "answer_id": answer["id"],
        "text": answer["text"],
        "grounded": answer["grounded"],
        "verdict": answer.get("verdict", ""),
        "supported_share": answer.get("supported_share"),
        "unsupported_statement_count": answer.get("unsupported_statement_count"),
        "invalid_citation_count": answer.get("invalid_citation_count"),
        "statements": answer.get("statements") or [],
        "closest_passages": answer.get("closest_passages") or [],
        "sources": answer.get("sources") or {"superseded": [], "disagreements": []},
        "timings": answer.get("timings") or {},
        "model": answer.get("model", ""),
    }


def usage_from_timings(*, timings: dict) -> dict | None:
    """OpenAI's usage from the answer's token counts; None when the answer has none (the model was not asked)."""
    reasoning_tokens = timings.get("reasoning_tokens")
    answer_tokens = timings.get("answer_tokens")
    completion_tokens = (reasoning_tokens or 0) + (answer_tokens or 0)
    if reasoning_tokens is None and answer_tokens is None:
        completion_tokens = timings.get("output_tokens")
    prompt_tokens = timings.get("input_tokens", timings.get("prompt_tokens"))
    if completion_tokens is None and prompt_tokens is None:
        return None
    usage = {
        "prompt_tokens": prompt_tokens or 0,
        "completion_tokens": completion_tokens or 0,
        "total_tokens": (prompt_tokens or 0) + (completion_tokens or 0),
    }
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage


def chat_completion(*, answer: dict, model: str, created: int) -> dict:
    """A `chat.completion` whose content is the answer with [n] markers; citations and `yiju` alongside."""
    return {
        "id": f"chatcmpl-yiju-{answer['id']}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer["text"],
                            "reasoning_content": answer.get("reasoning") or ""},
                "finish_reason": "stop",
            }
        ],
        "usage": usage_from_timings(timings=answer.get("timings") or {}),
        "citations": citations_with_quotes(answer=answer),
        "yiju": yiju_metadata(answer=answer),
    }


def chat_completion_chunk(
    *, completion_id: str, model: str, created: int, delta: dict, finish_reason: str | None = None, **extra: object
) -> dict:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **extra,
    }


def openai_error(*, message: str, error_type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class OpenAiErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAiErrorSerializer(serializers.Serializer):
    """OpenAI's error shape, which its clients read."""

    error = OpenAiErrorBodySerializer()


class ChatMessageOutSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField(allow_blank=True, help_text="The answer with [n] markers.")
    reasoning_content = serializers.CharField(allow_blank=True)


class ChatChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = ChatMessageOutSerializer()
    finish_reason = serializers.CharField()


class YijuMetadataSerializer(serializers.Serializer):
    answer_id = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True)
    grounded = serializers.BooleanField()
    verdict = serializers.CharField(allow_blank=True)
    supported_share = serializers.FloatField(allow_null=True)
    unsupported_statement_count = serializers.IntegerField(allow_null=True)
    invalid_citation_count = serializers.IntegerField(allow_null=True)
    statements = StatementSerializer(many=True)
    closest_passages = PassageSerializer(many=True)
    sources = SourcesSerializer(help_text="Replaced documents among the passages; disagreements between citations.")
    timings = serializers.DictField()
    model = serializers.CharField(allow_blank=True)


class ChatCompletionSerializer(serializers.Serializer):
    """A `chat.completion` (as `chat_completion` builds it): content with [n] markers, citations and `yiju`."""

    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = ChatChoiceSerializer(many=True)
    usage = serializers.DictField(allow_null=True)
    citations = serializers.ListField(child=serializers.DictField(), help_text="Cited passages with their quotes.")
    yiju = YijuMetadataSerializer()

    class Meta:
        ref_name = "ChatCompletion"


class OpenAiModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = OpenAiModelSerializer(many=True)

    class Meta:
        ref_name = "ModelList"


# One server-sent event of a streamed completion: its data is a `chat.completion.chunk` or an error as JSON text, or
# "[DONE]" at the end.
SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string", "description": "JSON of a chat.completion.chunk or an error; [DONE]."}},
    "required": ["data"],
}
