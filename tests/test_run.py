"""The batch runner over folders of real generated inputs.

The shipped models are not needed here: `RowProcessor` is a small, deterministic Processor
(same interface as pipeline.process.Processor) so the runner's own behaviour is what is tested:
one contract-valid line per input, crashes and hangs contained, resume without loss or
duplicates, the worker pool, records.parquet.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline import config
from pipeline.extract import CORRUPT_FILE, EMPTY_FILE, ENCRYPTED, INTERNAL_ERROR, TIMEOUT
from pipeline.model import Document, Record
from pipeline.output import RECORDS_SCHEMA, validate_contract
from pipeline.run import DOCUMENTS_FILE, RECORDS_FILE, ExtractError, discover_inputs, extract_paths, load_results

_AMOUNT = re.compile(r"^\d+\.\d{2}$")


class RowProcessor:
    """One budget_line per tab-separated line ending in an amount; file names trigger failures."""

    name, version = "row-test", "7"

    def __init__(self, model_dir: Path):
        if Path(model_dir).name == "no_models":
            raise FileNotFoundError(f"no models in {model_dir}")

    def process(self, doc: Document) -> Document:
        doc.model_name, doc.model_version = self.name, self.version
        stem = Path(doc.source).stem
        if stem.startswith("crash"):
            raise ZeroDivisionError("division by zero in a test stage")
        if stem.startswith("slow"):
            time.sleep(30)  # interrupted by the soft time limit
        if stem.startswith("stuck"):
            _ignore_interrupts_for(20)  # only a hard kill ends this
        if stem.startswith("die"):
            os._exit(3)  # a native crash takes the whole worker process down
        if stem.startswith("badout"):  # a record the contract rejects
            doc.records.append(Record(record_id="x", type="budget_line", table_id=None, confidence=1.5,
                                      fields={"subject_code": "21O", "subject_name": "x", "values": {}}))
        for line in doc.iter_lines():
            cells = line.cells
            if len(cells) >= 2 and _AMOUNT.match(cells[-1]):
                doc.records.append(Record(
                    record_id=f"r{len(doc.records) + 1}", type="budget_line", table_id=None, confidence=0.9,
                    page=line.page, line=line.line_no,
                    fields={"subject_code": None, "subject_name": cells[-2] or None,
                            "values": {"amount": float(cells[-1]), "extra:备注": None}}))
        return doc


def _ignore_interrupts_for(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except BaseException:  # the alarm's exception is swallowed on purpose
            pass


def _run(paths: list[Path], out: Path, **kwargs) -> object:
    kwargs.setdefault("progress", False)
    return extract_paths(paths, out, model="models", processor_factory=RowProcessor, **kwargs)


def _jsonl_ids(out: Path) -> list[str]:
    return [json.loads(line)["doc_id"] for line in (out / DOCUMENTS_FILE).read_text(encoding="utf-8").splitlines()]


def _by_name(out: Path) -> dict[str, dict]:
    return {Path(d["source"]).name: d for d in load_results(out)}


@pytest.fixture()
def batch(tmp_path: Path, input_files: dict[str, Path]) -> Path:
    """A folder tree mixing good and bad disclosures (and a file extract must not pick up)."""
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    for name in ("pdf_two_pages", "pdf_truncated", "pdf_encrypted", "empty_txt", "html_table"):
        shutil.copy(input_files[name], folder / input_files[name].name)
    shutil.copy(input_files["docx_table"], folder / "sub" / "budget.docx")
    shutil.copy(input_files["xlsx_unsupported"], folder / "sub" / "ignored.xlsx")
    shutil.copy(config.SEEDS_DIR / "001_f49da458a1f6b9c9.txt", folder / "sub" / "seed_001.txt")
    (folder / "sub" / "~$budget.docx").write_bytes(b"lock")  # Word's lock file: not an input
    return folder


EXPECTED_BATCH = {
    "budget_two_pages.pdf": ("ok", []),
    "truncated.pdf": ("failed", [CORRUPT_FILE]),
    "encrypted.pdf": ("failed", [ENCRYPTED]),
    "empty.txt": ("failed", [EMPTY_FILE]),
    "budget.html": ("ok", []),
    "budget.docx": ("ok", []),
    "seed_001.txt": ("ok", []),
}


def test_discovery_is_recursive_sorted_and_keeps_explicit_files(batch: Path, input_files):
    found, missing = discover_inputs([batch, input_files["xlsx_unsupported"], batch / "nope.pdf", batch])
    relative = [p.relative_to(batch).as_posix() if batch in p.parents else p.name for p in found]
    assert relative == ["budget.html", "budget_two_pages.pdf", "empty.txt", "encrypted.pdf", "sub/budget.docx",
                        "sub/seed_001.txt", "truncated.pdf", "budget.xlsx"]
    assert missing == [str(batch / "nope.pdf")]


def test_a_folder_of_good_and_bad_files_gives_one_valid_document_each(batch: Path, tmp_path: Path):
    out = tmp_path / "out"
    summary = _run([batch], out)
    docs = _by_name(out)
    assert {name: (d["status"], [e["code"] for e in d["errors"]]) for name, d in docs.items()} == EXPECTED_BATCH
    for doc in docs.values():
        assert validate_contract(doc) == []
        assert doc["model"] == {"name": "row-test", "version": "7"}  # failed ones too
    assert (summary.status["ok"], summary.status["failed"], summary.documents) == (4, 3, 7)
    assert summary.records == sum(len(d["records"]) for d in docs.values()) > 100
    assert summary.pages == sum(d["pages"] for d in docs.values())
    text = summary.render()
    assert "7 document(s)" in text and "4 ok, 0 partial, 3 failed" in text and "corrupt_file 1" in text
    table = pq.read_table(out / RECORDS_FILE)
    assert table.schema == RECORDS_SCHEMA and table.num_rows == summary.records == summary.parquet_rows


def test_records_parquet_rows_keep_values_and_locators(batch: Path, tmp_path: Path):
    out = tmp_path / "out"
    _run([batch / "sub" / "seed_001.txt", batch / "budget_two_pages.pdf"], out)
    rows = pq.read_table(out / RECORDS_FILE).to_pylist()
    seed_lines = (config.SEEDS_DIR / "001_f49da458a1f6b9c9.txt").read_text(encoding="utf-8").split("\n")
    line_no = seed_lines.index("12\t\t\t十二、城乡社区支出\t20.00") + 1
    seed_row = next(r for r in rows if r["source"].endswith("seed_001.txt") and r["line"] == line_no)
    assert seed_row["subject_name"] == "十二、城乡社区支出" and seed_row["type"] == "budget_line"
    assert dict(seed_row["values"]) == {"amount": 20.0, "extra:备注": None}
    assert seed_row["page"] == 1 and seed_row["doc_id"] == _by_name(out)["seed_001.txt"]["doc_id"]
    assert seed_row["checks_failed"] == [] and seed_row["checks_total"] == 0
    pdf_rows = [r for r in rows if r["source"].endswith(".pdf")]
    assert pdf_rows == []  # the PDF has no tab-separated rows: no records, no parquet rows


def test_a_crash_in_processing_fails_that_document_only(input_files, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(input_files["txt_gb18030"], folder / "crash_me.txt")
    shutil.copy(input_files["html_table"], folder / "fine.html")
    summary = _run([folder], tmp_path / "out")
    docs = _by_name(tmp_path / "out")
    crashed = docs["crash_me.txt"]
    assert (crashed["status"], crashed["errors"][0]["code"]) == ("failed", INTERNAL_ERROR)
    assert "ZeroDivisionError: division by zero in a test stage" in crashed["errors"][0]["message"]
    assert crashed["records"] == [] and validate_contract(crashed) == []
    assert docs["fine.html"]["status"] == "ok" and summary.documents == 2


def test_an_interrupted_run_resumes_without_losing_or_duplicating(batch: Path, tmp_path: Path):
    full_out, out = tmp_path / "full", tmp_path / "out"
    _run([batch], full_out)
    lines = (full_out / DOCUMENTS_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    out.mkdir()
    # a crash after two documents, in the middle of writing the third
    (out / DOCUMENTS_FILE).write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2], encoding="utf-8")
    summary = _run([batch], out)
    assert summary.skipped == 2 and summary.documents == len(lines) - 2
    ids = _jsonl_ids(out)
    assert sorted(ids) == sorted(_jsonl_ids(full_out)) and len(set(ids)) == len(ids) == 7
    assert all(validate_contract(d) == [] for d in load_results(out))

    again = _run([batch], out)
    assert (again.skipped, again.documents) == (7, 0) and len(_jsonl_ids(out)) == 7
    assert pq.read_table(out / RECORDS_FILE).num_rows == sum(len(d["records"]) for d in load_results(out))


def test_force_redoes_the_given_inputs_and_keeps_the_others(batch: Path, tmp_path: Path, input_files):
    out = tmp_path / "out"
    _run([batch], out)
    _run([input_files["txt_gb18030"]], out)
    redone = _run([batch], out, force=True)
    assert (redone.skipped, redone.documents) == (0, 7)
    ids = _jsonl_ids(out)
    assert len(ids) == len(set(ids)) == 8
    assert "gbk.txt" in _by_name(out)


def test_identical_files_are_extracted_once(input_files, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(input_files["html_table"], folder / "a.html")
    shutil.copy(input_files["html_table"], folder / "b.html")
    summary = _run([folder], tmp_path / "out")
    assert (summary.documents, summary.duplicates) == (1, 1)
    assert [Path(d["source"]).name for d in load_results(tmp_path / "out")] == ["a.html"]
    assert "1 duplicate input" in summary.render()


def test_time_limit_in_process(input_files, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(input_files["txt_gb18030"], folder / "slow.txt")
    shutil.copy(input_files["html_table"], folder / "fine.html")
    started = time.monotonic()
    _run([folder], tmp_path / "out", timeout_s=0.5)
    assert time.monotonic() - started < 10
    docs = _by_name(tmp_path / "out")
    assert [e["code"] for e in docs["slow.txt"]["errors"]] == [TIMEOUT] and docs["fine.html"]["status"] == "ok"
    assert "--timeout" in docs["slow.txt"]["errors"][0]["message"]


def test_worker_pool_matches_serial_and_replaces_hung_and_dead_workers(batch: Path, input_files, tmp_path: Path):
    shutil.copy(input_files["txt_form_feeds"], batch / "crash.txt")
    serial_out, pool_out = tmp_path / "serial", tmp_path / "pool"
    _run([batch], serial_out, timeout_s=1.0)
    shutil.copy(input_files["txt_gb18030"], batch / "stuck.txt")  # ignores the soft limit: killed
    shutil.copy(input_files["txt_not_disclosure"], batch / "die.md")  # kills its worker
    started = time.monotonic()
    pooled = _run([batch], pool_out, workers=2, timeout_s=1.0)
    assert time.monotonic() - started < 25
    pool_docs, serial_docs = _by_name(pool_out), _by_name(serial_out)
    stuck = pool_docs.pop("stuck.txt")
    assert [e["code"] for e in stuck["errors"]] == [TIMEOUT] and stuck["model"]["name"] == "row-test"
    assert [e["code"] for e in pool_docs["crash.txt"]["errors"]] == [INTERNAL_ERROR]
    died = pool_docs.pop("die.md")
    assert [e["code"] for e in died["errors"]] == [INTERNAL_ERROR] and "exit code 3" in died["errors"][0]["message"]
    assert pooled.documents == 10 and len(set(_jsonl_ids(pool_out))) == 10

    def outcome(docs: dict[str, dict]) -> dict[str, tuple]:
        return {n: (d["status"], [e["code"] for e in d["errors"]], d["records"]) for n, d in docs.items()}

    assert outcome(pool_docs) == outcome(serial_docs)
    assert all(validate_contract(d) == [] for d in pool_docs.values())


def test_models_that_cannot_load_stop_the_run_with_a_clear_error(input_files, tmp_path: Path):
    with pytest.raises(ExtractError, match="could not load the models"):
        extract_paths([input_files["html_table"]], tmp_path / "out", model=str(tmp_path / "no_models"),
                      processor_factory=RowProcessor, progress=False)
    assert not (tmp_path / "out" / DOCUMENTS_FILE).exists() or load_results(tmp_path / "out") == []


def test_missing_paths_are_reported_in_the_summary(input_files, tmp_path: Path):
    summary = _run([input_files["html_table"], tmp_path / "absent.pdf"], tmp_path / "out")
    assert summary.documents == 1 and summary.missing == [str(tmp_path / "absent.pdf")]
    assert "not found: " in summary.render()


def test_output_that_breaks_the_contract_is_replaced_by_a_failed_document(input_files, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(input_files["html_table"], folder / "badout.html")
    _run([folder], tmp_path / "out")
    (doc,) = load_results(tmp_path / "out")
    assert (doc["status"], [e["code"] for e in doc["errors"]], doc["records"]) == ("failed", [INTERNAL_ERROR], [])
    message = doc["errors"][0]["message"]
    assert "broke the contract (2 problem(s)" in message and "records/0/subject_code" in message
    assert validate_contract(doc) == []


def test_validate_contract_names_each_problem(input_files):
    from pipeline.extract import load_document

    contract = load_document(input_files["html_table"]).to_contract()
    assert validate_contract(contract) == []
    contract["format"] = "xls"
    del contract["unit"]
    contract["records"] = [{"record_id": "r1", "type": "fact", "table_id": None, "confidence": 0.5, "checks": []}]
    problems = validate_contract(contract)
    assert problems[0] == "(document): 'unit' is a required property"
    assert "format: 'xls' is not one of" in problems[1]
    assert any(p.startswith("records/0: 'subject' is a required property") for p in problems)


SHIPPED_MODELS = config.MODELS_DIR / "manifest.json"


@pytest.mark.skipif(not SHIPPED_MODELS.exists(), reason="shipped models not built (python -m training.build_models)")
def test_cli_extract_with_the_shipped_models(batch: Path, tmp_path: Path, capsys):
    from pipeline.cli import main

    out = tmp_path / "out"
    assert main(["extract", str(batch), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    docs = _by_name(out)
    manifest = json.loads(SHIPPED_MODELS.read_text(encoding="utf-8"))
    assert set(docs) == set(EXPECTED_BATCH)
    for name, doc in docs.items():
        assert validate_contract(doc) == [], name
        assert doc["model"]["name"] == manifest.get("name", "budgetdoc-default")
        assert doc["status"] != "failed" or EXPECTED_BATCH[name][0] == "failed"
    seed = docs["seed_001.txt"]
    assert any(r["type"] == "budget_line" and r["line"] for r in seed["records"])
    assert seed["fiscal_year"] == 2020
    total = sum(len(d["records"]) for d in docs.values())
    assert f"records {total}" in printed and "7 document(s)" in printed
    assert pq.read_table(out / RECORDS_FILE).num_rows == total


def test_workers_default_to_all_cores_locally_and_to_the_cluster_on_ray():
    import os

    from pipeline.cli import build_parser, resolve_workers

    args = build_parser().parse_args(["extract", "x.pdf", "--out", "out"])
    assert args.workers is None
    assert resolve_workers(args.workers, "local") == (os.cpu_count() or 1)
    assert resolve_workers(0, "local") == (os.cpu_count() or 1)
    assert resolve_workers(3, "local") == 3
    assert resolve_workers(None, "ray") == 0 and resolve_workers(4, "ray") == 4


def test_a_text_about_budgets_that_names_no_department_or_year_is_flagged(tmp_path: Path):
    """Seen in a newcomer check: the project's own README (budget words, tables of figures) came out
    "ok" with 57 indicator records. No department and no year anywhere: not a disclosure."""
    from pipeline.extract import NOT_A_DISCLOSURE, load_document
    from pipeline.process import Processor

    readme = tmp_path / "notes.md"
    readme.write_text((config.REPO_ROOT / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    processor = Processor(config.MODELS_DIR)
    doc = processor.process(load_document(readme))
    assert doc.status == "partial" and [e.code for e in doc.errors] == [NOT_A_DISCLOSURE]
    seed = processor.process(load_document(sorted(config.SEEDS_DIR.glob("001_*.txt"))[0]))
    assert seed.status == "ok" and seed.department.name and seed.fiscal_year == 2020
