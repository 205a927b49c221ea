"""What a generated document is made of, before layout: blocks of text and tables of cells.

Every cell knows which parts of its text are which field (subject_code, amount+key, …) so the
renderer can carry those labels down to the drawn fragments and the annotator up to the
extracted lines.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class FieldRange:
    """A labelled character range of a cell's or paragraph's text."""

    start: int
    end: int
    label: str
    key: Optional[str] = None


@dataclass
class Cell:
    text: str = ""
    fields: list[FieldRange] = field(default_factory=list)
    align: str = "l"  # l / c / r
    rowspan: int = 1  # body cells of merged indicator levels
    label: Optional[str] = None  # section label when it differs from the row's (project cells of a row)


def cell(text: str, label: Optional[str] = None, key: Optional[str] = None, align: str = "l") -> Cell:
    """A cell whose whole text is one field (or no field)."""
    fields = [FieldRange(0, len(text), label, key)] if (label and text) else []
    return Cell(text=text, fields=fields, align=align)


@dataclass
class Column:
    """One leaf column: its header path (top to bottom), width weight and contract key."""

    path: tuple[str, ...]
    weight: float
    key: Optional[str] = None  # contract column key for amount columns
    role: str = "amount"  # amount, row_no, code, name, text, …
    align: str = "r"


@dataclass
class Row:
    cells: list[Optional[Cell]]  # None: covered by a merged cell above
    label: str = "subject_row"  # subject_row / indicator_row / project_header
    index: Optional[int] = None  # body row index (annotation `row`)
    records: list[dict[str, Any]] = field(default_factory=list)
    is_header_like: bool = False  # 栏次 rows printed inside the body grid


@dataclass
class TableSpec:
    table_id: str
    kind: str
    title: str
    columns: list[Column]
    rows: list[Row]
    contract_columns: list[dict[str, str]]
    pre_rows: list[Row] = field(default_factory=list)  # rows above the header (绩效目标 …)
    index_row: bool = False  # print a 栏次 row under the header
    notes: list[str] = field(default_factory=list)
    empty: bool = False
    landscape: bool = False
    furniture: Optional[str] = None  # department/year/unit line printed above the header
    form_label: Optional[str] = None  # e.g. "预算 03 表" printed above the title
    title_fields: list[FieldRange] = field(default_factory=list)  # e.g. the project name inside the title
    pages: list[int] = field(default_factory=list)  # filled by rendering


@dataclass
class Paragraph:
    text: str
    label: str = "narrative"  # narrative / other / note / table_title / page_furniture
    style: str = "body"  # body, heading, title, toc, centered
    fields: list[FieldRange] = field(default_factory=list)
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (anchor char, record)
    table_id: Optional[str] = None


@dataclass
class PageBreak:
    pass


Block = Paragraph | TableSpec | PageBreak


@dataclass
class DocSpec:
    doc_name: str
    template: str
    department_name: str
    department_code: str
    fiscal_year: int
    unit: str
    doc_kind: str
    blocks: list[Block]
    tables: list[TableSpec]
    deliberate_errors: list[dict[str, str]]
    page_furniture: str  # repeated page-top line ("" for none)
