"""Annotation loading and `budgetdoc annotations validate` on a small real-seed annotation and
on one malformed variant per kind of problem."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Optional

import pymupdf
import pytest

from pipeline import cli, config
from pipeline.pdf_lines import page_lines
from training.annotations import (
    AnnotationError,
    gold_check_results,
    iter_annotation_files,
    load_annotation,
    load_corpus,
    validate_paths,
)

SEED = "seeds/001_f49da458a1f6b9c9.txt"
KEYS = ["total", "basic", "project"]
FIRST_ROW, LAST_ROW = 283, 289  # seed 001 部门预算政府基金预算财政拨款支出表: 合计 and six coded rows


def _seed_line(line_no: int) -> str:
    return (config.SHARED_DIR / SEED).read_text(encoding="utf-8").split("\n")[line_no - 1]


def _cell_spans(text: str, labels: list[Optional[tuple[str, Optional[str]]]]) -> list[dict[str, Any]]:
    """One span per non-empty tab cell, labelled in order (None: leave the cell unlabelled)."""
    spans, pos = [], 0
    cells = text.split("\t")
    for cell, label in zip(cells, labels + [None] * len(cells)):
        if cell and label:
            span = {"start": pos, "end": pos + len(cell), "label": label[0]}
            if label[1]:
                span["key"] = label[1]
            spans.append(span)
        pos += len(cell) + 1
    return spans


def _row_line(line_no: int) -> dict[str, Any]:
    text = _seed_line(line_no)
    labels = [("row_no", None), ("subject_code", None), ("subject_name", None)] + [("amount", k) for k in KEYS]
    return {"id": f"p1-{line_no:04d}", "text": text, "bbox": None, "line_no": line_no, "label": "subject_row",
            "table_id": "t07", "row": line_no - FIRST_ROW, "spans": _cell_spans(text, labels)}


def _record(line_no: int) -> dict[str, Any]:
    cells = _seed_line(line_no).split("\t")
    row = line_no - FIRST_ROW
    return {"record_id": f"t07-r{row}", "type": "budget_line", "table_id": "t07", "line": line_no, "row": row,
            "confidence": 1.0, "checks": [], "side": None, "row_no": int(cells[0]),
            "subject_code": cells[1] or None, "subject_name": cells[2],
            "classification": "functional" if cells[1] else None,
            "values": {k: float(v) for k, v in zip(KEYS, cells[3:])}}


def valid_document() -> list[dict[str, Any]]:
    """Seed 001's 政府性基金 table: title, unit line, three header lines and its seven rows."""
    sha = hashlib.sha256((config.SHARED_DIR / SEED).read_bytes()).hexdigest()
    header = {
        "record": "document", "format_version": 1, "doc_name": "seed_001_yuanshi_2020", "source": SEED,
        "source_sha256": sha, "format": "txt", "origin": "seed", "template": "seed_tabbed_hebei", "split": "seed",
        "department": {"name": "元氏县医疗保障局", "code": "473"}, "fiscal_year": 2020, "unit": "万元",
        "doc_kind": "budget",
        "tables": [{"table_id": "t07", "kind": "government_fund_expenditure",
                    "title": "部门预算政府基金预算财政拨款支出表", "pages": [1],
                    "columns": [{"key": k, "header": h} for k, h in zip(KEYS, ["合计", "基本支出", "项目支出"])],
                    "empty": False}],
        "deliberate_errors": [],
    }
    title = _seed_line(272)
    lines = [
        {"id": "p1-0272", "text": title, "bbox": None, "line_no": 272, "label": "table_title", "table_id": "t07",
         "row": None, "spans": [{"start": 0, "end": len(title), "label": "table_title"}]},
        {"id": "p1-0278", "text": _seed_line(278), "bbox": None, "line_no": 278, "label": "page_furniture",
         "table_id": None, "row": None, "spans": [{"start": 5, "end": 7, "label": "unit"}]},
    ] + [{"id": f"p1-{n:04d}", "text": _seed_line(n), "bbox": None, "line_no": n, "label": "table_header",
          "table_id": "t07", "row": None, "spans": []} for n in (280, 281, 282)] + [
        _row_line(n) for n in range(FIRST_ROW, LAST_ROW + 1)]
    page = {"record": "page", "page": 1, "width": None, "height": None, "lines": lines,
            "records": [_record(n) for n in range(FIRST_ROW, LAST_ROW + 1)]}
    return [header, page]


