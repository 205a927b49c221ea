"""Lay a DocSpec out on PDF pages with PyMuPDF and remember every drawn text fragment.

Fragments carry their labels (section, table, row, field ranges) so annotate.py can label the
lines a PDF extractor later returns. Text objects are written in the producer's order
(template.emission), not necessarily in reading order.
"""
from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

import pymupdf

from training.synth.spec import Cell, DocSpec, FieldRange, PageBreak, Paragraph, Row, TableSpec
from training.synth.templates import Template

A4 = (595.28, 841.89)
# tables printed inside the text flow (no page of their own), as in the seeds' explanation part
FLOWING_KINDS = ("performance_targets", "performance_self_evaluation", "other", "procurement", "assets")
FONT_FAMILIES = ("SimSun", "SimHei", "FangSong", "KaiTi")


@lru_cache(maxsize=None)
def font_buffer(family: str) -> bytes:
    """The built-in CJK font renamed to a producer font family, so the extractor reports it."""
    from fontTools.ttLib import TTFont

    tt = TTFont(io.BytesIO(pymupdf.Font("cjk").buffer))
    name = tt["name"]
    name.removeNames(nameID=2)  # without a style name the extractor reports the bare family
    for nid, value in ((1, family), (4, family), (6, family)):
        name.setName(value, nid, 3, 1, 0x409)
        name.setName(value, nid, 1, 0, 0)
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


@lru_cache(maxsize=None)
def get_font(family: str) -> pymupdf.Font:
    return pymupdf.Font(fontbuffer=font_buffer(family))


@dataclass
class Fragment:
    """One text object drawn on a page (one line of a cell or paragraph)."""

    text: str
    x: float
    baseline: float
    width: float
    size: float
    font: str
    label: str
    table_id: Optional[str]
    row: Optional[int]
    fields: list[FieldRange]
    group: str  # title / furniture / header / body / pre / note / text / page_number
    block: int
    seq: int
    col: int = 0
    line_in_cell: int = 0
    lines_in_cell: int = 1
    spanning: bool = False  # merged cell spanning several rows

    @property
    def x1(self) -> float:
        return self.x + self.width


@dataclass
class PageState:
    number: int
    width: float
    height: float
    fragments: list[Fragment] = field(default_factory=list)
    rules: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # x0,y0,x1,y1,width
    records: list[dict[str, Any]] = field(default_factory=list)


def wrap(text: str, width: float, font: pymupdf.Font, size: float) -> list[tuple[int, int]]:
    """Character ranges of the lines of `text` wrapped to `width` (CJK wraps anywhere)."""
    if not text:
        return []
    ranges: list[tuple[int, int]] = []
    start, cur = 0, 0.0
    for k, ch in enumerate(text):
        w = font.text_length(ch, fontsize=size)
        if cur + w > width and k > start:
            ranges.append((start, k))
            start, cur = k, 0.0
        cur += w
    ranges.append((start, len(text)))
    out = []
    for a, b in ranges:  # no line starts or ends with a space
        while a < b and text[a] == " ":
            a += 1
        while b > a and text[b - 1] == " ":
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def sub_fields(fields: list[FieldRange], a: int, b: int) -> list[FieldRange]:
    out = []
    for f in fields:
        s, e = max(f.start, a), min(f.end, b)
        if s < e:
            out.append(FieldRange(s - a, e - a, f.label, f.key))
    return out


