"""Which language a text is in, as far as retrieval and prompting need to know."""

from __future__ import annotations

from vectorstore.analysis import CJK, language_of  # where ingestion can read it too (the language of a Milvus row)

__all__ = ["CJK", "language_of"]
