"""Turn parsed blocks into a ParsedDocument: the full text plus body segments under their section paths.

Section path = the stack of open headings, outermost first, e.g. ("第三章 个人信息跨境提供的规则", "第三十八条").
Headings come from the format (Block.heading_level) or from numbering patterns on plain lines
(see structure_patterns). Text before the first heading gets the empty path (): the document title is
carried separately by ParsedDocument.title, so repeating it in every path would add nothing.

Below the headings, two kinds of units get one more path element of their own, so that a citation can name
them and a chunk (chunking never joins two section paths) never mixes two of them:

- 款, the paragraphs of a long Chinese article: ("第二章 …", "第十条", "第二款"). The 款 is its own element after
  the article's label, not folded into it ("第十条第二款"), so path[:-1] is still the article and every test or
  reader that looks for the 第X条 element finds it. Only an article longer than ARTICLE_SPLIT_CHARS (what one
  passage holds) with two or more 款 is split this way: a shorter one stays one passage under "第十条", which is
  the right citation for the whole article, and its 款 are its lines in order.
- Recommendation statements of clinical guidelines, labelled with their number and grade in brackets:
  ("4. 治疗", "推荐意见3（1A）"), ("3.1 Outpatient therapy", "Recommendation 4 (Grade B)"); without a number
  "推荐意见（推荐等级 I 类，证据等级 C）" / "Recommendation (Strong recommendation, moderate-quality evidence)". A
  statement opened by a marker ("推荐意见3：", "Recommendation 4:") runs to its grade; one without a marker is the
  sentence its grade closes (with the lines before it that do not end a sentence). Two statements in a row may
  share a label; the first segment of each is marked new_section, so chunking still keeps them apart.

Numbered rules of regulations ("2.1 The applicant must …") are headings labelled by their number, like 第X条.

Guarantees: text[seg.char_start:seg.char_end] == seg.text; every non-whitespace character that is not part
of a heading (or a recommendation marker such as "推荐意见3：") lies in exactly one segment; heading labels are
in no segment.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from ingestion.headings import (
    RANK_TIAO,
    UNNUMBERED_RECOMMENDATION_LABELS,
    Grade,
    RecommendationMarker,
    can_be_absorbed_title,
    chinese_numeral,
    ends_sentence,
    find_grades,
    find_recommendation_markers,
    has_cjk,
    heading_number,
    is_grade_only,
    is_list_item,
    is_recommendation_heading,
    is_title_like,
    match_line_heading,
    normalize_label,
    recommendation_label,
)
from ingestion.types import Block, ParsedDocument, Segment

MAX_TITLE_CHARS = 200
# With this many headings marked by the format itself, the document has its own outline and numbered lines
# (一、/（一）/1.) are more likely list items than headings. One explicit heading is usually just the title.
MIN_EXPLICIT_HEADINGS_FOR_OWN_OUTLINE = 2
# An article longer than this is split into its 款: the default CHUNK_MAX_CHARS, so an article that fits one
# passage stays whole and one that chunking would cut is cut at its 款, each passage naming its 款.
ARTICLE_SPLIT_CHARS = 800
# A statement closed by a grade reaches back over lines that do not end a sentence, but not without bound.
MAX_STATEMENT_CHARS = 1500
_TRIM_CHARS = "\u200b\ufeff"  # zero-width space and BOM: invisible, so not text worth a segment
_LIST_INTRO_ENDINGS = ("：", ":")
_CONTINUING_ENDINGS = ("：", ":", "，", ",", "；", ";")
_AFTER_GRADE_RE = re.compile(r"\s*[。．.；;!！?？]*")
_SENTENCE_END_RE = re.compile(r"[。！？；]|[.!?;](?=\s|$)")
# Where one sentence ends and the next begins inside a line: after 。！？, or after . ! ? and space before a capital.
_SENTENCE_BREAK_RE = re.compile(r"[。！？]\s*|[.!?][\"”')\]]*\s+(?=[A-Z“\"(\[])")
_ABBREVIATION_END_RE = re.compile(r"(?:\bal|\be\.g|\bi\.e|\bvs|\bDr|\bNo|\bFig|\bSt|\bapprox)\.$")
_NUMBERED_RECOMMENDATION_RE = re.compile(r"\d|[一二三四五六七八九十]")


@dataclass(frozen=True)
class _Unit:
    """One unit of structure: a line of a body block, or a whole explicit-heading block."""

    start: int
    end: int
    page: int | None
    heading_level: int | None


@dataclass(frozen=True)
class _Line:
    """A body line waiting in the current run (the body between two headings)."""

    start: int
    end: int
    page: int | None


@dataclass(frozen=True)
class _Region:
    """Part of a run that goes under one more path element (a 款 or a recommendation).

    [head_start, body_start) is its marker ("推荐意见3："), kept out of segments like a heading; [body_start, end)
    is its text.
    """

    head_start: int
    body_start: int
    end: int
    label: str


@dataclass
class _OpenHeading:
    rank: int
    label: str
    number: tuple[int, ...] | None = None


@dataclass
class _OpenSpan:
    start: int
    end: int
    section_path: tuple[str, ...]
    page: int | None
    new_section: bool


def document_structure(*, title: str, blocks: list[Block], page_count: int | None) -> ParsedDocument:
    """Build the full text (blocks joined with "\\n") and its body segments, one per (section path, page) run."""
    text = "\n".join(block.text for block in blocks)
    units = _units_of(blocks)
    explicit_heading_count = sum(1 for block in blocks if block.heading_level is not None and block.text.strip())
    segments = _segments_of(
        text=text,
        units=units,
        numbered_headings=explicit_heading_count < MIN_EXPLICIT_HEADINGS_FOR_OWN_OUTLINE,
    )
    return ParsedDocument(
        title=normalize_label(title) or _first_line(text),
        text=text,
        segments=segments,
        page_count=page_count,
    )


def _first_line(text: str) -> str:
    for line in text.split("\n"):
        label = normalize_label(line)
        if label:
            return label[:MAX_TITLE_CHARS]
    return ""


def _units_of(blocks: list[Block]) -> list[_Unit]:
    """Explicit headings stay whole; body blocks are split into lines because numbering lives on lines."""
    units: list[_Unit] = []
    offset = 0
    for block in blocks:
        if block.heading_level is not None:
            units.append(_Unit(offset, offset + len(block.text), block.page, block.heading_level))
        else:
            line_start = offset
            for line in block.text.split("\n"):
                units.append(_Unit(line_start, line_start + len(line), block.page, None))
                line_start += len(line) + 1
        offset += len(block.text) + 1  # the "\n" joining blocks
    return units


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in _TRIM_CHARS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in _TRIM_CHARS):
        end -= 1
    return start, end


def _segments_of(*, text: str, units: list[_Unit], numbered_headings: bool) -> list[Segment]:
    heading_stack: list[_OpenHeading] = []  # outermost first
    run: list[_Line] = []  # body lines under the current headings, structured when the next heading comes
    segments: list[Segment] = []
    open_span: _OpenSpan | None = None

    def close_span() -> None:
        nonlocal open_span
        if open_span is not None:
            segments.append(
                Segment(
                    text=text[open_span.start : open_span.end],
                    section_path=open_span.section_path,
                    page=open_span.page,
                    char_start=open_span.start,
                    char_end=open_span.end,
                    new_section=open_span.new_section,
                )
            )
            open_span = None

    def add_body(start: int, end: int, page: int | None, *, extra: str | None, new_section: bool) -> bool:
        """Add text to the open segment, or start a new one; False when there is nothing but whitespace."""
        nonlocal open_span
        start, end = _trimmed(text, start, end)
        if start >= end:
            return False
        section_path = tuple(heading.label for heading in heading_stack) + ((extra,) if extra else ())
        if (
            not new_section
            and open_span is not None
            and open_span.section_path == section_path
            and open_span.page == page
        ):
            open_span.end = end  # what lies between is the "\n" (and whitespace) of the full text
            return True
        close_span()
        open_span = _OpenSpan(start, end, section_path, page, new_section)
        return True

    def flush_run() -> None:
        if not run:
            return
        lines = list(run)
        run.clear()
        regions: list[_Region] = []
        top = heading_stack[-1] if heading_stack else None
        if top is not None and top.rank == RANK_TIAO:
            if top.label.startswith("第"):
                regions = _paragraph_regions(text=text, lines=lines)
        elif any(heading.rank == RANK_TIAO for heading in heading_stack):
            pass  # inside an article its lines are its text; recommendations are a guideline's
        elif top is not None and _is_numbered_recommendation_heading(top.label):
            # "### Recommendation 4" as a heading of its own: its body is the statement, so its grade joins the label
            grades = [grade.text for line in lines for grade in find_grades(text[line.start : line.end])]
            top.label = recommendation_label(label=top.label, grades=grades, chinese=has_cjk(top.label))
        else:
            regions = _recommendation_regions(text=text, lines=lines)
        _emit_run(lines=lines, regions=regions, add_body=add_body)

    def open_heading(rank: int, label: str, number: tuple[int, ...] | None) -> None:
        flush_run()
        close_span()  # body after a heading never joins body before it, even under an equal path
        while heading_stack and heading_stack[-1].rank >= rank:
            heading_stack.pop()
        heading_stack.append(_OpenHeading(rank, label, number))

    index = 0
    while index < len(units):
        unit = units[index]
        index += 1
        line = text[unit.start : unit.end]
        if unit.heading_level is not None:
            label = normalize_label(line)
            if label:
                open_heading(unit.heading_level, label, heading_number(label))
            continue

        heading = match_line_heading(
            line,
            inside_article=any(entry.rank == RANK_TIAO for entry in heading_stack),
            numbered_headings=numbered_headings,
            open_numbers=[entry.number for entry in heading_stack if entry.number],
        )
        if heading is None:
            run.append(_Line(unit.start, unit.end, unit.page))
            continue

        label = heading.label
        if heading.wants_title:
            title_index = _next_nonblank_unit(text=text, units=units, index=index)
            if title_index is not None:
                candidate = units[title_index]
                candidate_line = text[candidate.start : candidate.end]
                if (
                    candidate.heading_level is None
                    and candidate.page == unit.page
                    and can_be_absorbed_title(candidate_line)
                ):
                    # "第一章" / "总 则" on separate lines read as one heading "第一章 总 则".
                    label = f"{label} {normalize_label(candidate_line)}"
                    index = title_index + 1
        open_heading(heading.rank, label, heading.number)
        if heading.body_offset is not None:
            run.append(_Line(unit.start + heading.body_offset, unit.end, unit.page))
    flush_run()
    close_span()
    return segments


def _is_numbered_recommendation_heading(label: str) -> bool:
    # An unnumbered "推荐意见" / "Recommendation" heading reads like "Recommendations": a section holding several.
    return is_recommendation_heading(label) and bool(_NUMBERED_RECOMMENDATION_RE.search(label))


def _emit_run(*, lines: list[_Line], regions: list[_Region], add_body: Callable[..., bool]) -> None:
    """Segments for a run: text outside regions under the run's path, each region's text under its own label."""
    regions = sorted(regions, key=lambda region: region.head_start)  # they never overlap
    started: set[int] = set()  # regions whose first segment exists: only that one starts a new section
    first = 0  # regions before it end before the current line
    for line in lines:
        cursor = line.start
        while first < len(regions) and regions[first].end <= line.start:
            first += 1
        for number in range(first, len(regions)):
            region = regions[number]
            if region.head_start >= line.end:
                break
            add_body(cursor, max(cursor, min(region.head_start, line.end)), line.page, extra=None, new_section=False)
            body_start, body_end = max(line.start, region.body_start), min(line.end, region.end)
            if body_start < body_end and add_body(
                body_start, body_end, line.page, extra=region.label, new_section=number not in started
            ):
                started.add(number)
            cursor = max(cursor, min(line.end, region.end))
        add_body(cursor, line.end, line.page, extra=None, new_section=False)


# --- 款: paragraphs of a long article ----------------------------------------------------------------------


def _paragraph_regions(*, text: str, lines: list[_Line]) -> list[_Region]:
    """The 款 of an article longer than ARTICLE_SPLIT_CHARS, each labelled "第N款"; none for a shorter article.

    A 款 starts at a line that is not a list item (（一）, 1.) after a line that ends a sentence: the article's
    items and a paragraph continued on the next page belong to the 款 before them.
    """
    bodies = [(line, text[line.start : line.end]) for line in lines if text[line.start : line.end].strip()]
    if not bodies:
        return []
    first_start, _ = _trimmed(text, bodies[0][0].start, bodies[0][0].end)
    _, last_end = _trimmed(text, bodies[-1][0].start, bodies[-1][0].end)
    if last_end - first_start <= ARTICLE_SPLIT_CHARS:
        return []
    starts = [bodies[0][0].start]
    for (_, previous_text), (line, line_text) in itertools.pairwise(bodies):
        if ends_sentence(previous_text) and not is_list_item(line_text):
            starts.append(line.start)
    if len(starts) < 2:
        return []
    ends = [*starts[1:], lines[-1].end]
    return [
        _Region(start, start, end, f"第{chinese_numeral(number)}款")
        for number, (start, end) in enumerate(zip(starts, ends, strict=True), start=1)
    ]


# --- recommendations ---------------------------------------------------------------------------------------


def _statement_end(line_text: str, grade: Grade) -> int:
    """Where the statement a grade belongs to ends in its line: after the grade's sentence."""
    grade_end = grade.end
    after = _AFTER_GRADE_RE.match(line_text, grade_end)
    assert after is not None  # the pattern matches the empty string
    if not line_text[after.end() :].strip():
        return len(line_text.rstrip())
    if ends_sentence(line_text[: grade.start]):
        return grade_end  # "… defects. (1|++OO) The Task Force …": the grade follows the sentence it grades
    if after.group().strip():
        return grade_end + len(after.group().rstrip())  # "…（1A）。Next sentence": the grade closed its sentence
    # "…（1A），包括：" or "… ( Grade 1B ) with …": the grade sits inside its sentence, which goes on.
    sentence_end = _SENTENCE_END_RE.search(line_text, after.end())
    return sentence_end.end() if sentence_end else len(line_text.rstrip())