class Renderer:
    def __init__(self, spec: DocSpec, tpl: Template):
        self.spec = spec
        self.tpl = tpl
        self.pages: list[PageState] = []
        self.seq = 0
        self.block = 0
        self.y = 0.0
        self.table_pages: dict[str, list[int]] = {}

    # ------------------------------------------------------------ page handling
    def new_page(self, landscape: bool = False) -> PageState:
        w, h = (A4[1], A4[0]) if landscape else A4
        page = PageState(len(self.pages) + 1, w, h)
        self.pages.append(page)
        self.y = self.tpl.margins[1]
        return page

    @property
    def page(self) -> PageState:
        return self.pages[-1]

    @property
    def left(self) -> float:
        return self.tpl.margins[0]

    @property
    def right(self) -> float:
        return self.page.width - self.tpl.margins[2]

    @property
    def bottom(self) -> float:
        return self.page.height - self.tpl.margins[3]

    def emit(self, text: str, x: float, baseline: float, size: float, font: str, label: str, group: str,
             fields: list[FieldRange], table_id: Optional[str] = None, row: Optional[int] = None, **kw: Any) -> Fragment:
        self.seq += 1
        width = get_font(font).text_length(text, fontsize=size)
        frag = Fragment(text, x, baseline, width, size, font, label, table_id, row, fields, group, self.block, self.seq, **kw)
        self.page.fragments.append(frag)
        if table_id:
            pages = self.table_pages.setdefault(table_id, [])
            if self.page.number not in pages:
                pages.append(self.page.number)
        return frag

    def text_block(self, text: str, fields: list[FieldRange], x0: float, x1: float, size: float, font: str,
                   label: str, group: str, align: str = "l", indent: float = 0.0, table_id: Optional[str] = None,
                   records: Optional[list[tuple[int, dict]]] = None) -> None:
        """A paragraph flowing over lines and pages."""
        f = get_font(font)
        lh = size * self.tpl.line_gap
        first_width = x1 - x0 - indent
        ranges = wrap(text, first_width, f, size)
        # lines after the first use the full width
        if len(ranges) > 1:
            rest = wrap(text[ranges[1][0]:], x1 - x0, f, size)
            ranges = [ranges[0]] + [(a + ranges[1][0], b + ranges[1][0]) for a, b in rest]
        pending = list(records or [])
        for k, (a, b) in enumerate(ranges):
            if self.y + lh > self.bottom:
                self.new_page()
            piece = text[a:b]
            w = f.text_length(piece, fontsize=size)
            x = x0 + (indent if k == 0 else 0)
            if align == "c":
                x = (x0 + x1 - w) / 2
            elif align == "r":
                x = x1 - w
            baseline = self.y + size
            self.emit(piece, x, baseline, size, font, label, group, sub_fields(fields, a, b), table_id)
            for anchor, rec in list(pending):
                if a <= anchor < b or (anchor < a):
                    rec["page"] = self.page.number
                    self.page.records.append(rec)
                    pending.remove((anchor, rec))
            self.y += lh
        for _, rec in pending:
            rec["page"] = self.page.number
            self.page.records.append(rec)

    # ------------------------------------------------------------ furniture
    def running_headers(self) -> None:
        if not self.tpl.running_header:
            return
        text = f"{self.spec.department_name}{self.spec.fiscal_year}年部门预算公开"
        size = self.tpl.body_size - 1
        for p in self.pages[1:]:
            w = get_font(self.tpl.body_font).text_length(text, fontsize=size)
            self.seq += 1
            p.fragments.insert(0, Fragment(text, p.width - self.tpl.margins[2] - w, self.tpl.margins[1] * 0.55, w, size,
                                           self.tpl.body_font, "page_furniture", None, None,
                                           heading_fields(text, self.spec), "page_number", 0, self.seq))
            p.rules.append((self.tpl.margins[0], self.tpl.margins[1] * 0.55 + 3, p.width - self.tpl.margins[2],
                            self.tpl.margins[1] * 0.55 + 3, 0.5))

    def page_numbers(self) -> None:
        style = self.tpl.page_numbers
        if style == "none":
            return
        for p in self.pages[1:]:
            text = {"plain": str(p.number), "dash": f"- {p.number} -", "di": f"第 {p.number} 页"}[style]
            size = self.tpl.body_size
            w = get_font(self.tpl.body_font).text_length(text, fontsize=size)
            self.seq += 1
            p.fragments.append(Fragment(text, (p.width - w) / 2, p.height - self.tpl.margins[3] / 2, w, size,
                                        self.tpl.body_font, "page_furniture", None, None, [], "page_number",
                                        10**6, self.seq))

    def furniture_line(self, text: str, table_id: Optional[str]) -> None:
        """Department / year / unit line; pieces spread over the width like Excel prints them."""
        spec = self.spec
        size = self.tpl.body_size
        font = self.tpl.body_font
        parts = [p for p in text.split("    ")] if "    " in text else [text]
        if self._furniture_in_narrow_cells(text, table_id):
            return
        if len(parts) == 1 and text.startswith("单位："):
            xs = ["r"]
        elif len(parts) == 1:
            xs = ["l"]
        else:
            xs = ["l"] + ["c"] * (len(parts) - 2) + ["r"]
        baseline = self.y + size
        end: Optional[float] = None  # where the part drawn before ends on this baseline
        for part, where in zip(parts, xs):
            fields = furniture_fields(part, spec)
            w = get_font(font).text_length(part, fontsize=size)
            x = self.left if where == "l" else (self.right - w if where == "r" else (self.left + self.right - w) / 2)
            if end is not None and x < end + size:  # a long department name reaches the next part
                x = end + 2 * size
                if x + w > self.right:  # no room left on the line: the part goes under it
                    self.y += size * 1.8
                    baseline, x = self.y + size, self.left
            self.emit(part, x, baseline, size, font, "page_furniture", "furniture", fields, table_id)
            end = x + w
        self.y += size * 1.8

    def _furniture_in_narrow_cells(self, text: str, table_id: Optional[str]) -> bool:
        """Some Excel sheets put '<code> <department> 预算年度：<year> 单位：<unit>' in three merged cells, the
        middle one too narrow for its text, which wraps ('预算年' / '度：2022'). Drawn from the table's own
        stream, so the rest of the document is the same either way."""
        spec = self.spec
        lead = f"{spec.department_code} {spec.department_name} "
        if not text.startswith(lead) or " 单位：" not in text:
            return False
        if random.Random(f"{spec.department_name}|{table_id}|narrow_furniture").random() >= 0.4:
            return False
        year_part, unit_part = text[len(lead):].split(" 单位：", 1)
        cut = year_part.index("：") - 1  # '预算年' | '度：2022'
        size = self.tpl.body_size
        font = self.tpl.body_font
        baseline = self.y + size
        first = lead.strip()
        self.emit(first, self.left, baseline, size, font, "page_furniture", "furniture",
                  furniture_fields(first, spec), table_id)
        for k, piece in enumerate((year_part[:cut], year_part[cut:])):
            w = get_font(font).text_length(piece, fontsize=size)
            self.emit(piece, (self.left + self.right) / 2 - w / 2, baseline + k * size * 1.2, size, font,
                      "page_furniture", "furniture", furniture_fields(piece, spec), table_id)
        last = f"单位：{unit_part}"
        w = get_font(font).text_length(last, fontsize=size)
        self.emit(last, self.right - w, baseline, size, font, "page_furniture", "furniture",
                  furniture_fields(last, spec), table_id)
        self.y += size * 3.0
        return True

    # ------------------------------------------------------------ layout of the document
    def render(self) -> list[PageState]:
        self.new_page()
        for block in self.spec.blocks:
            self.block += 1
            if isinstance(block, PageBreak):
                if self.page.fragments:
                    self.new_page()
            elif isinstance(block, Paragraph):
                self.paragraph(block)
            else:
                self.table(block)
        self.page_numbers()
        self.running_headers()
        return self.pages

    def paragraph(self, p: Paragraph) -> None:
        tpl = self.tpl
        if p.style == "title":
            size, font, align = tpl.title_size + 4, tpl.title_font, "c"
            self.y += 120 if self.y < 200 else 10
        elif p.style == "heading":
            size, font, align = tpl.body_size + 1.5, tpl.title_font, "l"
            self.y += size * 0.6
        elif p.style == "centered":
            size, font, align = tpl.title_size, tpl.title_font, "c"
            self.y += size * 1.5
        elif p.style == "toc":
            size, font, align = tpl.body_size + 1, tpl.body_font, "l"
        else:
            size, font, align = tpl.body_size + 1.5, tpl.body_font, "l"
        fields = p.fields
        if not fields and p.style in ("title", "heading", "centered"):
            fields = heading_fields(p.text, self.spec)
        indent = 2 * size if p.style == "body" else (size * 2 if p.style == "toc" else 0)
        self.text_block(p.text, fields, self.left, self.right, size, font, p.label, "text", align, indent,
                        p.table_id, p.records)
        self.y += size * 0.4

    def table(self, t: TableSpec) -> None:
        tpl = self.tpl
        needs_landscape = t.landscape
        flows = t.kind in FLOWING_KINDS and not t.landscape
        fresh = (tpl.table_new_page and not flows) or (self.page.width > self.page.height) != needs_landscape
        if fresh and (self.page.fragments or (self.page.width > self.page.height) != needs_landscape):
            self.new_page(needs_landscape)
        elif self.y + 120 > self.bottom:
            self.new_page(needs_landscape)
        layout = TableLayout(self, t)
        layout.run()


