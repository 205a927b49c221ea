"""The synth generator: PDFs reopen, gold lines are the extractor's lines, annotations validate,
identities hold except where a document is labelled wrong, and a seed gives the same bytes."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pymupdf
import pytest

from pipeline.checks import failed_checks, run_checks
from pipeline.pdf_lines import page_lines
from training.synth import document_header, generate, render_document, split_for, template_for
from training.synth.templates import TEMPLATES, TEST_TEMPLATE

SEED = 11
N_DOCS = 4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    out = tmp_path_factory.mktemp("synth")
    pdfs = generate(N_DOCS, out / "pdf", seed=SEED, annotations_out=out / "ann", progress=False)
    return pdfs, out / "ann"


def _load(path: Path) -> tuple[dict, list[dict]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows[0], rows[1:]


def test_every_pdf_reopens_and_its_lines_are_the_gold_lines(corpus):
    pdfs, ann = corpus
    assert len(pdfs) == N_DOCS
    for pdf in pdfs:
        header, pages = _load(ann / f"{pdf.stem}.jsonl")
        doc = pymupdf.open(pdf)
        assert len(doc) == len(pages) >= 3
        for page in pages:
            extracted = [ln.text for ln in page_lines(doc[page["page"] - 1], page["page"])]
            assert [ln["text"] for ln in page["lines"]] == extracted
            for ln in page["lines"]:
                for span in ln["spans"]:
                    assert 0 <= span["start"] < span["end"] <= len(ln["text"])


def test_annotations_validate(corpus):
    from training.annotations import validate_paths

    _, ann = corpus
    problems, n_files = validate_paths([ann])
    assert n_files == N_DOCS
    assert problems == []


def test_gold_records_match_printed_spans(corpus):
    """Every budget line's values appear as amount spans of its row with the same key."""
    _, ann = corpus
    checked = 0
    for path in sorted(ann.glob("*.jsonl")):
        header, pages = _load(path)
        spans: dict[tuple, list[str]] = {}
        for page in pages:
            for ln in page["lines"]:
                for s in ln["spans"]:
                    if s["label"] == "amount":
                        spans.setdefault((ln["table_id"], ln["row"], s["key"]), []).append(
                            (ln["bbox"][1], ln["bbox"][0], ln["text"][s["start"]:s["end"]]))
        for page in pages:
            for rec in page["records"]:
                if rec["type"] != "budget_line":
                    continue
                for key, value in rec["values"].items():
                    found = spans.get((rec["table_id"], rec["row"], key))
                    assert found, (path.name, rec["record_id"], key)
                    printed = [text for _, _, text in sorted(found)]  # reading order
                    # a wrapped value is split over lines; two-sided rows hold two values per key
                    pieces = ["".join(printed[i:j]) for i in range(len(printed)) for j in range(i + 1, len(printed) + 1)]
                    assert value in {_num(p) for p in pieces}, (rec["record_id"], key, printed, value)
                    checked += 1
    assert checked > 200


def _num(text: str) -> float | None:
    if text.strip() == "-":
        return 0.0
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def test_identities_hold_except_where_labelled_wrong():
    seen_errors = 0
    for index in range(10):
        spec, pdf, pages, split = render_document(index, 20261123)
        header = document_header(spec, "x.pdf", pdf, split)
        records = [r for p in pages for r in p["records"]]
        results = run_checks(header["tables"], records)
        expected = {(e["check"], e["table_id"]) for e in header["deliberate_errors"]}
        assert failed_checks(results) == expected, (index, spec.template)
        if spec.doc_kind == "budget":
            assert sum(r.ok for r in results) > 20
        seen_errors += bool(expected)
    assert seen_errors >= 1


def test_splits_and_templates():
    names = {t.name for t in TEMPLATES}
    assert len(names) >= 5 and TEST_TEMPLATE in names
    splits: dict[str, list[str]] = {}
    for index in range(300):
        tpl = template_for(index, 3)
        splits.setdefault(tpl.name, []).append(split_for(tpl, index, 3))
    assert set(splits) == names
    assert set(splits[TEST_TEMPLATE]) == {"test_template"}
    others = [s for t, ss in splits.items() if t != TEST_TEMPLATE for s in ss]
    assert set(others) == {"train", "test_doc"}
    assert 0.1 < others.count("test_doc") / len(others) < 0.3


def test_same_seed_same_bytes(tmp_path: Path):
    a = generate(2, tmp_path / "a", seed=5, progress=False)
    time.sleep(1.1)  # embedded fonts carry timestamps: a later run must still give the same bytes
    b = generate(2, tmp_path / "b", seed=5, progress=False)
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.with_suffix(".jsonl").read_bytes() == pb.with_suffix(".jsonl").read_bytes()
    c = generate(1, tmp_path / "c", seed=6, progress=False)
    assert c[0].read_bytes() != a[0].read_bytes()


def _out_of_reading_order(pages: list[dict]) -> int:
    """Consecutive extracted lines that go back: to an earlier row of the same table, or up
    inside the same cell (a wrapped cell written bottom-up)."""
    count = 0
    for page in pages:
        lines = [ln for ln in page["lines"] if ln["row"] is not None]
        for a, b in zip(lines, lines[1:]):
            if a["table_id"] != b["table_id"]:
                continue
            if b["row"] < a["row"]:
                count += 1
            same_cell = b["row"] == a["row"] and min(a["bbox"][2], b["bbox"][2]) - max(a["bbox"][0], b["bbox"][0]) > 2
            if same_cell and b["bbox"][1] < a["bbox"][1] - 2:
                count += 1
    return count


