"""Geometry and text layout: group a table's lines into cells, rows and columns.

Three layouts reach table assembly:
- pdf: lines with bboxes. Columns are bands of overlapping x-ranges of the body lines; lines of
  one wrapped cell are re-joined by vertical gap inside a band (never by text order); rows are
  groups of cells whose y-ranges overlap.
- tabbed: text lines whose cells are tab-separated (one line = one row).
- stream: text lines without tabs or geometry, one cell fragment per line (what a PDF text
  extractor prints for ruled tables); rows start at a row number or code fragment.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from statistics import median
from typing import Optional

from pipeline.model import Line

AMOUNT_RE = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$|^-?\d+(\.\d+)?$")
NUMBER_PIECE_RE = re.compile(r"^[\d.,\-]+$")


@dataclass
class Fragment:
    """One line's text (or one tab cell of a line) inside a table."""

    text: str
    line: Line
    col: Optional[int] = None
    start: int = 0  # offset of this fragment in line.text
    labels: list[str] = field(default_factory=list)  # field labels the tagger gave it
    label_prob: float = 1.0

    @property
    def box(self):
        return self.line.bbox


@dataclass
class Cell:
    col: int
    frags: list[Fragment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return join_fragments([f.text for f in self.frags])

    @property
    def y0(self) -> float:
        return min(f.line.bbox[1] for f in self.frags)

    @property
    def y1(self) -> float:
        return max(f.line.bbox[3] for f in self.frags)

    @property
    def labels(self) -> list[str]:
        return [lab for f in self.frags for lab in f.labels]

    @property
    def prob(self) -> float:
        return min((f.label_prob for f in self.frags), default=1.0)


@dataclass
class Row:
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def frags(self) -> list[Fragment]:
        return [f for c in self.cells.values() for f in c.frags]

    @property
    def first_line(self) -> Line:
        return min((f.line for f in self.frags), key=lambda ln: (ln.page, ln.line_no or 0, ln.bbox[1] if ln.bbox else 0))

    @property
    def bbox(self):
        boxes = [f.line.bbox for f in self.frags if f.line.bbox]
        if not boxes:
            return None
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    def text(self, col: int) -> str:
        cell = self.cells.get(col)
        return cell.text if cell else ""


def join_fragments(parts: list[str]) -> str:
    """Join wrapped pieces of one cell: no space between CJK or digit pieces."""
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and _needs_space(out[-1], part[0]):
            out += " "
        out += part
    return out


def _needs_space(left: str, right: str) -> bool:
    return left.isascii() and right.isascii() and left.isalpha() and right.isalpha()


def parse_amount(text: str) -> Optional[float]:
    """'5,846.29' -> 5846.29; '-', '—', '0.00' -> 0.0; anything else -> None."""
    t = text.strip().replace(" ", "").replace("，", ",")
    if t in {"-", "—", "--", "－", "——"}:
        return 0.0
    t = t.replace("－", "-")
    if AMOUNT_RE.match(t):
        return float(t.replace(",", ""))
    return None


# ---------------------------------------------------------------- pdf layout

def pdf_columns(body: list[Line]) -> list[tuple[float, float]]:
    """Column bands: merged x-intervals of the body lines, left to right."""
    intervals = sorted((ln.bbox[0], ln.bbox[2]) for ln in body if ln.bbox)
    bands: list[list[float]] = []
    for x0, x1 in intervals:
        if bands:
            overlap = bands[-1][1] - x0
            narrower = min(x1 - x0, bands[-1][1] - bands[-1][0])
            # a long name grazing the next column is not the same column: ask for real overlap
            if overlap > max(2.0, 0.3 * narrower):
                bands[-1][1] = max(bands[-1][1], x1)
                continue
        bands.append([x0, x1])
    return [(a, b) for a, b in bands]


def band_of(bbox, bands: list[tuple[float, float]]) -> int:
    cx = (bbox[0] + bbox[2]) / 2
    best, best_d = 0, float("inf")
    for i, (a, b) in enumerate(bands):
        if a - 0.5 <= cx <= b + 0.5:
            return i
        d = min(abs(cx - a), abs(cx - b))
        if d < best_d:
            best, best_d = i, d
    return best


def pdf_rows(frags: list[Fragment], rules_y: list[float] | None = None, join_gap: Optional[float] = None) -> list[Row]:
    """Cells from vertically adjacent fragments of a band, rows from overlapping cells.

    `frags` must all be on one page and carry `col`. Fragments of one band closer than `join_gap`
    (default 0.45 line heights) are lines of one wrapped cell.
    """
    if not frags:
        return []
    heights = [f.line.bbox[3] - f.line.bbox[1] for f in frags]
    line_h = median(heights) if heights else 10.0
    cells: list[Cell] = []
    by_col: dict[int, list[Fragment]] = {}
    for f in frags:
        by_col.setdefault(f.col or 0, []).append(f)
    for col, col_frags in by_col.items():
        col_frags.sort(key=lambda f: (f.line.bbox[1], f.line.bbox[0]))
        current: Optional[Cell] = None
        for f in col_frags:
            if current is not None and _same_cell(current, f, line_h, rules_y, join_gap):
                current.frags.append(f)
            else:
                current = Cell(col=col, frags=[f])
                cells.append(current)
    cells.sort(key=lambda c: (c.y0, c.col))
    rows: list[Row] = []
    spans: list[tuple[float, float]] = []
    for cell in cells:
        placed = False
        for i, (y0, y1) in enumerate(spans):
            overlap = min(y1, cell.y1) - max(y0, cell.y0)
            if overlap > 0.3 * min(y1 - y0, cell.y1 - cell.y0, line_h) and cell.col not in rows[i].cells:
                rows[i].cells[cell.col] = cell
                spans[i] = (min(y0, cell.y0), max(y1, cell.y1))
                placed = True
                break
        if not placed:
            rows.append(Row(cells={cell.col: cell}))
            spans.append((cell.y0, cell.y1))
    order = sorted(range(len(rows)), key=lambda i: spans[i][0])
    return [rows[i] for i in order]


def _nearest_center(centers: list[float], y: float) -> int:
    """Index of the center nearest to y in a sorted list, the lowest index on ties (as min() gives)."""
    i = bisect.bisect_left(centers, y)
    if i == len(centers):
        return bisect.bisect_left(centers, centers[-1])
    if i == 0:
        return 0
    left = bisect.bisect_left(centers, centers[i - 1])
    return left if y - centers[left] <= centers[i] - y else i


def anchored_rows(frags: list[Fragment], anchor_col: int) -> list[Row]:
    """Rows around the fragments of a column that never wraps (序号 / codes), one anchor per row.

    Every other fragment joins the anchor nearest to it vertically: cells centred on their row
    (ruled tables) and cells hanging from their row's top line (unruled ones) both land right.
    Fragments far from every anchor (a 合计 row without a number) form rows of their own.
    """
    heights = [f.line.bbox[3] - f.line.bbox[1] for f in frags]
    line_h = median(heights) if heights else 10.0
    anchors = sorted((f for f in frags if f.col == anchor_col), key=lambda f: f.line.bbox[1])
    merged: list[list[Fragment]] = []
    for f in anchors:  # a wrapped code ("21012" / "02") is one anchor
        prev = merged[-1][-1].text if merged else ""
        gap = f.line.bbox[1] - merged[-1][-1].line.bbox[3] if merged else 0.0
        # a code broken anywhere ("21012"/"02", "208050"/"5"): the pieces make a 类/款/项 length
        code_wrap = (re.fullmatch(r"\d{3,6}", prev) and re.fullmatch(r"\d{1,4}", f.text)
                     and len(prev) + len(f.text) in (5, 7))
        text_wrap = not prev[:1].isdigit() and gap < 0.2 * line_h
        amount_wrap = re.fullmatch(r"-?\d+\.\d?", prev) and re.fullmatch(r"\d{1,2}", f.text)
        if merged and gap < 0.45 * line_h and (code_wrap or text_wrap or amount_wrap):
            merged[-1].append(f)
        else:
            merged.append([f])
    centers = [((g[0].line.bbox[1] + g[-1].line.bbox[3]) / 2) for g in merged]
    rows = [Row(cells={anchor_col: Cell(col=anchor_col, frags=g)}) for g in merged]
    centers_sorted = all(a <= b for a, b in zip(centers, centers[1:]))
    loose: list[Fragment] = []
    for f in frags:
        if f.col == anchor_col:
            continue
        cy = (f.line.bbox[1] + f.line.bbox[3]) / 2
        if not centers:
            loose.append(f)
            continue
        best = _nearest_center(centers, cy) if centers_sorted else min(range(len(centers)),
                                                                        key=lambda i: abs(centers[i] - cy))
        if abs(centers[best] - cy) > 2.6 * line_h:
            loose.append(f)
            continue
        rows[best].cells.setdefault(f.col or 0, Cell(col=f.col or 0)).frags.append(f)
    for row, center in zip(rows, centers):
        for col, cell in list(row.cells.items()):
            cell.frags.sort(key=lambda fr: (fr.line.bbox[1], fr.line.bbox[0]))
            if col == anchor_col:
                continue
            kept = _cluster_nearest(cell.frags, center, line_h)
            loose.extend(f for f in cell.frags if f not in kept)
            cell.frags = kept
    rows.extend(pdf_rows(loose))
    rows.sort(key=lambda r: min(f.line.bbox[1] for f in r.frags))
    return rows


def _cluster_nearest(frags: list[Fragment], center: float, line_h: float) -> list[Fragment]:
    """Of the stacked clusters in one column of a row, the one nearest the row's anchor: a cell
    of a neighbouring row without an anchor of its own (a 合计 row) must not join this one."""
    clusters: list[list[Fragment]] = []
    for f in frags:
        if clusters and f.line.bbox[1] - clusters[-1][-1].line.bbox[3] < 0.45 * line_h:
            clusters[-1].append(f)
        else:
            clusters.append([f])
    if len(clusters) == 1:
        return frags

    def distance(cluster: list[Fragment]) -> float:
        top, bottom = cluster[0].line.bbox[1], max(f.line.bbox[3] for f in cluster)
        return 0.0 if top <= center <= bottom else min(abs(center - top), abs(center - bottom))
    return min(clusters, key=distance)


def _same_cell(cell: Cell, frag: Fragment, line_h: float, rules_y: list[float] | None,
               join_gap: Optional[float] = None) -> bool:
    gap = frag.line.bbox[1] - cell.y1
    if gap > (0.45 * line_h if join_gap is None else join_gap):
        return False
    if rules_y:
        lo, hi = cell.y1, frag.line.bbox[1]
        if any(lo - 0.5 <= y <= hi + 0.5 for y in rules_y):
            return False
    return True


# ---------------------------------------------------------------- tabbed layout

def tabbed_row(line: Line) -> Row:
    row = Row()
    pos = 0
    for i, cell_text in enumerate(line.text.split("\t")):
        if cell_text.strip():
            lead = len(cell_text) - len(cell_text.lstrip())
            frag = Fragment(text=cell_text.strip(), line=line, col=i, start=pos + lead)
            row.cells[i] = Cell(col=i, frags=[frag])
        pos += len(cell_text) + 1
    return row


def is_tabbed(lines: list[Line]) -> bool:
    return any(ln.bbox is None and "\t" in ln.text for ln in lines)


def is_pdf(lines: list[Line]) -> bool:
    return any(ln.bbox is not None for ln in lines)


def fill_merged_column(rows: list[Row], col: int, skip_cols: tuple[int, ...] = (), carry: Optional[Cell] = None) -> None:
    """Give every row the text of the merged cell (一级/二级指标) that spans it.

    A merged cell is printed once, centred on its block of rows (ruled tables) or on the block's
    first row (top-aligned ones). Blocks are contiguous and in order, so the split of the rows
    into blocks is chosen to fit each cell's position best (dynamic programming). `carry`: the
    merged cell the previous page ended in; rows at the top of this page above its first merged
    cell may still be that cell's (a block split by the page break prints its text once)."""
    if not rows:
        return
    def extent(r: Row) -> tuple[float, float]:
        own = [f for c, cell in r.cells.items() if c != col and c not in skip_cols for f in cell.frags]
        own = own or r.frags
        return (min(f.line.bbox[1] for f in own), max(f.line.bbox[3] for f in own)) if own else (0.0, 0.0)
    extents = [extent(r) for r in rows]
    centers = [(top + bottom) / 2 for top, bottom in extents]
    pieces = sorted((f for r in rows if col in r.cells for f in r.cells.pop(col).frags),
                    key=lambda f: (f.line.bbox[1], f.line.bbox[0]))
    if not pieces:
        if carry is not None:
            for r in rows:
                r.cells[col] = Cell(col=col, frags=list(carry.frags))
        return
    cells: list[Cell] = []
    for f in pieces:  # lines of one wrapped merged cell belong together
        h = f.line.bbox[3] - f.line.bbox[1]
        if cells and -0.3 * h <= f.line.bbox[1] - cells[-1].y1 < 0.25 * h:
            cells[-1].frags.append(f)
        else:
            cells.append(Cell(col=col, frags=[f]))
    # rows the previous page's cell may keep: those wholly above this page's first merged cell
    carried = [0] + ([t for t in range(1, len(rows) + 1) if extents[t - 1][1] <= cells[0].y0] if carry else [])
    best_t, best_cost, best_split = 0, float("inf"), None
    for t in carried:
        split, cost = _blocks(centers[t:], extents[t:], cells)
        cost += 0.5 * t  # a tie goes to this page's own cells
        if split is not None and cost < best_cost:
            best_t, best_cost, best_split = t, cost, split
    if best_split is None:
        return
    for r in rows[:best_t]:
        r.cells[col] = Cell(col=col, frags=list(carry.frags))  # type: ignore[union-attr]
    for (k, i), cell in zip(best_split, cells):
        for r in rows[best_t + k:best_t + i]:
            r.cells[col] = Cell(col=col, frags=list(cell.frags))


def _blocks(centers: list[float], extents: list[tuple[float, float]], cells: list[Cell]
            ) -> tuple[Optional[list[tuple[int, int]]], float]:
    """The rows (start, end) of each merged cell, contiguous and in order, and the split's cost."""
    n, m = len(centers), len(cells)
    if m > n:
        return None, float("inf")
    inf = float("inf")
    # best[j][i]: cost of giving rows[:i] to cells[:j]
    best = [[inf] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for j in range(1, m + 1):
        cy = (cells[j - 1].y0 + cells[j - 1].y1) / 2
        for i in range(j, n - (m - j) + 1):
            for k in range(j - 1, i):
                if best[j - 1][k] == inf:
                    continue
                # centred on the block's whole height: tall rows (a long 依据 wrapping) move the middle
                block_mid = (extents[k][0] + extents[i - 1][1]) / 2
                c = best[j - 1][k] + min(abs(cy - block_mid), abs(cy - centers[k]))
                if c < best[j][i]:
                    best[j][i], back[j][i] = c, k
    split: list[tuple[int, int]] = []
    i = n
    for j in range(m, 0, -1):
        k = back[j][i]
        split.append((k, i))
        i = k
    return split[::-1], best[m][n]


def block_rows(frags: list[Fragment], first_inner_col: int) -> list[Row]:
    """Rows of a wide project table: each project's cells (code, name, amounts: the columns left of
    `first_inner_col`) are printed once, centred on the block of indicator rows they span.

    Indicator rows come from geometry alone; the projects' rows are then matched to contiguous
    blocks of them (dynamic programming on vertical centres, a block may be empty: a 合计 or unit
    row without indicators), and each project's cells join the first row of its block, so a reader
    going down the rows meets the project before its indicators."""
    inner_frags = [f for f in frags if (f.col or 0) >= first_inner_col]
    inner = pdf_rows(inner_frags, join_gap=_wrap_gap(inner_frags))
    outer = pdf_rows([f for f in frags if (f.col or 0) < first_inner_col])
    if not outer or not inner:
        return sorted(inner + outer, key=lambda r: r.bbox[1])

    def span(r: Row) -> tuple[float, float]:
        b = r.bbox
        return b[1], b[3]
    inner_spans = [span(r) for r in inner]
    n, m = len(inner), len(outer)
    inf = float("inf")
    # best[k][i]: cost of giving inner[:i] to outer[:k]
    best = [[inf] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for k in range(1, m + 1):
        y0, y1 = span(outer[k - 1])
        cy = (y0 + y1) / 2
        overlaps_any = any(min(y1, b) - max(y0, a) > 0 for a, b in inner_spans)
        for i in range(0, n + 1):
            for j in range(0, i + 1):  # outer[k-1] takes inner[j:i]
                if best[k - 1][j] == inf:
                    continue
                if j == i:
                    cost = 0.0 if not overlaps_any else abs(cy - (inner_spans[i - 1][1] if i else y0)) + 50.0
                else:
                    top, bottom = inner_spans[j][0], inner_spans[i - 1][1]
                    cost = abs(cy - (top + bottom) / 2)
                    if not (top - 1 <= cy <= bottom + 1):
                        cost += 50.0
                c = best[k - 1][j] + cost
                if c < best[k][i]:
                    best[k][i], back[k][i] = c, j
    # rows above the first project or below the last one keep no project
    end = min(range(n + 1), key=lambda i: best[m][i] + (0 if i == n else 50.0 * (n - i)))
    blocks: list[tuple[int, int]] = [(0, 0)] * m
    i = end
    for k in range(m, 0, -1):
        j = back[k][i]
        blocks[k - 1] = (j, i)
        i = j
    rows: list[Row] = []
    taken = 0
    for k, (j, i) in enumerate(blocks):
        rows.extend(inner[taken:j])
        if j == i:
            rows.append(outer[k])
        else:
            first = inner[j]
            for col, cell in outer[k].cells.items():
                first.cells.setdefault(col, Cell(col=col)).frags.extend(cell.frags)
            rows.extend(inner[j:i])
        taken = max(taken, i)
    rows.extend(inner[taken:])
    return rows


def _wrap_gap(frags: list[Fragment]) -> Optional[float]:
    """The largest vertical gap still inside one wrapped cell: tightly ruled rows sit closer than
    0.45 line heights, but a cell's own lines sit closer still (often overlapping)."""
    by_col: dict[int, list[Fragment]] = {}
    for f in frags:
        by_col.setdefault(f.col or 0, []).append(f)
    gaps = []
    for col_frags in by_col.values():
        col_frags.sort(key=lambda f: f.line.bbox[1])
        gaps.extend(b.line.bbox[1] - a.line.bbox[3] for a, b in zip(col_frags, col_frags[1:]))
    positive = sorted(g for g in gaps if g > 0.5)
    if not positive:
        return None
    heights = [f.line.bbox[3] - f.line.bbox[1] for f in frags]
    return min(0.45 * median(heights), 0.6 * positive[0] if len(positive) >= 3 else 0.45 * median(heights))
