"""The annotation format of annotations/README.md in code: load and validate.

One JSONL file per document: line 1 the document header, every further line one page with its
labelled lines and gold records. `validate_paths` reports `file:line: reason` per problem, the
line being the JSONL line number; `budgetdoc annotations validate` prints them.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import jsonschema
import pymupdf

from pipeline import config
from pipeline.pdf_lines import page_lines
from pipeline.checks import CHECK_NAMES, CheckResult, run_checks
from pipeline.model import (
    DOC_KINDS,
    FIELD_LABELS,
    SECTION_LABELS,
    TABLE_KINDS,
    UNITS,
    Line,
    Page,
    Span,
    is_column_key,
)

FORMAT_VERSION = 1
FORMATS = ("pdf", "txt")
ORIGINS = ("seed", "synth", "label_studio")
SPLITS = ("train", "test_doc", "test_template", "seed")
HEADER_FIELDS = ("record", "format_version", "doc_name", "source", "source_sha256", "format", "origin",
                 "template", "split", "department", "fiscal_year", "unit", "doc_kind", "tables",
                 "deliberate_errors")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_SCHEMA_ERRORS_PER_RECORD = 3
PDF_BBOX_TOLERANCE = 0.5  # points; annotations round bboxes


class AnnotationError(ValueError):
    """A file that cannot be read as an annotation (message is `file:line: reason`)."""


# ---------------------------------------------------------------------------------------------
# Parsed form
# ---------------------------------------------------------------------------------------------


@dataclass
class AnnotatedSpan:
    start: int
    end: int
    label: str
    key: Optional[str] = None


@dataclass
class AnnotatedLine:
    id: str
    text: str
    label: str
    table_id: Optional[str] = None
    row: Optional[int] = None
    spans: list[AnnotatedSpan] = field(default_factory=list)
    bbox: Optional[tuple[float, float, float, float]] = None
    line_no: Optional[int] = None
    font: Optional[str] = None
    size: Optional[float] = None
    bold: bool = False

    def to_model_line(self, page: int, index: int) -> Line:
        """The pipeline's Line, labelled with gold section label and spans."""
        return Line(text=self.text, page=page, index=index, bbox=self.bbox, line_no=self.line_no,
                    font=self.font, size=self.size, bold=self.bold, label=self.label, label_prob=1.0,
                    spans=[Span(s.start, s.end, s.label, s.key) for s in self.spans])


@dataclass
class AnnotatedPage:
    page: int
    width: Optional[float]
    height: Optional[float]
    lines: list[AnnotatedLine] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    jsonl_line: int = 0


@dataclass
class AnnotatedDocument:
    path: Path
    header: dict[str, Any]
    pages: list[AnnotatedPage] = field(default_factory=list)

    @property
    def doc_name(self) -> str:
        return self.header["doc_name"]

    @property
    def format(self) -> str:
        return self.header["format"]

    @property
    def origin(self) -> str:
        return self.header["origin"]

    @property
    def template(self) -> str:
        return self.header["template"]

    @property
    def split(self) -> str:
        return self.header["split"]

    @property
    def doc_kind(self) -> str:
        return self.header["doc_kind"]

    @property
    def unit(self) -> Optional[str]:
        return self.header.get("unit")

    @property
    def fiscal_year(self) -> Optional[int]:
        return self.header.get("fiscal_year")

    @property
    def department(self) -> dict[str, Any]:
        return self.header.get("department") or {}

    @property
    def tables(self) -> list[dict[str, Any]]:
        return self.header.get("tables") or []

    @property
    def deliberate_errors(self) -> list[dict[str, Any]]:
        return self.header.get("deliberate_errors") or []

    @property
    def records(self) -> list[dict[str, Any]]:
        return [r for p in self.pages for r in p.records]

    def iter_lines(self) -> Iterator[tuple[AnnotatedPage, AnnotatedLine]]:
        for page in self.pages:
            for line in page.lines:
                yield page, line

    def source_path(self) -> Optional[Path]:
        """The annotated input on disk: seeds live under ../shared; synth PDFs are not committed."""
        if self.origin == "seed":
            return config.SHARED_DIR / self.header["source"]
        return None

    def to_model_pages(self) -> list[Page]:
        return [
            Page(number=p.page, width=p.width or 0.0, height=p.height or 0.0,
                 lines=[ln.to_model_line(p.page, i) for i, ln in enumerate(p.lines)])
            for p in self.pages
        ]


