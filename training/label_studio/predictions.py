"""A processed Document (the model's reading of an input) in the annotation format.

Section labels and field spans are the models' (Line.label, Line.spans). The annotation format
also wants each line's table and row and each amount span's column key, which the pipeline keeps
only inside table assembly; they are read back here:
- table: the table regions of `pipeline.assemble.segment_tables` over the same reading order are
  the document's tables in order (assembly numbers them t01, t02, … the same way);
- row: the row index in the record ids (`t02-r11`, `t05-i3`, `t05-p2`) of the records built from
  the line;
- amount key: the amount spans of a table row, in reading order, take the row's value keys in
  column order when both counts agree; otherwise a span whose amount equals exactly one unused
  value takes that value's key; the rest stay without key for the annotator to fill in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pipeline import config
from pipeline.assemble import reading_order, segment_tables
from pipeline.layout import parse_amount
from pipeline.model import UNITS, Document, Line
from training.label_studio.tasks import RegionScores

ORIGIN = "label_studio"  # annotations/README.md: pages annotated by hand in Label Studio
SPLIT = "train"
TEMPLATE = "unknown"  # the layout family of a new document is not known
ROW_LABELS = ("subject_row", "indicator_row")  # the lines that carry a row (as in the synth annotations)
NO_TABLE_LABELS = ("narrative", "other")
_RECORD_ROW_RE = re.compile(r"^(?P<table>.+)-[rip](?P<row>\d+)(?:-.*)?$")


@dataclass
class PredictedDocument:
    header: dict[str, Any]
    pages: dict[int, dict[str, Any]] = field(default_factory=dict)  # page number -> annotation page
    scores: dict[int, RegionScores] = field(default_factory=dict)


def annotation_source(path: Path) -> str:
    """`source` of the header: relative to ../shared (as for the seeds) or to the repository when
    the file lies there, else the absolute path."""
    resolved = Path(path).resolve()
    for root in (config.SHARED_DIR.resolve(), config.REPO_ROOT.resolve()):
        if resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return resolved.as_posix()


def doc_name_for(path: Path, sha256: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "_", Path(path).stem).strip("_") or "document"
    return f"ls_{stem}_{sha256[:8]}"


def annotation_format(doc_format: str) -> Optional[str]:
    """The annotation format's `format` for a contract format (html/docx have no annotation format)."""
    return {"pdf": "pdf", "txt": "txt", "md": "txt"}.get(doc_format)


def line_id(line: Line) -> str:
    if line.line_no is not None:
        return f"p{line.page}-{line.line_no:04d}"
    return f"p{line.page}-{line.index + 1:04d}"


def _unique_columns(columns: list[dict[str, str]]) -> list[dict[str, str]]:
    """One column per key, as the format wants: a two-sided summary table has an `amount` column
    on each side (records tell them apart by `side`), and the model may give two columns one key."""
    seen: set[str] = set()
    out = []
    for c in columns:
        if c["key"] not in seen:
            seen.add(c["key"])
            out.append({"key": c["key"], "header": c["header"]})
    return out


def predicted_header(doc: Document, source_path: Path) -> dict[str, Any]:
    fmt = annotation_format(doc.format)
    return {
        "record": "document", "format_version": 1,
        "doc_name": doc_name_for(source_path, doc.doc_id),
        "source": annotation_source(source_path),
        "source_sha256": doc.doc_id,
        "format": fmt,
        "origin": ORIGIN, "template": TEMPLATE, "split": SPLIT,
        "department": {"name": doc.department.name, "code": doc.department.code},
        "fiscal_year": doc.fiscal_year,
        "unit": doc.unit if doc.unit in UNITS else None,
        "doc_kind": doc.doc_kind,
        "tables": [{"table_id": t.table_id, "kind": t.kind, "title": t.title, "pages": list(t.pages),
                    "columns": _unique_columns([{"key": c.key, "header": c.header} for c in t.columns]),
                    "empty": bool(t.empty)} for t in doc.tables],
        "deliberate_errors": [],
    }


def line_tables(doc: Document) -> dict[tuple[int, int], str]:
    """(page, index) of each line inside a table -> its table_id."""
    regions = segment_tables(reading_order(doc))
    out: dict[tuple[int, int], str] = {}
    for region, table in zip(regions, doc.tables):
        for ln in region.title_lines + region.header_lines + region.body_lines + region.project_lines + region.note_lines:
            out[(ln.page, ln.index)] = table.table_id
    return out


def line_rows(doc: Document) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for rec in doc.records:
        m = _RECORD_ROW_RE.match(rec.record_id)
        if not m or rec.table_id is None:
            continue
        for where in rec.source_lines:
            out[where] = min(out.get(where, int(m.group("row"))), int(m.group("row")))
    return out


def _span_box(line: Line, span) -> tuple[float, float, float]:
    """(x0, x1, y) of a span: its share of the line's box (text input: its place in the file)."""
    if line.bbox:
        x0, y0, x1, y1 = line.bbox
        n = max(len(line.text), 1)
        return (x0 + (x1 - x0) * span.start / n, x0 + (x1 - x0) * span.end / n, (y0 + y1) / 2)
    return (float(line.line_no or 0) * 10_000 + span.start, float(line.line_no or 0) * 10_000 + span.end, 0.0)


