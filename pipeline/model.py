"""The one typed document model that flows through every stage.

extract -> classify -> fields -> assemble -> checks/confidence -> contract dict.
Each stage takes a Document and returns it (mutated in place and returned).
The contract shape (../shared/contract/document.schema.json) is produced only by
`Document.to_contract()`; everything before that is free to carry working data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

SCHEMA_VERSION = "1.0"

SECTION_LABELS: tuple[str, ...] = (
    "table_title",
    "table_header",
    "subject_row",
    "indicator_row",
    "project_header",
    "narrative",
    "page_furniture",
    "note",
    "other",
)

FIELD_LABELS: tuple[str, ...] = (
    "subject_code",
    "subject_name",
    "amount",  # carries `key`: a canonical column key of the contract
    "row_no",
    "level1",
    "level2",
    "level3",
    "description",
    "target",
    "basis",
    "weight",
    "score",
    "project",
    "project_code",
    "implementing_unit",
    "goal",
    "department",
    "department_code",
    "fiscal_year",
    "unit",
    "table_title",
    "fact_subject",
    "fact_value",
)

TABLE_KINDS: tuple[str, ...] = (
    "revenue_expenditure_summary", "revenue_summary", "expenditure_summary",
    "fiscal_summary", "general_budget_expenditure", "general_budget_basic_expenditure",
    "government_fund_expenditure", "state_capital_expenditure", "three_public_expenditure",
    "project_expenditure", "economic_classification", "procurement", "assets",
    "performance_targets", "department_performance", "performance_self_evaluation", "other",
)

COLUMN_KEYS: tuple[str, ...] = (
    "amount", "total", "current_year", "fiscal_appropriation", "general_public_budget",
    "government_fund", "state_capital", "special_account", "business_income",
    "operating_income", "superior_subsidy", "affiliate_remittance", "other_income",
    "unit_funds", "carryover", "basic", "project", "personnel", "public_funds",
    "wages_welfare", "household_subsidy", "goods_services", "capital", "operating_expense",
    "remit_to_superior", "affiliate_subsidy", "other_operation", "specific_target",
    "outbound_travel", "vehicles", "vehicle_purchase", "vehicle_operation", "reception",
    "budget", "executed", "weight", "score",
)

DOC_KINDS = ("budget", "final_accounts", "performance_self_evaluation", "performance_targets", "other")
UNITS = ("万元", "元", "千元", "亿元")
RECORD_TYPES = ("budget_line", "indicator", "project", "fact")


def is_column_key(key: str) -> bool:
    return key in COLUMN_KEYS or (key.startswith("extra:") and len(key) > 6)


@dataclass
class Span:
    """A labelled character range of one line's text."""

    start: int
    end: int
    label: str
    key: Optional[str] = None  # canonical column key, for label == "amount"
    prob: float = 1.0


@dataclass
class Line:
    """One text line: a PyMuPDF line of a PDF page, or one line of a text file."""

    text: str
    page: int  # 1-based
    index: int  # position on its page in extraction order
    bbox: Optional[tuple[float, float, float, float]] = None
    line_no: Optional[int] = None  # 1-based, text input only
    font: Optional[str] = None
    size: Optional[float] = None
    bold: bool = False
    label: Optional[str] = None
    label_prob: float = 0.0
    label_probs: dict[str, float] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)

    @property
    def cells(self) -> list[str]:
        """Tab-separated cells (text input keeps table cells tab-separated)."""
        return self.text.split("\t")


@dataclass
class Page:
    number: int  # 1-based
    width: float = 0.0
    height: float = 0.0
    lines: list[Line] = field(default_factory=list)
    has_text_layer: bool = True


@dataclass
class ErrorInfo:
    code: str
    message: str
    page: Optional[int] = None


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    implicated: bool = True  # False: a blank part of a failed sum, which cannot explain the failure


@dataclass
class Column:
    key: str
    header: str


@dataclass
class Table:
    table_id: str
    kind: str
    title: Optional[str]
    pages: list[int] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    confidence: float = 0.0
    empty: bool = False


@dataclass
class Record:
    """One contract record. Only the fields of its `type` are written out."""

    record_id: str
    type: str
    table_id: Optional[str]
    confidence: float = 0.0
    raw_score: float = 0.0  # before calibration; working data, not written
    page: Optional[int] = None
    line: Optional[int] = None
    bbox: Optional[tuple[float, float, float, float]] = None
    field_confidence: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    # working data, not written: indices of the lines the record was built from
    source_lines: list[tuple[int, int]] = field(default_factory=list)

    def to_contract(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "record_id": self.record_id,
            "type": self.type,
            "table_id": self.table_id,
            "page": self.page,
            "line": self.line,
            "confidence": round(float(self.confidence), 4),
            "field_confidence": {k: round(float(v), 4) for k, v in self.field_confidence.items()},
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }
        if self.bbox is not None:
            out["bbox"] = [round(float(v), 2) for v in self.bbox]
        out.update(self.fields)
        return out


@dataclass
class Department:
    name: Optional[str] = None
    code: Optional[str] = None
    confidence: float = 0.0


@dataclass
class Document:
    doc_id: str
    source: str
    format: str
    status: str = "ok"
    errors: list[ErrorInfo] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    page_count: Optional[int] = None
    department: Department = field(default_factory=Department)
    fiscal_year: Optional[int] = None
    doc_kind: str = "other"
    unit: Optional[str] = None
    tables: list[Table] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    model_name: str = "budgetdoc-default"
    model_version: str = "0"

    def fail(self, code: str, message: str, page: Optional[int] = None) -> "Document":
        self.status = "failed"
        self.errors.append(ErrorInfo(code, message, page))
        return self

    def warn(self, code: str, message: str, page: Optional[int] = None) -> "Document":
        if self.status == "ok":
            self.status = "partial"
        self.errors.append(ErrorInfo(code, message, page))
        return self

    def iter_lines(self):
        for page in self.pages:
            yield from page.lines

    def to_contract(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "doc_id": self.doc_id,
            "source": self.source,
            "format": self.format,
            "status": self.status,
            "errors": [{"code": e.code, "message": e.message, "page": e.page} for e in self.errors],
            "pages": self.page_count if self.page_count is not None else len(self.pages),
            "department": {
                "name": self.department.name,
                "code": self.department.code,
                "confidence": round(float(self.department.confidence), 4),
            },
            "fiscal_year": self.fiscal_year,
            "doc_kind": self.doc_kind,
            "unit": self.unit,
            "tables": [
                {
                    "table_id": t.table_id,
                    "kind": t.kind,
                    "title": t.title,
                    "pages": t.pages,
                    "columns": [{"key": c.key, "header": c.header} for c in t.columns],
                    "empty": t.empty,
                    "confidence": round(float(t.confidence), 4),
                }
                for t in self.tables
            ],
            "records": [r.to_contract() for r in self.records],
            "model": {"name": self.model_name, "version": self.model_version},
        }