@dataclass(frozen=True)
class _Statement:
    """A recommendation statement being found; its label is made once its extent (and so its grades) is known."""

    head_start: int
    body_start: int
    end: int
    base_label: str  # "推荐意见3", "Recommendation 4", or the unnumbered "推荐意见" / "Recommendation"


def _recommendation_regions(*, text: str, lines: list[_Line]) -> list[_Region]:
    line_texts = [text[line.start : line.end] for line in lines]
    markers = [find_recommendation_markers(line_text) for line_text in line_texts]
    grades = [find_grades(line_text) for line_text in line_texts]
    if not any(markers) and not any(grades):
        return []

    # Statements never overlap, so kept in order of their start they are also in order of their end: bisect
    # finds the one around, before and after a grade (a long guideline is one run with thousands of grades).
    statements: list[_Statement] = []
    marker_positions = [(index, marker) for index, line_markers in enumerate(markers) for marker in line_markers]
    for order, (index, marker) in enumerate(marker_positions):
        next_marker = marker_positions[order + 1] if order + 1 < len(marker_positions) else None
        limit = lines[next_marker[0]].start + next_marker[1].start if next_marker else lines[-1].end
        statements.append(
            _marked_statement(
                text=text, lines=lines, markers=markers, grades=grades, index=index, marker=marker, limit=limit
            )
        )
    starts = [statement.head_start for statement in statements]

    for index, line_grades in enumerate(grades):
        line = lines[index]
        for grade in line_grades:
            position = line.start + grade.start
            at = bisect.bisect_right(starts, position)  # statements[:at] start at or before the grade
            if at and statements[at - 1].end > position:
                continue  # already inside a statement
            last = statements[at - 1] if at else None
            if last is not None and is_grade_only(line_texts[index]) and not text[last.end : line.start].strip():
                # a second grade line ("Recommendation strength: Strong" / "Quality of evidence: Moderate")
                # completes the statement it follows
                end = line.start + _statement_end(line_texts[index], grade)
                statements[at - 1] = _Statement(last.head_start, last.body_start, end, last.base_label)
                continue
            statement = _graded_statement(
                text=text,
                lines=lines,
                grades=grades,
                index=index,
                grade=grade,
                previous_end=last.end if last is not None else lines[0].start,
                next_start=starts[at] if at < len(starts) else lines[-1].end,
            )
            statements.insert(at, statement)
            starts.insert(at, statement.head_start)

    graded = sorted(
        (line.start + grade.start, grade.text)
        for line, line_grades in zip(lines, grades, strict=True)
        for grade in line_grades
    )
    positions = [position for position, _ in graded]
    regions = []
    for statement in statements:
        within = graded[
            bisect.bisect_left(positions, statement.body_start) : bisect.bisect_left(positions, statement.end)
        ]
        label = recommendation_label(
            label=statement.base_label,
            grades=[grade_text for _, grade_text in within],
            chinese=has_cjk(statement.base_label),
        )
        regions.append(_Region(statement.head_start, statement.body_start, statement.end, label))
    return regions