def heading_fields(text: str, spec: DocSpec) -> list[FieldRange]:
    """Department name and fiscal year where a title or heading states them."""
    fields = []
    k = text.find(spec.department_name)
    if k >= 0:
        fields.append(FieldRange(k, k + len(spec.department_name), "department"))
    year = str(spec.fiscal_year)
    j = text.find(year)
    if j >= 0 and not (k >= 0 and k <= j < k + len(spec.department_name)):
        fields.append(FieldRange(j, j + len(year), "fiscal_year"))
    return sorted(fields, key=lambda f: f.start)


def furniture_fields(text: str, spec: DocSpec) -> list[FieldRange]:
    fields: list[FieldRange] = []
    taken: list[tuple[int, int]] = []

    def add(sub: str, label: str, must_start: bool = False) -> None:
        k = text.find(sub)
        if k < 0 or (must_start and k not in (0,) and text[k - 1] != "["):
            return
        if any(not (k + len(sub) <= a or k >= b) for a, b in taken):
            return
        taken.append((k, k + len(sub)))
        fields.append(FieldRange(k, k + len(sub), label))

    add(spec.department_name, "department")
    add(spec.department_code, "department_code", must_start=True)
    add(str(spec.fiscal_year), "fiscal_year")
    if "单位：" in text:
        k = text.find("单位：") + 3
        if text[k:k + len(spec.unit)] == spec.unit:
            add_range = (k, k + len(spec.unit))
            if not any(not (add_range[1] <= a or add_range[0] >= b) for a, b in taken):
                fields.append(FieldRange(add_range[0], add_range[1], "unit"))
    return sorted(fields, key=lambda f: f.start)


