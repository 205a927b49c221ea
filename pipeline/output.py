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


def write_records_parquet(documents_jsonl: Path, out_path: Path) -> int:
    """Write every record of documents.jsonl to out_path (atomically); returns the row count."""
    out_path = Path(out_path)
    partial_path = out_path.with_name(out_path.name + ".partial")
    rows_written = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(partial_path, RECORDS_SCHEMA) as writer:
        for doc in iter_documents(Path(documents_jsonl)):
            for row in record_rows(doc):
                batch.append(row)
                if len(batch) >= _BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=RECORDS_SCHEMA))
                    rows_written += len(batch)
                    batch = []
        if batch or rows_written == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=RECORDS_SCHEMA))
            rows_written += len(batch)
    os.replace(partial_path, out_path)
    return rows_written
