"""Views of documents.jsonl: records.parquet, and contract validation of one output object.

records.parquet has one row per record. Document context (doc_id, source, department, year,
unit) and table context (kind, title) are repeated on each row so the file is usable alone.
Amounts are one `values` column of type map<string, double> (canonical column key -> amount,
null when printed but unreadable): the keys differ per table kind and `extra:<header>` keys are
open-ended, so one column per key would give a different, sparse schema per run. In DuckDB:
`values['total']`; in pandas the column holds lists of (key, value) pairs (`dict(row.values)`).
`target_parsed` is flattened into target_op / target_value / target_unit / target_text;
`checks_failed` lists the names of the record's failed checks, `checks_total` counts them all.
"""
from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import config

_BATCH_ROWS = 5000

_STRING_FIELDS = ("side", "subject_code", "subject_name", "classification", "project", "project_code",
                  "level1", "level2", "level3", "description", "target", "basis", "name", "code",
                  "implementing_unit", "goal", "subject", "unit", "text")
_NUMBER_FIELDS = ("weight", "score", "amount", "value")
_AMOUNTS = pa.map_(pa.string(), pa.float64())

RECORDS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("source", pa.string()),
        ("doc_status", pa.string()),
        ("department", pa.string()),
        ("fiscal_year", pa.int32()),
        ("doc_kind", pa.string()),
        ("doc_unit", pa.string()),
        ("record_id", pa.string()),
        ("type", pa.string()),
        ("table_id", pa.string()),
        ("table_kind", pa.string()),
        ("table_title", pa.string()),
        ("page", pa.int32()),
        ("line", pa.int32()),
        ("bbox", pa.list_(pa.float64())),
        ("confidence", pa.float64()),
        ("row_no", pa.int32()),
        ("values", _AMOUNTS),
        ("target_op", pa.string()),
        ("target_value", pa.float64()),
        ("target_unit", pa.string()),
        ("target_text", pa.string()),
    ]
    + [(name, pa.string()) for name in _STRING_FIELDS]
    + [(name, pa.float64()) for name in _NUMBER_FIELDS]
    + [
        ("field_confidence", _AMOUNTS),
        ("checks_failed", pa.list_(pa.string())),
        ("checks_total", pa.int32()),
    ]
)