class TableLayout:
    """Places one table: title, furniture, header (repeated per page), body rows, notes."""

    def __init__(self, r: Renderer, t: TableSpec):
        self.r = r
        self.t = t
        self.tpl = r.tpl
        self.size = self.tpl.body_size
        self.hsize = self.tpl.header_size
        self.font = self.tpl.body_font
        self.hfont = self.tpl.header_font
        self.pad = self.tpl.cell_pad
        self.lh = self.size * self.tpl.line_gap
        # producers size columns by hand: the same table kind never has quite the same widths
        rng = random.Random(f"{r.spec.doc_name}:{t.table_id}")
        self.jitter = [rng.uniform(0.85, 1.15) for _ in t.columns]

    # column geometry depends on the page width of the page the table sits on
    def widths(self) -> list[float]:
        weights = [c.weight * j for c, j in zip(self.t.columns, self.jitter)]
        total = sum(weights)
        avail = self.r.right - self.r.left
        return [avail * w / total for w in weights]

    def xs(self) -> list[float]:
        out, x = [], self.r.left
        for w in self.widths():
            out.append(x)
            x += w
        return out

    def run(self) -> None:
        r, t = self.r, self.t
        self.title()
        self.header_cells = self.header_grid()
        self.draw_page_top(first=True)
        for row in t.pre_rows:
            self.body_row(row, pre=True)
        if t.pre_rows:
            self.draw_header()
        heights = self.row_heights()
        k = 0
        while k < len(t.rows):
            row = t.rows[k]
            group = self.keep_together(k, heights)
            need = sum(heights[k:k + group])
            if r.y + need > r.bottom and r.y > self.body_top + 1:
                fit = int((r.bottom - r.y - 2 * self.pad) // self.lh)
                n_lines = round((heights[k] - 2 * self.pad) / self.lh)
                if self.tpl.split_rows and group == 1 and 1 <= fit < n_lines and not self.has_merged(row):
                    self.body_row(row, height=fit * self.lh + 2 * self.pad, line_range=(0, fit))
                    self.next_page()
                    self.body_row(row, height=(n_lines - fit) * self.lh + 2 * self.pad, line_range=(fit, n_lines))
                    k += 1
                    continue
                self.next_page()
            for j in range(k, k + group):
                self.body_row(t.rows[j], height=heights[j], spans=heights[j:])
            k += group
        self.close_rules()
        for note in t.notes:
            r.y += 4
            r.text_block(note, [], r.left, r.right, self.size, self.font, "note", "note", table_id=t.table_id)
        r.y += self.size * 1.5

    def next_page(self) -> None:
        self.close_rules()
        self.r.new_page(self.t.landscape)
        self.draw_page_top(first=False)

    @staticmethod
    def has_merged(row: Row) -> bool:
        return any(c is None or c.rowspan > 1 for c in row.cells)

    def keep_together(self, k: int, heights: list[float]) -> int:
        """A merged level-2 cell and its rows go to the same page."""
        row = self.t.rows[k]
        span = max((c.rowspan for c in row.cells if c is not None), default=1)
        if sum(heights[k:k + span]) > self.r.bottom - self.body_top:
            return 1  # taller than a page: let it break
        return span

    def title(self) -> None:
        r, t = self.r, self.t
        size, font = self.tpl.title_size, self.tpl.title_font
        if t.kind in FLOWING_KINDS or t.kind == "department_performance":
            size = self.tpl.body_size + 2.5
        fields = t.title_fields or [FieldRange(0, len(t.title), "table_title")]
        r.y += 4
        if t.form_label:  # a form number, not part of the title: annotated as furniture, as the seeds do
            side = "l" if random.Random(f"{r.spec.department_name}|form_label_side").random() < 0.3 else "r"
            r.text_block(t.form_label, [], r.left, r.right, self.size, self.font, "page_furniture", "furniture", side,
                         table_id=t.table_id)
        align = "l" if (t.kind == "performance_targets" or self.tpl.name == "word_three_line") else "c"
        r.text_block(t.title, fields, r.left, r.right, size, font, "table_title", "title", align, table_id=t.table_id)
        self.year_subtitle(align)
        r.y += 4

    def year_subtitle(self, align: str) -> None:
        """"（2022年度）" under a performance table's title, as the Ministry of Finance forms print it."""
        r, t = self.r, self.t
        own = random.Random(f"{r.spec.department_name}|{r.spec.fiscal_year}|year_subtitle")
        if t.kind not in ("performance_targets", "department_performance") or own.random() >= 0.35:
            return
        left, right, gap = own.choice([("（", "）", ""), ("(", ")", " "), ("（", "）", " ")])
        text = f"{left}{r.spec.fiscal_year}{gap}年度{right}"
        year = FieldRange(len(left), len(left) + 4, "fiscal_year")
        r.text_block(text, [year], r.left, r.right, self.size + 1, self.font, "table_title", "title", align,
                     table_id=t.table_id)

    def draw_page_top(self, first: bool) -> None:
        r, t = self.r, self.t
        if t.furniture and (first or self.tpl.furniture_repeat):
            r.furniture_line(t.furniture, t.table_id)
        if (first and not t.pre_rows) or (not first and self.tpl.repeat_header):
            self.draw_header()
        self.body_top = r.y

    # ------------------------------------------------------------ header
    def header_grid(self) -> list[tuple[str, int, int, int, int]]:
        """(text, row, col, rowspan, colspan) from the columns' header paths."""
        cols = self.t.columns
        depth = max(len(c.path) for c in cols)
        cells = []
        for level in range(depth):
            c = 0
            while c < len(cols):
                path = cols[c].path
                if len(path) <= level:
                    c += 1
                    continue
                span = 1
                while (c + span < len(cols) and len(cols[c + span].path) > level
                       and cols[c + span].path[:level + 1] == path[:level + 1] and len(path) > level + 1):
                    span += 1
                rowspan = depth - level if len(path) == level + 1 else 1
                text = path[level]
                if self.tpl.spaced_headers and len(text) == 2:
                    text = " ".join(text)
                cells.append((text, level, c, rowspan, span))
                c += span
        self.depth = depth
        return cells

    def draw_header(self) -> None:
        r = self.r
        f = get_font(self.hfont)
        widths, xs = self.widths(), self.xs()
        need = [1] * self.depth
        wrapped = []
        for text, row, col, rs, cs in self.header_cells:
            w = sum(widths[col:col + cs]) - 2 * self.pad
            lines = wrap(text, w, f, self.hsize)
            wrapped.append(lines)
            if rs == 1:
                need[row] = max(need[row], len(lines))
        for (text, row, col, rs, cs), lines in zip(self.header_cells, wrapped):
            if rs > 1 and sum(need[row:row + rs]) < len(lines):
                need[row + rs - 1] += len(lines) - sum(need[row:row + rs])
        hl = self.hsize * self.tpl.line_gap
        heights = [n * hl + 2 * self.pad for n in need]
        top = r.y
        y_of = [top + sum(heights[:k]) for k in range(self.depth + 1)]
        for (text, row, col, rs, cs), lines in zip(self.header_cells, wrapped):
            x0, x1 = xs[col], xs[col] + sum(widths[col:col + cs])
            y0, y1 = y_of[row], y_of[row + rs]
            self.cell_text(text, [], lines, x0, x1, y0, y1, "c", self.hsize, self.hfont, "table_header", "header",
                           None, col)
            if self.tpl.rules == "grid":
                self.rect(x0, y0, x1, y1)
        r.y = y_of[-1]
        if self.tpl.rules in ("three_line",):
            r.page.rules.append((r.left, top, r.right, top, 1.2))
            r.page.rules.append((r.left, r.y, r.right, r.y, 0.5))
        elif self.tpl.rules == "none":
            r.page.rules.append((r.left, r.y, r.right, r.y, 0.6))
        if self.t.index_row:
            self.draw_index_row()
        self.page_top = top

    def draw_index_row(self) -> None:
        r = self.r
        widths, xs = self.widths(), self.xs()
        height = self.lh + 2 * self.pad
        n = 0
        first_label = True
        for k, col in enumerate(self.t.columns):
            if col.role in ("row_no",) or (first_label and col.role not in ("amount", "inc_amount", "exp_amount")
                                            and k == 0):
                text = "栏次"
                first_label = False
            else:
                n += 1
                text = str(n)
            self.cell_text(text, [], [(0, len(text))], xs[k], xs[k] + widths[k], r.y, r.y + height, "c", self.size,
                           self.font, "table_header", "header", None, k)
            if self.tpl.rules == "grid":
                self.rect(xs[k], r.y, xs[k] + widths[k], r.y + height)
        r.y += height

    # ------------------------------------------------------------ body
    def wrapped_cell(self, c: Cell, width: float) -> list[tuple[int, int]]:
        return wrap(c.text, width - 2 * self.pad, get_font(self.font), self.size)

    def row_heights(self) -> list[float]:
        widths = self.widths()
        heights = []
        for row in self.t.rows:
            n = 1
            for k, c in enumerate(row.cells):
                if c is not None and c.rowspan == 1:
                    n = max(n, len(self.wrapped_cell(c, widths[k])))
            heights.append(n * self.lh + 2 * self.pad)
        for i, row in enumerate(self.t.rows):
            for k, c in enumerate(row.cells):
                if c is not None and c.rowspan > 1:
                    need = len(self.wrapped_cell(c, widths[k])) * self.lh + 2 * self.pad
                    have = sum(heights[i:i + c.rowspan])
                    if have < need:
                        heights[i + c.rowspan - 1] += need - have
        return heights

    def body_row(self, row: Row, pre: bool = False, height: Optional[float] = None,
                 spans: Optional[list[float]] = None, line_range: Optional[tuple[int, int]] = None) -> None:
        """One row (or, with line_range, the part of a row split by a page break)."""
        r, t = self.r, self.t
        widths, xs = self.widths(), self.xs()
        # pre rows: None extends the previous cell to the right
        cells: list[tuple[int, int, Cell]] = []
        for k, c in enumerate(row.cells):
            if c is None:
                if pre and cells:
                    a, cs, cc = cells[-1]
                    cells[-1] = (a, cs + 1, cc)
                continue
            cells.append((k, 1, c))
        if height is None:
            n = 1
            for k, cs, c in cells:
                n = max(n, len(wrap(c.text, sum(widths[k:k + cs]) - 2 * self.pad, get_font(self.font), self.size)))
            height = n * self.lh + 2 * self.pad
        if pre and r.y + height > r.bottom:
            r.new_page(t.landscape)
        y0 = r.y
        label = row.label
        for k, cs, c in cells:
            x0, x1 = xs[k], xs[k] + sum(widths[k:k + cs])
            y1 = y0 + height
            if c.rowspan > 1 and spans:
                y1 = y0 + sum(spans[:c.rowspan])
                y1 = min(y1, r.bottom)
            lines = wrap(c.text, x1 - x0 - 2 * self.pad, get_font(self.font), self.size)
            top_aligned = False
            if line_range is not None:
                lines = lines[line_range[0]:line_range[1]]
                top_aligned = True
            self.cell_text(c.text, c.fields, lines, x0, x1, y0, y1, c.align, self.size, self.font, c.label or label,
                           "pre" if pre else "body", row.index, k, spanning=c.rowspan > 1, top=top_aligned)
            if self.tpl.rules == "grid":
                self.rect(x0, y0, x1, y1)
        if self.tpl.rules == "grid":
            # covered cells of merged columns still get their right and left borders
            for k, c in enumerate(row.cells):
                if c is None and not pre:
                    x0, x1 = xs[k], xs[k] + widths[k]
                    r.page.rules.append((x0, y0, x0, y0 + height, 0.5))
                    r.page.rules.append((x1, y0, x1, y0 + height, 0.5))
        if line_range is None or line_range[0] == 0:
            for rec in row.records:
                rec["page"] = r.page.number
                r.page.records.append(rec)
        r.y = y0 + height

    def close_rules(self) -> None:
        r = self.r
        if self.tpl.rules == "three_line":
            r.page.rules.append((r.left, r.y, r.right, r.y, 1.2))

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> None:
        rules = self.r.page.rules
        rules.extend([(x0, y0, x1, y0, 0.5), (x0, y1, x1, y1, 0.5), (x0, y0, x0, y1, 0.5), (x1, y0, x1, y1, 0.5)])

    def cell_text(self, text: str, fields: list[FieldRange], lines: list[tuple[int, int]], x0: float, x1: float,
                  y0: float, y1: float, align: str, size: float, font: str, label: str, group: str,
                  row: Optional[int], col: int, spanning: bool = False, top: bool = False) -> None:
        if not lines:
            return
        f = get_font(font)
        lh = size * self.tpl.line_gap
        block_h = len(lines) * lh
        y_start = y0 + self.pad if top else y0 + max(self.pad, (y1 - y0 - block_h) / 2)
        for n, (a, b) in enumerate(lines):
            piece = text[a:b]
            w = f.text_length(piece, fontsize=size)
            if align == "r":
                x = x1 - self.pad - w
            elif align == "c":
                x = (x0 + x1 - w) / 2
            else:
                x = x0 + self.pad
            baseline = y_start + n * lh + size * 0.95
            self.r.emit(piece, x, baseline, size, font, label, group, sub_fields(fields, a, b), self.t.table_id, row,
                        col=col, line_in_cell=n, lines_in_cell=len(lines), spanning=spanning)


def emission_order(frags: list[Fragment], emission: str) -> list[Fragment]:
    """The order text objects are written into the content stream."""
    def key(f: Fragment) -> tuple:
        if emission == "column" and f.group == "body":
            return (f.block, 1, f.col, f.seq)
        if emission == "bottom_up" and f.group == "body":
            # one-line cells of a row first, then wrapped cells from their last line up
            return (f.block, 1, f.row if f.row is not None else 0, f.lines_in_cell > 1, f.col, -f.line_in_cell)
        if emission == "header_last" and f.group in ("title", "furniture", "header"):
            return (f.block, 2, f.seq)
        return (f.block, 1 if f.group in ("body", "note") else 0, f.seq)

    if emission == "row":
        return sorted(frags, key=lambda f: (f.block, f.seq))
    return sorted(frags, key=key)


def write_pdf(spec: DocSpec, tpl: Template, pages: list[PageState]) -> bytes:
    doc = pymupdf.open()
    for p in pages:
        page = doc.new_page(width=p.width, height=p.height)
        if p.rules:
            shape = page.new_shape()
            for x0, y0, x1, y1, w in p.rules:
                shape.draw_line((x0, y0), (x1, y1))
                shape.finish(width=w, color=(0, 0, 0))
            shape.commit()
        ordered = emission_order(p.fragments, tpl.emission)
        run: list[Fragment] = []
        for frag in ordered + [None]:  # type: ignore[list-item]
            if run and (frag is None or frag.font != run[0].font):
                tw = pymupdf.TextWriter(page.rect)
                for fr in run:
                    tw.append((fr.x, fr.baseline), fr.text, font=get_font(fr.font), fontsize=fr.size)
                tw.write_text(page)
                run = []
            if frag is not None:
                run.append(frag)
    doc.set_metadata({"producer": tpl_producer(tpl), "creator": tpl_producer(tpl)})
    state = random.getstate()
    doc.subset_fonts()
    random.setstate(state)
    _retag_subset_fonts(doc, spec.doc_name)
    _freeze_font_timestamps(doc)
    return doc.tobytes(garbage=3, deflate=True, no_new_id=True)


def _retag_subset_fonts(doc: pymupdf.Document, seed: str) -> None:
    """subset_fonts tags each font 'ABCDEF+Name' from the global random module (in set order):
    replace the tags by ones derived from the document and font name so bytes are reproducible."""
    for xref in range(1, doc.xref_length()):
        kind, base = doc.xref_get_key(xref, "BaseFont")
        if kind != "name" or "+" not in base:
            continue
        name = base.split("+", 1)[1]
        digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
        tag = "".join(chr(ord("A") + b % 26) for b in digest[:6])
        doc.xref_set_key(xref, "BaseFont", f"/{tag}+{name}")
        for key in ("DescendantFonts",):
            k2, val = doc.xref_get_key(xref, key)
            if k2 == "array":
                child = int(val.strip("[]").split()[0])
                doc.xref_set_key(child, "BaseFont", f"/{tag}+{name}")
                k3, desc = doc.xref_get_key(child, "FontDescriptor")
                if k3 == "xref":
                    doc.xref_set_key(int(desc.split()[0]), "FontName", f"/{tag}+{name}")


def _freeze_font_timestamps(doc: pymupdf.Document) -> None:
    """Subsetting stamps each embedded font's head table with the current time: pin it."""
    from fontTools.ttLib import TTFont

    for xref in range(1, doc.xref_length()):
        if doc.xref_get_key(xref, "Length1")[0] == "null" or not doc.xref_is_stream(xref):
            continue
        font = TTFont(io.BytesIO(doc.xref_stream(xref)), recalcTimestamp=False)
        font["head"].created = font["head"].modified = 3_600_000_000  # 2018-01-29, any fixed value
        out = io.BytesIO()
        font.save(out)
        data = out.getvalue()
        doc.update_stream(xref, data)
        doc.xref_set_key(xref, "Length1", str(len(data)))


def tpl_producer(tpl: Template) -> str:
    return {"hebei_grid_narrow": "WPS Office", "hebei_grid_wide": "Microsoft Excel", "henan_split_codes": "WPS 表格",
            "word_three_line": "Microsoft Word", "wps_unruled_yuan": "WPS 文字"}.get(tpl.name, "Microsoft Excel")
