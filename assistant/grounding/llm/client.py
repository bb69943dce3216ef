"""One chat client for any OpenAI-compatible server: vLLM with DeepSeek-R1 in production, vLLM CPU locally."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI


def _reasoning_of(message: dict[str, Any] | None) -> str:
    # vLLM's reasoning parsers put R1's thinking in `reasoning_content` (newer releases also in `reasoning`).
    if not message:
        return ""
    return message.get("reasoning_content") or message.get("reasoning") or ""


class ReasoningChatOpenAI(ChatOpenAI):
    """ChatOpenAI that keeps the server's separate reasoning field instead of dropping it."""

    def _create_chat_result(self, response: Any, generation_info: dict | None = None) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        response_dict = response if isinstance(response, dict) else response.model_dump()
        for generation, choice in zip(result.generations, response_dict.get("choices") or [], strict=False):
            reasoning = _reasoning_of(choice.get("message"))
            if reasoning:
                generation.message.additional_kwargs["reasoning_content"] = reasoning
        return result

    def _convert_chunk_to_generation_chunk(
        self, chunk: dict, default_chunk_class: type, base_generation_info: dict | None
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(chunk, default_chunk_class, base_generation_info)
        choices = chunk.get("choices") or []
        if generation is not None and choices:
            reasoning = _reasoning_of(choices[0].get("delta"))
            if reasoning:
                generation.message.additional_kwargs["reasoning_content"] = reasoning
        return generation


@dataclass(frozen=True)
class LlmEndpoint:
    base_url: str
    model: str


_local_server_lock = threading.Lock()
_local_server = None


def llm_endpoint() -> LlmEndpoint:
    """The configured server, or a local vLLM CPU server started on first use and stopped at exit."""
    global _local_server
    if settings.LLM_BASE_URL:
        return LlmEndpoint(base_url=settings.LLM_BASE_URL.rstrip("/"), model=settings.LLM_MODEL or _served_model())
    with _local_server_lock:
        if _local_server is None:
            from assistant.grounding.llm.local_model import local_model_prepare
            from assistant.grounding.llm.local_server import LocalVllmServer

            model_dir = local_model_prepare(data_dir=settings.DATA_DIR, model_key=settings.LOCAL_LLM_MODEL)
            server = LocalVllmServer(model_dir=model_dir, served_model_name=settings.LOCAL_LLM_MODEL,
                                     data_dir=settings.DATA_DIR)
            server.start()
            server.wait_until_ready(timeout_s=900)
            _local_server = server
        return LlmEndpoint(base_url=_local_server.base_url, model=settings.LOCAL_LLM_MODEL)


def exit_on_sigterm() -> None:
    """Make SIGTERM (service managers, kill) exit through finally blocks, so a local vLLM is never orphaned."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def local_server_stop() -> None:
    """Stop the local vLLM server if this process started one."""
    global _local_server
    with _local_server_lock:
        if _local_server is not None:
            _local_server.stop()
            _local_server = None


def _served_model() -> str:
    """The first model the server lists, when LLM_MODEL is not set."""
    import openai

    client = openai.OpenAI(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, timeout=settings.LLM_TIMEOUT_S,
                           max_retries=0)
    return client.models.list().data[0].id


def chat_model(*, endpoint: LlmEndpoint | None = None, max_tokens: int | None = None) -> ReasoningChatOpenAI:
    endpoint = endpoint or llm_endpoint()
    return ReasoningChatOpenAI(
        base_url=endpoint.base_url,
        model=endpoint.model,
        api_key=settings.LLM_API_KEY,
        temperature=settings.LLM_TEMPERATURE,
        max_tokens=max_tokens or settings.LLM_MAX_TOKENS,
        timeout=settings.LLM_TIMEOUT_S,
        max_retries=1,
    )
