"""Table assembly: classified, tagged lines -> tables and records (Document in, Document out).

Segments the document into tables at title lines, rebuilds rows and columns from geometry
(pdf), tabs (tabbed text) or the fragment stream (plain extracted text), maps header cells to
canonical column keys, splits two-sided summary rows into income and expenditure records, fills
indicator levels down from merged cells, and reads figures out of narrative sentences.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from statistics import median
from dataclasses import dataclass, field
from typing import Optional, Protocol

from pipeline import header_rules as hr
from pipeline.layout import (
    Cell, Fragment, Row, anchored_rows, band_of, block_rows, fill_merged_column, is_pdf, is_tabbed, join_fragments, parse_amount, pdf_columns, pdf_rows,
    tabbed_row,
)
from pipeline.model import Column, Document, Line, Record, Table
from pipeline.stream_solver import KnownCells

FULL_AMOUNT_RE = re.compile(r"^-?\d+\.\d{2}$")
TWO_SIDED_KINDS = {"revenue_expenditure_summary", "fiscal_summary"}
INDICATOR_KINDS = {"performance_targets", "department_performance", "performance_self_evaluation"}
TABLE_LABELS = {"table_header", "subject_row", "indicator_row", "project_header", "note"}
BODY_LABELS = {"subject_row", "indicator_row"}
EMPTY_TABLE_RE = re.compile(r"空表|无数据|无.{0,12}(支出|收入|预算|经费|安排)")


class HeaderModel(Protocol):
    def column_keys(self, headers: list[tuple[str, str]]) -> list[tuple[str, float]]: ...
    def table_kinds(self, titles: list[str]) -> list[tuple[str, float]]: ...


class RuleHeaderModel:
    """Header rules as a model: the fallback when no trained header model is loaded."""

    def column_keys(self, headers: list[tuple[str, str]]) -> list[tuple[str, float]]:
        return [(hr.column_key(leaf, full), 0.9) for leaf, full in headers]

    def table_kinds(self, titles: list[str]) -> list[tuple[str, float]]:
        return [(hr.table_kind_rules(t), 0.9) for t in titles]


@dataclass
class ColumnSpec:
    index: int
    leaf: str
    full: str
    role: Optional[str] = None
    key: Optional[str] = None
    key_prob: float = 1.0
    side: Optional[str] = None


@dataclass
class TableRegion:
    title_lines: list[Line] = field(default_factory=list)
    header_lines: list[Line] = field(default_factory=list)
    body_lines: list[Line] = field(default_factory=list)
    project_lines: list[Line] = field(default_factory=list)
    note_lines: list[Line] = field(default_factory=list)

    @property
    def title(self) -> str:
        return join_fragments([ln.text for ln in self.title_lines])

    @property
    def pages(self) -> list[int]:
        return sorted({ln.page for ln in self.title_lines + self.header_lines + self.body_lines})


# ------------------------------------------------------------------ segmentation

def reading_order(doc: Document) -> list[Line]:
    ordered: list[Line] = []
    for page in doc.pages:
        if any(ln.bbox for ln in page.lines):
            ordered.extend(sorted(page.lines, key=lambda ln: (round((ln.bbox[1] + ln.bbox[3]) / 2 / 2.0), ln.bbox[0])))
        else:
            ordered.extend(sorted(page.lines, key=lambda ln: ln.line_no or 0))
    return ordered


MISSED_TITLE_RE = re.compile(r"^\S.{0,38}表(?:[（(].{0,12}[）)])?\s*$")


def repeated_department_lines(lines: list[Line], department: Optional[str]) -> set[int]:
    """Plain-text lines (ids) that are page furniture whatever they were read as: a line naming the
    department with no amount, printed three times or more ("450 平乡县医疗保障局" over every page).
    Read as a row's piece, it would join a stream row ("302450", "八、社会450平乡县…")."""
    name = re.sub(r"\s+", "", department or "")
    if len(name) < 4:
        return set()
    # plain text only: on a PDF page a department's row prints its name as a cell of its own
    keyed = [(ln, re.sub(r"\s+", "", ln.text)) for ln in lines
             if ln.label in BODY_LABELS and ln.bbox is None and "\t" not in ln.text]
    candidates = [(ln, key) for ln, key in keyed if name in key and not re.search(r"\d\.\d{2}", key)]
    counts = Counter(re.sub(r"\d", "0", key) for _, key in candidates)
    return {id(ln) for ln, key in candidates if counts[re.sub(r"\d", "0", key)] >= 3}


def segment_tables(lines: list[Line]) -> list[TableRegion]:
    regions: list[TableRegion] = []
    current: Optional[TableRegion] = None
    previous_label: Optional[str] = None
    since_body: list[Line] = []  # lines outside any table since the current table's last body line
    for ln in lines:
        label = ln.label or "other"
        if label == "narrative" and current is not None and (current.header_lines or current.body_lines) \
                and _tabbed_row_text(ln):
            label = "subject_row"  # a row with long cells (描述, 依据) read as prose: prose has no cells
        if label == "table_title":
            if (current is None or previous_label != "table_title" or current.header_lines or current.body_lines
                    or _titles_apart(current.title_lines[-1] if current.title_lines else None, ln)):
                current = TableRegion()
                regions.append(current)
                if previous_label in ("other", "narrative") and since_body and (
                        _wrapped_title_tail(since_body[-1], ln) or _numbered_title_head(since_body[-1], ln)):
                    current.title_lines.append(since_body[-1])  # the title's first line was taken for text
                elif (previous_label in BODY_LABELS and len(regions) > 1 and regions[-2].body_lines
                      and _numbered_title_head(regions[-2].body_lines[-1], ln)):
                    # a numbered title's first line, right under the last table's rows, taken for a row
                    current.title_lines.append(regions[-2].body_lines.pop())
            current.title_lines.append(ln)
        elif label in TABLE_LABELS:
            missed_title = _missed_title(since_body, ln) if current is not None and current.body_lines else None
            if label == "table_header" and missed_title is not None:
                # a new table whose title line was taken for text: the title line still opens it
                current = TableRegion(title_lines=[missed_title])
                regions.append(current)
            if current is None:
                current = TableRegion(title_lines=_text_title_before(since_body, ln))
                regions.append(current)
            if label == "table_header":
                current.header_lines.append(ln)
            elif label == "project_header":
                current.project_lines.append(ln)
            elif label == "note":
                current.note_lines.append(ln)
            else:
                current.body_lines.append(ln)
            since_body = []
        elif label == "narrative" and current is not None and current.body_lines and previous_label == "narrative":
            current = None  # two narrative lines in a row end the table
        elif label in ("other", "narrative"):
            since_body.append(ln)
        if label != "page_furniture":
            previous_label = label
    return regions


def _header_text(region: TableRegion) -> str:
    return re.sub(r"\s+", "", "".join(ln.text for ln in region.header_lines))


def join_continued_regions(regions: list[TableRegion], kinds: list[tuple[str, float]]
                           ) -> tuple[list[TableRegion], list[tuple[str, float]]]:
    """A "title" that names no table (no 表) over the very header of the budget table before it
    is that table's row taken for a title at a page break, the header repeated on the new page:
    the two regions are one table. Indicator tables are left alone: a project's table is titled
    by its project or notice, over the same header as the last project's."""
    out: list[TableRegion] = []
    out_kinds: list[tuple[str, float]] = []
    for region, kind in zip(regions, kinds):
        prev = out[-1] if out else None
        if (prev is not None and prev.body_lines and region.title_lines and region.header_lines
                and out_kinds[-1][0] not in INDICATOR_KINDS
                and not any("表" in ln.text for ln in region.title_lines)
                and _header_text(region) == _header_text(prev)):
            prev.body_lines += region.title_lines + region.body_lines
            prev.header_lines += region.header_lines
            prev.project_lines += region.project_lines
            prev.note_lines += region.note_lines
            continue
        out.append(region)
        out_kinds.append(kind)
    return out, out_kinds


def _titles_apart(previous: Optional[Line], title: Line) -> bool:
    """Two title lines in a row are two titles, not one wrapped title, when the first is complete
    (ends in 表) and the second is numbered ("部门预算项目绩效目标表" / "1、…绩效目标表": a part's
    heading over its first table)."""
    return (previous is not None and previous.text.strip().endswith("表")
            and bool(NUMBERED_TITLE_HEAD_RE.match(title.text)))


def _tabbed_row_text(ln: Line) -> bool:
    """Text with at least three tab-separated cells, two of them filled: a table row's shape."""
    cells = ln.text.split("\t")
    return ln.bbox is None and len(cells) >= 4 and sum(1 for c in cells if c.strip()) >= 2


def _missed_title(since_body: list[Line], header_line: Line) -> Optional[Line]:
    """The last line between two tables that reads like a table title, on the header's page."""
    for ln in reversed(since_body):
        if ln.page == header_line.page and MISSED_TITLE_RE.match(ln.text.strip()):
            return ln
    return None


NUMBERED_TITLE_HEAD_RE = re.compile(r"^\s*\d{1,2}\s*[、.．]\s*\S")


def _numbered_title_head(head: Line, title: Line) -> bool:
    """`head` (read as a row or as text) is the first line of `title`, a numbered table title
    ("8、…" over two lines, "…绩效目标表" the second) wrapped in a text export or on a PDF page."""
    if (NUMBERED_TITLE_HEAD_RE.match(title.text) or head.page != title.page or "\t" in head.text
            or not NUMBERED_TITLE_HEAD_RE.match(head.text) or len(head.text.strip()) < 20):
        return False
    if head.bbox is None and title.bbox is None:
        return True
    if head.bbox is None or title.bbox is None:
        return False
    # on a PDF page: the line right above (a wrapped title's lines touch)
    height = head.bbox[3] - head.bbox[1]
    return -0.3 * height <= title.bbox[1] - head.bbox[3] <= 0.6 * height


def _text_title_before(since_body: list[Line], first: Line) -> list[Line]:
    """A text table that opens without a title line (its project or header lines come first):
    the last one or two lines before it, read as text, are its title when they end in 表 and the
    first of two is numbered ("1、…通知绩效目" / "标表")."""
    if not since_body or first.bbox is not None:
        return []
    tail = since_body[-1]
    if tail.bbox is not None or tail.page != first.page or not tail.text.strip().endswith("表"):
        return []
    if len(since_body) >= 2 and _numbered_title_head(since_body[-2], tail):
        return since_body[-2:]
    return [tail] if NUMBERED_TITLE_HEAD_RE.match(tail.text) and len(tail.text.strip()) <= 60 else []


def _wrapped_title_tail(before: Line, title: Line) -> bool:
    """`title` is only the last few characters of a wrapped title whose first line is `before`."""
    return (len(title.text.strip()) <= 3 and before.page == title.page and len(before.text.strip()) >= 6
            and not MISSED_TITLE_RE.match(before.text.strip()))


# what a stream row prints and a header does not: an amount with decimals, or a 3/5/7-digit subject code
ROW_NUMBER_RE = re.compile(r"\d\.\d|(?<!\d)[12]\d{2}(?:\d{2}){0,2}(?!\d)(?!\s*年)")


def demote_headers_among_rows(region: TableRegion, order: dict[int, int], min_rows: int = 2) -> None:
    """PDF header lines lying under rows of the table on their page, or on one row with its cells,
    are cells taken for headers (a repeated header opens its page, above the rows)."""
    if not is_pdf(region.body_lines):
        return
    spans: dict[int, list[tuple[float, float]]] = {}
    for ln in region.body_lines:
        if ln.bbox:
            spans.setdefault(ln.page, []).append((ln.bbox[1], ln.bbox[3]))

    def among_rows(ln: Line) -> bool:
        cy = (ln.bbox[1] + ln.bbox[3]) / 2
        page_spans = spans.get(ln.page, [])
        return (sum(1 for _, bottom in page_spans if bottom <= ln.bbox[1]) >= min_rows
                or sum(1 for top, bottom in page_spans if top <= cy <= bottom) >= min_rows)

    demoted = [ln for ln in region.header_lines if ln.bbox and among_rows(ln)]
    if demoted:
        gone = {id(ln) for ln in demoted}
        region.header_lines = [ln for ln in region.header_lines if id(ln) not in gone]
        region.body_lines = sorted(region.body_lines + demoted, key=lambda ln: order[id(ln)])


