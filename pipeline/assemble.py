"""Table assembly: classified, tagged lines -> tables and records (Document in, Document out).

Segments the document into tables at title lines, rebuilds rows and columns from geometry
(pdf), tabs (tabbed text) or the fragment stream (plain extracted text), maps header cells to
canonical column keys, splits two-sided summary rows into income and expenditure records, fills
indicator levels down from merged cells, and reads figures out of narrative sentences.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Protocol

from pipeline import header_rules as hr
from pipeline.layout import (
    Cell, Fragment, Row, band_of, is_pdf, is_tabbed, join_fragments, parse_amount, pdf_columns, pdf_rows,
    tabbed_row,
)
from pipeline.model import Column, Document, Line, Record, Table

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


def segment_tables(lines: list[Line]) -> list[TableRegion]:
    regions: list[TableRegion] = []
    current: Optional[TableRegion] = None
    previous_label: Optional[str] = None
    for ln in lines:
        label = ln.label or "other"
        if label == "table_title":
            if current is None or previous_label != "table_title" or current.header_lines or current.body_lines:
                current = TableRegion()
                regions.append(current)
            current.title_lines.append(ln)
        elif label in TABLE_LABELS:
            if current is None:
                current = TableRegion()
                regions.append(current)
            if label == "table_header":
                current.header_lines.append(ln)
            elif label == "project_header":
                current.project_lines.append(ln)
            elif label == "note":
                current.note_lines.append(ln)
            else:
                current.body_lines.append(ln)
        elif label == "narrative" and current is not None and current.body_lines and previous_label == "narrative":
            current = None  # two narrative lines in a row end the table
        if label != "page_furniture":
            previous_label = label
    return regions


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
    out = []
    for a, b in bands:
        hits = [ln for ln in header_lines if ln.bbox and min(b, ln.bbox[2]) - max(a, ln.bbox[0]) > 0.3 * min(b - a, ln.bbox[2] - ln.bbox[0])
                and not ln.text.strip().startswith("栏次")]
        hits.sort(key=lambda ln: (ln.bbox[1], ln.bbox[0]))
        # group stacked lines of one wrapped header cell: same x-range, small gap
        groups: list[list[Line]] = []
        for ln in hits:
            if groups and abs(groups[-1][-1].bbox[0] - ln.bbox[0]) < 3 and ln.bbox[1] - groups[-1][-1].bbox[3] < 0.6 * (ln.bbox[3] - ln.bbox[1]):
                groups[-1].append(ln)
            else:
                groups.append([ln])
        texts = [join_fragments([g.text for g in grp]) for grp in groups]
        leaf = texts[-1] if texts else ""
        out.append((leaf, " ".join(dict.fromkeys(texts))))
    return out


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
            if not name:
                unit_cols = [s for s in cols if s.role in (hr.ROLE_UNIT_CODE, hr.ROLE_PROJECT)]
                name = next((row.text(s.index) for s in unit_cols if row.text(s.index) and not row.text(s.index).isdigit()), "")
            values: dict[str, Optional[float]] = {}
            field_conf: dict[str, float] = {}
            for s in cols:
                if s.role != hr.ROLE_VALUE or s.index not in row.cells:
                    continue
                value = parse_amount(row.text(s.index))
                if value is None:
                    continue
                key = s.key or "extra:" + s.leaf
                if key in values:
                    key = f"extra:{s.full or s.leaf}"
                values[key] = value
                field_conf[f"values.{key}"] = min(s.key_prob, row.cells[s.index].prob)
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
    return {"op": op if op else "=", "value": float(m.group(2)), "unit": unit, "text": None}


def indicator_records(table: Table, specs: list[ColumnSpec], rows: list[Row], project: Optional[str],
                      project_code: Optional[str]) -> list[Record]:
    records: list[Record] = []
    carried: dict[str, Optional[str]] = {"level1": None, "level2": None}
    role_cols = {s.role: s for s in specs if s.role in hr.INDICATOR_ROLES}
    for i, row in enumerate(rows):
        fields: dict = {r: (join_fragments([row.text(s.index)]) or None) for r, s in role_cols.items()}
        for lvl in ("level1", "level2"):
            if fields.get(lvl):
                carried[lvl] = fields[lvl]
                if lvl == "level1":
                    carried["level2"] = fields.get("level2") or None
            else:
                fields[lvl] = carried[lvl]
        if not fields.get("level3") and not fields.get("target"):
            continue
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
        records.append(Record(
            record_id=f"{table.table_id}-i{i}", type="indicator", table_id=table.table_id, page=first.page,
            line=first.line_no, bbox=row.bbox, fields=out,
            field_confidence={"level3": min((f.label_prob for f in frags), default=1.0)},
            source_lines=[(f.line.page, f.line.index) for f in frags],
        ))
    return records


PROJECT_TITLE_RE = re.compile(r"^\s*(?:\d+\s*[、.．]\s*)?(.+?)(?:项目)?绩效(?:目标|自评)表?\s*$")


def project_from_region(region: TableRegion, table: Table) -> Optional[Record]:
    if table.kind not in {"performance_targets", "performance_self_evaluation"}:
        return None
    m = PROJECT_TITLE_RE.match(region.title.replace("\n", ""))
    name = m.group(1).strip(" 、") if m else None
    goal_parts, code, unit = [], None, None
    for ln in region.project_lines:
        text = ln.text.replace("\t", " ").strip()
        mcode = re.match(r"^(\d{6,})\s+(.+)$", text)
        if mcode and code is None:
            code, unit = mcode.group(1), mcode.group(2).strip()
            continue
        goal_parts.append(re.sub(r"^(年度)?(总体)?绩效目标[:：]?", "", text).strip())
    if not name:
        return None
    first = (region.title_lines or region.project_lines)[0]
    return Record(
        record_id=f"{table.table_id}-p", type="project", table_id=table.table_id, page=first.page,
        line=first.line_no, fields={"name": name, "code": code, "implementing_unit": unit, "amount": None,
                                    "goal": join_fragments(goal_parts) or None},
        field_confidence={"name": min(ln.label_prob for ln in region.title_lines) if region.title_lines else 0.5},
    )


# ------------------------------------------------------------------ rows per layout

def rows_and_columns(region: TableRegion) -> tuple[list[Row], list[ColumnSpec]]:
    body = region.body_lines
    if not body:
        return [], []
    if is_pdf(body):
        return _pdf_rows_columns(region)
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
    return _stream_rows_columns(region)


def _pdf_rows_columns(region: TableRegion) -> tuple[list[Row], list[ColumnSpec]]:
    all_rows: list[Row] = []
    by_page: dict[int, list[Line]] = {}
    for ln in region.body_lines:
        by_page.setdefault(ln.page, []).append(ln)
    first_headers = region.header_lines
    specs_by_signature: list[ColumnSpec] = []
    for page, body in sorted(by_page.items()):
        bands = pdf_columns(body)
        headers = [ln for ln in region.header_lines if ln.page == page] or first_headers
        heads = pdf_header_texts(headers, bands)
        frags = [_fragments_of(ln, band_of(ln.bbox, bands)) for ln in body]
        rows = pdf_rows(frags)
        if not specs_by_signature:
            specs_by_signature = [ColumnSpec(index=j, leaf=leaf, full=full) for j, (leaf, full) in enumerate(heads)]
        elif len(heads) != len(specs_by_signature):
            # a continuation page with other bands: re-index its cells onto the first page's columns by header text
            remap = _remap_columns(heads, specs_by_signature)
            for row in rows:
                row.cells = {remap.get(c, c + 1000): cell for c, cell in row.cells.items()}
        all_rows.extend(rows)
    return all_rows, specs_by_signature


def _remap_columns(heads: list[tuple[str, str]], specs: list[ColumnSpec]) -> dict[int, int]:
    remap: dict[int, int] = {}
    for j, (leaf, full) in enumerate(heads):
        for s in specs:
            if s.full == full and s.index not in remap.values():
                remap[j] = s.index
                break
    return remap


def _stream_rows_columns(region: TableRegion) -> tuple[list[Row], list[ColumnSpec]]:
    """One fragment per line, no positions: rows start at a row number; values fill the
    value columns in order (blank cells are lost in such text, so only rows with as many values
    as value columns are positioned exactly; others fill from the left)."""
    rows: list[Row] = []
    current: Optional[Row] = None
    for ln in region.body_lines:
        pieces = ln.text.split()
        starts_row = bool(pieces) and _row_number(pieces[0]) is not None and (
            any(sp.label == "row_no" for sp in ln.spans) or current is None or len(pieces) > 1 or not ln.spans)
        if starts_row or current is None:
            current = Row()
            rows.append(current)
        pos = 0
        for piece in pieces:
            start = ln.text.index(piece, pos)
            pos = start + len(piece)
            labels, prob = _span_labels(ln, start, pos)
            col = len(current.cells)
            current.cells[col] = Cell(col=col, frags=[Fragment(text=piece, line=ln, col=col, start=start, labels=labels, label_prob=prob)])
    header_texts = [ln.text for ln in region.header_lines]
    specs = _stream_specs(header_texts)
    return [_stream_row_to_columns(r, specs) for r in rows], specs


_STREAM_ORDER = ("row_no", "code", "name")


def _stream_specs(header_texts: list[str]) -> list[ColumnSpec]:
    tokens = [t for text in header_texts for t in text.split() if not t.isdigit() and t != "栏次"]
    value_heads = [t for t in tokens if hr.header_role(t, t) is None]
    specs = [ColumnSpec(index=0, leaf="序号", full="序号", role=hr.ROLE_ROW_NO),
             ColumnSpec(index=1, leaf="科目编码", full="科目编码", role=hr.ROLE_CODE),
             ColumnSpec(index=2, leaf="科目名称", full="科目名称", role=hr.ROLE_NAME)]
    for j, head in enumerate(value_heads):
        specs.append(ColumnSpec(index=3 + j, leaf=head, full=head, role=hr.ROLE_VALUE))
    return specs


def _stream_row_to_columns(row: Row, specs: list[ColumnSpec]) -> Row:
    frags = [f for c in sorted(row.cells) for f in row.cells[c].frags]
    out = Row()
    codes = [f for f in frags if re.fullmatch(r"\d{2,7}", f.text) and f is not frags[0]]
    amounts = [f for f in frags if "." in f.text and parse_amount(f.text) is not None or f.text in {"-", "—"}]
    names = [f for f in frags[1:] if f not in codes and f not in amounts]
    if frags and _row_number(frags[0].text) is not None:
        out.cells[0] = Cell(col=0, frags=[frags[0]])
    if codes:
        out.cells[1] = Cell(col=1, frags=codes)
    if names:
        out.cells[2] = Cell(col=2, frags=names)
    value_specs = [s for s in specs if s.role == hr.ROLE_VALUE]
    for spec, frag in zip(value_specs, amounts):
        out.cells[spec.index] = Cell(col=spec.index, frags=[frag])
    return out


# ------------------------------------------------------------------ main stage

def assemble(doc: Document, header_model: Optional[HeaderModel] = None) -> Document:
    header_model = header_model or RuleHeaderModel()
    lines = reading_order(doc)
    regions = segment_tables(lines)
    titles = [r.title or join_fragments([ln.text for ln in r.header_lines[:2]]) for r in regions]
    kinds = header_model.table_kinds(titles) if regions else []
    doc.tables, doc.records = [], []
    for n, (region, (kind, kind_prob)) in enumerate(zip(regions, kinds), start=1):
        table = Table(table_id=f"t{n:02d}", kind=kind, title=region.title or None, pages=region.pages,
                      confidence=kind_prob)
        rows, specs = rows_and_columns(region)
        decide_roles(specs, rows, kind)
        value_specs = [s for s in specs if s.role == hr.ROLE_VALUE]
        if value_specs:
            keys = header_model.column_keys([(s.leaf, s.full) for s in value_specs])
            for s, (key, prob) in zip(value_specs, keys):
                s.key, s.key_prob = key, prob
        assign_sides(specs, kind)
        table.columns = [Column(key=s.key, header=s.full or s.leaf) for s in value_specs if s.key]
        note_text = " ".join(ln.text for ln in region.note_lines + region.body_lines[:3])
        if kind in INDICATOR_KINDS:
            proj = project_from_region(region, table)
            if proj:
                doc.records.append(proj)
            doc.records.extend(indicator_records(table, specs, rows, proj.fields["name"] if proj else None,
                                                 proj.fields["code"] if proj else None))
        else:
            recs = budget_records(table, specs, rows, 0)
            doc.records.extend(recs)
            table.empty = not any(r.fields["values"] and any(v for v in r.fields["values"].values()) for r in recs) \
                and bool(EMPTY_TABLE_RE.search(note_text) or not recs)
        doc.tables.append(table)
    doc.records.extend(narrative_facts(lines))
    return doc


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