def _marked_statement(
    *,
    text: str,
    lines: list[_Line],
    markers: list[list[RecommendationMarker]],
    grades: list[list[Grade]],
    index: int,
    marker: RecommendationMarker,
    limit: int,
) -> _Statement:
    """A statement opened by "推荐意见3：" / "Recommendation 4:": to its grade, or over the lines that continue it."""
    line = lines[index]
    head_start, body_start = line.start + marker.start, line.start + marker.body_start
    first_grade = next((grade for grade in grades[index] if grade.start >= marker.body_start), None)
    if first_grade is not None and not marker.heading_like:
        end = line.start + _statement_end(text[line.start : line.end], first_grade)
    else:
        end = line.end
        previous_text = "" if marker.heading_like else text[body_start : line.end]
        for following in range(index + 1, len(lines)):
            line_text = text[lines[following].start : lines[following].end]
            if markers[following]:
                break  # the next recommendation
            if not line_text.strip():
                continue
            # a heading-like marker ("Recommendation 3") owns the lines under it; a statement continues only
            # into its list, after a line that does not end it, or into a grade on a line of its own
            if not (
                marker.heading_like
                or previous_text.rstrip().endswith(_CONTINUING_ENDINGS)
                or is_list_item(line_text)
                or is_grade_only(line_text)
            ):
                break
            end = lines[following].end
            if grades[following]:
                end = lines[following].start + _statement_end(line_text, grades[following][0])
                break
            previous_text = line_text
    return _Statement(head_start, body_start, max(min(end, limit), body_start), marker.label)