# ---------------------------------------------------------------------------------------------
# Contract validation
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _contract_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(Path(config.CONTRACT_SCHEMA).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_contract(doc_dict: dict[str, Any]) -> list[str]:
    """Problems of one output object against the contract schema ("path: message"); [] = valid."""
    errors = sorted(_contract_validator().iter_errors(doc_dict), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(document)'}: {e.message}" for e in errors]


# ---------------------------------------------------------------------------------------------
# records.parquet
# ---------------------------------------------------------------------------------------------


def iter_documents(documents_jsonl: Path) -> Iterator[dict[str, Any]]:
    """Documents of a documents.jsonl, skipping blank and unreadable lines (a crash's torn tail)."""
    with open(documents_jsonl, encoding="utf-8") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("doc_id"), str):
                yield doc


def record_rows(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One flat row per record of one contract document."""
    tables = {t.get("table_id"): t for t in doc.get("tables", [])}
    base = {
        "doc_id": doc["doc_id"],
        "source": doc.get("source"),
        "doc_status": doc.get("status"),
        "department": (doc.get("department") or {}).get("name"),
        "fiscal_year": doc.get("fiscal_year"),
        "doc_kind": doc.get("doc_kind"),
        "doc_unit": doc.get("unit"),
    }
    for record in doc.get("records", []):
        table = tables.get(record.get("table_id")) or {}
        target = record.get("target_parsed") or {}
        checks = record.get("checks") or []
        row = dict(base)
        row.update(
            record_id=record.get("record_id"),
            type=record.get("type"),
            table_id=record.get("table_id"),
            table_kind=table.get("kind"),
            table_title=table.get("title"),
            page=record.get("page"),
            line=record.get("line"),
            bbox=record.get("bbox"),
            confidence=record.get("confidence"),
            row_no=record.get("row_no"),
            values=_pairs(record.get("values")),
            target_op=target.get("op"),
            target_value=target.get("value"),
            target_unit=target.get("unit"),
            target_text=target.get("text"),
            field_confidence=_pairs(record.get("field_confidence")),
            checks_failed=[c.get("name") for c in checks if not c.get("ok", True)],
            checks_total=len(checks),
        )
        for name in _STRING_FIELDS + _NUMBER_FIELDS:
            row[name] = record.get(name)
        yield row


def _pairs(mapping: Optional[dict[str, Any]]) -> Optional[list[tuple[str, Optional[float]]]]:
    if mapping is None:
        return None
    return [(key, None if value is None else float(value)) for key, value in mapping.items()]


def feed_documents(writer: "RecordsWriter", documents_jsonl: Path) -> "RecordsWriter":
    """Every document of documents.jsonl added to writer (aborted, nothing left behind, on error)."""
    try:
        for doc in iter_documents(Path(documents_jsonl)):
            writer.add(doc)
    except BaseException:
        writer.abort()
        raise
    return writer


def write_records_parquet(documents_jsonl: Path, out_path: Path) -> int:
    """Write every record of documents.jsonl to out_path (atomically); returns the row count."""
    return feed_documents(RecordsWriter(parquet_path=out_path), documents_jsonl).close()


def records_table(rows: list[dict[str, Any]]) -> pa.Table:
    """record_rows' rows as a table of RECORDS_SCHEMA (column by column: faster than from_pylist)."""
    columns = {name: [row[name] for row in rows] for name in RECORDS_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=RECORDS_SCHEMA)


class RecordsWriter:
    """records.parquet and/or its parts folder (part-NNNNN.parquet) from contract documents, in one
    pass as the documents come: each batch of rows becomes a table once and goes to both.

    Rows are written in batches of `batch_rows` (memory stays flat however large the run); a part
    is closed only between documents, after `rows_per_part` rows. Both are built beside their
    final names and swapped in by `close`, so readers never see a half-written file or set of
    parts; `abort` removes what was built.
    """

    def __init__(self, parquet_path: Optional[Path] = None, parts_dir: Optional[Path] = None,
                 rows_per_part: int = 100_000, batch_rows: int = _BATCH_ROWS):
        self.rows_per_part, self.batch_rows = rows_per_part, batch_rows
        self.rows = 0  # records added
        self._pending: list[dict[str, Any]] = []  # rows one of the outputs has not written yet
        self._file_from = self._part_from = 0  # each output's first unwritten row in _pending
        self._converted: Optional[tuple[tuple[int, int], pa.Table]] = None  # the last batch's table
        self._parquet_path = Path(parquet_path) if parquet_path is not None else None
        self._file: Optional[pq.ParquetWriter] = None
        self._file_rows = 0
        if self._parquet_path is not None:
            self._file = pq.ParquetWriter(_partial(self._parquet_path), RECORDS_SCHEMA)
        self._parts_dir = Path(parts_dir) if parts_dir is not None else None
        self._part: Optional[pq.ParquetWriter] = None
        self._parts = self._part_rows = 0
        if self._parts_dir is not None:
            shutil.rmtree(_partial(self._parts_dir), ignore_errors=True)
            _partial(self._parts_dir).mkdir(parents=True)

    def add(self, doc: dict[str, Any]) -> None:
        """Queue the records of one contract document (written batch by batch)."""
        parts = self._parts_dir is not None
        if parts and self._part is None:
            self._part = self._open_part()
        for row in record_rows(doc):
            self._pending.append(row)
            self.rows += 1
            self._part_rows += 1
            if self._file is not None and len(self._pending) - self._file_from >= self.batch_rows:
                self._write_file_batch()
            if parts and len(self._pending) - self._part_from >= self.batch_rows:
                self._write_part_batch()
        if parts and self._part_rows >= self.rows_per_part:
            self._close_part()
        self._drop_written()

    def close(self) -> int:
        """Write what is left, swap the outputs in; returns the row count of the records."""
        if self._file is not None:
            if len(self._pending) > self._file_from or self._file_rows == 0:
                self._write_file_batch()
            self._file.close()
            os.replace(_partial(self._parquet_path), self._parquet_path)
        if self._parts_dir is not None:
            if self._part is None and self._parts == 0:  # no records at all: one empty part holds the schema
                self._part = self._open_part()
            if self._part is not None:
                self._close_part()
            _swap_in(_partial(self._parts_dir), self._parts_dir)
        return self.rows

    def abort(self) -> None:
        """Remove the partial outputs (the final ones are left as they were)."""
        for writer in (self._file, self._part):
            if writer is not None:
                writer.close()
        if self._parquet_path is not None:
            _partial(self._parquet_path).unlink(missing_ok=True)
        if self._parts_dir is not None:
            shutil.rmtree(_partial(self._parts_dir), ignore_errors=True)

    @property
    def parts(self) -> int:
        """Part files written (complete after close)."""
        return self._parts

    # ------------------------------------------------------------------ batches

    def _table(self, start: int, end: int) -> pa.Table:
        """The table of _pending[start:end]: converted once when both outputs write the same batch."""
        if self._converted is None or self._converted[0] != (start, end):
            self._converted = ((start, end), records_table(self._pending[start:end]))
        return self._converted[1]

    def _write_file_batch(self) -> None:
        table = self._table(self._file_from, len(self._pending))
        self._file.write_table(table)
        self._file_rows += table.num_rows
        self._file_from = len(self._pending)

    def _write_part_batch(self) -> None:
        table = self._table(self._part_from, len(self._pending))
        self._part.write_table(table)
        self._part_from = len(self._pending)

    def _open_part(self) -> pq.ParquetWriter:
        return pq.ParquetWriter(_partial(self._parts_dir) / f"part-{self._parts:05d}.parquet", RECORDS_SCHEMA)

    def _close_part(self) -> None:
        self._write_part_batch()
        self._part.close()
        self._part, self._parts, self._part_rows = None, self._parts + 1, 0

    def _drop_written(self) -> None:
        """Forget the rows every output has written."""
        done = min(self._file_from if self._file is not None else len(self._pending),
                   self._part_from if self._parts_dir is not None else len(self._pending))
        if done:
            del self._pending[:done]
            self._file_from -= done
            self._part_from -= done
            self._converted = None


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _swap_in(built: Path, final: Path) -> None:
    """Replace the folder `final` by `built` (the old one moved aside first, then removed)."""
    retired = final.with_name(final.name + ".old")
    shutil.rmtree(retired, ignore_errors=True)
    if final.exists():
        os.replace(final, retired)
    os.replace(built, final)
    shutil.rmtree(retired, ignore_errors=True)