def _parse_span(raw: dict[str, Any]) -> AnnotatedSpan:
    return AnnotatedSpan(int(raw["start"]), int(raw["end"]), raw["label"], raw.get("key"))


def _parse_line(raw: dict[str, Any]) -> AnnotatedLine:
    bbox = raw.get("bbox")
    return AnnotatedLine(
        id=raw["id"], text=raw["text"], label=raw["label"], table_id=raw.get("table_id"), row=raw.get("row"),
        spans=[_parse_span(s) for s in raw.get("spans") or []],
        bbox=tuple(float(v) for v in bbox) if bbox else None,  # type: ignore[arg-type]
        line_no=raw.get("line_no"), font=raw.get("font"), size=raw.get("size"), bold=bool(raw.get("bold", False)),
    )


def _parse_page(raw: dict[str, Any], jsonl_line: int) -> AnnotatedPage:
    return AnnotatedPage(page=int(raw["page"]), width=raw.get("width"), height=raw.get("height"),
                         lines=[_parse_line(ln) for ln in raw.get("lines") or []],
                         records=list(raw.get("records") or []), jsonl_line=jsonl_line)


def _read_jsonl(path: Path) -> list[tuple[int, str]]:
    return [(i, text) for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)]


def load_annotation(path: Path) -> AnnotatedDocument:
    """Parse one annotation file. Raises AnnotationError on unreadable JSON or a missing header;
    run `validate_paths` for the full format check."""
    path = Path(path)
    header: Optional[dict[str, Any]] = None
    pages: list[AnnotatedPage] = []
    for no, text in _read_jsonl(path):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"{path}:{no}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        if header is None:
            if not isinstance(obj, dict) or obj.get("record") != "document":
                raise AnnotationError(f"{path}:{no}: expected the document header "
                                      f"(an object with \"record\": \"document\") on the first line")
            header = obj
            continue
        try:
            pages.append(_parse_page(obj, no))
        except (KeyError, TypeError, ValueError) as exc:
            raise AnnotationError(f"{path}:{no}: malformed page: {exc!r}") from exc
    if header is None:
        raise AnnotationError(f"{path}:1: empty file: expected the document header on line 1")
    return AnnotatedDocument(path=path, header=header, pages=pages)