def _cells(spans: list[tuple[Line, int, Any]]) -> list[list[tuple[Line, int, Any]]]:
    """Amount spans of one row grouped into cells: pieces of a wrapped value overlap horizontally."""
    ordered = sorted(spans, key=lambda s: _span_box(s[0], s[2])[0])
    cells: list[list[tuple[Line, int, Any]]] = []
    right = float("-inf")
    for item in ordered:
        x0, x1, _ = _span_box(item[0], item[2])
        if cells and item[0].bbox and x0 < right:
            cells[-1].append(item)
            right = max(right, x1)
        else:
            cells.append([item])
            right = x1
    return cells


def _cell_amount(cell: list[tuple[Line, int, Any]]) -> Optional[float]:
    pieces = sorted(cell, key=lambda s: (_span_box(s[0], s[2])[2], _span_box(s[0], s[2])[0]))
    return parse_amount("".join(ln.text[sp.start:sp.end] for ln, _, sp in pieces))


def _align(amounts: list[Optional[float]], values: list[float]) -> list[tuple[int, int]]:
    """Longest order-preserving matching of cells to values with equal amounts."""
    n, m = len(amounts), len(values)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            same = amounts[i] is not None and abs(amounts[i] - values[j]) < 0.005
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + 1 if same else 0)
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        same = amounts[i] is not None and abs(amounts[i] - values[j]) < 0.005
        if same and best[i][j] == best[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i + 1][j] >= best[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def amount_keys(doc: Document) -> dict[tuple[int, int, int], str]:
    """(page, line index, span index) of amount spans -> column key, from the budget records.

    The amount spans of a table row are grouped into cells (wrapped pieces together) in column
    order; with as many cells as the row has values, cell k takes the k-th value's key, else the
    cells take the keys of the values they equal, in order."""
    lines = {(ln.page, ln.index): ln for ln in doc.iter_lines()}
    rows: dict[tuple[str, int], list] = {}
    for rec in doc.records:
        m = _RECORD_ROW_RE.match(rec.record_id)
        if rec.type != "budget_line" or not m or rec.table_id is None:
            continue
        rows.setdefault((rec.table_id, int(m.group("row"))), []).append(rec)
    out: dict[tuple[int, int, int], str] = {}
    for recs in rows.values():
        values = [(k, float(v)) for rec in recs for k, v in (rec.fields.get("values") or {}).items() if v is not None]
        where = {w for rec in recs for w in rec.source_lines if w in lines}
        spans = [(lines[w], j, sp) for w in sorted(where) for j, sp in enumerate(lines[w].spans) if sp.label == "amount"]
        cells = _cells(spans)
        if len(cells) == len(values):
            pairs = list(zip(range(len(cells)), range(len(values))))
        else:
            pairs = _align([_cell_amount(c) for c in cells], [v for _, v in values])
        for i, j in pairs:
            for ln, k, _ in cells[i]:
                out[(ln.page, ln.index, k)] = values[j][0]
    return out


def predicted_document(doc: Document, source_path: Path) -> PredictedDocument:
    """The model's reading of a processed document as annotation header and pages."""
    header = predicted_header(doc, source_path)
    tables, rows, keys = line_tables(doc), line_rows(doc), amount_keys(doc)
    known_columns = {t["table_id"]: {c["key"] for c in t["columns"]} for t in header["tables"]}
    out = PredictedDocument(header=header)
    pdf = header["format"] == "pdf"
    for page in doc.pages:
        lines, scores = [], RegionScores()
        for k, ln in enumerate(page.lines):
            where = (ln.page, ln.index)
            label = ln.label or "other"
            table_id = tables.get(where) if label not in NO_TABLE_LABELS else None
            row = rows.get(where) if table_id is not None and label in ROW_LABELS else None
            spans = []
            for j, sp in enumerate(ln.spans):
                span: dict[str, Any] = {"start": sp.start, "end": sp.end, "label": sp.label}
                if sp.label == "amount":
                    key = keys.get((ln.page, ln.index, j))
                    if key is not None and (table_id is None or key in known_columns.get(table_id, {key})):
                        span["key"] = key
                scores.spans[(k, len(spans))] = sp.prob
                spans.append(span)
            record: dict[str, Any] = {"id": line_id(ln), "text": ln.text,
                                      "bbox": [round(float(v), 2) for v in ln.bbox] if ln.bbox else None,
                                      "line_no": ln.line_no}
            if pdf:
                record.update({"font": ln.font, "size": ln.size, "bold": ln.bold})
            record.update({"label": label, "table_id": table_id, "row": row, "spans": spans})
            lines.append(record)
            scores.lines[k] = ln.label_prob
        out.pages[page.number] = {"record": "page", "page": page.number,
                                  "width": page.width if pdf else None, "height": page.height if pdf else None,
                                  "lines": lines, "records": []}
        out.scores[page.number] = scores
    return out