def _graded_statement(
    *,
    text: str,
    lines: list[_Line],
    grades: list[list[Grade]],
    index: int,
    grade: Grade,
    previous_end: int,
    next_start: int,
) -> _Statement:
    """A statement without a marker that a grade closes: back to where its paragraph starts, on to its sentence end
    (and into the list that a "…（1A），包括：" line introduces)."""
    line = lines[index]
    position = line.start + grade.start

    end = min(line.start + _statement_end(text[line.start : line.end], grade), next_start)
    following = index + 1
    if end == _trimmed(text, line.start, line.end)[1] and text[line.start : end].endswith(_LIST_INTRO_ENDINGS):
        while following < len(lines) and lines[following].end <= next_start:
            line_text = text[lines[following].start : lines[following].end]
            if not is_list_item(line_text) or grades[following]:
                break
            end = lines[following].end
            following += 1

    start = max(line.start, previous_end)
    sentence_start = _last_sentence_start(text, start, position)
    if sentence_start is not None:
        start = sentence_start  # prose before the graded sentence stays the section's body
    elif start == line.start:
        forced = is_grade_only(text[line.start : line.end])  # a grade on a line of its own grades the line before
        for earlier in range(index - 1, -1, -1):
            candidate_start = max(lines[earlier].start, previous_end)
            if candidate_start >= lines[earlier].end:
                break
            candidate = text[candidate_start : lines[earlier].end]
            if not candidate.strip() or end - candidate_start > MAX_STATEMENT_CHARS:
                break
            if forced:
                start, forced = candidate_start, False
                continue  # the whole line before: a grade line grades the statement above it
            if ends_sentence(candidate) or _is_unmarked_heading(candidate, text[start:end].lstrip()[:1]):
                break
            sentence_start = _last_sentence_start(text, candidate_start, lines[earlier].end)
            start = sentence_start if sentence_start is not None else candidate_start
            if sentence_start is not None or candidate_start > lines[earlier].start:
                break  # the statement began inside this line
    return _Statement(start, start, end, UNNUMBERED_RECOMMENDATION_LABELS[has_cjk(text[start:end])])


def _last_sentence_start(text: str, start: int, end: int) -> int | None:
    """Where the last sentence that begins in text[start:end] starts, if an earlier sentence ends in it."""
    found = None
    for match in _SENTENCE_BREAK_RE.finditer(text, start, end):
        before = text[max(start, match.start() - 8) : match.start() + 1]
        if match.end() < end and not _ABBREVIATION_END_RE.search(before):
            found = match.end()
    return found


def _is_unmarked_heading(line_text: str, next_first_char: str) -> bool:
    # A short title-like line followed by a new sentence is a heading the patterns did not know ("T-PLL", "用法"),
    # not the first line of a statement wrapped onto the next line (which would go on in lower case).
    return is_title_like(line_text) and not next_first_char.islower()


def _next_nonblank_unit(*, text: str, units: list[_Unit], index: int) -> int | None:
    while index < len(units):
        unit = units[index]
        start, end = _trimmed(text, unit.start, unit.end)
        if start < end:
            return index
        index += 1
    return None