def test_producers_write_text_out_of_reading_order():
    by_template: dict[str, int] = {}
    for index in range(len(TEMPLATES)):
        tpl = template_for(index, 20261123)
        _, _, pages, _ = render_document(index, 20261123)
        by_template[tpl.name] = _out_of_reading_order(pages)
    scrambled = [t.name for t in TEMPLATES if t.emission in ("bottom_up", "column")]
    assert all(by_template[name] > 0 for name in scrambled), by_template
    assert by_template["hebei_grid_narrow"] == 0, by_template  # row order follows the reading order


# ------------------------------------------------------------------ layouts drawn from the seeds

COMMITTED = Path(__file__).resolve().parents[1] / "annotations" / "synth"


def _committed_lines(years: dict[str, int]) -> list[tuple[str, dict]]:
    out = []
    for path in sorted(COMMITTED.glob("*.jsonl")):
        header, pages = _load(path)
        years[path.stem] = header["fiscal_year"]
        out.extend((path.stem, ln) for page in pages for ln in page["lines"])
    return out


def test_the_corpus_prints_the_real_layouts_the_seeds_show():
    """Furniture wrapped in a narrow cell ('预算年' / '度：2022'), notes under tables with data, a
    prose list of project goals and indicators, and indicators explained by a formula alone."""
    years: dict[str, int] = {}
    lines = _committed_lines(years)
    wrapped = [(doc, ln) for doc, ln in lines if ln["text"].startswith("度：")]
    assert len({doc for doc, _ in wrapped}) >= 5
    assert all(ln["label"] == "page_furniture" for _, ln in wrapped)
    # the year is the document's fiscal year where it is (a self-evaluation of 2019 prints 预算年度：2020)
    for doc, ln in wrapped:
        is_doc_year = ln["text"] == f"度：{years[doc]}"
        assert [s["label"] for s in ln["spans"]] == (["fiscal_year"] if is_doc_year else [])
    assert any(ln["text"] == "预算年" and ln["label"] == "page_furniture" for _, ln in lines)
    notes = {doc for doc, ln in lines if ln["label"] == "note" and "空表" not in ln["text"]
             and ln["text"].startswith("注：") and "无" not in ln["text"][:6]}
    assert len(notes) >= 10
    goals = [ln for _, ln in lines if ln["text"].startswith("绩效指标：")]
    assert goals and all(ln["label"] == "narrative" for ln in goals)
    formulas = [ln for _, ln in lines if "×100%" in ln["text"] and "=" in ln["text"]]
    assert formulas and {ln["label"] for ln in formulas} <= {"indicator_row"}


def test_the_corpus_prints_form_numbers_year_subtitles_and_the_department_framework():
    """Form numbers above titles ('预算 03 表', '公开01表') are furniture, as the seeds annotate them; a
    performance table's '（2022 年度）' belongs to its title; department-wide targets judged on the
    投入/过程/产出/效果 framework, each indicator explained at length, are indicator rows."""
    years: dict[str, int] = {}
    lines = _committed_lines(years)
    forms = [ln for _, ln in lines if re.fullmatch(r"(预算 ?|公开|附表|表|部门公开表|收支预算)\d{1,2}( ?表)?", ln["text"])]
    assert len({ln["text"] for ln in forms}) >= 5
    assert {ln["label"] for ln in forms} == {"page_furniture"}
    subtitles = [(doc, ln) for doc, ln in lines if re.fullmatch(r"[（(]\d{4} ?年度[）)]", ln["text"])]
    assert len({doc for doc, _ in subtitles}) >= 5
    for doc, ln in subtitles:
        assert ln["label"] == "table_title"
        assert [(s["label"], ln["text"][s["start"]:s["end"]]) for s in ln["spans"]] == [("fiscal_year", str(years[doc]))]
    framework = [ln for _, ln in lines if ln["text"] in ("投入管理指标", "过程管理指标", "效果指标")]
    assert framework and {ln["label"] for ln in framework} == {"indicator_row"}
    explained = [ln for _, ln in lines if ln["label"] == "indicator_row" and "用以反映" in ln["text"]]
    assert len(explained) >= 20


def test_a_long_department_name_pushes_the_furniture_line_apart_instead_of_overprinting():
    """Generator seed 1234, document 1: "部门编码及名称：[808]洛阳市瀍河回族区自然资源和规划局" ran into the
    centred "预算年度：…" on a portrait page; the extracted line no longer matched its fragments and
    `budgetdoc synth` stopped with a traceback. The parts now follow one another (or the next line)."""
    _, _, pages, _ = render_document(1, 1234)
    furniture = [(k, ln) for k, page in enumerate(pages) for ln in page["lines"] if ln["label"] == "page_furniture"
                 and ln["text"].startswith(("部门编码及名称", "预算年度", "金额单位"))]
    names = [ln for _, ln in furniture if ln["text"].startswith("部门编码及名称")]
    assert names and "自然资源和规划局" in names[0]["text"]
    by_page_line: dict = {}
    for k, ln in furniture:
        by_page_line.setdefault((k, round(ln["bbox"][3])), []).append(ln["bbox"])
    assert any(len(boxes) > 1 for boxes in by_page_line.values())
    for boxes in by_page_line.values():
        boxes.sort()
        assert all(a[2] < b[0] for a, b in zip(boxes, boxes[1:]))  # side by side, never overprinted