def write(tmp_path: Path, objs: list[Any], name: str = "doc.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs) + "\n",
                    encoding="utf-8")
    return path


def problems_of(tmp_path: Path, mutate: Callable[[list[Any]], None]) -> tuple[Path, list[str]]:
    objs = valid_document()
    mutate(objs)
    path = write(tmp_path, objs)
    problems, n_files = validate_paths([path])
    assert n_files == 1
    return path, problems


def _line(objs: list[Any], lid: str) -> dict[str, Any]:
    return next(ln for ln in objs[1]["lines"] if ln["id"] == lid)


# --------------------------------------------------------------------------------------------


def test_valid_document_passes_and_loads(tmp_path):
    path = write(tmp_path, valid_document())
    assert validate_paths([path]) == ([], 1)
    doc = load_annotation(path)
    assert doc.origin == "seed" and doc.split == "seed" and doc.unit == "万元"
    assert [t["table_id"] for t in doc.tables] == ["t07"]
    assert len(doc.pages) == 1 and len(doc.pages[0].lines) == 12 and len(doc.records) == 7
    row = doc.pages[0].lines[5]
    assert row.label == "subject_row" and row.line_no == 283 and row.row == 0
    assert [s.key for s in row.spans if s.label == "amount"] == KEYS
    assert row.text[row.spans[1].start:row.spans[1].end] == "合计"
    model_line = doc.to_model_pages()[0].lines[5]
    assert model_line.label == "subject_row" and model_line.spans[2].key == "total"
    assert model_line.cells[3] == "157.00"


