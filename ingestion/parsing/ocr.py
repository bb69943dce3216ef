"""Optical character recognition of page images with the Tesseract command-line program.

Tesseract runs as a subprocess (Debian's tesseract-ocr plus one tesseract-ocr-LANG package per language), so no
Python binding is needed. This module knows nothing of Django or PDFs: callers pass the image, the languages and
the program to run.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_DPI = 300
DEFAULT_TIMEOUT_S = 300.0  # one page; a dense A4 page in chi_sim takes a few seconds on one core
_MIN_LINE_CONFIDENCE = 30.0  # lines Tesseract is this unsure of are speckles and rules, not text
_MIN_WORD_CONFIDENCE = 20.0  # single words below this are specks read as letters ("oN" between two characters)

# Tesseract separates every recognised CJK character (and digits and quotes next to them) with spaces; printed
# Chinese has none.
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_OR_QUOTE = _CJK + r"\u2018\u2019\u201c\u201d"
_SPACE_BETWEEN_CJK_RE = re.compile(rf"(?<=[{_CJK}]) +(?=[{_CJK_OR_QUOTE}0-9])|(?<=[{_CJK_OR_QUOTE}0-9]) +(?=[{_CJK}])")
# ...but the space after a leading 第X条/第X章 is how these lines are printed (第一条　为了…), and structure
# recognises an article heading by it. Tesseract often reads the wide gap there as a closing quote: dropped.
_LEADING_UNIT_RE = re.compile(
    r"^(第[零一二三四五六七八九十百千万〇两0-9]+(?:条(?:之[一二三四五六七八九十]+)?|分编|编|章|节))\s*[”\"]?\s*(?=\S)"
)


class OcrUnavailableError(Exception):
    """Tesseract or the data for a requested language is not installed; the message says what to install."""


class OcrError(Exception):
    """Tesseract ran but failed on an image (crash, timeout, unreadable output)."""


@dataclass(frozen=True)
class OcrLine:
    """One recognised line of text, with its box in image pixels and the Tesseract block it belongs to."""

    text: str
    left: float
    top: float
    right: float
    bottom: float
    block: int  # lines of one block belong together: a column, a paragraph group, a caption


def language_package(language: str) -> str:
    """Debian package that carries a Tesseract language: chi_sim -> tesseract-ocr-chi-sim."""
    return "tesseract-ocr-" + language.lower().replace("_", "-")


@functools.lru_cache(maxsize=8)
def _installed_languages(tesseract_cmd: str) -> frozenset[str]:
    # cached: asking costs a process start, and installed language data does not change while a worker runs
    try:
        result = subprocess.run(
            [tesseract_cmd, "--list-langs"], capture_output=True, text=True, timeout=60, check=False
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
        raise OcrUnavailableError(
            f"the Tesseract program '{tesseract_cmd}' was not found; install tesseract-ocr "
            f"(and {language_package('chi_sim')} for Chinese)"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise OcrUnavailableError(f"the Tesseract program '{tesseract_cmd}' does not respond") from error
    if result.returncode != 0:
        raise OcrUnavailableError(
            f"the Tesseract program '{tesseract_cmd}' fails to start: {_last_line(result.stderr)}"
        )
    # the first line is "List of available languages in ...", then one language per line
    return frozenset(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())


def ocr_availability_check(*, languages: str, tesseract_cmd: str = "tesseract") -> None:
    """Raise OcrUnavailableError unless the program runs and has data for every language of "chi_sim+eng"."""
    wanted = [language for language in languages.split("+") if language]
    if not wanted:
        raise OcrUnavailableError("no OCR language is configured (OCR_LANGUAGES is empty)")
    installed = _installed_languages(tesseract_cmd)
    missing = [language for language in wanted if language not in installed]
    if missing:
        packages = " ".join(language_package(language) for language in missing)
        raise OcrUnavailableError(f"Tesseract has no language data for {', '.join(missing)}; install {packages}")


def page_image_ocr(
    *,
    image: Image.Image,
    languages: str,
    tesseract_cmd: str = "tesseract",
    dpi: int = DEFAULT_DPI,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[OcrLine]:
    """Recognise the text of one page image: its lines in Tesseract's reading order (blocks, then lines)."""
    ocr_availability_check(languages=languages, tesseract_cmd=tesseract_cmd)
    with tempfile.TemporaryDirectory(prefix="yiju-ocr-") as folder:
        image_path = Path(folder) / "page.png"
        image.save(image_path, format="PNG")
        # Tesseract's OpenMP threads oversubscribe the CPU when workers run several documents at once: one each
        environment = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
        command = [tesseract_cmd, str(image_path), "stdout", "-l", languages, "--dpi", str(dpi), "--psm", "1", "tsv"]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False, env=environment
            )
        except subprocess.TimeoutExpired as error:
            raise OcrError(f"Tesseract took longer than {timeout_s:.0f} s") from error
        except OSError as error:
            raise OcrError(f"Tesseract cannot be run: {error}") from error
    if result.returncode != 0:
        raise OcrError(f"Tesseract failed: {_last_line(result.stderr)}")
    return _tsv_lines(result.stdout)


def ocr_text_normalize(text: str) -> str:
    """Remove the spaces Tesseract puts between Chinese characters; collapse other space runs."""
    text = re.sub(r"\s+", " ", text).strip()
    return _LEADING_UNIT_RE.sub(r"\1 ", _SPACE_BETWEEN_CJK_RE.sub("", text))


def _tsv_lines(tsv: str) -> list[OcrLine]:
    """Words of Tesseract's TSV output (level 5) grouped into lines (level 4), in output order."""
    line_boxes: dict[tuple[int, int, int, int], tuple[float, float, float, float]] = {}
    line_words: dict[tuple[int, int, int, int], list[tuple[str, float]]] = {}
    for row in tsv.splitlines()[1:]:  # the first row names the columns
        fields = row.split("\t", 11)
        if len(fields) < 11 or not fields[0].isdigit():
            continue
        level = int(fields[0])
        key = (int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4]))  # page, block, paragraph, line
        left, top, width, height = (float(value) for value in fields[6:10])
        if level == 4:
            line_boxes[key] = (left, top, left + width, top + height)
        elif level == 5 and len(fields) == 12 and fields[11].strip() and float(fields[10]) >= _MIN_WORD_CONFIDENCE:
            line_words.setdefault(key, []).append((fields[11].strip(), float(fields[10])))

    lines: list[OcrLine] = []
    for key, words in line_words.items():
        confidence = sum(score for _, score in words) / len(words)
        text = ocr_text_normalize(" ".join(word for word, _ in words))
        if not text or confidence < _MIN_LINE_CONFIDENCE or key not in line_boxes:
            continue
        left, top, right, bottom = line_boxes[key]
        lines.append(OcrLine(text=text, left=left, top=top, right=right, bottom=bottom, block=key[1]))
    return lines


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"