def iter_annotation_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given plus every *.jsonl below the given folders, sorted, without duplicates."""
    found: dict[Path, None] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*.jsonl")):
                if f.is_file():
                    found.setdefault(f, None)
        elif p.is_file():
            found.setdefault(p, None)
    return list(found)


def load_corpus(paths: Iterable[Path]) -> list[AnnotatedDocument]:
    return [load_annotation(f) for f in iter_annotation_files(paths)]


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _record_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(Path(config.CONTRACT_SCHEMA).read_text(encoding="utf-8"))
    record_schema = {"$schema": schema.get("$schema"), "$defs": schema["$defs"], "$ref": "#/$defs/record"}
    cls = jsonschema.validators.validator_for(record_schema)
    return cls(record_schema)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _choices(values: Iterable[str]) -> str:
    return ", ".join(values)


class _FileValidator:
    """Collects the problems of one annotation file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.header: Optional[dict[str, Any]] = None
        self.tables: Optional[dict[str, dict[str, Any]]] = None  # None: header unusable
        self.line_ids: dict[str, int] = {}
        self.record_ids: dict[str, int] = {}
        self.table_rows: set[tuple[str, int]] = set()
        self.budget_rows: list[tuple[int, str, str, int]] = []  # jsonl line, record_id, table, row
        self.line_nos: set[int] = set()
        self.record_lines: list[tuple[int, str, int]] = []  # jsonl line, record_id, line_no
        self.records: list[dict[str, Any]] = []
        self.last_page: Optional[int] = None
        self.source_lines: Optional[list[str]] = None
        self.source_pages: Optional[int] = None  # text input: form feeds + 1
        self.pdf: Optional[Any] = None  # the rendered PDF when it lies beside the annotation

    def problem(self, line: int, reason: str) -> None:
        self.problems.append(f"{self.path}:{line}: {reason}")

    # -- file ----------------------------------------------------------------------------------

    def run(self) -> list[str]:
        try:
            rows = _read_jsonl(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(0, f"cannot read the file: {exc}")
            return self.problems
        if not rows:
            self.problem(1, "empty file: expected the document header on line 1")
            return self.problems
        for no, text in rows:
            if not text.strip():
                self.problem(no, "blank line: every line must be one JSON object (header or page)")
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                self.problem(no, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if no == 1:
                self.check_header(obj)
            else:
                self.check_page(no, obj)
        self.check_record_rows()
        self.check_deliberate_errors_fail()
        if self.pdf is not None:
            self.pdf.close()
        return self.problems

    # -- header --------------------------------------------------------------------------------

    def check_header(self, obj: Any) -> None:
        if not isinstance(obj, dict) or obj.get("record") != "document":
            got = obj.get("record") if isinstance(obj, dict) else type(obj).__name__
            self.problem(1, f"line 1 must be the document header with \"record\": \"document\", got {got!r}")
            return
        self.header = obj
        missing = [f for f in HEADER_FIELDS if f not in obj]
        if missing:
            self.problem(1, f"document header lacks required field(s): {_choices(missing)}")
        if "format_version" in obj and obj["format_version"] != FORMAT_VERSION:
            self.problem(1, f"format_version {obj['format_version']!r}: expected {FORMAT_VERSION}")
        for name in ("doc_name", "source", "template"):
            if name in obj and not (isinstance(obj[name], str) and obj[name].strip()):
                self.problem(1, f"{name} must be a non-empty string, got {obj[name]!r}")
        if "source_sha256" in obj and not (isinstance(obj["source_sha256"], str)
                                           and _SHA256_RE.match(obj["source_sha256"])):
            self.problem(1, f"source_sha256 {obj['source_sha256']!r}: expected 64 lowercase hex digits")
        for name, allowed in (("format", FORMATS), ("origin", ORIGINS), ("split", SPLITS),
                              ("doc_kind", DOC_KINDS)):
            if name in obj and obj[name] not in allowed:
                self.problem(1, f"{name} {obj[name]!r} is not one of: {_choices(allowed)}")
        if obj.get("origin") in ORIGINS and obj.get("split") in SPLITS \
                and (obj["origin"] == "seed") != (obj["split"] == "seed"):
            self.problem(1, f"origin {obj['origin']!r} with split {obj['split']!r}: split 'seed' is for "
                            "and only for origin 'seed'")
        if "unit" in obj and obj["unit"] is not None and obj["unit"] not in UNITS:
            self.problem(1, f"unit {obj['unit']!r} is not one of: {_choices(UNITS)} (or null)")
        if "fiscal_year" in obj and obj["fiscal_year"] is not None and not _is_int(obj["fiscal_year"]):
            self.problem(1, f"fiscal_year {obj['fiscal_year']!r}: expected an integer year or null")
        self.check_department(obj.get("department", {}))
        self.tables = self.check_tables(obj.get("tables", []))
        self.check_deliberate_errors(obj.get("deliberate_errors", []))
        self.check_source(obj)

    def check_department(self, dept: Any) -> None:
        if not isinstance(dept, dict):
            self.problem(1, f"department must be an object {{\"name\": …, \"code\": …}}, got {dept!r}")
            return
        for key in ("name", "code"):
            if key not in dept:
                self.problem(1, f"department lacks \"{key}\" (a string or null)")
            elif dept[key] is not None and not isinstance(dept[key], str):
                self.problem(1, f"department {key} {dept[key]!r}: expected a string or null")

    def check_tables(self, tables: Any) -> dict[str, dict[str, Any]]:
        declared: dict[str, dict[str, Any]] = {}
        if not isinstance(tables, list):
            self.problem(1, f"tables must be a list, got {type(tables).__name__}")
            return declared
        for i, t in enumerate(tables):
            where = f"tables[{i}]"
            if not isinstance(t, dict):
                self.problem(1, f"{where} must be an object")
                continue
            tid = t.get("table_id")
            if not isinstance(tid, str) or not tid:
                self.problem(1, f"{where} lacks a table_id (a non-empty string)")
                continue
            where = f"table {tid}"
            if tid in declared:
                self.problem(1, f"{where} is declared twice: table_ids must be unique")
            declared[tid] = t
            if t.get("kind") not in TABLE_KINDS:
                self.problem(1, f"{where}: kind {t.get('kind')!r} is not one of: {_choices(TABLE_KINDS)}")
            if "title" not in t or not (t["title"] is None or isinstance(t["title"], str)):
                self.problem(1, f"{where}: title must be present, a string or null")
            pages = t.get("pages")
            if not isinstance(pages, list) or not all(_is_int(p) and p >= 1 for p in pages):
                self.problem(1, f"{where}: pages must be a list of 1-based page numbers, got {pages!r}")
            if "empty" in t and not isinstance(t["empty"], bool):
                self.problem(1, f"{where}: empty must be true or false, got {t['empty']!r}")
            self.check_columns(where, t.get("columns"))
        return declared

    def check_columns(self, where: str, columns: Any) -> None:
        if not isinstance(columns, list):
            self.problem(1, f"{where}: columns must be a list of {{\"key\", \"header\"}}, got {columns!r}")
            return
        seen: set[str] = set()
        for c in columns:
            if not isinstance(c, dict) or not isinstance(c.get("key"), str) or not isinstance(c.get("header"), str):
                self.problem(1, f"{where}: column {c!r} must be {{\"key\": str, \"header\": str}}")
                continue
            if not is_column_key(c["key"]):
                self.problem(1, f"{where}: column key {c['key']!r} (header {c['header']!r}) is neither a "
                                "canonical key of the contract README nor 'extra:<header as printed>'")
            elif c["key"] in seen:
                self.problem(1, f"{where}: column key {c['key']!r} appears twice: use extra:<header> for "
                                "the second column")
            seen.add(c["key"])

    def check_deliberate_errors(self, errors: Any) -> None:
        if not isinstance(errors, list):
            self.problem(1, f"deliberate_errors must be a list, got {type(errors).__name__}")
            return
        for i, e in enumerate(errors):
            if not isinstance(e, dict):
                self.problem(1, f"deliberate_errors[{i}] must be an object {{check, table_id, detail}}")
                continue
            if e.get("check") not in CHECK_NAMES:
                self.problem(1, f"deliberate_errors[{i}]: check {e.get('check')!r} is not one of: "
                                f"{_choices(CHECK_NAMES)}")
            tid = e.get("table_id")
            if tid is not None and self.tables is not None and tid not in self.tables:
                self.problem(1, f"deliberate_errors[{i}]: table_id {tid!r} is not declared in tables")

    def check_source(self, obj: dict[str, Any]) -> None:
        """Seeds are on disk: their hash must match and line texts can be compared with them.
        A synth PDF is checked the same way when it lies beside its annotation."""
        if not isinstance(obj.get("source"), str):
            return
        if obj.get("origin") != "seed":
            self.open_beside_pdf(obj)
            return
        source = config.SHARED_DIR / obj["source"]
        if not source.is_file():
            self.problem(1, f"source {obj['source']!r}: no such file under {config.SHARED_DIR}")
            return
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if isinstance(obj.get("source_sha256"), str) and obj["source_sha256"] != digest:
            self.problem(1, f"source_sha256 does not match {obj['source']}: expected {digest}")
        if obj.get("format") == "txt":
            text = data.decode("utf-8")
            self.source_lines = text.split("\n")
            self.source_pages = text.count("\f") + 1

    def open_beside_pdf(self, obj: dict[str, Any]) -> None:
        source = self.path.parent / obj["source"]
        if obj.get("format") != "pdf" or not source.is_file():
            return
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if isinstance(obj.get("source_sha256"), str) and obj["source_sha256"] != digest:
            self.problem(1, f"source_sha256 does not match {source.name} beside the annotation: expected {digest}")
        try:
            self.pdf = pymupdf.open(stream=data, filetype="pdf")
        except (RuntimeError, ValueError) as exc:
            self.problem(1, f"{source.name} beside the annotation cannot be opened: {exc}")

    def check_pdf_lines(self, no: int, page: int, lines: list[Any]) -> None:
        """The lines of a rendered page are exactly pipeline.pdf_lines.page_lines, in order."""
        if self.pdf is None or not 1 <= page <= self.pdf.page_count:
            if self.pdf is not None:
                self.problem(no, f"page {page}: the PDF has {self.pdf.page_count} page(s)")
            return
        extracted = page_lines(self.pdf[page - 1], page)
        annotated = [ln for ln in lines if isinstance(ln, dict)]
        for i, (want, got) in enumerate(zip(extracted, annotated)):
            bbox = got.get("bbox")
            if got.get("text") != want.text:
                self.problem(no, f"line {got.get('id')!r}: text {got.get('text')!r} differs from page_lines' "
                                 f"line {i} of the PDF: expected {want.text!r}")
                return
            if want.bbox and isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox) \
                    and max(abs(a - b) for a, b in zip(bbox, want.bbox)) > PDF_BBOX_TOLERANCE:
                self.problem(no, f"line {got.get('id')!r}: bbox {bbox} differs from the PDF's "
                                 f"{[round(v, 2) for v in want.bbox]}")
                return
        if len(extracted) != len(annotated):
            self.problem(no, f"page {page}: {len(annotated)} annotated lines, but page_lines gives "
                             f"{len(extracted)} for the PDF page")

    # -- pages ---------------------------------------------------------------------------------

    def check_page(self, no: int, obj: Any) -> None:
        if not isinstance(obj, dict) or obj.get("record") != "page":
            got = obj.get("record") if isinstance(obj, dict) else type(obj).__name__
            self.problem(no, f"expected a page line with \"record\": \"page\", got {got!r}")
            return
        page = obj.get("page")
        if not _is_int(page) or page < 1:
            self.problem(no, f"page {page!r}: expected a 1-based page number")
        elif self.last_page is not None and page <= self.last_page:
            self.problem(no, f"page {page} after page {self.last_page}: page numbers must be unique and increasing")
        elif self.source_pages is not None and page > self.source_pages:
            self.problem(no, f"page {page}: the source text has {self.source_pages} page(s) "
                             "(pages of text input are separated by form feeds)")
        else:
            self.last_page = page
        for dim in ("width", "height"):
            if obj.get(dim) is not None and not _is_number(obj[dim]):
                self.problem(no, f"{dim} {obj[dim]!r}: expected a number of PDF points or null")
        lines = obj.get("lines", [])
        if not isinstance(lines, list):
            self.problem(no, "lines must be a list")
        else:
            for i, line in enumerate(lines):
                self.check_line(no, i, line)
            if _is_int(page):
                self.check_pdf_lines(no, page, lines)
        records = obj.get("records", [])
        if not isinstance(records, list):
            self.problem(no, "records must be a list")
        else:
            for record in records:
                self.check_record(no, page if _is_int(page) else None, record)

    def check_line(self, no: int, index: int, line: Any) -> None:
        if not isinstance(line, dict):
            self.problem(no, f"lines[{index}] must be an object")
            return
        lid = line.get("id")
        where = f"line {lid!r}" if isinstance(lid, str) else f"lines[{index}]"
        if not isinstance(lid, str) or not lid:
            self.problem(no, f"{where}: id must be a non-empty string")
        elif lid in self.line_ids:
            self.problem(no, f"{where}: duplicate id (first used on line {self.line_ids[lid]}): "
                             "line ids must be unique within the document")
        else:
            self.line_ids[lid] = no
        text = line.get("text")
        if not isinstance(text, str):
            self.problem(no, f"{where}: text must be a string")
            text = ""
        elif not text.strip():
            self.problem(no, f"{where}: blank text: blank lines are not annotated")
        label = line.get("label")
        if label not in SECTION_LABELS:
            self.problem(no, f"{where}: unknown label {label!r}, expected one of: {_choices(SECTION_LABELS)}")
        self.check_line_position(no, where, line, text)
        table_id = line.get("table_id")
        table = None
        if table_id is not None:
            if not isinstance(table_id, str):
                self.problem(no, f"{where}: table_id must be a string or null")
            elif self.tables is not None and table_id not in self.tables:
                self.problem(no, f"{where}: table_id {table_id!r} is not declared in the document header")
            elif self.tables is not None:
                table = self.tables[table_id]
        row = line.get("row")
        if row is not None:
            if not _is_int(row) or row < 0:
                self.problem(no, f"{where}: row {row!r}: expected a 0-based table row index or null")
            elif isinstance(table_id, str):
                self.table_rows.add((table_id, row))
        spans = line.get("spans", [])
        if not isinstance(spans, list):
            self.problem(no, f"{where}: spans must be a list")
            return
        self.check_spans(no, where, text, spans, table)

    def check_line_position(self, no: int, where: str, line: dict[str, Any], text: str) -> None:
        fmt = self.header.get("format") if self.header else None
        bbox, line_no = line.get("bbox"), line.get("line_no")
        if fmt == "pdf":
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
                self.problem(no, f"{where}: bbox {bbox!r}: a PDF line needs [x0, y0, x1, y1] (4 numbers)")
            if line_no is not None:
                self.problem(no, f"{where}: line_no must be null for PDF input, got {line_no!r}")
        elif fmt == "txt":
            if not _is_int(line_no) or line_no < 1:
                self.problem(no, f"{where}: line_no {line_no!r}: a text-input line needs its 1-based file line")
            else:
                self.line_nos.add(line_no)
            if _is_int(line_no) and line_no >= 1 and self.source_lines is not None:
                if line_no > len(self.source_lines):
                    self.problem(no, f"{where}: line_no {line_no} is past the end of the source "
                                     f"({len(self.source_lines)} lines)")
                elif self.source_lines[line_no - 1].rstrip("\r") != text:
                    self.problem(no, f"{where}: text differs from source line {line_no}: "
                                     f"expected {self.source_lines[line_no - 1].rstrip(chr(13))[:60]!r}")
            if bbox is not None:
                self.problem(no, f"{where}: bbox must be null for text input, got {bbox!r}")

    def check_spans(self, no: int, where: str, text: str, spans: list[Any], table: Optional[dict]) -> None:
        columns = {c.get("key") for c in (table or {}).get("columns") or [] if isinstance(c, dict)}
        placed: list[tuple[int, int]] = []
        for i, span in enumerate(spans):
            sw = f"{where} span {i}"
            if not isinstance(span, dict):
                self.problem(no, f"{sw} must be an object {{start, end, label}}")
                continue
            start, end, label = span.get("start"), span.get("end"), span.get("label")
            if label not in FIELD_LABELS:
                self.problem(no, f"{sw}: unknown label {label!r}, expected one of: {_choices(FIELD_LABELS)}")
            if not (_is_int(start) and _is_int(end)):
                self.problem(no, f"{sw}: start/end {start!r}/{end!r} must be integers")
                continue
            if not 0 <= start < end <= len(text):
                self.problem(no, f"{sw} [{start}, {end}) is outside the text: expected 0 <= start < end <= "
                                 f"{len(text)} (the text's length)")
                continue
            key = span.get("key")
            if label == "amount":
                if not isinstance(key, str) or not is_column_key(key):
                    self.problem(no, f"{sw} ({text[start:end]!r}): amount span needs key: a canonical column "
                                     f"key or 'extra:<header>', got {key!r}")
                elif table is not None and columns and key not in columns:
                    self.problem(no, f"{sw} ({text[start:end]!r}): key {key!r} is not a column of table "
                                     f"{table.get('table_id')} (columns: {_choices(sorted(columns))})")
            elif key is not None:
                self.problem(no, f"{sw}: only amount spans carry a key, {label!r} has key {key!r}")
            placed.append((start, end))
        placed.sort()
        for (s1, e1), (s2, e2) in zip(placed, placed[1:]):
            if s2 < e1:
                self.problem(no, f"{where}: spans [{s1}, {e1}) and [{s2}, {e2}) overlap: spans must not overlap")

    # -- records -------------------------------------------------------------------------------

    def check_record(self, no: int, page: Optional[int], record: Any) -> None:
        if not isinstance(record, dict):
            self.problem(no, f"records: {record!r} must be an object")
            return
        rid = record.get("record_id")
        where = f"record {rid!r}"
        for error in sorted(_record_validator().iter_errors(record), key=lambda e: [str(x) for x in e.absolute_path])[
                :MAX_SCHEMA_ERRORS_PER_RECORD]:
            at = "/".join(str(p) for p in error.absolute_path)
            self.problem(no, f"{where} is invalid against the contract's record schema"
                             f"{f' at {at}' if at else ''}: {error.message}")
        if isinstance(rid, str):
            if rid in self.record_ids:
                self.problem(no, f"{where}: duplicate record_id (first on line {self.record_ids[rid]})")
            else:
                self.record_ids[rid] = no
        table_id = record.get("table_id")
        if isinstance(table_id, str) and self.tables is not None and table_id not in self.tables:
            self.problem(no, f"{where}: table_id {table_id!r} is not declared in the document header")
        for key in (record.get("values") or {}) if isinstance(record.get("values"), dict) else ():
            if not is_column_key(key):
                self.problem(no, f"{where}: values key {key!r} is neither a canonical column key nor "
                                 "'extra:<header>'")
        fmt = self.header.get("format") if self.header else None
        if fmt == "pdf" and page is not None and record.get("page") != page:
            self.problem(no, f"{where}: page {record.get('page')!r}: a gold record of page {page} carries page {page}")
        if fmt == "txt" and not _is_int(record.get("line")):
            self.problem(no, f"{where}: line {record.get('line')!r}: a text-input record needs its 1-based file line")
        elif fmt == "txt" and isinstance(rid, str):
            self.record_lines.append((no, rid, record["line"]))
        if record.get("type") == "budget_line" and isinstance(table_id, str):
            row = record.get("row")
            if not _is_int(row) or row < 0:
                self.problem(no, f"{where}: a budget_line carries row (its 0-based table row), got {row!r}")
            elif isinstance(rid, str):
                self.budget_rows.append((no, rid, table_id, row))
        self.records.append(record)

    def check_record_rows(self) -> None:
        """Every budget line joins to the labelled lines of its table row."""
        for no, rid, table_id, row in self.budget_rows:
            if (table_id, row) not in self.table_rows:
                self.problem(no, f"record {rid!r}: no line has table_id {table_id!r} and row {row}: "
                                 "records and lines are joined on (table_id, row)")
        for no, rid, line_no in self.record_lines:
            if line_no not in self.line_nos:
                self.problem(no, f"record {rid!r}: line {line_no} is not an annotated line: a record's line "
                                 "is the line_no of its first line")

    def check_deliberate_errors_fail(self) -> None:
        """Generated documents: exactly the listed identities are broken (by construction)."""
        if not self.header or self.header.get("origin") != "synth" or self.tables is None:
            return
        tables = [t for t in self.tables.values() if isinstance(t, dict)]
        records = [r for r in self.records if isinstance(r.get("values", {}), dict)]
        try:
            results = run_checks(tables, records)
        except (TypeError, ValueError, AttributeError) as exc:
            self.problem(1, f"accounting checks could not run over the gold records: {exc!r}")
            return
        listed = {(e.get("check"), e.get("table_id")) for e in self.header.get("deliberate_errors") or []
                  if isinstance(e, dict)}
        failed = {(r.name, r.table_id): r for r in results if not r.ok}
        for key, result in failed.items():
            if key not in listed:
                line = min((self.record_ids.get(rid, 1) for rid in result.record_ids), default=1)
                self.problem(line, f"check {result.name} fails on table {result.table_id} but is not listed in "
                                   f"deliberate_errors: {result.detail}")
        for check, table_id in listed - set(failed):
            self.problem(1, f"deliberate_errors lists {check} on table {table_id} but that check does not "
                            "fail on the gold records")


def gold_check_results(doc: AnnotatedDocument) -> list[CheckResult]:
    """The accounting checks over a document's gold records (what verification compares with
    deliberate_errors; on seeds a failure is a printed mistake or an annotation slip)."""
    return run_checks(doc.tables, doc.records)


def validate_file(path: Path) -> list[str]:
    return _FileValidator(Path(path)).run()


def validate_paths(paths: list[Path]) -> tuple[list[str], int]:
    """Problems (`file:line: reason`) over every annotation file under `paths`, and the file count."""
    problems: list[str] = []
    for p in paths:
        if not Path(p).exists():
            problems.append(f"{p}:0: no such file or folder")
    files = iter_annotation_files(paths)
    for p in paths:
        if Path(p).is_dir() and not any(f.is_relative_to(Path(p)) for f in files):
            problems.append(f"{p}:0: no annotation files (*.jsonl) in this folder")
    for f in files:
        problems.extend(validate_file(f))
    return problems, len(files)