def test_iter_annotation_files_recurses_and_load_corpus_reads_them(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a", valid_document(), "one.jsonl")
    write(tmp_path / "a" / "b", valid_document(), "two.jsonl")
    (tmp_path / "a" / "notes.txt").write_text("not an annotation", encoding="utf-8")
    files = iter_annotation_files([tmp_path / "a", tmp_path / "a" / "one.jsonl"])
    assert [f.name for f in files] == ["two.jsonl", "one.jsonl"]  # sorted by path: a/b/… before a/one…
    assert [d.doc_name for d in load_corpus([tmp_path])] == ["seed_001_yuanshi_2020"] * 2


def test_bad_json_is_reported_with_its_line(tmp_path):
    objs = valid_document()
    path = write(tmp_path, [objs[0], '{"record": "page", "page": 1, "lines": [}'])
    problems, _ = validate_paths([path])
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: invalid JSON")
    with pytest.raises(AnnotationError, match=r"doc\.jsonl:2: invalid JSON"):
        load_annotation(path)


def test_missing_header_is_reported_on_line_1(tmp_path):
    path = write(tmp_path, [valid_document()[1]])
    problems, _ = validate_paths([path])
    assert problems[0] == (f"{path}:1: line 1 must be the document header with \"record\": \"document\", "
                           "got 'page'")
    with pytest.raises(AnnotationError, match="doc.jsonl:1: expected the document header"):
        load_annotation(path)


def test_header_fields_and_values_are_checked(tmp_path):
    def mutate(objs):
        del objs[0]["template"]
        objs[0]["split"] = "validation"
        objs[0]["origin"] = "scraped"
        objs[0]["tables"][0]["kind"] = "revenue"

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:1: document header lacks required field(s): template" in problems
    assert f"{path}:1: split 'validation' is not one of: train, test_doc, test_template, seed" in problems
    assert any(p.startswith(f"{path}:1: origin 'scraped' is not one of: seed, synth") for p in problems)
    assert any(p.startswith(f"{path}:1: table t07: kind 'revenue' is not one of: revenue_expenditure_summary")
               for p in problems)


def test_unknown_section_and_span_labels(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0272")["label"] = "title"
        _line(objs, "p1-0283")["spans"][0]["label"] = "serial"

    path, problems = problems_of(tmp_path, mutate)
    assert any(p.startswith(f"{path}:2: line 'p1-0272': unknown label 'title', expected one of: table_title")
               for p in problems)
    assert any(p.startswith(f"{path}:2: line 'p1-0283' span 0: unknown label 'serial'") for p in problems)


def test_span_out_of_range(tmp_path):
    def mutate(objs):
        line = _line(objs, "p1-0272")
        line["spans"][0]["end"] = len(line["text"]) + 3

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: line 'p1-0272' span 0 [0, 20) is outside the text: expected "
                        "0 <= start < end <= 17 (the text's length)"]


def test_empty_span_is_rejected(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0272")["spans"][0]["end"] = 0

    _, problems = problems_of(tmp_path, mutate)
    assert len(problems) == 1 and "[0, 0) is outside the text" in problems[0]


def test_overlapping_spans(tmp_path):
    def mutate(objs):
        spans = _line(objs, "p1-0284")["spans"]
        spans[2]["start"] -= 2  # subject_name reaches back into subject_code "208"

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: line 'p1-0284': spans [2, 5) and [4, 12) overlap: spans must not overlap"]


def test_amount_without_key_and_key_on_non_amount(tmp_path):
    def mutate(objs):
        line = _line(objs, "p1-0284")
        del line["spans"][3]["key"]
        line["spans"][1]["key"] = "total"

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: line 'p1-0284' span 3 ('20.00'): amount span needs key: a canonical column key or " \
           "'extra:<header>', got None" in problems
    assert f"{path}:2: line 'p1-0284' span 1: only amount spans carry a key, 'subject_code' has key 'total'" \
           in problems


def test_bad_column_keys(tmp_path):
    def mutate(objs):
        objs[0]["tables"][0]["columns"][1]["key"] = "fiscal"
        _line(objs, "p1-0284")["spans"][4]["key"] = "extra:"
        objs[1]["records"][1]["values"]["财政拨款收入"] = 20.0

    path, problems = problems_of(tmp_path, mutate)
    assert any(p.startswith(f"{path}:1: table t07: column key 'fiscal' (header '基本支出') is neither a "
                            "canonical key") for p in problems)
    assert any(p.startswith(f"{path}:2: line 'p1-0284' span 4 ('0.00'): amount span needs key") for p in problems)
    assert any(p.startswith(f"{path}:2: record 't07-r1': values key '财政拨款收入' is neither") for p in problems)


def test_amount_key_must_be_a_column_of_its_table(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0284")["spans"][3]["key"] = "personnel"

    path, problems = problems_of(tmp_path, mutate)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:2: line 'p1-0284' span 3 ('20.00'): key 'personnel' is not a column of table t07")


def test_duplicate_ids(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0285")["id"] = "p1-0284"
        objs[1]["records"][2]["record_id"] = "t07-r1"

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: line 'p1-0284': duplicate id (first used on line 2): line ids must be unique within " \
           "the document" in problems
    assert f"{path}:2: record 't07-r1': duplicate record_id (first on line 2)" in problems


def test_duplicate_line_id_across_pages_names_the_later_page(tmp_path):
    objs = valid_document()
    objs[0].update(origin="synth", split="train", source="doc_0001.txt")  # a text file with a form feed
    page2 = {"record": "page", "page": 2, "width": None, "height": None, "records": [],
             "lines": [copy.deepcopy(_line(objs, "p1-0272"))]}
    path = write(tmp_path, objs + [page2])
    problems, _ = validate_paths([path])
    assert problems == [f"{path}:3: line 'p1-0272': duplicate id (first used on line 2): line ids must be "
                        "unique within the document"]


def test_pages_must_increase_and_exist_in_the_source(tmp_path):
    objs = valid_document()
    path = write(tmp_path, objs + [{"record": "page", "page": 1, "lines": [], "records": []},
                                   {"record": "page", "page": 2, "lines": [], "records": []}])
    problems, _ = validate_paths([path])
    assert problems == [f"{path}:3: page 1 after page 1: page numbers must be unique and increasing",
                        f"{path}:4: page 2: the source text has 1 page(s) (pages of text input are separated "
                        "by form feeds)"]


def test_record_failing_the_contract_schema(tmp_path):
    def mutate(objs):
        rec = objs[1]["records"][1]
        rec["subject_code"] = "212 08"
        rec["confidence"] = 1.5
        del objs[1]["records"][2]["subject_name"]

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: record 't07-r1' is invalid against the contract's record schema at confidence: " \
           "1.5 is greater than the maximum of 1" in problems
    assert f"{path}:2: record 't07-r1' is invalid against the contract's record schema at subject_code: " \
           "'212 08' does not match '^[0-9]+$'" in problems
    assert f"{path}:2: record 't07-r2' is invalid against the contract's record schema: " \
           "'subject_name' is a required property" in problems


def test_undeclared_tables(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0285")["table_id"] = "t09"
        objs[1]["records"][0]["table_id"] = "t08"

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: line 'p1-0285': table_id 't09' is not declared in the document header" in problems
    assert f"{path}:2: record 't07-r0': table_id 't08' is not declared in the document header" in problems


def test_record_row_must_join_a_labelled_line(tmp_path):
    def mutate(objs):
        objs[1]["records"][2]["row"] = 7

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: record 't07-r2': no line has table_id 't07' and row 7: records and lines "
                        "are joined on (table_id, row)"]


def test_position_fields_per_format(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0272")["line_no"] = None
        _line(objs, "p1-0278")["bbox"] = [0, 0, 10, 10]

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: line 'p1-0272': line_no None: a text-input line needs its 1-based file line" in problems
    assert f"{path}:2: line 'p1-0278': bbox must be null for text input, got [0, 0, 10, 10]" in problems


def test_pdf_lines_need_a_bbox(tmp_path):
    def mutate(objs):
        objs[0].update(format="pdf", origin="synth", split="train", source="doc_0001.pdf")
        for line in objs[1]["lines"]:
            line["line_no"], line["bbox"] = None, [50.0, 60.0, 200.0, 72.5]
        for rec in objs[1]["records"]:
            rec["line"], rec["page"] = None, 1
        objs[1]["lines"][0]["bbox"] = [50.0, 60.0, 200.0]

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: line 'p1-0272': bbox [50.0, 60.0, 200.0]: a PDF line needs [x0, y0, x1, y1] "
                        "(4 numbers)"]


def test_seed_text_must_match_the_source_line(tmp_path):
    def mutate(objs):
        _line(objs, "p1-0272")["line_no"] = 75

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: line 'p1-0272': text differs from source line 75: expected ''",
                        ]


def test_deliberate_errors_use_known_checks_and_must_fail_on_synth_gold(tmp_path):
    def mutate(objs):
        objs[0].update(origin="synth", split="train")
        objs[0]["deliberate_errors"] = [{"check": "sum_mismatch", "table_id": "t07", "detail": "x"},
                                        {"check": "table_total", "table_id": "t07", "detail": "合计 off by 1"}]

    path, problems = problems_of(tmp_path, mutate)
    assert any(p.startswith(f"{path}:1: deliberate_errors[0]: check 'sum_mismatch' is not one of: row_total")
               for p in problems)
    assert f"{path}:1: deliberate_errors lists table_total on table t07 but that check does not fail on the " \
           "gold records" in problems


def test_synth_gold_with_an_unlisted_broken_identity(tmp_path):
    def mutate(objs):
        objs[0].update(origin="synth", split="train")
        objs[1]["records"][2]["values"]["total"] = 21.00  # 20.00 printed

    path, problems = problems_of(tmp_path, mutate)
    assert any(p.startswith(f"{path}:2: check row_total fails on table t07 but is not listed in "
                            "deliberate_errors") for p in problems)


def test_missing_path_and_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    problems, n = validate_paths([tmp_path / "nope.jsonl", tmp_path / "empty"])
    assert n == 0
    assert problems == [f"{tmp_path / 'nope.jsonl'}:0: no such file or folder",
                        f"{tmp_path / 'empty'}:0: no annotation files (*.jsonl) in this folder"]


def test_cli_exit_status(tmp_path, capsys):
    good = write(tmp_path, valid_document(), "good.jsonl")
    assert cli.main(["annotations", "validate", str(good)]) == 0
    assert "1 annotation file(s) valid" in capsys.readouterr().out

    objs = valid_document()
    _line(objs, "p1-0272")["label"] = "title"
    bad = write(tmp_path, objs, "bad.jsonl")
    assert cli.main(["annotations", "validate", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{bad}:2: line 'p1-0272': unknown label 'title'")
    assert "1 problem(s) in 2 file(s)" in captured.err


def test_schema_errors_at_mixed_paths_are_all_reported(tmp_path):
    def mutate(objs):
        rec = objs[1]["records"][0]
        rec["bbox"] = [1, 2, "x", 4]
        rec["values"]["total"] = "157.00"

    path, problems = problems_of(tmp_path, mutate)
    assert f"{path}:2: record 't07-r0' is invalid against the contract's record schema at bbox/2: " \
           "'x' is not of type 'number'" in problems
    assert f"{path}:2: record 't07-r0' is invalid against the contract's record schema at values/total: " \
           "'157.00' is not of type 'number', 'null'" in problems


def test_gold_check_results_on_the_loaded_seed_table(tmp_path):
    doc = load_annotation(write(tmp_path, valid_document()))
    results = gold_check_results(doc)
    assert results and all(r.ok for r in results)
    assert {r.name for r in results} == {"row_total", "parent_sum", "table_total"}


def test_record_line_must_be_an_annotated_line(tmp_path):
    def mutate(objs):
        objs[1]["records"][3]["line"] = 290  # blank line after the table

    path, problems = problems_of(tmp_path, mutate)
    assert problems == [f"{path}:2: record 't07-r3': line 290 is not an annotated line: a record's line is the "
                        "line_no of its first line"]


def _rendered_pdf(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=595.3, height=841.9)
    page.insert_text((72, 80), "部门预算支出总表", fontname="china-s", fontsize=14)
    page.insert_text((72, 110), "单位：万元", fontname="china-s", fontsize=10)
    doc.save(str(path))
    doc.close()


def _pdf_annotation(pdf: Path) -> list[dict[str, Any]]:
    with pymupdf.open(str(pdf)) as doc:
        lines = page_lines(doc[0], 1)
    header = {"record": "document", "format_version": 1, "doc_name": "synth_0000", "source": pdf.name,
              "source_sha256": hashlib.sha256(pdf.read_bytes()).hexdigest(), "format": "pdf", "origin": "synth",
              "template": "tiny", "split": "train", "department": {"name": None, "code": None},
              "fiscal_year": None, "unit": "万元", "doc_kind": "budget", "tables": [], "deliberate_errors": []}
    page = {"record": "page", "page": 1, "width": 595.3, "height": 841.9, "records": [],
            "lines": [{"id": f"p1-{i:04d}", "text": ln.text, "bbox": [round(v, 2) for v in ln.bbox], "line_no": None,
                       "label": "other", "table_id": None, "row": None, "spans": []} for i, ln in enumerate(lines)]}
    return [header, page]


def test_pdf_beside_the_annotation_is_compared_with_page_lines(tmp_path):
    pdf = tmp_path / "synth_0000.pdf"
    _rendered_pdf(pdf)
    objs = _pdf_annotation(pdf)
    assert [ln["text"] for ln in objs[1]["lines"]] == ["部门预算支出总表", "单位：万元"]
    path = write(tmp_path, objs)
    assert validate_paths([path]) == ([], 1)

    objs[1]["lines"][1]["text"] = "单位:万元"
    objs[1]["lines"][0]["bbox"][0] += 3
    objs[0]["source_sha256"] = "0" * 64
    write(tmp_path, objs)
    problems, _ = validate_paths([path])
    assert problems[0].startswith(f"{path}:1: source_sha256 does not match synth_0000.pdf beside the annotation")
    assert problems[1].startswith(f"{path}:2: line 'p1-0000': bbox [75.0") and "differs from the PDF's" in problems[1]
    assert len(problems) == 2  # the first difference per page is reported

    objs = _pdf_annotation(pdf)
    objs[1]["lines"][1]["text"] = "单位:万元"
    write(tmp_path, objs)
    assert validate_paths([path])[0] == [f"{path}:2: line 'p1-0001': text '单位:万元' differs from page_lines' line 1 "
                                         "of the PDF: expected '单位：万元'"]