def demote_stream_headers_among_rows(region: TableRegion, order: dict[int, int]) -> None:
    """Plain text (no tabs, no positions): a "header" line among the table's rows that the
    table's own header does not print is a row's piece taken for a header (a wrapped name's
    "养老", a row's "5 20899"); a header repeated on a new page prints the same lines again."""
    if is_pdf(region.body_lines) or is_tabbed(region.body_lines + region.header_lines) or not region.body_lines:
        return
    if not any(ROW_NUMBER_RE.search(ln.text) for ln in region.body_lines):
        return  # no amount, no subject code: an empty table's header pieces have no rows to lie among
    first, last = order[id(region.body_lines[0])], order[id(region.body_lines[-1])]
    own = {re.sub(r"\s+", "", ln.text) for ln in region.header_lines if order[id(ln)] < first}
    demoted = [ln for ln in region.header_lines if first < order[id(ln)] < last
               and re.sub(r"\s+", "", ln.text) not in own and not ln.text.strip().startswith("栏次")]
    if demoted:
        gone = {id(ln) for ln in demoted}
        region.header_lines = [ln for ln in region.header_lines if id(ln) not in gone]
        region.body_lines = sorted(region.body_lines + demoted, key=lambda ln: order[id(ln)])


def _overlap(a: Line, b: Line) -> bool:
    """Two PDF lines on one visual row: vertical overlap of at least half the first's height."""
    if not (a.bbox and b.bbox) or a.page != b.page:
        return False
    height = max(a.bbox[3] - a.bbox[1], 1.0)
    return min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1]) >= 0.5 * height


def promote_rows_in_header_rows(region: TableRegion, order: dict[int, int]) -> None:
    """PDF "rows" on a visual row holding more header lines than rows are header cells read as
    rows (a self-evaluation header's 分值 / 得分); left as rows they would make the header lines
    beside them "header lines on one row with cells" (`demote_headers_among_rows`)."""
    if not is_pdf(region.body_lines) or not region.header_lines:
        return
    # lines overlap only on their own page; and a line needs three header lines beside it before its
    # row's body lines are worth counting (counting them for every line is quadratic in a long table)
    headers_on: dict[int, list[Line]] = {}
    for h in region.header_lines:
        if h.bbox:
            headers_on.setdefault(h.page, []).append(h)
    band = {page: (min(h.bbox[1] for h in hs), max(h.bbox[3] for h in hs)) for page, hs in headers_on.items()}

    def beside(ln: Line) -> int:
        if not ln.bbox or ln.page not in band or ln.bbox[3] <= band[ln.page][0] or ln.bbox[1] >= band[ln.page][1]:
            return 0
        return sum(_overlap(ln, h) for h in headers_on[ln.page])

    beside_headers = {id(ln): beside(ln) for ln in region.body_lines}
    candidates = [ln for ln in region.body_lines if beside_headers[id(ln)] > 2]
    if not candidates:
        return
    body_on: dict[int, list[Line]] = {}
    for b in region.body_lines:
        body_on.setdefault(b.page, []).append(b)
    moved = [ln for ln in candidates
             if beside_headers[id(ln)] > max(2, sum(_overlap(ln, b) for b in body_on[ln.page]) - 1)]
    if moved:
        gone = {id(ln) for ln in moved}
        region.body_lines = [ln for ln in region.body_lines if id(ln) not in gone]
        region.header_lines = sorted(region.header_lines + moved, key=lambda ln: order[id(ln)])


def promote_level_name_rows(region: TableRegion, order: dict[int, int]) -> None:
    """A text "row" whose cells are all indicator level names (成本指标 / 产出指标 / 效益指标 …, two or
    more) is the second header row of a wide indicator table: no indicator has a level name for its
    target, and as a row it would shift every column's level one place."""
    def level_names_only(ln: Line) -> bool:
        cells = [c.strip() for c in ln.text.split("\t") if c.strip()]
        return len(cells) > 1 and all(c in LEVEL1_NAMES or c in LEVEL2_NAMES for c in cells)

    moved = [ln for ln in region.body_lines if level_names_only(ln)]
    if moved:
        gone = {id(ln) for ln in moved}
        region.body_lines = [ln for ln in region.body_lines if id(ln) not in gone]
        region.header_lines = sorted(region.header_lines + moved, key=lambda ln: order[id(ln)])


def promote_header_row_mates(region: TableRegion, order: dict[int, int]) -> None:
    """PDF project-header lines printed in the header row (beside header cells, overlapping them
    vertically) are header cells: a wrapped "一级指/标" read as a project line would leave its
    column without a header."""
    if not is_pdf(region.body_lines) or not region.header_lines or not region.project_lines:
        return

    def in_header_row(ln: Line) -> bool:
        if not ln.bbox:
            return False
        height = max(ln.bbox[3] - ln.bbox[1], 1.0)
        return any(h.page == ln.page and h.bbox and min(h.bbox[3], ln.bbox[3]) - max(h.bbox[1], ln.bbox[1]) >= 0.5 * height
                   for h in region.header_lines)

    moved = [ln for ln in region.project_lines if in_header_row(ln)]
    if moved:
        gone = {id(ln) for ln in moved}
        region.project_lines = [ln for ln in region.project_lines if id(ln) not in gone]
        region.header_lines = sorted(region.header_lines + moved, key=lambda ln: order[id(ln)])


def promote_column_number_rows(region: TableRegion, order: dict[int, int]) -> None:
    """A 栏次 row (栏次 1 2 3 …, the columns' numbers) is a header row, never a body row: read as
    one, its numbers would open rows 1, 2, 3 … of a numbered fragment stream."""
    numbered = [ln for ln in region.body_lines if ln.text.strip().startswith("栏次")]
    numbered += [ln for ln in _column_number_pdf_rows(region.body_lines) if ln not in numbered]
    if numbered:
        moved = {id(ln) for ln in numbered}
        region.body_lines = [ln for ln in region.body_lines if id(ln) not in moved]
        region.header_lines = sorted(region.header_lines + numbered, key=lambda ln: order[id(ln)])


def _column_number_pdf_rows(body: list[Line]) -> list[Line]:
    """PDF lines of a 栏次 row: on one visual row, the numbers 1, 2, 3 … left to right (at least
    three), beside nothing but 栏次 itself (whole or wrapped into 栏 / 次 in a narrow column)."""
    pdf_lines = sorted((ln for ln in body if ln.bbox), key=lambda ln: (ln.page, ln.bbox[1]))
    out: list[Line] = []
    for ln in pdf_lines:
        text = ln.text.strip()
        if not re.fullmatch(r"\d{1,2}", text) or ln in out:
            continue
        cy = (ln.bbox[1] + ln.bbox[3]) / 2
        mates = [m for m in pdf_lines if m.page == ln.page and m.bbox[1] <= cy <= m.bbox[3]]
        numbers = sorted((m for m in mates if re.fullmatch(r"\d{1,2}", m.text.strip())), key=lambda m: m.bbox[0])
        values = [int(m.text) for m in numbers]
        if len(values) < 3 or values != list(range(values[0], values[0] + len(values))):
            continue
        others = [m for m in mates if m not in numbers]
        if all(re.fullmatch(r"栏次?|次|栏次.*", m.text.strip()) for m in others):
            # a 栏次 wrapped in its narrow cell: its other half sits just above or below
            label_col = [m for m in pdf_lines if m.page == ln.page and re.fullmatch(r"栏|次", m.text.strip())
                         and abs((m.bbox[1] + m.bbox[3]) / 2 - cy) < 1.5 * (ln.bbox[3] - ln.bbox[1])]
            out.extend(m for m in mates + label_col if m not in out)
    return out


def demote_first_row_number(region: TableRegion, order: dict[int, int]) -> None:
    """A numbered fragment stream (text, one cell piece per line): a lone "1" as the last header
    line right before the rows is the first row's 序号 taken for a header cell (a 栏次 row
    printed one number a line comes after a lone 栏次 or another number)."""
    if is_pdf(region.body_lines) or is_tabbed(region.body_lines + region.header_lines) or not region.body_lines:
        return
    first = order[id(region.body_lines[0])]
    before = [ln for ln in region.header_lines if order[id(ln)] < first]
    if len(before) >= 2 and before[-1].text.strip() == "1" and before[-1] is region.header_lines[len(before) - 1]:
        prev = before[-2].text.strip()
        if not (prev.isdigit() or prev == "栏次"):
            region.header_lines.remove(before[-1])
            region.body_lines.insert(0, before[-1])


HEADER_CELL_RE = re.compile(r"^(?:[一二三]级指标|指标值|指标名称|指标内容|(?:绩效)?指标描述|指标值说明|(?:指标值)?确定依据"
                            r"|分值|得分|权重|评分标准)$")
INDICATOR_HEADER_RE = re.compile(r"[一二三]级指标|指标值|指标描述|指标名称|确定依据|绩效指标|分值|得分|权重|评分")


def demote_stream_indicator_lines(region: TableRegion, order: dict[int, int]) -> None:
    """Text indicator tables have no geometry to tell a row from a header: project-header lines
    lying between the table's rows are rows; in a fragment stream (one cell fragment per line) a
    "header" line without any header word (一级指标, 指标值, …) is a row fragment the classifier
    took for a header (a level name on its own, a cell repeated verbatim)."""
    if is_pdf(region.body_lines) or not region.body_lines:
        return
    first, last = order[id(region.body_lines[0])], order[id(region.body_lines[-1])]
    moved = [ln for ln in region.project_lines if first < order[id(ln)] < last]
    if not is_tabbed(region.body_lines + region.header_lines) and any(
            INDICATOR_HEADER_RE.search(ln.text) for ln in region.header_lines):
        moved += [ln for ln in region.header_lines if not INDICATOR_HEADER_RE.search(ln.text)]
    if moved:
        gone = {id(ln) for ln in moved}
        region.header_lines = [ln for ln in region.header_lines if id(ln) not in gone]
        region.project_lines = [ln for ln in region.project_lines if id(ln) not in gone]
        region.body_lines = sorted(region.body_lines + moved, key=lambda ln: order[id(ln)])


def demote_rows_inside_the_form(region: TableRegion, order: dict[int, int]) -> None:
    """An indicator table's form (项目名称, 绩效目标, 预算情况 …) sits above its 一级指标 header:
    a "row" above the header with form lines both before and after it is a form line."""
    if not region.header_lines or not region.project_lines:
        return
    header_at = min(order[id(ln)] for ln in region.header_lines)
    form = [order[id(ln)] for ln in region.project_lines if order[id(ln)] < header_at]
    if not form:
        return
    inside = [ln for ln in region.body_lines if min(form) < order[id(ln)] < max(form)]
    if inside:
        gone = {id(ln) for ln in inside}
        region.body_lines = [ln for ln in region.body_lines if id(ln) not in gone]
        region.project_lines = sorted(region.project_lines + inside, key=lambda ln: order[id(ln)])


def merge_project_lines_into_body(region: TableRegion, order: dict[int, int]) -> None:
    """A budget table has no project header: lines taken for one are rows of the table."""
    if region.project_lines:
        region.body_lines = sorted(region.body_lines + region.project_lines, key=lambda ln: order[id(ln)])
        region.project_lines = []


# ------------------------------------------------------------------ columns

def _span_labels(line: Line, start: int, end: int) -> tuple[list[str], float]:
    labels, prob = [], 1.0
    for sp in line.spans:
        if sp.start < end and sp.end > start:
            labels.append(sp.label)
            prob = min(prob, sp.prob)
    return labels, prob


