"""Which language a text is in, as far as retrieval and prompting need to know."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """'zh' when Chinese characters are a large share of the letters, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if CJK.match(c)) / len(letters) > 0.3 else "en"
