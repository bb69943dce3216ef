"""What every prompt shares: numbered passages fenced as data (each feature's instructions and question follow, all
in the user turn), the request to reason first, and the continuation after the reasoning.

DeepSeek-R1's authors advise no system prompt and all instructions in the user turn (with temperature about 0.6).
Documents are untrusted input: the passages sit between boundary lines carrying a random nonce a document cannot
guess, anything in a passage that looks like a chat-template token, a reasoning tag or our own fence is defused, and
the instructions come after the data and say that text inside it is never an instruction. Whatever still slips
through meets verification: a statement stands only where a passage supports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage

from assistant.grounding.sentences import PassageSentences, sentence_id
from assistant.grounding.sources import superseding_of
from ingestion.models import Chunk
from retrieval.language import language_of

# Special tokens of the chat templates in use (Qwen/ChatML <|im_start|>, DeepSeek <｜User｜>, Llama <|eot_id|>...).
CONTROL_TOKEN = re.compile(r"<\|[^<>|\n]{1,40}\|>|<｜[^<>｜\n]{1,40}｜>")
# Tags that frame reasoning or our own data fence, and role-like tags a document might use to fake a turn.
FRAMING_TAG = re.compile(r"</?\s*(?:think|passages?|data|system|user|assistant|instructions?)\b[^<>\n]{0,80}>", re.I)
BOUNDARY_LIKE = re.compile(r"={3,}\s*(?:BEGIN|END)\s+PASSAGES", re.I)


def passage_text_defused(text: str) -> str:
    """The passage with anything that could end the data block or open a turn made inert, words kept."""
    text = CONTROL_TOKEN.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = FRAMING_TAG.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    return BOUNDARY_LIKE.sub(lambda m: m.group(0).replace("=", "-"), text)


def passage_source(chunk: Chunk) -> str:
    parts = [f"《{chunk.document.title}》" if language_of(chunk.document.title) == "zh" else chunk.document.title]
    if chunk.section_path:
        parts.append(chunk.section_path)
    if chunk.pages_label:
        parts.append(chunk.pages_label)
    superseding = superseding_of(chunk)
    if superseding is not None:
        # The model is told which source is in force, so it cites the current edition where both say the same.
        newer = superseding.by_title
        if language_of(chunk.document.title) == "zh":
            parts.append(f"已被《{newer}》取代" if superseding.superseded else f"已由《{newer}》修改")
        else:
            parts.append(f"superseded by {newer}" if superseding.superseded else f"amended by {newer}")
    return passage_text_defused(" | ".join(parts))


def passages_block(*, chunks: Sequence[Chunk], nonce: str) -> str:
    """Each passage numbered, its sentences numbered within it ([2.3]) as the citations name them, between boundary
    lines that carry the nonce."""
    sentences = PassageSentences.of(chunks)
    body = "\n\n".join(
        f"[{number}] ({passage_source(chunk)})\n" + "\n".join(
            f"[{sentence_id(passage=number, sentence=index)}] "
            f"{passage_text_defused(' '.join(chunk.text[span.start : span.end].split()))}"
            for index, span in enumerate(spans, start=1)
        )
        for number, (chunk, spans) in enumerate(zip(chunks, sentences.spans, strict=True), start=1)
    )
    return f"===== BEGIN PASSAGES {nonce} =====\n{body}\n===== END PASSAGES {nonce} ====="


# Placeholders, not a sample answer: small models copy the content of an example into their answer.
REASONING_PROMPTED = {
    "en": "First think briefly inside <think> </think>, then write the JSON object.\n",
    "zh": "先在 <think> </think> 中简要思考，然后写出 JSON 对象。\n",
}


def answer_continuation(*, messages: Sequence[BaseMessage], reasoning: str, prefix: str = "") -> list[BaseMessage]:
    """The same turn with the model's reasoning closed (and the answer begun with `prefix`), for the server to
    continue from there."""
    closed = f"<think>\n{reasoning.strip()}\n</think>\n\n" if reasoning.strip() else ""
    return [*messages, AIMessage(closed + prefix)]