def _fragments_of(line: Line, col: Optional[int] = None) -> Fragment:
    labels, prob = _span_labels(line, 0, len(line.text))
    return Fragment(text=line.text.strip(), line=line, col=col, labels=labels, label_prob=prob)


def tabbed_header_grid(header_lines: list[Line], n_cols: int) -> list[tuple[str, str]]:
    """(leaf, full) header text per column from tab-separated header rows with spanning cells."""
    grid = [ln.text.split("\t") for ln in header_lines if not ln.text.strip().startswith("栏次")]
    width = max([n_cols] + [len(r) for r in grid])
    grid = [r + [""] * (width - len(r)) for r in grid]
    filled = [[c.strip() for c in r] for r in grid]
    for r in range(len(filled) - 1):
        for j in range(1, width):
            below = any(filled[k][j] for k in range(r + 1, len(filled)))
            if not filled[r][j] and below:
                left = next((filled[r][i] for i in range(j - 1, -1, -1) if grid[r][i].strip()), "")
                left_j = next((i for i in range(j - 1, -1, -1) if grid[r][i].strip()), None)
                # inherit only when the left cell itself spans (has something under it)
                if left and left_j is not None and any(filled[k][left_j] for k in range(r + 1, len(filled))):
                    filled[r][j] = left
    out = []
    for j in range(width):
        parts = [filled[r][j] for r in range(len(filled)) if filled[r][j]]
        leaf = grid[-1][j].strip() if grid and grid[-1][j].strip() else (parts[-1] if parts else "")
        out.append((leaf, " ".join(dict.fromkeys(parts))))
    return out


def pdf_header_texts(header_lines: list[Line], bands: list[tuple[float, float]]) -> list[tuple[str, str]]:
    """(leaf, full) header per body column band.

    Bands are widened to the midpoints between neighbours (a centred header sits over a right-
    aligned amount without touching it); a header line belongs to every widened band whose
    centre it covers, or else to the band holding its own centre. Stacked lines of a wrapped
    header cell join into one phrase; the lowest phrase is the leaf.
    """
    if not bands:
        return []
    edges = [bands[0][0] - 1000] + [(bands[i][1] + bands[i + 1][0]) / 2 for i in range(len(bands) - 1)] + [bands[-1][1] + 1000]
    wide = [(edges[i], edges[i + 1]) for i in range(len(bands))]
    per_band: list[list[Line]] = [[] for _ in bands]
    for ln in header_lines:
        text = ln.text.strip()
        if not ln.bbox or text.startswith("栏次") or text.isdigit():
            continue
        x0, x1 = ln.bbox[0], ln.bbox[2]
        covered = [i for i, (a, b) in enumerate(bands) if x0 - 1 <= (a + b) / 2 <= x1 + 1]
        if len(covered) <= 1:
            cx = (x0 + x1) / 2
            covered = [next(i for i, (a, b) in enumerate(wide) if a <= cx < b)]
        for i in covered:
            per_band[i].append(ln)
    all_cells = [ln for ln in header_lines if ln.bbox and not ln.text.strip().isdigit()
                 and not ln.text.strip().startswith("栏次")]
    # centres of whole cells: the second line of a wrapped header cell is not a lower header row
    lowest_cy = max(((min(l.bbox[1] for l in g) + max(l.bbox[3] for l in g)) / 2 for g in _stacked_groups(all_cells)),
                    default=0.0)
    out = []
    for (a, b), hits in zip(bands, per_band):
        groups = _stacked_groups(hits)
        if not groups:
            out.append(("", ""))
            continue
        # (x0, x1, centre y): wrapped cells are centred like single-line ones, so levels compare centres
        boxes = [(min(l.bbox[0] for l in g), max(l.bbox[2] for l in g),
                  (min(l.bbox[1] for l in g) + max(l.bbox[3] for l in g)) / 2) for g in groups]
        h = max(hits[0].bbox[3] - hits[0].bbox[1], 1.0)
        band_lowest = max(cy for _, _, cy in boxes)
        level = [i for i, (_, _, cy) in enumerate(boxes) if cy >= band_lowest - 0.3 * h]
        # several header cells over one body column: the one it lines up with (a blank column's
        # header sits next to it)
        leaf_i = max(level, key=lambda i: (min(b, boxes[i][1]) - max(a, boxes[i][0]),
                                           -abs((boxes[i][0] + boxes[i][1]) / 2 - (a + b) / 2)))
        leaf_cy = boxes[leaf_i][2]
        texts = [join_fragments([l.text for l in g]) for i, g in enumerate(groups)
                 if i == leaf_i or boxes[i][2] < leaf_cy - 0.5 * h]
        leaf = join_fragments([l.text for l in groups[leaf_i]])
        # a 合计 spanning every header row is the table's total; one on the lowest row has a parent
        at_bottom = leaf_cy >= lowest_cy - 0.3 * h
        if len(texts) == 1 and _needs_parent(leaf) and (at_bottom or re.sub(r"\s+", "", leaf) != "合计"):
            parent = _parent_above(groups[leaf_i][0], header_lines, bands)
            if parent:
                texts.insert(0, parent)
        out.append((leaf, " ".join(dict.fromkeys(texts))))
    return out


def _stacked_groups(lines: list[Line]) -> list[list[Line]]:
    """Lines of one wrapped cell (stacked, touching, centred on each other) grouped together."""
    groups: list[list[Line]] = []
    for ln in sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0])):
        h = ln.bbox[3] - ln.bbox[1]
        for grp in reversed(groups):
            last = grp[-1]
            if -0.3 * h <= ln.bbox[1] - last.bbox[3] < 0.2 * h and _same_span(last, ln):
                grp.append(ln)
                break
        else:
            groups.append([ln])
    return groups


def add_header_columns(bands: list[tuple[float, float]], header_lines: list[Line]) -> list[tuple[float, float]]:
    """Columns printed blank in every body row still have a header: add the lowest header cells
    that sit clear of every body column as columns of their own."""
    lines = [ln for ln in header_lines if ln.bbox and not ln.text.strip().startswith("栏次") and not ln.text.strip().isdigit()]
    groups = _stacked_groups(lines)
    boxes = [(min(l.bbox[0] for l in g), min(l.bbox[1] for l in g), max(l.bbox[2] for l in g), max(l.bbox[3] for l in g))
             for g in groups]
    added = list(bands)

    def headed(band: tuple[float, float], skip: int) -> bool:
        return any(j != skip and b[0] < band[1] and b[2] > band[0] for j, b in enumerate(boxes))

    heights = sorted(l.bbox[3] - l.bbox[1] for l in lines)
    line_h = heights[len(heights) // 2] if heights else 10.0
    lowest_bottom = max((b[3] for b in boxes), default=0.0)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        # only cells reaching the header's last row name columns (a group title may sit between its
        # children's texts, so "nothing below it" alone would not do)
        if y1 < lowest_bottom - 0.8 * line_h:
            continue
        has_below = any(j != i and b[1] >= y1 - 1 and b[0] < x1 and b[2] > x0 for j, b in enumerate(boxes))
        left = max((band for band in bands if band[1] <= x0), default=None, key=lambda band: band[1])
        right = min((band for band in bands if band[0] >= x1), default=None, key=lambda band: band[0])
        clear = all(x1 < a - 4 or x0 > b + 4 for a, b in added) and (left is not None or right is not None) \
            and (left is None or right is None or right[0] - left[1] > 1.6 * (x1 - x0))
        # a header beside a body column that has no header of its own is that column's (offset) header
        if not has_below and clear and (left is None or headed(left, i)) and (right is None or headed(right, i)):
            added.append((x0, x1))
    return sorted(added)


def _needs_parent(leaf: str) -> bool:
    t = re.sub(r"\s+", "", leaf)
    return t in ("小计", "合计") or t.startswith("其中")


GROUP_HEADERS = ("本年收入", "本年拨款", "基本支出", "项目支出", "事业收入", "一般公共预算", "上年结转", "结转结余",
                 "资金来源", "公务用车", "三公")


def _parent_above(leaf: Line, header_lines: list[Line], bands: list[tuple[float, float]]) -> Optional[str]:
    """The parent of a 小计 / 其中 column: a header above it, near it, to its right or over it.

    Geometry alone cannot tell a centred parent from a neighbouring one (ruling is not read), so
    the known group headers (基本支出, 本年收入 …) come first, then the nearest line above."""
    lcx = (leaf.bbox[0] + leaf.bbox[2]) / 2
    leaf_band = band_of(leaf.bbox, bands)
    best, best_key = None, None
    for ln in header_lines:
        if ln is leaf or not ln.bbox or ln.bbox[3] > leaf.bbox[1] + 1 or ln.text.strip().isdigit():
            continue
        cx = (ln.bbox[0] + ln.bbox[2]) / 2
        # a group header is centred over its children: within a column to the left, four to the right
        if not (-1 <= band_of(ln.bbox, bands) - leaf_band <= 4):
            continue
        text = re.sub(r"\s+", "", ln.text)
        known = any(g in text for g in GROUP_HEADERS)
        key = (not known, round((leaf.bbox[1] - ln.bbox[3]) / 4), abs(cx - lcx))
        if best_key is None or key < best_key:
            best, best_key = ln.text.strip(), key
    return best


def _same_span(upper: Line, lower: Line) -> bool:
    """Two stacked lines of one wrapped cell: the lower one lies within the upper one's reach."""
    uc, lc = (upper.bbox[0] + upper.bbox[2]) / 2, (lower.bbox[0] + lower.bbox[2]) / 2
    return abs(uc - lc) < max(upper.bbox[2] - upper.bbox[0], 8) * 0.75


def decide_roles(specs: list[ColumnSpec], rows: list[Row], kind: str) -> None:
    for spec in specs:
        spec.role = hr.header_role(spec.leaf, spec.full)
        cells = [r.cells[spec.index] for r in rows if spec.index in r.cells]
        if spec.role is None and cells:
            votes = Counter(lab for c in cells for lab in c.labels)
            numeric = sum(1 for c in cells if parse_amount(c.text) is not None)
            if kind in INDICATOR_KINDS:
                top = votes.most_common(1)
                spec.role = top[0][0] if top and top[0][0] in hr.INDICATOR_ROLES else None
            if spec.role is None:
                if votes.get("subject_code", 0) > len(cells) / 2:
                    spec.role = hr.ROLE_CODE
                elif votes.get("row_no", 0) > len(cells) / 2:
                    spec.role = hr.ROLE_ROW_NO
                elif numeric >= max(1, len(cells) // 2) or votes.get("amount", 0) > len(cells) / 2:
                    spec.role = hr.ROLE_VALUE
                elif votes.get("subject_name", 0) > len(cells) / 2:
                    spec.role = hr.ROLE_NAME
        if spec.role is None and (spec.full or spec.leaf):
            spec.role = hr.ROLE_VALUE if kind not in INDICATOR_KINDS else None


def assign_sides(specs: list[ColumnSpec], kind: str) -> None:
    if kind not in TWO_SIDED_KINDS:
        return
    names = [s for s in specs if s.role == hr.ROLE_NAME]
    if len(names) < 2:
        return
    split_at = names[1].index
    for s in specs:
        if "支出" in s.full and "收入" not in s.full:
            s.side = "expenditure"
        elif "收入" in s.full and "支出" not in s.full:
            s.side = "income"
        else:
            s.side = "income" if s.index < split_at else "expenditure"


# ------------------------------------------------------------------ records

def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _row_number(text: str) -> Optional[int]:
    t = text.strip()
    return int(t) if t.isdigit() and len(t) <= 4 else None


def classification_of(code: Optional[str], kind: str) -> Optional[str]:
    if not code:
        return None
    if code[0] in "35" or kind in {"general_budget_basic_expenditure", "economic_classification"}:
        return "economic"
    return "functional"


# digits and separators that do not parse ("1,2.3.4", "12 34.5"): an amount printed but unreadable, kept as
# null so the checks treat it as missing rather than as a blank (zero) cell
UNREADABLE_AMOUNT_RE = re.compile(r"[\d][\d.,\s]*[\d.]|[\d]")


def budget_records(table: Table, specs: list[ColumnSpec], rows: list[Row], start_row: int) -> list[Record]:
    sides = [None] if table.kind not in TWO_SIDED_KINDS or not any(s.side for s in specs) else ["income", "expenditure"]
    records: list[Record] = []
    for i, row in enumerate(rows):
        row_no = None
        for s in specs:
            if s.role == hr.ROLE_ROW_NO and row.text(s.index):
                row_no = _row_number(row.text(s.index))
        for side in sides:
            cols = [s for s in specs if side is None or s.side == side or s.role == hr.ROLE_ROW_NO]
            code_parts = [row.text(s.index) for s in cols if s.role == hr.ROLE_CODE]
            code = _digits("".join(code_parts[:3] if len(code_parts) >= 3 else code_parts[:1])) or None
            name_cols = [s for s in cols if s.role == hr.ROLE_NAME]
            name = row.text(name_cols[0].index) if name_cols else ""
            if not name:  # a 合计 printed in the code column (its cell merged across code and name)
                name = next((t for t in code_parts if t.strip() and not re.search(r"\d", t)), "").strip()
            if not name:
                unit_cols = [s for s in cols if s.role in (hr.ROLE_UNIT_CODE, hr.ROLE_PROJECT)]
                name = next((row.text(s.index) for s in unit_cols if row.text(s.index) and not row.text(s.index).isdigit()), "")
                if not name and any(row.text(s.index).isdigit() for s in unit_cols):
                    # a unit's subtotal row of a project table: its code under 项目名称, its name under 项目单位
                    name = next((row.text(s.index) for s in cols if s.role == hr.ROLE_PROJECT_UNIT and row.text(s.index)), "")
            values: dict[str, Optional[float]] = {}
            field_conf: dict[str, float] = {}
            for s in cols:
                if s.role != hr.ROLE_VALUE or s.index not in row.cells:
                    continue
                text = row.text(s.index)
                value = parse_amount(text)
                if value is None and not UNREADABLE_AMOUNT_RE.fullmatch(text.strip()):
                    continue  # words in a value column (a note, a percentage) are not an amount at all
                key = s.key or hr.extra_key(s.leaf, s.full)
                if key in values:  # a canonical key twice: the second column keeps its printed header
                    key = hr.extra_key(s.leaf, s.full)
                values[key] = value
                field_conf[f"values.{key}"] = min(s.key_prob, row.cells[s.index].prob, 1.0 if value is not None else 0.2)
            if not name and code is None and not values:
                continue
            if not name and not values:
                continue
            frags = [f for s in cols if s.index in row.cells for f in row.cells[s.index].frags]
            first = min((f.line for f in frags), key=lambda ln: (ln.page, ln.line_no or 0, ln.bbox[1] if ln.bbox else 0))
            rec = Record(
                record_id=f"{table.table_id}-r{start_row + i}" + (f"-{side[:3]}" if side else ""),
                type="budget_line",
                table_id=table.table_id,
                page=first.page,
                line=first.line_no,
                bbox=row.bbox,
                fields={
                    "row_no": row_no,
                    "side": side,
                    "subject_code": code,
                    "subject_name": name or None,
                    "classification": classification_of(code, table.kind),
                    "values": values,
                },
                field_confidence=field_conf,
                source_lines=[(f.line.page, f.line.index) for f in frags],
            )
            rec.field_confidence["subject_name"] = min((f.label_prob for f in frags), default=1.0)
            records.append(rec)
    return records


TARGET_RE = re.compile(r"^(≥|≤|>|<|=|＞|＜|大于等于|小于等于|不低于|不高于|不少于|不超过|大于|小于)?\s*(-?\d+(?:\.\d+)?)\s*(.*)$")
_OP_WORDS = {"＞": ">", "＜": "<", "大于等于": "≥", "不低于": "≥", "不少于": "≥", "小于等于": "≤", "不高于": "≤",
             "不超过": "≤", "大于": ">", "小于": "<"}


def parse_target(target: Optional[str]) -> Optional[dict]:
    if not target:
        return None
    m = TARGET_RE.match(target)
    if not m:
        return {"op": None, "value": None, "unit": None, "text": target}
    op = m.group(1)
    op = _OP_WORDS.get(op, op) if op else None
    unit = m.group(3).strip() or None
    # a date such as 2022年12月前 or 12月底前 is qualitative
    if unit and (re.match(r"^年\d|^年.*[月日]", unit) or re.match(r"^[年月日号].*(前|底|后|内|止)$", unit)):
        return {"op": None, "value": None, "unit": None, "text": target}
    return {"op": op if op else "=", "value": float(m.group(2)), "unit": unit, "text": None}


_CELL_GAP_RE = re.compile(r"(?:(?<=[^\x00-\x7f])|(?<=%))\s+(?=[^\x00-\x7f])")  # "人数 建立…", "100% 结算单"
# "…存储费 3 万元", "…参保率 100%": a number with its unit after text is a cell of its own (a 指标值)
_VALUE_GAP_RE = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[-+≥≤<>＞＜]?\d[\d.,]*\s*(?:%|[^\x00-\x7f\s]{1,2})?\s*$)")
_COMPARATIVE_RE = re.compile(r"(?:不[低高少多超晚早]于|[低高大小]于|达到|[≥≤<>＞＜])$")
_TARGET_LIKE_RE = re.compile(r"^(?:[≥≤<>＞＜=]|不[低高少多超晚]于|较上年|明显|显著|有效|\d)|%$")
_ROW_ROLES = ("level3", "description", "target", "basis")
_LEVELS = ("level1", "level2", "level3")
_WRAP_PENALTY = 3.0  # a cell continued on the next line after a line short of the column width
_DROP_COST = 2.0  # a piece of a row left out of its cells
_NO_TARGET_COST = 1.5  # a row without 指标值


def _text_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass
class _Piece:
    text: str
    label: str
    line: Line
    width: int
    start: int = 0
    end: int = 0
    alone: bool = True  # the only piece of its line


def _one_cell(text: str, left: int, right: int) -> bool:
    """The text between two tagged pieces of a line leaves them in one cell: nothing, or a space
    between a number and the unit after it ("≥20769 人", "每月 15 号")."""
    gap = text[left:right]
    if not gap:
        return True
    if gap.isspace() and right < len(text) and text[right].isdigit() and _COMPARATIVE_RE.search(text[:left]):
        return True  # "不晚于 11 月底", "≥ 95%": the comparison and its number
    return (gap.isspace() and left > 0 and right < len(text) and text[left - 1].isascii()
            and text[left - 1].isalnum() and not text[right].isascii())


def _row_pieces(lines: list[Line]) -> list[_Piece]:
    """The tagged pieces of fragment-stream lines in reading order. Two cells printed on one line
    are apart by a space between CJK characters (a cell's own wrapped text never is), so a span
    the tagger ran across such a gap is cut there, and spans of one line not apart by such a gap
    are one cell. A line the tagger left without any indicator span (a row fragment the
    classifier took for a header) gives its cells untagged."""
    pieces: list[_Piece] = []
    for ln in lines:
        on_line: list[_Piece] = []
        spans = [(sp.start, sp.end, sp.label) for sp in sorted(ln.spans, key=lambda sp: sp.start)
                 if sp.label in ("level1", "level2") + _ROW_ROLES + ("weight", "score")]
        if not spans and ln.text.strip():
            spans = [(len(ln.text) - len(ln.text.lstrip()), len(ln.text.rstrip()), "")]
        for sp_start, sp_end, sp_label in spans:
            start = sp_start
            parts = []
            gaps = [m.span() for m in _CELL_GAP_RE.finditer(ln.text, sp_start, sp_end)]
            if sp_label != "target":  # a 指标值 may print its number after a word ("每月 15 号")
                gaps = sorted(gaps + [m.span() for m in _VALUE_GAP_RE.finditer(ln.text[:sp_end], sp_start)])
            for gap_start, gap_end in gaps:
                if gap_start < start:
                    continue
                parts.append((start, gap_start))
                start = gap_end
            parts.append((start, sp_end))
            for i, (a, b) in enumerate(parts):
                text = ln.text[a:b].strip()
                if not text:
                    continue
                label = sp_label
                if not label and i == 0 and text in LEVEL1_NAMES[1:]:  # untagged level names (成本指标 is both)
                    label = "level1"
                elif not label and i == 0 and text.endswith("指标") and len(text) <= 9:
                    label = "level2"
                elif i == 0 and len(parts) > 1 and label in _ROW_ROLES and text in LEVEL2_NAMES:
                    label = "level2"  # "质量指标 宣传率" tagged one 三级指标: a 二级指标 name leads its row's line
                elif i and label in ("level1", "level2"):  # the cells after a level run on to the next level
                    label = _LEVELS[min(_LEVELS.index(sp_label) + i, len(_LEVELS) - 1)]
                prev = on_line[-1] if on_line else None
                if (i == 0 and prev is not None and label in ("level1", "level2") and prev.label in _LEVELS
                        and _LEVELS.index(prev.label) >= _LEVELS.index(label)
                        and text not in LEVEL1_NAMES + LEVEL2_NAMES):
                    # levels run left to right on a line: "成本指标 成本控制" tagged 二级 twice is 二级, 三级
                    label = _LEVELS[min(_LEVELS.index(prev.label) + 1, len(_LEVELS) - 1)]
                if (i == 0 and prev is not None and prev.label in _ROW_ROLES and label in _ROW_ROLES
                        and _one_cell(ln.text, prev.end, a)):
                    prev.label = prev.label if len(prev.text) >= len(text) else label  # one cell, tagged in two pieces
                    prev.text, prev.end = ln.text[prev.start:b].strip(), b
                    prev.width = _text_width(prev.text)
                else:
                    on_line.append(_Piece(text=text, label=label, line=ln, width=_text_width(text), start=a, end=b))
        for p in on_line:
            p.alone = len(on_line) == 1
        pieces.extend(on_line)
    return pieces


def _decode_row(pieces: list[_Piece], full: int) -> dict[str, list[str]]:
    """Split one row's pieces, in order, into its 三级指标, 描述, 指标值 and 依据 cells: the
    partition that agrees with most of the tagger's labels, where a cell goes on to the next
    line only after a line filled to the column width (`full`) and two pieces of one line are
    two cells. Pieces after the 依据 may be left out (a misread title line, a stray fragment)."""
    n = len(pieces)
    # join[k]: the cost of pieces k and k+1 being one cell
    join = [100.0 if pieces[k + 1].line is pieces[k].line else (_WRAP_PENALTY if pieces[k].width < full else 0.0)
            for k in range(n - 1)]
    for k in range(n - 1):
        # a wrapped cell never prints a line twice in a row: the same text again starts the next
        # cell (a 指标内容 repeating its 三级指标, seed 000's "参保人员出院结算提高" twice)
        if len(pieces[k].text) >= 4 and pieces[k + 1].text == pieces[k].text:
            join[k] = 100.0
    join_sum = [0.0]
    for c in join:
        join_sum.append(join_sum[-1] + c)

    def costs(role: str) -> list[float]:
        out = [0.0]
        for p in pieces:
            miss = float(p.label != role)
            if _TARGET_LIKE_RE.search(p.text):  # "≥95%", "明显提升": a 指标值 whatever its tag
                miss = miss * 0.25 if role == "target" else miss + 0.5
            out.append(out[-1] + miss)
        return out

    def cell(i: int, j: int, miss: list[float]) -> float:
        return miss[j] - miss[i] + (join_sum[j - 1] - join_sum[i] if j - i > 1 else 0.0)

    INF = float("inf")
    best = [INF] + [cell(0, j, costs("level3")) for j in range(1, n + 1)]  # the 三级指标 is never empty
    back: list[list[int]] = []
    for role in ("description", "target", "basis"):
        miss = costs(role)
        empty = _NO_TARGET_COST if role == "target" else 0.0
        nxt, arg = [INF] * (n + 1), [0] * (n + 1)
        for j in range(n + 1):
            for i in range(j + 1):
                if best[i] == INF:
                    continue
                c = best[i] + (cell(i, j, miss) if j > i else empty)
                if c < nxt[j] - 1e-9:
                    nxt[j], arg[j] = c, i
        back.append(arg)
        best = nxt
    end = min(range(n + 1), key=lambda d: (best[d] + _DROP_COST * (n - d), d))
    cuts = [end]
    for arg in reversed(back):
        cuts.append(arg[cuts[-1]])
    c_basis, c_target, c_desc = cuts[1], cuts[2], cuts[3]
    cells = {"level3": pieces[:c_desc], "description": pieces[c_desc:c_target], "target": pieces[c_target:c_basis],
             "basis": pieces[c_basis:end]}
    return {role: [p.text for p in ps] for role, ps in cells.items() if ps}


def _split_rows(pieces: list[_Piece]) -> list[list[_Piece]]:
    """One row per 指标值 when several rows share their levels (merged 一级/二级指标 cells): a row
    after a target starts at its first text tagged 三级指标 (else 描述) on a later line."""
    runs, i = [], 0
    while i < len(pieces):
        if pieces[i].label == "target":
            j = i
            while j + 1 < len(pieces) and pieces[j + 1].label == "target":
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    if len(runs) <= 1:
        return [pieces]
    rows, start = [], 0
    for (_, end), (nxt, _) in zip(runs, runs[1:]):
        later = [k for k in range(end + 1, nxt) if pieces[k].line is not pieces[end].line]
        cut = next((k for k in later if pieces[k].label == "level3"),
                   next((k for k in later if pieces[k].label == "description"), later[0] if later else nxt))
        rows.append(pieces[start:cut])
        start = cut
    rows.append(pieces[start:])
    return [r for r in rows if r]


def span_indicator_records(table: Table, lines: list[Line], project: Optional[str],
                           project_code: Optional[str]) -> list[Record]:
    """Indicator rows of a fragment stream (one cell fragment per line, no cell structure): a row
    starts at its 一级/二级指标 (levels carry down); its other pieces are cut into the 三级指标,
    描述, 指标值 and 依据 cells in that order by `_decode_row`."""
    # a header cell read as a row piece ("一级指标" tagged as a level) is no cell of any row
    pieces = [p for p in _row_pieces(lines) if not HEADER_CELL_RE.match(re.sub(r"\s+", "", p.text))]
    widths = Counter(p.width for p in pieces if p.alone and p.label in _ROW_ROLES and p.width >= 8)
    full = max(widths.most_common(1)[0][0] - 2, 8) if widths else 10 ** 6
    records: list[Record] = []
    level1 = level2 = None
    groups: list[tuple[Optional[str], Optional[str], list[_Piece]]] = []
    current: list[_Piece] = []

    def close() -> None:
        nonlocal current
        if current:
            for row in _split_rows(current):
                groups.append((level1, level2, row))
        current = []

    for p in pieces:
        if (p.label in ("level1", "level2") and "指标" not in p.text and current
                and not any(q.label == "target" for q in current)):
            p.label = "description"  # a wrapped cell's tail read as a level name: the row is still open
        if p.label == "level1":
            close()
            level1, level2 = p.text, None
        elif p.label == "level2":
            close()
            level2 = p.text
        else:
            current.append(p)
    close()
    for l1, l2, row in groups:
        row_cells = [p for p in row if p.label in _ROW_ROLES or not p.label]
        numbers = {p.label: p.text for p in row if p.label in ("weight", "score")}
        if not row_cells:
            continue
        parts = _decode_row(row_cells, full)
        if not (l1 or l2 or any(p.label == "target" for p in row_cells)):
            continue  # text before the table's first level and with nothing tagged 指标值: not a row
        fields = {k: join_fragments(v) for k, v in parts.items()}
        fields.update(numbers)
        fields["level1"], fields["level2"] = l1, l2
        row_lines: list[Line] = []
        for p in row:
            if all(p.line is not ln for ln in row_lines):
                row_lines.append(p.line)
        frags = [Fragment(text=ln.text, line=ln, label_prob=ln.label_prob) for ln in row_lines]
        records.append(_indicator_record(table, Row(cells={0: Cell(col=0, frags=frags)}), str(len(records)),
                                         fields, project, project_code))
    return records


def _header_disagrees(row: Row, role_cols: dict[str, "ColumnSpec"]) -> bool:
    """Most of the row's tagged cells sit under a header of another role."""
    agree = disagree = 0
    role_of = {s.index: r for r, s in role_cols.items()}
    for col, cell in row.cells.items():
        votes = [lab for lab in cell.labels if lab in hr.INDICATOR_ROLES]
        if not votes or col not in role_of:
            continue
        if Counter(votes).most_common(1)[0][0] == role_of[col]:
            agree += 1
        else:
            disagree += 1
    return disagree > agree


def _tagged_text(row: Row, labels: tuple[str, ...]) -> Optional[str]:
    """The text of the row's first cell tagged with one of `labels`, less its lines tagged as
    other fields only: a wide table's 单位编码（项目编码）cell holds the unit's code over the
    project's, its 项目单位（项目名称）cell the unit's name over the project's (two rows in one)."""
    for col in sorted(row.cells):
        cell = row.cells[col]
        if any(lab in labels for lab in cell.labels) and cell.prob >= 0.5:
            return join_fragments([f.text for f in cell.frags
                                   if not f.labels or any(lab in labels for lab in f.labels)])
    return None


def _project_in_row(table: Table, row: Row, i: int, unit: Optional[str],
                    name_col: Optional[int] = None) -> Optional[Record]:
    """The project a row of a wide table starts: its tagged name, else (PDF) its 项目名称 cell. A
    text row with no project code nor amount whose cells pair up as (三级指标, 指标值) lists more
    indicators of the project above, whatever a cell's tag says."""
    if _unit_row(row):
        return None  # a unit's row (单位编码 | 单位名称), whatever its name is tagged as
    name = _tagged_text(row, ("project",))
    if (name and not any(f.line.bbox for f in row.frags) and not _tagged_text(row, ("project_code",))
            and not any(FULL_AMOUNT_RE.match(c.text.strip()) for c in row.cells.values())
            and _text_indicator_pairs(row)):
        name = None
    if (not name and name_col is not None and name_col in row.cells and any(f.line.bbox for f in row.frags)
            and not {"implementing_unit", "department"} & set(row.cells[name_col].labels)
            and not _unit_row(row)):
        name = join_fragments([row.text(name_col)]) or None
    if not name:
        name = _cell_after_project_code(row)
    if not name:
        return None
    code = _tagged_text(row, ("project_code",))
    amounts = [parse_amount(row.cells[c].text) for c in sorted(row.cells) if "amount" in row.cells[c].labels]
    amounts = [a for a in amounts if a is not None]
    first = row.first_line
    return Record(
        record_id=f"{table.table_id}-p{i}", type="project", table_id=table.table_id, page=first.page,
        line=first.line_no, bbox=row.bbox,
        fields={"name": name, "code": re.sub(r"\D", "", code) if code else None, "implementing_unit": unit,
                "amount": amounts[0] if amounts else None, "goal": None},
        field_confidence={"name": min((f.label_prob for f in row.frags), default=1.0)},
        source_lines=[(f.line.page, f.line.index) for f in row.frags],
    )


def _unit_row(row: Row) -> bool:
    """A wide table's unit row (单位编码 | 单位名称): its code is a short unit code (308, 639001), not a
    project's, nor a 序号 (1, 2, …)."""
    if not row.cells:
        return False
    first = re.sub(r"\s+", "", row.cells[min(row.cells)].text)
    return first.isdigit() and 3 <= len(first) < 8


PROJECT_CODE_RE = re.compile(r"\d{12,}")  # 410304220000000016435: a project's code (unit codes are short)


def _cell_after_project_code(row: Row) -> Optional[str]:
    """A project's name is printed right after its code (项目编码 | 项目名称), whatever its tag."""
    cols = sorted(c for c in row.cells if row.cells[c].text.strip())
    code_at = next((k for k, c in enumerate(cols) if "project_code" in row.cells[c].labels
                    or PROJECT_CODE_RE.fullmatch(row.cells[c].text.strip())), None)
    if code_at is None or code_at + 1 >= len(cols):
        return None
    text = row.cells[cols[code_at + 1]].text
    return None if parse_amount(text) is not None else (join_fragments([text]) or None)


def _untagged_row_fields(row: Row, specs: list[ColumnSpec]) -> Optional[dict]:
    """A text row the tagger left without any indicator tag (a row of long cells read as prose),
    read right-aligned (see `_right_aligned_fields`)."""
    if any(lab in hr.INDICATOR_ROLES for c in row.cells.values() for lab in c.labels):
        return None
    return _right_aligned_fields(row, specs)


def _right_aligned_fields(row: Row, specs: list[ColumnSpec], long_text: int = 20) -> Optional[dict]:
    """A text export drops the blank cells under merged 一级/二级指标, shifting the short cells left,
    so they are read right-aligned against the header's level and 指标值 columns; long cells
    (≥ 20 characters) are the 描述/依据 columns, in the header's order."""
    order = [s.role for s in sorted(specs, key=lambda s: s.index) if s.role in hr.INDICATOR_ROLES]
    short_roles = [r for r in order if r in ("level1", "level2", "level3", "target")]
    long_roles = [r for r in order if r in ("description", "basis")]
    texts = [join_fragments([row.cells[c].text]) for c in sorted(row.cells)]
    texts = [t for t in texts if t]
    short = [t for t in texts if len(t) < long_text]
    long = [t for t in texts if len(t) >= long_text]
    if "target" not in short_roles or not short or len(short) > len(short_roles) or len(long) > len(long_roles):
        return None
    fields: dict = dict(zip(short_roles[len(short_roles) - len(short):], short))
    fields.update(zip(long_roles, long))
    return fields


def _shifted_row_fields(row: Row, specs: list[ColumnSpec], tagged: dict[str, str]) -> Optional[dict]:
    """A tab-separated row whose cells sit under the wrong headers (a merged 一级指标 left out after a
    page break: "预算和财务管理\t预算编制完整性\t完整\t\t1.…"), read right-aligned, when that reading
    finds a 三级指标 and the same 指标值 the tagger found. The cells' order is the export's, the
    tagger's level tags on such rows are its weakest guesses."""
    if not row.frags or not all("\t" in f.line.text for f in row.frags):
        return None
    aligned = _right_aligned_fields(row, specs)
    if not aligned or not aligned.get("level3") or not _looks_like_target(aligned.get("target")):
        return None
    tagged_target = (tagged.get("target") or "").strip()
    return aligned if tagged_target == (aligned.get("target") or "").strip() else None


def _looks_like_target(text: Optional[str]) -> bool:
    """A short value (≥95%, 完整, 不低于上年), not a level name (…指标) or an amount column's total."""
    text = (text or "").strip()
    return 0 < len(text) <= 10 and not text.endswith(("指标", "类")) and not FULL_AMOUNT_RE.match(text)


def _cells_by_tagged_role(row: Row) -> dict[str, str]:
    out: dict[str, str] = {}
    for col in sorted(row.cells):
        cell = row.cells[col]
        votes = Counter(lab for lab in cell.labels if lab in hr.INDICATOR_ROLES)
        if votes and cell.prob >= 0.5:
            role = votes.most_common(1)[0][0]
            out[role] = join_fragments([out.get(role, ""), cell.text]) if role in out else cell.text
    return out


def indicator_records(table: Table, specs: list[ColumnSpec], rows: list[Row], project: Optional[str],
                      project_code: Optional[str]) -> list[Record]:
    records: list[Record] = []
    carried: dict[str, Optional[str]] = {"level1": None, "level2": None}
    role_cols = {s.role: s for s in specs if s.role in hr.INDICATOR_ROLES}
    level1_by_col: dict[int, Optional[str]] = {}
    unit: Optional[str] = None
    name_col = next((s.index for s in specs if s.role == hr.ROLE_PROJECT
                     or (s.role == hr.ROLE_NAME and "项目名称" in s.full)), None)
    last_wide: list[tuple[int, int, Record]] = []  # the previous text row's (三级指标 col, 指标值 col, record)
    last_project: Optional[Record] = None
    for i, row in enumerate(rows):
        if last_wide and _continue_wide_row(row, last_wide, last_project):
            last_wide = []
            continue  # the wrapped tails of the previous row's cells
        tagged_unit = _tagged_text(row, ("implementing_unit", "department"))
        if tagged_unit:
            unit = tagged_unit
        row_project = _project_in_row(table, row, i, unit, name_col)
        last_project = row_project
        if row_project is not None:  # wide tables list one project per row group
            records.append(row_project)
            project, project_code = row_project.fields["name"], row_project.fields["code"]
        fields: dict = {r: (join_fragments([row.text(s.index)]) or None) for r, s in role_cols.items()}
        pair_cols: list[tuple[int, Optional[int]]] = []
        wide = _wide_indicator_pairs(row, specs, level1_by_col, pair_cols)
        last_wide = []
        if wide:
            geometric = any(f.line.bbox for f in row.frags)
            for j, ((level1, level3, target), (c, t)) in enumerate(zip(wide, pair_cols)):
                rec = _indicator_record(table, row, f"{i}-{j}", {"level1": level1, "level2": None, "level3": level3,
                                                                  "target": target}, project, project_code)
                records.append(rec)
                if not geometric and t is not None:
                    last_wide.append((c, t, rec))
            continue
        tagged = _cells_by_tagged_role(row)
        untagged = _untagged_row_fields(row, specs) if not is_pdf([f.line for f in row.frags]) else None
        shifted = _shifted_row_fields(row, specs, tagged) if _header_disagrees(row, role_cols) else None
        if untagged:
            fields = untagged
        elif shifted:
            fields = shifted
        elif len(tagged) >= 2 and _header_disagrees(row, role_cols) and (tagged.get("target") or not fields.get("target")):
            # merged cells shifted this row against its header: the tagger's reading of each cell wins,
            # unless it finds no 指标值 where the header does (a tag run across cells)
            fields = {r: tagged.get(r) for r in set(role_cols) | set(tagged)}
        if not fields.get("target") and row.frags and all("\t" in f.line.text for f in row.frags):
            # neither the header nor the tags find a 指标值: a tab-separated row whose short cells,
            # read right-aligned, end in one is a shifted row (seed 002, rows the tagger read a role off)
            aligned = _right_aligned_fields(row, specs)
            if aligned and _looks_like_target(aligned.get("target")) and aligned.get("level3"):
                fields = aligned
        for lvl in ("level1", "level2"):
            if fields.get(lvl):
                carried[lvl] = fields[lvl]
                if lvl == "level1":
                    carried["level2"] = fields.get("level2") or None
            else:
                fields[lvl] = carried[lvl]
        if not fields.get("level3") and not fields.get("target"):
            continue
        if FULL_AMOUNT_RE.match((fields.get("level3") or "").strip()):
            continue  # a row of amounts (a unit's total) is no indicator
        records.append(_indicator_record(table, row, str(i), fields, project, project_code))
    return records


LEVEL1_NAMES = ("成本指标", "产出指标", "效益指标", "效果指标", "满意度指标")
LEVEL2_NAMES = ("数量指标", "质量指标", "时效指标", "经济效益指标", "社会效益指标", "生态效益指标",
                "可持续影响指标", "服务对象满意度指标")


def _continue_wide_row(row: Row, last_wide: list[tuple[int, int, Record]], last_project: Optional[Record]) -> bool:
    """A text row of a wide table holding only the wrapped tails of the previous row's cells (a
    Word or spreadsheet export prints a cell's second line as a row of its own): each filled cell
    sits under (or, shifted, next to) a 三级指标 of the previous row, or left of them under its
    project's name, and none under a 指标值 or holds an amount. The tails are joined on."""
    filled = [c for c in sorted(row.cells) if row.cells[c].text.strip()]
    if not filled or any(FULL_AMOUNT_RE.match(row.cells[c].text.strip()) or "project_code" in row.cells[c].labels
                         for c in filled):
        return False
    level3_cols = {c: rec for c, _, rec in last_wide}
    target_cols = {t for _, t, _ in last_wide}
    plan: list[tuple[int, Record, str]] = []
    for c in filled:
        if c in target_cols:
            return False
        owner = level3_cols.get(c) or next((rec for lc, rec in level3_cols.items() if abs(lc - c) == 1), None)
        if owner is not None:
            plan.append((c, owner, "level3"))
        elif last_project is not None and c < min(level3_cols) - 1:
            plan.append((c, last_project, "name"))
        else:
            return False
    owners = [id(rec) for _, rec, _ in plan]
    if not any(what == "level3" for _, _, what in plan) or len(set(owners)) < len(owners):
        return False
    for c, rec, what in plan:
        rec.fields[what] = join_fragments([rec.fields.get(what) or "", row.cells[c].text])
        rec.source_lines.extend((f.line.page, f.line.index) for f in row.cells[c].frags)
    return True


def _wide_indicator_pairs(row: Row, specs: list[ColumnSpec], level1_by_col: dict[int, Optional[str]],
                          pair_cols: Optional[list] = None) -> list[tuple[Optional[str], str, Optional[str]]]:
    """Rows of wide project tables: several (三级指标, 指标值) pairs, level 1 printed in the header."""
    spec_by_index = {s.index: s for s in specs}
    if sum(1 for s in specs if s.role == "level3") < 2:
        return []  # only a header with several 三级指标 columns makes a wide table
    cols = sorted(row.cells)
    geometric = any(f.line.bbox for c in cols for f in row.cells[c].frags)
    by_header = [c for c in cols if spec_by_index.get(c) and spec_by_index[c].role == "level3"]
    # a PDF keeps its cells under their headers, which tell 三级指标 from 指标值 better than the
    # tagger can from a cell's few characters; a text export shifts cells, so its tags decide
    tagged = not (geometric and by_header) and any(row.cells[c].labels for c in cols)
    level3_cols = [c for c in cols if "level3" in row.cells[c].labels] if tagged else by_header
    partner: dict[int, int] = {}
    if not geometric:
        pairs = _text_indicator_pairs(row)
        if pairs and len(pairs) == 1 and pairs[0][0] not in level1_by_col and pairs[0][0] - 1 in level1_by_col:
            level1_by_col[pairs[0][0]] = level1_by_col[pairs[0][0] - 1]  # one stray tab more in front
        if pairs and (len(pairs) >= 2 or pairs[0][0] in level1_by_col):
            level3_cols, partner = [c for c, _ in pairs], dict(pairs)
    if len(level3_cols) < 2 and not (level3_cols and level3_cols[0] in level1_by_col):
        return []
    # the 一级指标 groups as the header prints them, left to right (a group title may sit over
    # either of its two columns)
    header_level1 = [n for s in sorted(specs, key=lambda s: s.index) for n in LEVEL1_NAMES if n in s.full]
    header_level1 = list(dict.fromkeys(header_level1)) or list(LEVEL1_NAMES[1:])
    out = []
    for k, c in enumerate(level3_cols):
        target_col = partner.get(c) if partner else next(
            (t for t in cols if t > c and ("target" in row.cells[t].labels if tagged else
             bool(spec_by_index.get(t) and spec_by_index[t].role == "target"))), None)
        in_header = [n for col in (c, target_col) if col in spec_by_index for n in LEVEL1_NAMES
                     if n in spec_by_index[col].full]
        if geometric and in_header:  # a PDF keeps its columns under their group titles
            level1 = in_header[0]
            level1_by_col[c] = level1
        elif len(level3_cols) >= 2:
            # text exports drop blank cells and shift rows left: the groups present are the rightmost
            offset = len(header_level1) - len(level3_cols)
            level1 = header_level1[offset + k] if 0 <= offset + k < len(header_level1) else None
            level1_by_col[c] = level1
        else:
            level1 = level1_by_col.get(c)
        out.append((level1, row.cells[c].text, row.cells[target_col].text if target_col is not None else None))
        if pair_cols is not None:
            pair_cols.append((c, target_col))
    return out


def _text_indicator_pairs(row: Row) -> list[tuple[int, int]]:
    """A text row of a wide project table: its filled cells after the project's amounts are
    (三级指标, 指标值) pairs, left to right, whatever the tagger read in a few characters (an
    odd number of cells is a wrapped cell's tail: no pairs)."""
    filled = [c for c in sorted(row.cells) if row.cells[c].text.strip()]
    amounts = [k for k, c in enumerate(filled) if FULL_AMOUNT_RE.match(row.cells[c].text.strip())]
    start = 0
    if amounts:
        k = amounts[0]
        while k < len(filled) and FULL_AMOUNT_RE.match(row.cells[filled[k]].text.strip()):
            k += 1
        start = k
    rest = filled[start:]
    if not rest or len(rest) % 2 or any(parse_amount(row.cells[c].text) is not None for c in rest[::2]):
        return []
    return [(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)]


def _indicator_record(table: Table, row: Row, suffix: str, fields: dict, project: Optional[str],
                      project_code: Optional[str]) -> Record:
    target = re.sub(r"\s+", "", fields.get("target") or "") or None
    frags = row.frags
    first = min((f.line for f in frags), key=lambda ln: (ln.page, ln.line_no or 0, ln.bbox[1] if ln.bbox else 0))
    out = {
        "project": project, "project_code": project_code,
        "level1": fields.get("level1"), "level2": fields.get("level2"), "level3": fields.get("level3"),
        "description": fields.get("description"), "target": target, "target_parsed": parse_target(target),
        "basis": fields.get("basis"),
    }
    for num in ("weight", "score"):
        if num in fields:
            out[num] = parse_amount(fields[num] or "")
    return Record(
        record_id=f"{table.table_id}-i{suffix}", type="indicator", table_id=table.table_id, page=first.page,
        line=first.line_no, bbox=row.bbox, fields=out,
        field_confidence={"level3": _tuple_confidence(frags, out)},
        source_lines=[(f.line.page, f.line.index) for f in frags],
    )


def _tuple_confidence(frags: list[Fragment], fields: dict) -> float:
    """The tagger's confidence in the cells an indicator's 一级/二级/三级指标 and 指标值 came from: what
    the record is judged by. A long 指标说明 or 依据, whose tags are the tagger's least sure, leaves it
    unchanged; a row whose key cells cannot be told apart from the rest is judged by all its cells."""
    keys = "".join(re.sub(r"\s+", "", fields.get(k) or "") for k in ("level1", "level2", "level3", "target"))
    chosen = [f.label_prob for f in frags if (text := re.sub(r"\s+", "", f.text)) and text in keys]
    return min(chosen or [f.label_prob for f in frags] or [1.0])


PROJECT_TITLE_RE = re.compile(r"^\s*(?:\d+\s*[、.．]\s*)?(.+?)(?:项目)?(?:支出)?绩效(?:目标|自评)表?\s*$")
GENERIC_TITLE_WORDS = {"预算", "项目", "预算项目", "部门预算", "部门预算项目", "项目支出", "部门", "本级", "重点项目"}
YEAR_PREFIX_RE = re.compile(r"^(?:20\d{2}\s*年度?)")
YEAR_SUBTITLE_RE = re.compile(r"[（(]\s*20\d{2}\s*年度?\s*[）)]\s*$")  # "（2022 年度）" printed under the title


def _span_texts(lines: list[Line], labels: tuple[str, ...]) -> list[str]:
    return [ln.text[sp.start:sp.end].strip() for ln in lines for sp in sorted(ln.spans, key=lambda sp: sp.start)
            if sp.label in labels and sp.prob >= 0.5]


def _same_name(a: Optional[str], b: Optional[str]) -> bool:
    return bool(a and b) and re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


FORM_LABELS = {"项目名称": "name", "实施单位": "unit", "项目单位": "unit"}


def _form_fields(lines: list[Line]) -> dict[str, str]:
    """A project header printed as a form (项目名称 | 计划生育家庭奖励扶助 / 实施单位 | 武功县卫生健康局):
    the value beside each printed label, whatever the tagger made of it. On a PDF page the value is
    the next line of the same row, in text the next tab-separated cell."""
    out: dict[str, str] = {}
    for k, ln in enumerate(lines):
        cells = [c.strip() for c in ln.text.split("\t")]
        for j, cell in enumerate(cells):
            field = FORM_LABELS.get(re.sub(r"\s+", "", cell))
            if not field or field in out:
                continue
            value = next((c for c in cells[j + 1:] if c), "")
            if not value and ln.bbox and k + 1 < len(lines):
                nxt = lines[k + 1]
                same_row = nxt.bbox and nxt.page == ln.page and nxt.bbox[0] > ln.bbox[2] \
                    and min(nxt.bbox[3], ln.bbox[3]) - max(nxt.bbox[1], ln.bbox[1]) > 0
                value = nxt.text.strip() if same_row and re.sub(r"\s+", "", nxt.text) not in FORM_LABELS else ""
            if value:
                out[field] = value
    return out


def _names_one_project(region_name: Optional[str], row_name: Optional[str]) -> bool:
    """The name found over a table's project lines is a row's project name, or its first line (a
    wrapped 项目名称 cell "…编制经" / "费" whose first line alone is tagged)."""
    return bool(region_name and row_name and row_name.startswith(region_name))


def project_from_region(region: TableRegion, table: Table, department: Optional[str] = None) -> Optional[Record]:
    """The project a performance table is about: its name from the tagged 项目名称 cell, else from
    the title; a department-wide table is about the department itself."""
    if table.kind not in {"performance_targets", "performance_self_evaluation", "department_performance"}:
        return None
    lines = region.project_lines
    tagged_names = _span_texts(lines, ("project",))
    units = _span_texts(lines, ("implementing_unit", "department"))
    codes = _span_texts(lines, ("project_code",))
    amounts = [a for a in (parse_amount(t) for t in _span_texts(lines, ("amount",))) if a is not None]
    goals = _span_texts(lines, ("goal",))
    form = _form_fields(lines)
    name = form.get("name") or (tagged_names[0] if tagged_names else None)
    if form.get("unit"):
        units = [form["unit"]] + units
    if table.kind == "department_performance":
        # a department-wide table is about its unit: a fund source ("(2)财政专户管理资金") among
        # its header lines tagged as a project does not name it
        name = (units[0] if units else None) or department or name
    if not name and "部门整体" in region.title:
        return None  # a self-evaluation of the whole department is about no project
    if not name:
        m = PROJECT_TITLE_RE.match(YEAR_SUBTITLE_RE.sub("", region.title.replace("\n", "")))
        name = YEAR_PREFIX_RE.sub("", m.group(1)).strip(" 、") if m else None
        if name in GENERIC_TITLE_WORDS:
            name = None  # "预算项目绩效目标表" names no project: its rows do
        if name and name + "项目" in _span_texts(region.title_lines, ("project",)):
            name += "项目"  # "…项目绩效目标表" leaves 项目 open; the tagger took it into the name
    code, unit = (re.sub(r"\D", "", codes[0]) if codes else None), (units[0] if units else None)
    goal_parts = goals
    if not goal_parts:
        for ln in lines:
            text = ln.text.replace("\t", " ").strip()
            mcode = re.match(r"^(\d{6,})\s+(.+)$", text)
            if mcode and code is None:
                code, unit = mcode.group(1), unit or mcode.group(2).strip()
                continue
            if re.match(r"^(年度)?(总体)?绩效目标", text):
                goal_parts.append(re.sub(r"^(年度)?(总体)?绩效目标[:：]?", "", text).strip())
    if not name:
        return None
    first = (region.title_lines or region.project_lines or region.header_lines or region.body_lines)[0]
    return Record(
        record_id=f"{table.table_id}-p", type="project", table_id=table.table_id, page=first.page,
        line=first.line_no, fields={"name": name, "code": code, "implementing_unit": unit,
                                    "amount": amounts[0] if amounts else None,
                                    "goal": join_fragments(goal_parts) or None},
        field_confidence={"name": min((ln.label_prob for ln in region.title_lines + lines), default=0.5)},
    )


# ------------------------------------------------------------------ rows per layout

def rows_and_columns(region: TableRegion, kind: str = "other", known: Optional["KnownCells"] = None
                     ) -> tuple[list[Row], list[ColumnSpec]]:
    """`known`: the cells earlier tables of the document read, which a fragment stream's placement of
    its amounts may agree with (see pipeline.stream_solver.KnownCells)."""
    body = region.body_lines
    if not body:
        return [], []
    if is_pdf(body):
        return _pdf_rows_columns(region, kind)
    if is_tabbed(body + region.header_lines):
        rows = [tabbed_row(ln) for ln in body]
        for row in rows:
            for cell in row.cells.values():
                for f in cell.frags:
                    f.labels, f.label_prob = _span_labels(f.line, f.start, f.start + len(f.text))
        n_cols = max((max(r.cells) + 1 for r in rows if r.cells), default=0)
        heads = tabbed_header_grid(region.header_lines, n_cols)
        specs = [ColumnSpec(index=j, leaf=leaf, full=full) for j, (leaf, full) in enumerate(heads)]
        return rows, specs
    return _stream_rows_columns(region, kind, known)


def _pdf_rows_columns(region: TableRegion, kind: str) -> tuple[list[Row], list[ColumnSpec]]:
    all_rows: list[Row] = []
    by_page: dict[int, list[Line]] = {}
    for ln in region.body_lines:
        by_page.setdefault(ln.page, []).append(ln)
    first_headers = region.header_lines
    specs_by_signature: list[ColumnSpec] = []
    carried: dict[str, Cell] = {}  # the merged 一级/二级指标 cell each page ends in
    for page, body in sorted(by_page.items()):
        page_headers = [ln for ln in region.header_lines if ln.page == page]
        # a page whose header lines name no column (only a 栏次 row, the header itself ended the
        # previous page) takes the table's header
        headers = page_headers if any(_names_a_column(ln) for ln in page_headers) else first_headers
        bands = add_header_columns(pdf_columns(body), headers)
        heads = pdf_header_texts(headers, bands)
        frags = [_fragments_of(ln, band_of(ln.bbox, bands)) for ln in body]
        level3_cols = [j for j, (leaf, full) in enumerate(heads) if hr.header_role(leaf, full) == "level3"]
        if kind in INDICATOR_KINDS and len(level3_cols) >= 2:
            # the projects' own cells (code, name, amounts) sit among the indicator rows
            header_bottom = max((ln.bbox[3] for ln in headers if ln.page == page), default=0.0)
            inline = [ln for ln in region.project_lines if ln.page == page and ln.bbox and ln.bbox[1] >= header_bottom - 1]
            if inline:
                body = sorted(body + inline, key=lambda ln: (ln.bbox[1], ln.bbox[0]))
                bands = add_header_columns(pdf_columns(body), headers)
                heads = pdf_header_texts(headers, bands)
                frags = [_fragments_of(ln, band_of(ln.bbox, bands)) for ln in body]
                level3_cols = [j for j, (leaf, full) in enumerate(heads) if hr.header_role(leaf, full) == "level3"]
            # a wide project table: one row per indicator line, each project spanning a block of them
            rows, anchor, wide = block_rows(frags, level3_cols[0]), None, True
        else:
            wide = False
            anchor = _anchor_column(heads, frags, indicator=kind in INDICATOR_KINDS, two_sided=kind in TWO_SIDED_KINDS)
            rows = anchored_rows(frags, anchor) if anchor is not None else pdf_rows(frags)
        if kind in INDICATOR_KINDS and not wide:
            merged = tuple(j for j, (leaf, full) in enumerate(heads) if hr.header_role(leaf, full) in ("level1", "level2"))
            for j in merged:
                role = hr.header_role(*heads[j])
                fill_merged_column(rows, j, skip_cols=merged, carry=carried.get(role))
                last = next((r.cells[j] for r in reversed(rows) if j in r.cells), None)
                if last is not None:
                    carried[role] = last
        if not specs_by_signature:
            specs_by_signature = [ColumnSpec(index=j, leaf=leaf, full=full) for j, (leaf, full) in enumerate(heads)]
        elif len(heads) != len(specs_by_signature):
            # a continuation page with other bands: re-index its cells onto the first page's columns by header text
            remap = _remap_columns(heads, specs_by_signature)
            for row in rows:
                row.cells = {remap.get(c, c + 1000): cell for c, cell in row.cells.items()}
        all_rows.extend(rows)
    return all_rows, specs_by_signature


def _names_a_column(line: Line) -> bool:
    text = line.text.strip()
    return bool(text) and not text.startswith("栏次") and not text.replace(" ", "").isdigit()


def _anchor_column(heads: list[tuple[str, str]], frags: list[Fragment], indicator: bool = False,
                   two_sided: bool = False) -> Optional[int]:
    """The 序号 column, else a code column: cells that never wrap mark one row each."""
    roles = [hr.header_role(leaf, full) for leaf, full in heads]
    # a two-sided summary leaves most amounts blank on one side: its longer name column marks the rows
    if not indicator and not two_sided and hr.ROLE_ROW_NO not in roles:
        # every budget row prints its total: the amount column with the most amounts marks the rows
        amounts: Counter = Counter(f.col for f in frags if FULL_AMOUNT_RE.match(f.text.replace(",", "")))
        # code cells, not lines: a narrow 类 column wraps "208" into "20" / "8", two lines of one cell
        starts = _cell_starts(frags)
        codes = max((n for col, n in starts.items() if col < len(roles) and roles[col] == hr.ROLE_CODE), default=0)
        if amounts:
            col, n = amounts.most_common(1)[0]
            if n >= 2 and n >= codes:
                # a list whose rows often print no amount (固定资产: 房屋, 车辆, …) has more cells in
                # another column than amounts: that column marks its rows
                starts = _cell_starts(frags)
                other = max((c for c in starts if c != col and c not in amounts), key=lambda c: (starts[c], -c),
                            default=None)
                if other is not None and starts[other] >= n + 2:
                    return other
                return col
    wanted_roles = (hr.ROLE_ROW_NO, "target", "weight") if indicator else (hr.ROLE_ROW_NO, hr.ROLE_CODE)
    for wanted in wanted_roles:
        for j, role in enumerate(roles):
            if role == wanted and sum(1 for f in frags if f.col == j) >= 2:
                return j
    if indicator:
        return None
    # no 序号 or code: the column with the most separate cells (a two-sided summary's longer side)
    counts = {}
    for col in {f.col for f in frags}:
        col_frags = sorted((f for f in frags if f.col == col), key=lambda f: f.line.bbox[1])
        h = median([f.line.bbox[3] - f.line.bbox[1] for f in col_frags])
        counts[col] = 1 + sum(1 for a, b in zip(col_frags, col_frags[1:]) if b.line.bbox[1] - a.line.bbox[3] > 0.2 * h)
    best = max(sorted(counts), key=lambda c: counts[c]) if counts else None
    return best if best is not None and counts[best] >= 2 else None


def _cell_starts(frags: list[Fragment]) -> dict[int, int]:
    """Cells per column: a line starts a new cell unless it sits right under a line of its column
    that filled the column's width (a wrapped cell's first line reaches the column's edge) and
    does not open an item of its own ("2、…", "其中：…")."""
    out: dict[int, int] = {}
    for col in {f.col for f in frags if f.col is not None}:
        col_frags = sorted((f for f in frags if f.col == col), key=lambda f: f.line.bbox[1])
        h = median([f.line.bbox[3] - f.line.bbox[1] for f in col_frags])
        x0 = min(f.line.bbox[0] for f in col_frags)
        x1 = max(f.line.bbox[2] for f in col_frags)
        full = 0.8 * (x1 - x0)
        out[col] = 1 + sum(1 for a, b in zip(col_frags, col_frags[1:])
                           if b.line.bbox[1] - a.line.bbox[3] > 0.45 * h
                           or (b.line.bbox[1] - a.line.bbox[3] > 0.2 * h
                               and (a.line.bbox[2] - a.line.bbox[0] < full or ITEM_START_RE.match(b.text))))
    return out


ITEM_START_RE = re.compile(r"^(?:\d{1,2}[、.．]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|其中[：:])")


def _remap_columns(heads: list[tuple[str, str]], specs: list[ColumnSpec]) -> dict[int, int]:
    remap: dict[int, int] = {}
    for j, (leaf, full) in enumerate(heads):
        for s in specs:
            if s.full == full and s.index not in remap.values():
                remap[j] = s.index
                break
    return remap


def one_column_per_key(value_specs: list[ColumnSpec]) -> None:
    """A canonical key names one column of a table side: where two columns got the same one
    (本年拨款/一般公共预算 and 财政拨款结转结余/一般公共预算), the left one keeps it and the other keeps
    its printed header as `extra:…`, the same in every row."""
    seen: set[tuple[Optional[str], str]] = set()
    for s in sorted(value_specs, key=lambda s: s.index):
        if not s.key or s.key.startswith("extra:"):
            continue
        if (s.side, s.key) in seen:
            s.key = hr.extra_key(s.leaf, s.full)
        else:
            seen.add((s.side, s.key))


def _row_values(row: Row, value_specs: list[ColumnSpec]) -> dict[str, float]:
    out = {}
    for s in value_specs:
        if s.key and s.index in row.cells:
            value = parse_amount(row.text(s.index))
            if value is not None:
                out[s.key] = value
    return out


def _identity_failures(rows: list[Row], value_specs: list[ColumnSpec]) -> int:
    from pipeline.checks import DEFAULT_TOLERANCE, check_row_identities

    table = {"table_id": "t", "columns": [{"key": s.key, "header": s.full or s.leaf} for s in value_specs if s.key]}
    failed = 0
    for row in rows:
        values = _row_values(row, value_specs)
        if len(values) >= 2:
            rec = {"record_id": "r", "table_id": "t", "subject_name": "x", "values": values}
            failed += sum(not r.ok for r in check_row_identities(rec, table, set(), DEFAULT_TOLERANCE))
    return failed


def _shifted(rows: list[Row], positions: list[int], at: int) -> Optional[list[Row]]:
    """The rows with every value cell from value column `at` on moved one value column right
    (a blank cell put back where the export dropped it); None when a printed cell would fall off."""
    out = []
    for row in rows:
        cells = {}
        for col, cell in row.cells.items():
            if col in positions and positions.index(col) >= at:
                k = positions.index(col) + 1
                if k >= len(positions):
                    if cell.text.strip():
                        return None
                    continue
                col = positions[k]
                cell = Cell(col=col, frags=cell.frags)
            cells[col] = cell
        out.append(Row(cells=cells))
    return out


def realign_dropped_blank(rows: list[Row], specs: list[ColumnSpec], known: Optional[KnownCells] = None) -> None:
    """Tab-separated exports sometimes drop one blank cell from a table's data rows (or print a
    header row one cell off), so every later amount sits one column left of its header. When the
    row identities (合计 = 基本 + 项目, 基本 = its economic parts, 本年收入 = its sources) fail under
    the header's columns and hold with the amounts from some column on moved one to the right, the
    rows are read that way; among moves the identities cannot tell apart, the one agreeing with
    the same subjects' cells in earlier tables wins. Table-wide: a dropped column is dropped in
    every row."""
    value_specs = sorted((s for s in specs if s.role == hr.ROLE_VALUE and s.key), key=lambda s: s.index)
    positions = [s.index for s in value_specs]
    if len(positions) < 3 or not rows:
        return
    base = _identity_failures(rows, value_specs)
    if base == 0:
        return
    code_specs = [s for s in specs if s.role == hr.ROLE_CODE]

    def agreement(candidate: list[Row]) -> int:
        if known is None or not code_specs:
            return 0
        total = 0
        for row in candidate:
            parts = [row.text(s.index) for s in code_specs]
            code = _digits("".join(parts[:3] if len(parts) >= 3 else parts[:1]))
            total += known.agreement(code, _row_values(row, value_specs))
        return total

    best, best_key = None, (base, 0)
    for at in range(1, len(positions)):
        candidate = _shifted(rows, positions, at)
        if candidate is None:
            continue
        key = (_identity_failures(candidate, value_specs), -agreement(candidate))
        if key < best_key:
            best, best_key = candidate, key
    if best is not None and best_key[0] < base:
        for row, moved in zip(rows, best):
            row.cells = moved.cells


def _stream_rows_columns(region: TableRegion, kind: str, known: Optional[KnownCells] = None
                         ) -> tuple[list[Row], list[ColumnSpec]]:
    """Fragment stream (one cell piece per line, no positions): see pipeline.stream."""
    from pipeline.stream import stream_table, stream_two_sided

    if kind in TWO_SIDED_KINDS:
        return stream_two_sided(region.header_lines, region.body_lines, kind)
    return stream_table(region.header_lines, region.body_lines, kind, known=known)


# ------------------------------------------------------------------ main stage

def assemble(doc: Document, header_model: Optional[HeaderModel] = None) -> Document:
    header_model = header_model or RuleHeaderModel()
    lines = reading_order(doc)
    furniture = repeated_department_lines(lines, doc.department.name)
    lines = [ln for ln in lines if id(ln) not in furniture]
    regions = segment_tables(lines)
    titles = [r.title or join_fragments([ln.text for ln in r.header_lines[:2]]) for r in regions]
    kinds = header_model.table_kinds(titles) if regions else []
    regions, kinds = join_continued_regions(regions, kinds)
    doc.tables, doc.records = [], []
    order = {id(ln): i for i, ln in enumerate(lines)}
    known = KnownCells()
    for n, (region, (kind, kind_prob)) in enumerate(zip(regions, kinds), start=1):
        if kind not in INDICATOR_KINDS:
            merge_project_lines_into_body(region, order)
        else:
            demote_rows_inside_the_form(region, order)  # before: form "rows" would put the header under rows
            promote_level_name_rows(region, order)
        promote_rows_in_header_rows(region, order)
        demote_headers_among_rows(region, order)
        if kind not in INDICATOR_KINDS:
            demote_stream_headers_among_rows(region, order)
        promote_header_row_mates(region, order)
        promote_column_number_rows(region, order)
        demote_first_row_number(region, order)
        if kind in INDICATOR_KINDS:
            demote_stream_indicator_lines(region, order)
        table = Table(table_id=f"t{n:02d}", kind=kind, title=region.title or None, pages=region.pages,
                      confidence=kind_prob)
        rows, specs = rows_and_columns(region, kind, known)
        decide_roles([s for s in specs if s.role is None], rows, kind)
        value_specs = [s for s in specs if s.role == hr.ROLE_VALUE]
        unkeyed = [s for s in value_specs if s.key is None]
        if unkeyed:
            keys = header_model.column_keys([(s.leaf, s.full) for s in unkeyed])
            for s, (key, prob) in zip(unkeyed, keys):
                s.key, s.key_prob = key, prob
        if not any(s.side for s in specs):
            assign_sides(specs, kind)
        one_column_per_key(value_specs)
        if any(s.key == "executed" for s in value_specs):  # evaluation tables: 预算数 is the budget
            for s in value_specs:
                if s.key == "amount":
                    s.key = "budget"
        if kind not in INDICATOR_KINDS and kind not in TWO_SIDED_KINDS and not is_pdf(region.body_lines) \
                and is_tabbed(region.body_lines + region.header_lines):
            realign_dropped_blank(rows, specs, known)
        table.columns = [Column(key=s.key, header=s.full or s.leaf) for s in value_specs if s.key]
        note_text = " ".join(ln.text for ln in region.note_lines + region.body_lines[:3])
        has_indicator_columns = any(s.role in ("level3", "target") for s in specs) or not value_specs
        if not has_indicator_columns:  # a project list (预算数, 执行数, 自评得分): amounts per row
            for s in specs:
                if s.role in ("weight", "score"):
                    s.role, s.key, s.key_prob = hr.ROLE_VALUE, s.role, 0.9
                    table.columns.append(Column(key=s.key, header=s.full or s.leaf))
        if kind in INDICATOR_KINDS and has_indicator_columns:
            proj = project_from_region(region, table, doc.department.name)
            if proj:
                doc.records.append(proj)
            name, code = (proj.fields["name"], proj.fields["code"]) if proj else (None, None)
            if is_pdf(region.body_lines) or is_tabbed(region.body_lines + region.header_lines):
                found = indicator_records(table, specs, rows, name, code)
                row_projects = [r for r in found if r.type == "project"]
                if proj and (any(_names_one_project(name, r.fields["name"]) for r in row_projects) or
                             (row_projects and not region.project_lines)
                             or (row_projects and table.kind != "department_performance"
                                 and _same_name(name, doc.department.name))):
                    # a wide table's rows name its projects, not its title nor its unit line
                    for r in row_projects:
                        if _names_one_project(name, r.fields["name"]):  # one project read twice
                            for key, value in proj.fields.items():
                                if r.fields.get(key) is None and value is not None:
                                    r.fields[key] = value
                    doc.records.remove(proj)
                doc.records.extend(found)
            else:
                doc.records.extend(span_indicator_records(table, region.body_lines, name, code))
        else:
            recs = budget_records(table, specs, rows, 0)
            doc.records.extend(recs)
            known.add(recs)
            table.empty = not any(r.fields["values"] and any(v for v in r.fields["values"].values()) for r in recs) \
                and bool(EMPTY_TABLE_RE.search(note_text) or not recs)
        doc.tables.append(table)
    doc.records.extend(narrative_facts(lines))
    restore_project_suffix(doc.records)
    return doc


def restore_project_suffix(records: list[Record]) -> None:
    """"…服务项目绩效目标表" leaves it open whether 项目 belongs to the name; a budget line or
    another project of the document printing the name with 项目 settles it."""
    names = {r.fields.get("subject_name") for r in records if r.type == "budget_line"}
    names |= {r.fields.get("name") for r in records if r.type == "project"}
    for r in records:
        name = r.fields.get("name") if r.type == "project" else None
        if name and not name.endswith("项目") and name + "项目" in names:
            r.fields["name"] = name + "项目"
            for rec in records:
                if rec.type == "indicator" and rec.fields.get("project") == name:
                    rec.fields["project"] = name + "项目"


FACT_RE = re.compile(r"(-?\d+(?:,\d{3})*(?:\.\d+)?)\s*(万元|亿元|千元|元)")


def narrative_facts(lines: list[Line]) -> list[Record]:
    facts: list[Record] = []
    for ln in lines:
        if ln.label != "narrative":
            continue
        for m in FACT_RE.finditer(ln.text):
            head = re.split(r"[，。；：,;:（(、]", ln.text[: m.start()])[-1].strip()
            subject = re.sub(r"^(其中|包括|主要为|较|比)\s*", "", head)[-20:] or None
            facts.append(Record(
                record_id=f"f{ln.page}-{ln.index}-{m.start()}", type="fact", table_id=None, page=ln.page,
                line=ln.line_no, bbox=ln.bbox,
                fields={"subject": subject, "value": float(m.group(1).replace(",", "")), "unit": m.group(2),
                        "text": ln.text.strip()},
                field_confidence={"value": ln.label_prob},
                source_lines=[(ln.page, ln.index)],
            ))
    return facts
