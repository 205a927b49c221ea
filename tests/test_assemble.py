"""Table assembly on its own: given the gold section labels and field spans of annotated pages,
how much of the gold records does it rebuild? (The models' share of the errors is measured
separately, by training/report.py.)"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Optional

import pytest

from pipeline import config
from pipeline.assemble import assemble, parse_target
from pipeline.layout import parse_amount
from pipeline.metadata import detect_metadata
from pipeline.model import Document, Line, Page, Span, Table
from pipeline.stream_solver import candidates, settle
from training.annotations import load_annotation
from training.evaluate import Tally, budget_cells, indicator_tuples, project_names

SEEDS = config.ANNOTATIONS_DIR / "seeds"
SYNTH = config.ANNOTATIONS_DIR / "synth"


def assembled(path: Path, misread: Optional[Callable[[list[Line]], None]] = None) -> tuple[dict, object]:
    """Assemble the annotated pages from their gold labels; `misread` first changes some of them
    the way the models have been seen to get them wrong."""
    ann = load_annotation(path)
    doc = Document(doc_id=ann.header["source_sha256"], source=ann.header["source"], format=ann.format,
                   pages=ann.to_model_pages())
    if misread:
        misread(list(doc.iter_lines()))
    detect_metadata(doc)
    assemble(doc)
    return doc.to_contract(), ann


def f1(gold, pred) -> float:
    t = Tally()
    t.add(gold, pred)
    return t.f1


# floors a little under what the current assembly reaches (seed 002's text export prints one
# revenue header row a cell off, which no header reading can undo)
@pytest.mark.parametrize("name, cells_floor, indicators_floor", [
    ("seed_000_pingxiang_2022.jsonl", 0.99, 0.99),
    ("seed_001_yuanshi_2020.jsonl", 0.99, 0.99),
    ("seed_002_chanhe_2022.jsonl", 0.975, 0.99),
])
def test_seed_tables_rebuilt_from_gold_labels(name, cells_floor, indicators_floor):
    out, ann = assembled(SEEDS / name)
    assert f1(budget_cells(ann.records, ann.tables), budget_cells(out["records"], out["tables"])) >= cells_floor
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= indicators_floor


def test_generated_pdf_tables_rebuilt_from_gold_labels():
    files = sorted(SYNTH.glob("*.jsonl"))[:12]  # two documents of each template
    cells, indicators, projects = Tally(), Tally(), Tally()
    for path in files:
        out, ann = assembled(path)
        cells.add(budget_cells(ann.records, ann.tables), budget_cells(out["records"], out["tables"]))
        indicators.add(indicator_tuples(ann.records), indicator_tuples(out["records"]))
        projects.add(project_names(ann.records), project_names(out["records"]))
    assert cells.f1 >= 0.95, cells.f1
    assert indicators.f1 >= 0.85, indicators.f1
    assert projects.f1 >= 0.8, projects.f1


def test_stream_amounts_are_placed_by_the_identities():
    """Seed 000 prints '12.00 12.00' without its blank cells; only the parent row says the 12.00
    is 项目支出 and not 基本支出."""
    keys = ["total", "basic", "project", "operating_expense"]
    codes = ["208", "20805", "20899"]
    options = [candidates(v, keys, "expenditure_summary") for v in ([56.3, 44.3, 12.0], [44.3, 44.3], [12.0, 12.0])]
    parent, first, second = settle(codes, options)
    assert parent == {"total": 56.3, "basic": 44.3, "project": 12.0}
    assert first == {"total": 44.3, "basic": 44.3}
    assert second == {"total": 12.0, "project": 12.0}


def test_summary_side_amounts_are_placed_by_the_sides_totals():
    """Seed 000's 财政拨款收支总表 as extracted text: "二十五、其他支出 32.00 32.00" under 合计 /
    一般公共预算 / 政府性基金 / 国有资本经营预算. The row alone fits any column; 本年支出合计
    "5846.29 5814.29 32.00" and the items' sums say 政府性基金 (it was read as 一般公共预算)."""
    out, _ = assembled(SEEDS / "seed_000_pingxiang_2022.jsonl")
    summary = next(t["table_id"] for t in out["tables"] if t["kind"] == "fiscal_summary")
    spent = {r["subject_name"]: {k: v for k, v in r["values"].items() if v}
             for r in out["records"] if r["table_id"] == summary and r["side"] == "expenditure"}
    assert spent["二十五、其他支出"] == {"total": 32.0, "government_fund": 32.0}
    assert spent["十、卫生健康支出"] == {"total": 5719.02, "general_public_budget": 5719.02}
    assert spent["本年支出合计"] == {"total": 5846.29, "general_public_budget": 5814.29, "government_fund": 32.0}
    from pipeline.checks import run_checks

    results = [r for r in run_checks(out["tables"], out["records"]) if r.table_id == summary]
    assert len(results) >= 4 and all(r.ok for r in results), [r.detail for r in results if not r.ok]


def test_stream_amounts_the_identities_leave_open_agree_with_an_earlier_table():
    """Seed 000's 政府性基金 table prints "229 其他支出 32.00 32.00" in every row: 基本支出 or 项目支出?
    Its 支出总表 printed 229's 32.00 under 项目支出, and one document splits a subject one way."""
    from pipeline.model import Record
    from pipeline.stream_solver import TOTAL_ROW, KnownCells, rescored

    keys = ["total", "basic", "project"]
    codes = [TOTAL_ROW, "229", "22960"]

    def placed(known):
        return settle(codes, [rescored(candidates([32.0, 32.0], keys, "government_fund_expenditure"), c, known)
                              for c in codes])

    assert placed(None)[1] == {"total": 32.0, "basic": 32.0}  # left-most columns when nothing else decides
    known = KnownCells()
    known.add([Record(record_id="t03-r9", type="budget_line", table_id="t03",
                      fields={"subject_code": "229", "values": {"total": 32.0, "basic": None, "project": 32.0}})])
    assert placed(known) == [{"total": 32.0, "project": 32.0}] * 3


@pytest.mark.parametrize("text, value", [("5,846.29", 5846.29), ("-", 0.0), ("0.00", 0.0), ("—", 0.0),
                                         ("合计", None), ("12.5%", None)])
def test_parse_amount(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize("target, op, value, unit", [
    ("≥95%", "≥", 95.0, "%"), ("≤30天", "≤", 30.0, "天"), ("100%", "=", 100.0, "%"),
    ("明显改善", None, None, None), ("2022年12月前", None, None, None), ("12月底前", None, None, None),
    ("≥3年", "≥", 3.0, "年"), ("＞260次", ">", 260.0, "次"),
])
def test_parse_target(target, op, value, unit):
    parsed = parse_target(target)
    assert (parsed["op"], parsed["value"], parsed["unit"]) == (op, value, unit)


@pytest.mark.parametrize("name, what", [
    ("synth_0021_excel_column_major.jsonl", "wide project table: projects span blocks of indicator rows"),
    ("synth_0068_henan_split_codes.jsonl", "blank columns under a group header; two-sided summary with blank sides"),
    ("synth_0029_word_three_line.jsonl", "codes wrapped as 6 + 1 digits"),
])
def test_layouts_that_used_to_break_are_rebuilt_from_gold_labels(name, what):
    out, ann = assembled(SYNTH / name)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= 0.99, what
    assert f1(project_names(ann.records), project_names(out["records"])) >= 0.99, what
    assert f1(budget_cells(ann.records, ann.tables), budget_cells(out["records"], out["tables"])) >= 0.95, what


# ------------------------------------------------------------------ labels the models got wrong

def _cells_f1(path: Path, misread=None) -> float:
    out, ann = assembled(path, misread)
    return f1(budget_cells(ann.records, ann.tables), budget_cells(out["records"], out["tables"]))


def test_a_wrapped_title_whose_first_line_was_taken_for_text_still_names_its_table():
    path = SYNTH / "synth_0016_wps_unruled_yuan.jsonl"  # "…基本支出" / "表" on two lines

    def first_line_as_text(lines: list[Line]) -> None:
        for before, ln in zip(lines, lines[1:]):
            if ln.label == "table_title" and ln.text.strip() == "表":
                before.label = "other"

    assert _cells_f1(path, first_line_as_text) >= 0.99


def test_a_title_taken_for_text_between_two_tables_still_opens_the_second():
    path = SYNTH / "synth_0015_excel_column_major.jsonl"

    def titles_as_text(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "table_title" and "一般公共预算" in ln.text and ln.text.endswith("表"):
                ln.label = "other"

    assert _cells_f1(path, titles_as_text) >= 0.99


def test_rows_taken_for_headers_or_project_headers_stay_rows_of_a_budget_table():
    path = SYNTH / "synth_0015_excel_column_major.jsonl"
    baseline = _cells_f1(path)

    def first_rows_as_headers(lines: list[Line]) -> None:
        # what the model did on this unseen template: the first row's 序号 and 合计 read as header
        # cells, some subject rows as project headers
        for n, ln in enumerate(lines):
            if ln.label == "subject_row" and ln.text.strip() in ("1", "合计"):
                ln.label, ln.spans = "table_header", []
            elif ln.label == "subject_row" and n % 9 == 0:
                ln.label = "project_header"

    assert _cells_f1(path, first_rows_as_headers) >= baseline - 0.005


def test_a_wide_project_table_trusts_its_headers_over_the_tags_of_short_cells():
    path = SYNTH / "synth_0021_excel_column_major.jsonl"

    def targets_tagged_as_indicators(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row" and ln.bbox:
                ln.spans = [Span(s.start, s.end, "level3" if s.label == "target" else s.label, s.key)
                            for s in ln.spans]
            if ln.label == "project_header" and ln.text.strip() == "高龄津贴":
                ln.spans = []  # a short project name the tagger left untagged

    out, ann = assembled(path, targets_tagged_as_indicators)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= 0.99
    assert f1(project_names(ann.records), project_names(out["records"])) >= 0.99


def test_self_evaluation_projects_come_from_titles_and_the_whole_department_is_no_project():
    def untag_projects(lines: list[Line]) -> None:
        for ln in lines:
            ln.spans = [s for s in ln.spans if s.label != "project"]

    out, _ = assembled(SYNTH / "synth_0032_henan_split_codes.jsonl", untag_projects)
    names = {r["name"] for r in out["records"] if r["type"] == "project"}
    assert "重大公共卫生服务项目" in names  # "…服务项目项目支出绩效自评表": the name keeps its 项目
    out, _ = assembled(SYNTH / "synth_0009_excel_column_major.jsonl", untag_projects)
    names = {r["name"] for r in out["records"] if r["type"] == "project"}
    assert not any("部门整体" in n for n in names), names


def test_a_department_performance_table_without_title_or_project_lines_is_about_the_department():
    """A table read from its header and rows alone (its title and project lines taken for other
    things) used to crash the assembly looking for its first line."""
    from pipeline.assemble import TableRegion, project_from_region
    from pipeline.model import Table

    header = Line(text="一级指标\t二级指标\t三级指标\t指标值", page=3, index=0, line_no=10, label="table_header")
    row = Line(text="产出指标\t数量指标\t培训人次\t≥300人次", page=3, index=1, line_no=11, label="indicator_row")
    region = TableRegion(header_lines=[header], body_lines=[row])
    table = Table(table_id="t01", kind="department_performance", title=None)
    project = project_from_region(region, table, department="元氏县医疗保障局")
    assert project is not None and project.fields["name"] == "元氏县医疗保障局"
    assert (project.page, project.line) == (3, 10)


def test_a_project_name_is_the_cell_after_its_code_whatever_its_tag():
    """Seed 002's wide project table (tab-separated text): the tagger read most project names as
    indicator descriptions; the name still follows the project code."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline, ann = assembled(path)

    def names_tagged_as_descriptions(lines: list[Line]) -> None:
        for ln in lines:
            if any(s.label == "project_code" for s in ln.spans):
                ln.spans = [Span(s.start, s.end, "description" if s.label == "project" else s.label, s.key)
                            for s in ln.spans]

    out, _ = assembled(path, names_tagged_as_descriptions)
    expected = project_names(baseline["records"])
    assert f1(expected, project_names(out["records"])) >= 0.9
    assert f1(project_names(ann.records), project_names(out["records"])) >= 0.7


def test_a_rows_first_text_is_its_level3_even_when_tagged_as_description():
    """Seed 000 (one cell fragment per line): the tagger often read a row's 三级指标 as its
    绩效指标描述, which comes after it; the row's first text is still its 三级指标."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"

    def level3_tagged_as_description(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row":
                ln.spans = [Span(s.start, s.end, "description" if s.label == "level3" else s.label, s.key)
                            for s in ln.spans]

    out, ann = assembled(path, level3_tagged_as_description)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= 0.95  # 1.0 measured (0.85 before the row decoder)


def test_project_names_a_newcomer_check_found_wrong():
    """Generated PDFs of a seed never used before: a wide table titled 预算项目绩效目标表 gave a
    project "预算", its unit row (单位编码 836001 | 单位名称) a project, and "…服务项目绩效目标表"
    a name without the 项目 the document prints it with."""
    from pipeline.assemble import TableRegion, _unit_row, project_from_region, restore_project_suffix
    from pipeline.layout import Cell, Fragment, Row
    from pipeline.model import Record, Table

    title = Line(text="预算项目绩效目标表", page=18, index=0, label="table_title")
    table = Table(table_id="t14", kind="performance_targets", title=title.text)
    assert project_from_region(TableRegion(title_lines=[title]), table) is None

    def row(*texts: str) -> Row:
        return Row(cells={i: Cell(col=i, frags=[Fragment(text=t, line=Line(text=t, page=1, index=i))])
                          for i, t in enumerate(texts)})

    assert _unit_row(row("836001", "瑞金市医疗保障局", "1866.45"))
    assert not _unit_row(row("168418226000", "长期护理保险办公经费", "981.67"))

    line = Record(record_id="t11-3", type="budget_line", table_id="t11", page=9, line=None,
                  fields={"subject_name": "重大公共卫生服务项目"})
    project = Record(record_id="t15-p", type="project", table_id="t15", page=10, line=None,
                     fields={"name": "重大公共卫生服务"})
    indicator = Record(record_id="t15-i0", type="indicator", table_id="t15", page=10, line=None,
                       fields={"project": "重大公共卫生服务"})
    other = Record(record_id="t16-p", type="project", table_id="t16", page=10, line=None,
                   fields={"name": "业务培训经费"})
    restore_project_suffix([line, project, indicator, other])
    assert project.fields["name"] == indicator.fields["project"] == "重大公共卫生服务项目"
    assert other.fields["name"] == "业务培训经费"


# ------------------------------------------------------------------ text exports (seeds 000 / 002)

def _indicators_f1(path: Path, misread=None) -> float:
    out, ann = assembled(path, misread)
    return f1(indicator_tuples(ann.records), indicator_tuples(out["records"]))


def _projects_f1(path: Path, misread=None) -> float:
    out, ann = assembled(path, misread)
    return f1(project_names(ann.records), project_names(out["records"]))


ROW_ROLES = ("level3", "description", "target", "basis")


def test_a_fragment_stream_row_is_cut_into_cells_where_the_tagger_ran_them_together():
    """Seed 000 (one cell fragment per line): a row's first line prints several cells apart by
    spaces ("数量指标 健康档案建档人数 建立健康档案人数 ≥20769 人"); the tagger read the 三级指标 and
    the 描述 after it as one 三级指标, and 指标值 and 依据 as one description."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"

    def cells_run_together(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label != "indicator_row":
                continue
            spans, merged = sorted(ln.spans, key=lambda s: s.start), []
            for s in spans:
                prev = merged[-1] if merged else None
                if prev and (prev.label, s.label) in (("level3", "description"), ("target", "basis")):
                    merged[-1] = Span(prev.start, s.end, "level3" if prev.label == "level3" else "description")
                else:
                    merged.append(s)
            ln.spans = merged

    assert _indicators_f1(path, cells_run_together) >= 0.95  # 1.0 measured; 0.08 before the row decoder


def test_wrapped_fragments_tagged_as_their_neighbour_cell_stay_in_their_own_cell():
    """Seed 000: the tagger gives a wrapped cell's lone fragment the role of the cell next to it
    (三级指标 <-> 描述, 依据 -> 三级指标, 指标值 -> 描述); the cells are still cut where a line
    stops short of the column width and in the header's order 三级指标, 描述, 指标值, 依据."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    swap = {"level3": "description", "description": "level3", "basis": "level3", "target": "description"}

    def neighbours_role(lines: list[Line]) -> None:
        for n, ln in enumerate(lines):
            row_spans = [s for s in ln.spans if s.label in ROW_ROLES]
            if ln.label == "indicator_row" and len(ln.spans) == 1 and row_spans and n % 3 == 0:
                s = row_spans[0]
                if s.label != "target" or not re.search(r"\d", ln.text):
                    ln.spans = [Span(s.start, s.end, swap[s.label], s.key)]

    assert _indicators_f1(path, neighbours_role) >= 0.85  # 0.88 measured; 0.34 before the row decoder


def test_level_names_and_repeated_cells_taken_for_headers_stay_in_their_rows():
    """Seed 000: a 一级指标 on a line of its own ("产出指标") and a cell printed twice verbatim
    ("“一站式”即使结算覆" / "盖地区") were read as header lines, with no span; a row line was read
    as a project header."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    seen: set[str] = set()

    def rows_as_headers(lines: list[Line]) -> None:
        for n, ln in enumerate(lines):
            if ln.label != "indicator_row":
                continue
            text = ln.text.strip()
            if any(s.label == "level1" for s in ln.spans) and text in ("产出指标", "效益指标"):
                ln.label, ln.spans = "table_header", []
            elif text in seen and len(text) >= 8 and not any(s.label in ("level2", "target") for s in ln.spans):
                ln.label, ln.spans = "table_header", []
            elif n % 17 == 0 and not any(s.label in ("level1", "level2") for s in ln.spans):
                ln.label = "project_header"
            seen.add(text)

    assert _indicators_f1(path, rows_as_headers) >= 0.9  # 0.95 measured; 0.12 before


def test_a_numbered_title_whose_first_line_was_taken_for_a_row_still_names_its_project():
    """Seed 000: "8、冀财社【2021】150 号…支持城乡医疗" / "救助资金预算的通知绩效目标表": the
    title's first line, right under the last table's rows, was read as an indicator row, and the
    project was named by the second line only."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"

    def first_title_line_as_row(lines: list[Line]) -> None:
        for before, ln in zip(lines, lines[1:]):
            if (ln.label == "table_title" and before.label == "table_title"
                    and re.match(r"^\s*\d+、", before.text)):
                before.label, before.spans = "indicator_row", []

    assert _projects_f1(path, first_title_line_as_row) >= 0.95  # 1.0 measured; 0.73 before


def test_a_column_number_row_read_as_a_row_and_a_first_row_number_read_as_a_header():
    """Seed 000: "栏次 1 2 3 …" read as a body row opened rows 1, 2, 3 … of the numbered fragment
    stream with its numbers; the first row's lone "1" read as a header cell left the rows
    unnumbered. Either merged a whole table into one row."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    baseline = _cells_f1(path)

    def column_numbers_as_row(lines: list[Line]) -> None:
        for n, ln in enumerate(lines):
            if ln.label == "table_header" and ln.text.strip().startswith("栏次"):
                ln.label = "subject_row"
                nxt = next((x for x in lines[n + 1:] if x.label != "page_furniture"), None)
                if nxt is not None and nxt.text.strip() == "1" and n % 2:
                    nxt.label, nxt.spans = "table_header", []

    assert _cells_f1(path, column_numbers_as_row) >= baseline - 0.01  # 0.58 before


def test_tabbed_indicator_rows_read_as_prose_are_read_right_aligned():
    """Seed 002: rows whose 指标值说明 is a long text were read as narrative (no spans); the
    export drops the blank cells under the merged 一级/二级指标, so the short cells are read
    right-aligned against 一级/二级/三级指标, 指标值."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)

    def long_rows_as_prose(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row" and "\t" in ln.text and max(map(len, ln.text.split("\t"))) >= 30:
                ln.label, ln.spans = "narrative", []

    assert _indicators_f1(path, long_rows_as_prose) >= baseline - 0.02  # 1.0 measured (as the baseline); 0.56 before


def test_tabbed_indicator_rows_tagged_one_cell_off_are_read_right_aligned():
    """Seed 002 read by a section model that gets its long rows right: the tagger, which never saw
    such rows, tags '预算和财务管理 | 预算编制完整性 | 完整' one role off (二级指标 as description, 三级指标
    as 二级, the 指标值 as 三级) and finds no 指标值; the header, which the export's dropped cells
    shift, finds none either. The short cells read right-aligned give one."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)
    one_off = {"target": "level3", "level3": "level2", "level2": "description"}

    def long_rows_tagged_one_off(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row" and "\t" in ln.text and max(map(len, ln.text.split("\t"))) >= 30:
                ln.spans = [Span(s.start, s.end, one_off.get(s.label, s.label)) for s in ln.spans]

    assert _indicators_f1(path, long_rows_tagged_one_off) >= baseline - 0.02


def test_tabbed_rows_shifted_under_their_header_are_read_right_aligned_when_the_tagger_finds_the_target():
    """Seed 002 after a page break: the export leaves out the merged 一级指标, so
    '预算和财务管理 | 预算编制完整性 | 完整 |  | 1.…' sits one column left of its header. A tagger
    that reads the level names as 指标说明 but finds the 指标值 left the 二级指标 of the eleven
    rows under it carried over from the page before; read right-aligned, the row agrees with the
    tagger's 指标值 and names its levels."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)

    def level_names_as_description(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row" and "\t" in ln.text and max(map(len, ln.text.split("\t"))) >= 30:
                ln.spans = [Span(s.start, s.end, "description" if s.label in ("level1", "level2", "level3") else s.label)
                            for s in ln.spans]

    assert _indicators_f1(path, level_names_as_description) >= baseline - 0.02


def test_an_indicators_confidence_comes_from_the_cells_it_is_judged_by():
    """An indicator is right when its levels and 指标值 are: an unsure tag on its long 指标说明
    (seed 002's explained tables) leaves its confidence alone, an unsure 三级指标 lowers it."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"

    def unsure(label: str):
        def misread(lines: list[Line]) -> None:
            for ln in lines:
                ln.spans = [Span(s.start, s.end, s.label, s.key, prob=0.3 if s.label == label else s.prob)
                            for s in ln.spans]
        return misread

    def confidences(label: str) -> list[float]:
        out, _ = assembled(path, unsure(label))
        return [r["field_confidence"]["level3"] for r in out["records"]
                if r["type"] == "indicator" and len(r.get("description") or r.get("basis") or "") >= 30]

    explained = confidences("description")  # the long 指标值说明 cells, which the annotation tags description
    assert len(explained) >= 15 and min(explained) == 1.0
    assert max(confidences("level3")) == 0.3


def test_a_fragment_stream_cell_repeating_the_cell_before_it_is_a_cell_of_its_own():
    """Seed 000 prints a 指标内容 that repeats its 三级指标 ("参保人员出院结算提高" twice, each a
    full line of its column): tagged 三级指标 both, they were joined into one doubled 三级指标. A
    wrapped cell never prints the same line twice in a row."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    baseline = _indicators_f1(path)

    def repeats_tagged_as_level3(lines: list[Line]) -> None:
        for prev, ln in zip(lines, lines[1:]):
            if (ln.label == "indicator_row" and ln.text.strip() == prev.text.strip().split(" ")[-1]
                    and len(ln.text.strip()) >= 4 and any(s.label == "description" for s in ln.spans)):
                ln.spans = [Span(s.start, s.end, "level3" if s.label == "description" else s.label) for s in ln.spans]

    assert _indicators_f1(path, repeats_tagged_as_level3) == pytest.approx(baseline)  # 0.988 without the rule


def test_a_level2_name_tagged_into_the_level3_after_it_still_leads_its_row():
    """Seed 000's "质量指标 宣传率": the tagger ran one 三级指标 span over the 二级指标 name and the
    三级指标 beside it, which put "质量指标" as a 三级指标 under the 数量指标 before it."""
    from pipeline.assemble import LEVEL2_NAMES

    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    baseline = _indicators_f1(path)

    def level2_run_into_level3(lines: list[Line]) -> None:
        for ln in lines:
            spans = sorted(ln.spans, key=lambda s: s.start)
            if (ln.label == "indicator_row" and len(spans) >= 2 and spans[0].label == "level2"
                    and ln.text[spans[0].start:spans[0].end] in LEVEL2_NAMES and spans[1].label == "level3"):
                ln.spans = [Span(spans[0].start, spans[1].end, "level3")] + spans[2:]

    assert _indicators_f1(path, level2_run_into_level3) == pytest.approx(baseline)


def test_levels_run_left_to_right_on_a_fragment_stream_line():
    """Seed 000's "成本指标 成本控制": the 三级指标 after a 二级指标 on its line tagged 二级指标 too
    made it the row's 二级指标 and lost the 三级指标."""
    from pipeline.assemble import LEVEL1_NAMES, LEVEL2_NAMES

    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    baseline = _indicators_f1(path)

    def level3_after_a_level2_tagged_level2(lines: list[Line]) -> None:
        for ln in lines:
            spans = sorted(ln.spans, key=lambda s: s.start)
            if (ln.label == "indicator_row" and len(spans) >= 2 and spans[0].label == "level2"
                    and spans[1].label == "level3" and ln.text[spans[1].start:spans[1].end] not in LEVEL1_NAMES + LEVEL2_NAMES):
                ln.spans = [spans[0], Span(spans[1].start, spans[1].end, "level2")] + spans[2:]

    assert _indicators_f1(path, level3_after_a_level2_tagged_level2) == pytest.approx(baseline)


def test_a_form_line_read_as_a_row_above_an_indicator_header_stays_a_form_line():
    """Seed 002's department table opens with a form (名称, 履职目标, 预算情况 with its amounts) above
    the 一级指标 header; one of its lines with an amount read as a subject row made every form line
    an indicator row."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)

    def funding_line_as_row(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "project_header" and "资金来源" in ln.text:
                ln.label = "subject_row"

    assert _indicators_f1(path, funding_line_as_row) >= baseline - 0.01


def test_a_row_of_level_names_under_a_wide_indicator_header_stays_a_header_row():
    """Seed 002's project target table heads its indicator columns with a second header row of level
    names only (成本指标, 产出指标, 效益指标, 满意度指标); read as a row it shifted every column's level
    one place (indicators 1.0 -> 0.45 with a held-out model). A row of level names carries no indicator."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)

    def level_names_as_row(lines: list[Line]) -> None:
        for ln in lines:
            cells = [c.strip() for c in ln.text.split("\t") if c.strip()]
            if ln.label == "table_header" and len(cells) > 1 and all(c.endswith("指标") for c in cells):
                ln.label = "indicator_row"

    assert _indicators_f1(path, level_names_as_row) >= baseline - 0.01


def test_header_pieces_of_an_empty_stream_table_do_not_become_rows():
    """Seed 000's 政府采购 table is printed empty (header only). A header piece read as a project
    line ("2022 年") and the header's last piece read as a row made every header piece between them
    a "row among rows": an empty table has no rows for header pieces to lie among."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"

    def procurement_records(misread=None) -> list[dict]:
        out, _ = assembled(path, misread)
        kinds = {t["table_id"]: t["kind"] for t in out["tables"]}
        return [r for r in out["records"] if kinds.get(r.get("table_id")) == "procurement"]

    def header_ends_misread(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "table_header" and ln.text.strip() == "2022 年":
                ln.label = "project_header"
            elif ln.label == "table_header" and ln.text.strip() == "转结余":
                ln.label = "subject_row"

    assert len(procurement_records(header_ends_misread)) <= len(procurement_records()) + 2


def test_a_numbered_row_read_as_a_title_over_a_repeated_header_continues_the_table():
    """Seed 000's 固定资产 list: "2、车辆（台、辆）", the last row before a page break, read as a title
    opened a new table (kind: a performance table, from the numbered title) under the header the
    next page repeats; a title that is no table's name (no 表) over the same header continues it."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"
    baseline = _cells_f1(path)

    def row_as_title(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "subject_row" and ln.text.strip().startswith("2、车辆"):
                ln.label = "table_title"

    assert _cells_f1(path, row_as_title) >= baseline - 0.001


@pytest.mark.parametrize("name", ["synth_0006_hebei_grid_narrow.jsonl", "synth_0054_hebei_grid_narrow.jsonl",
                                  "synth_0011_word_three_line.jsonl"])
def test_self_evaluation_form_amounts_read_as_rows_leave_the_indicator_header_alone(name):
    """A newcomer check (generated seed 2718) found self-evaluation tables whose 项目资金 line
    ("（万元） 82.45 95.00%") a retrained classifier read as a row: a "row" above the header put
    the header lines "under rows", where they became cells. Form lines are settled first."""
    path = SYNTH / name
    baseline = _indicators_f1(path)
    form_value = re.compile(r"^[\d.,]+%?$|^[（(](万元|元)[)）]$")

    def form_amounts_as_rows(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "project_header" and form_value.match(ln.text.strip()):
                ln.label = "subject_row"

    assert _indicators_f1(path, form_amounts_as_rows) >= baseline - 0.01


@pytest.mark.parametrize("name", ["synth_0011_word_three_line.jsonl", "synth_0035_word_three_line.jsonl",
                                  "synth_0006_hebei_grid_narrow.jsonl"])
def test_header_cells_read_as_rows_in_a_header_row_stay_header_cells(name):
    """Seed 2718's self-evaluation: the header's last cells 分值 / 得分 read as indicator rows made
    the other header cells of their row "header lines on one row with cells", which became cells.
    Where a visual row holds more header lines than rows, its rows are header cells."""
    path = SYNTH / name
    baseline = _indicators_f1(path)

    def score_headers_as_rows(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "table_header" and ln.text.strip() in ("分值", "得分"):
                ln.label = "indicator_row"

    assert _indicators_f1(path, score_headers_as_rows) >= baseline - 0.01


def test_a_wide_text_table_pairs_its_cells_after_the_amounts():
    """Seed 002's wide project table (tab-separated): the tagger read project names as 三级指标,
    some 三级指标 as descriptions and 指标值 as 三级指标, and project rows as project headers; the
    cells after a project's amounts are still (三级指标, 指标值) pairs under 产出/效益/满意度."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"
    baseline = _indicators_f1(path)
    relabel = {"project": "level3", "level3": "description", "target": "level3"}

    def pairs_misread(lines: list[Line]) -> None:
        for n, ln in enumerate(lines):
            if ln.label == "indicator_row" and ln.text.count("\t") >= 8:
                if any(s.label == "project_code" for s in ln.spans):
                    ln.label = "project_header"
                ln.spans = [Span(s.start, s.end, relabel.get(s.label, s.label) if n % 2 else s.label, s.key)
                            for s in ln.spans]

    assert _indicators_f1(path, pairs_misread) >= baseline - 0.05  # 0.97 measured (baseline 1.0); 0.51 before


def test_an_unsure_column_key_model_gives_way_to_the_rules():
    """Seed 001 scored without it in training: "事业收入 / 小计" was read as 本年收入 (current_year,
    probability 0.49) although the header rules read the parent: business_income."""
    from pipeline.header_model import HeaderModel

    class Fixed:
        def __init__(self, answer):
            self.answer = answer

        def predict(self, feats):
            return [self.answer for _ in feats]

    unsure = HeaderModel(keys=Fixed(("current_year", 0.49)))
    assert unsure.column_keys([("小计", "事业收入 小计")]) == [("business_income", 0.49)]
    # a sure model keeps its answer, except over a subtotal whose parent the rules read (see
    # test_a_subtotal_column_sums_what_its_parent_heading_names)
    sure = HeaderModel(keys=Fixed(("fiscal_appropriation", 0.9)))
    assert sure.column_keys([("一般公共预算", "一般公共预算")]) == [("fiscal_appropriation", 0.9)]
    assert sure.column_keys([("小计", "事业收入 小计")]) == [("business_income", 0.9)]
    # no canonical key from the rules: the model's answer stays
    assert HeaderModel(keys=Fixed(("amount", 0.3))).column_keys([("某某", "某某")]) == [("amount", 0.3)]


def test_a_wide_text_table_joins_wrapped_cell_tails_printed_as_rows_of_their_own():
    """Seed 002's wide project table: a cell's second line is printed as a row of its own
    ("\t众医疗救助\t…\t遇落实到位\t\t满意度", "\t…\t力", one tab short), and a row of further
    indicators sits one tab to the right of its group; read unwrapped, the tails were indicators
    and the project names lost their ends. Planted: the tails tagged as new level3s, the project
    name tail as a project."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"

    def tails_as_cells(lines: list[Line]) -> None:
        for ln in lines:
            cells = [c for c in ln.text.split("\t") if c.strip()]
            if ln.label == "indicator_row" and cells and len(cells) <= 3 and not re.search(r"\d", ln.text) \
                    and ln.text.count("\t") >= 8 and len(cells) != 2:
                ln.spans = [Span(s.start, s.end, "project" if s.label == "project" else "level3", s.key)
                            for s in ln.spans]

    out, ann = assembled(path, tails_as_cells)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= 0.97  # 1.0 measured; 0.93 before
    assert f1(project_names(ann.records), project_names(out["records"])) >= 0.95  # 1.0 measured; 0.82 before


def test_a_tag_run_across_cells_does_not_override_a_header_that_finds_the_target():
    """Seed 002: "效益指标\t履职效益\t参保群众待遇享受程度\t有效保障" was tagged 一级指标, 三级指标,
    and one description over the last two cells; the tags disagree with the header but find no
    指标值, so the header's reading stands. A row of amounts ("\t\t724.29\t724.29") read as
    an indicator row gives no indicator."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"

    def misread(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "indicator_row" and ln.text.startswith("效益指标\t"):
                cells, pos = ln.text.split("\t"), 0
                starts = []
                for c in cells:
                    starts.append(pos)
                    pos += len(c) + 1
                ln.spans = [Span(0, len(cells[0]), "level1"), Span(starts[1], starts[1] + len(cells[1]), "level3"),
                            Span(starts[2], starts[3] + len(cells[3]), "description")]
            elif ln.label == "project_header" and re.fullmatch(r"\t\t[\d.]+\t[\d.]+\t*", ln.text):
                ln.label = "indicator_row"
                ln.spans = [Span(m.start(), m.end(), "level3" if k == 0 else "target")
                            for k, m in enumerate(re.finditer(r"[\d.]+", ln.text))]

    out, ann = assembled(path, misread)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= 0.99  # 1.0 measured; 0.92 before


def test_numbered_titles_read_as_text_still_name_their_projects():
    """Seed 000: " 1、“冀财社[2020]171 号”…通知绩效目" / "标表" were both read as text (the table
    opens at its project lines), and " 7、…冀财社【2020】201 号" was read as text above its second
    line "（wt）绩效目标表" (too long a tail for a wrapped title's last characters)."""
    path = SEEDS / "seed_000_pingxiang_2022.jsonl"

    def numbered_titles_as_text(lines: list[Line]) -> None:
        for before, ln in zip(lines, lines[1:]):
            if before.label == "table_title" and ln.label == "table_title" and re.match(r"^\s*[17]、", before.text):
                before.label, before.spans = "other", []
                if len(ln.text.strip()) <= 3:
                    ln.label, ln.spans = "other", []

    assert _projects_f1(path, numbered_titles_as_text) >= 0.99  # 1.0 measured; 0.93 before


def test_a_department_table_is_about_the_department_and_pairs_are_no_projects():
    """Seed 002: in the department-wide table the tagger read a fund source of its header lines
    ("(2)财政专户管理资金") as a project; in the wide project table a row listing more (三级指标,
    指标值) pairs under a project ("…持续开展打击欺诈骗保行为…\\t规范两定机构医保刷卡行为") had its
    first cell tagged as a project name."""
    path = SEEDS / "seed_002_chanhe_2022.jsonl"

    def funds_and_pairs_as_projects(lines: list[Line]) -> None:
        for ln in lines:
            text = ln.text.strip()
            if ln.label == "project_header" and text.startswith("(2)"):
                ln.spans = [Span(ln.text.index("(2)"), len(ln.text.rstrip()), "project")]
            elif (ln.label == "indicator_row" and ln.text.startswith("\t\t\t\t\t\t\t")
                  and len([c for c in ln.text.split("\t") if c.strip()]) == 2 and ln.spans):
                s = min(ln.spans, key=lambda s: s.start)
                ln.spans = [Span(s.start, s.end, "project")] + [x for x in ln.spans if x is not s]

    assert _projects_f1(path, funds_and_pairs_as_projects) >= 0.99  # 1.0 measured; 0.27 before this round

def _pdf_line(text: str, page: int, x0: float, y0: float, label: str, span: Optional[str] = None) -> Line:
    line = Line(text=text, page=page, index=0, bbox=(x0, y0, x0 + 9.0 * len(text), y0 + 10.0), size=9.0,
                label=label, label_prob=1.0)
    if span:
        line.spans = [Span(0, len(text), span, prob=1.0)]
    return line


def test_a_header_at_the_foot_of_a_page_names_the_columns_of_the_rows_on_the_next():
    """Seen on a browser-printed PDF (benchmarks/other_producer.py): a table's title and header rows
    end one page, its 栏次 row and body rows start the next. The 栏次 row names no column: the
    header of the previous page does."""
    title = "2020年部门预算政府性基金预算财政拨款支出表"
    page1 = [_pdf_line(title, 1, 150, 600, "table_title")]
    page1 += [_pdf_line(text, 1, x, 730, "table_header") for text, x in
              (("科目编码", 60), ("科目名称", 141), ("合计", 310), ("基本支出", 350), ("项目支出", 400))]
    page2 = [_pdf_line(text, 2, x, 30, "table_header") for text, x in
             (("栏次", 30), ("1", 62), ("2", 141), ("3", 312), ("4", 356), ("5", 402))]
    for k, (code, name, total, basic, project) in enumerate((("212", "城乡社区支出", "20.00", "0.00", "20.00"),
                                                            ("21208", "国有土地使用权出让收入安排的支出", "20.00", "0.00", "20.00"),
                                                            ("229", "其他支出", "137.00", "0.00", "137.00"))):
        y = 50 + 14 * k
        page2 += [_pdf_line(code, 2, 62, y, "subject_row", "subject_code"),
                  _pdf_line(name, 2, 141, y, "subject_row", "subject_name")]
        page2 += [_pdf_line(value, 2, x, y, "subject_row", "amount") for value, x in ((total, 310), (basic, 356), (project, 400))]
    for i, ln in enumerate(page1):
        ln.index = i
    for i, ln in enumerate(page2):
        ln.index = i
    doc = Document(doc_id="x" * 64, source="foot.pdf", format="pdf",
                   pages=[Page(number=1, width=612, height=792, lines=page1),
                          Page(number=2, width=612, height=792, lines=page2)])
    detect_metadata(doc)
    out = assemble(doc).to_contract()
    rows = [r for r in out["records"] if r["type"] == "budget_line"]
    assert len(rows) == 3
    assert all(set(r["values"]) == {"total", "basic", "project"} for r in rows), [r["values"] for r in rows]
    assert rows[2]["values"] == {"total": 137.0, "basic": 0.0, "project": 137.0}


def test_a_header_cell_taken_for_a_project_line_still_names_its_column():
    """Seen on a browser-printed PDF (benchmarks/other_producer.py): a performance table's wrapped
    "一级指/标" header cell read as a project-header line left the level-1 column without a
    header, and every row without its 一级指标. A project line in the header row is a header cell."""
    path = SYNTH / "synth_0003_excel_column_major.jsonl"
    out, ann = assembled(path)
    baseline = f1(indicator_tuples(ann.records), indicator_tuples(out["records"]))

    def level1_header_as_project_line(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "table_header" and ln.text.strip().startswith("一级指"):
                ln.label = "project_header"

    out, ann = assembled(path, level1_header_as_project_line)
    assert f1(indicator_tuples(ann.records), indicator_tuples(out["records"])) >= baseline - 0.005


def test_a_part_heading_taken_for_a_title_does_not_join_the_numbered_title_under_it():
    """Seen after a retraining: "部门预算项目绩效目标表", the heading of the performance tables' part,
    read as a table title, was joined with "1、执法办案经费绩效目标表" under it into one title, and
    the project came out as "部门预算项目绩效目标表1、执法办案经费"."""
    path = SYNTH / "synth_0089_word_three_line.jsonl"
    out, ann = assembled(path)
    baseline = f1(project_names(ann.records), project_names(out["records"]))

    def heading_as_title(lines: list[Line]) -> None:
        for ln in lines:
            if ln.label == "narrative" and ln.text.strip().endswith("绩效目标表"):
                ln.label = "table_title"

    out, ann = assembled(path, heading_as_title)
    assert f1(project_names(ann.records), project_names(out["records"])) >= baseline


SEED_000 = SEEDS / "seed_000_pingxiang_2022.jsonl"


def _indicators_f1(path: Path, misread=None) -> float:
    out, ann = assembled(path, misread)
    return f1(indicator_tuples(ann.records), indicator_tuples(out["records"]))


def test_a_value_run_into_the_description_before_it_is_its_own_cell():
    """Seen on seed 000 after a retraining: "系统维护及数据存储费 3 万元" tagged as one 描述 (or a whole
    row left untagged), so the 指标值 "3 万元" was lost; a number with its unit after text, apart by
    a space, is a cell of its own."""
    baseline = _indicators_f1(SEED_000)

    def value_into_description(lines: list[Line]) -> None:
        for ln in lines:
            spans = sorted(ln.spans, key=lambda s: s.start)
            for a, b in zip(spans, spans[1:]):
                if (a.label == "description" and b.label == "target" and ln.text[a.end:b.start].isspace()
                        and ln.text[b.start].isdigit()):
                    ln.spans = [s for s in spans if s is not a and s is not b] + [Span(a.start, b.end, "description")]
                    break

    assert _indicators_f1(SEED_000, value_into_description) >= baseline - 0.01


def test_a_comparison_and_its_number_are_one_value():
    """"不晚于 11 月底" tagged 描述 "不晚于" + 指标值 "11 月底": the comparison belongs to the value."""
    baseline = _indicators_f1(SEED_000)

    def comparison_apart(lines: list[Line]) -> None:
        for ln in lines:
            for s in list(ln.spans):
                text = ln.text[s.start:s.end]
                if s.label == "target" and text.startswith("不") and " " in text:
                    cut = s.start + text.index(" ")
                    ln.spans.remove(s)
                    ln.spans += [Span(s.start, cut, "description"), Span(cut + 1, s.end, "target")]

    assert _indicators_f1(SEED_000, comparison_apart) >= baseline - 0.005


def test_header_cells_read_as_indicator_pieces_make_no_row():
    """Seen on seed 000 after a retraining: its header line " 一级指标 二级指标 三级指标 绩效指标描述
    指标值 指标值确定依据" read as an indicator row, tagged level1 / level2 / level3 / 描述, made a row
    of header words and gave the rows under it the level "一级指标"."""
    baseline = _indicators_f1(SEED_000)
    roles = {"一级指标": "level1", "二级指标": "level2", "三级指标": "level3"}

    def header_line_as_row(lines: list[Line]) -> None:
        for ln in lines:
            words = ln.text.split()
            if ln.label == "table_header" and words[:3] == list(roles) and len(words) >= 5:
                spans, pos = [], 0
                for word in words[:3]:
                    start = ln.text.index(word, pos)
                    spans.append(Span(start, start + len(word), roles[word]))
                    pos = start + len(word)
                rest = ln.text.index(words[3], pos)
                spans.append(Span(rest, len(ln.text.rstrip()), "description"))
                ln.label, ln.spans = "indicator_row", spans

    assert _indicators_f1(SEED_000, header_line_as_row) >= baseline - 0.005


def test_unmapped_nested_headers_keep_their_parent_and_totals_and_unit_rows_keep_their_names():
    """Seed 002: a carry-over fund column is `extra:<parent>/<leaf>` as annotated (it was
    "extra:财政拨款结转结余一般公共预算"), a 合计 printed in the 科目编码 column names its row, and a
    project table's unit row (code under 项目名称, name under 项目单位) is named by its unit."""
    out, ann = assembled(SEEDS / "seed_002_chanhe_2022.jsonl")
    cells = budget_cells(out["records"], out["tables"])
    assert cells[("project_expenditure", None, "洛阳市瀍河回族区医疗保障局", "extra:财政拨款结转结余/一般公共预算", 0.29)] == 1
    assert cells[("general_budget_basic_expenditure", None, "合计", "total", 123.74)] == 1
    assert cells[("project_expenditure", None, "洛阳市瀍河回族区医疗保障局", "total", 724.29)] == 1


@pytest.mark.parametrize("leaf, full, key", [
    ("一般公共预算", "上年结转结余 一般公共预算", "extra:上年结转结余/一般公共预算"),
    ("数量", "数量", "extra:数量"), ("其他 资金", "其他 资金", "extra:其他资金"), ("", "", "extra:?"),
])
def test_extra_key_is_the_printed_header_with_its_parent(leaf, full, key):
    from pipeline.header_rules import extra_key
    assert extra_key(leaf, full) == key


def test_a_tabbed_table_whose_export_dropped_a_blank_cell_is_read_by_its_identities():
    """Seed 002's 一般公共预算支出预算表 lost the blank 对个人和家庭的补助 cell of every data row, so
    7.30 sat under that header and 724.29 under 资本性支出. 基本支出 = Σ its economic parts and 项目支出
    = 其他运转类 + 特定目标类 hold only with the amounts moved back; the 部门支出预算表 earlier in the
    document says which of the blank columns was dropped (7.30 is 商品和服务支出 there)."""
    out, ann = assembled(SEEDS / "seed_002_chanhe_2022.jsonl")
    cells = budget_cells(out["records"], out["tables"])
    for code, key, value in [("2101501", "goods_services", 7.3), ("合计", "goods_services", 7.3),
                             ("2101202", "other_operation", 585.0), ("合计", "other_operation", 724.29)]:
        assert cells[("general_budget_expenditure", None, code, key, value)] == 1, (code, key)
    assert not any(k[0] == "general_budget_expenditure" and k[3] in ("household_subsidy", "capital") for k in cells)
    failed = [c for r in out["records"] if r["table_id"] == next(t["table_id"] for t in out["tables"]
              if t["kind"] == "general_budget_expenditure") for c in r["checks"] if not c["ok"]]
    assert failed == []


def _pdf_page(rows: list[tuple[str, float, float, float, str]]) -> Document:
    """One PDF page of labelled lines (text, x0, x1, top, label), 10.5 pt high as a browser prints 9 pt text."""
    lines = [Line(text=t, page=1, index=i, bbox=(x0, y0, x1, y0 + 10.5), label=lab, label_prob=0.99, size=9.0)
             for i, (t, x0, x1, y0, lab) in enumerate(rows)]
    return Document(doc_id="0" * 64, source="t.pdf", format="pdf", pages=[Page(number=1, width=595, height=842, lines=lines)])


H, R = "table_header", "subject_row"


def test_a_tight_pdf_list_whose_rows_mostly_print_no_amount_keeps_one_row_per_line():
    """Seed 001's 固定资产占用情况表 printed by Chromium: rows 3.5 pt apart (under the wrap gap) and
    amounts on two rows of six. The amount column cannot mark the rows; the name column can, as none
    of its lines fills the column's width (a wrapped cell's first line would)."""
    doc = assemble(_pdf_page([
        ("固定资产占用情况表", 243, 369, 10, "table_title"),
        ("项 目", 38, 58, 30, H), ("数 量", 158, 178, 30, H), ("价值（金额单位：万元）", 237, 336, 30, H),
        ("资产总额", 38, 74, 44, R), ("-", 158, 163, 44, R), ("105.09", 237, 264, 44, R),
        ("1、房屋（平方米）", 38, 114, 58, R), ("-", 158, 163, 58, R),
        ("其中：办公用房（平方米）", 38, 146, 72, R), ("-", 158, 163, 72, R),
        ("2、车辆（台、辆）", 38, 114, 86, R), ("3", 158, 163, 86, R), ("44.73", 237, 259, 86, R),
        ("3、单价在20万元以上的设备", 38, 151, 100, R), ("-", 158, 163, 100, R),
        ("4、其他固定资产", 38, 105, 114, R), ("60.36", 237, 259, 114, R)]))
    rows = {r.fields["subject_name"]: r.fields["values"] for r in doc.records if r.type == "budget_line"}
    assert list(rows) == ["资产总额", "1、房屋（平方米）", "其中：办公用房（平方米）", "2、车辆（台、辆）",
                          "3、单价在20万元以上的设备", "4、其他固定资产"]
    assert rows["资产总额"]["amount"] == 105.09 and rows["2、车辆（台、辆）"] == {"extra:数量": 3.0, "amount": 44.73}


def test_a_pdf_column_number_row_with_a_wrapped_label_is_a_header_row():
    """栏次 wrapped into 栏 / 次 in a narrow 序号 column and the numbers read as row cells: they
    joined the 合计 row below (name "1", amounts 2, 3, 4)."""
    doc = assemble(_pdf_page([
        ("部门预算财政拨款“三公”经费支出表", 150, 420, 400, "table_title"),
        ("序号", 38, 56, 440, H), ("项 目", 61, 81, 440, H), ("资金来源", 280, 316, 440, H),
        ("合计", 203, 221, 460, H), ("一般公共预算财政拨款", 243, 323, 460, H), ("政府性基金财政拨款", 330, 402, 460, H),
        ("栏", 38, 46, 478, H), ("次", 38, 46, 488.5, R), ("1", 61, 66, 483, H), ("2", 203, 208, 483, R),
        ("3", 243, 248, 483, R), ("4", 330, 335, 483, R),
        ("1", 38, 42, 502, R), ("合计", 61, 79, 502, R), ("8.06", 203, 220, 502, R), ("8.06", 243, 260, 502, R),
        ("0.00", 330, 347, 502, R),
        ("2", 38, 42, 517, R), ("“三公”经费小计", 61, 133, 517, R), ("8.06", 203, 220, 517, R),
        ("8.06", 243, 260, 517, R), ("0.00", 330, 347, 517, R)]))
    rows = [(r.fields["subject_name"], r.fields["values"]) for r in doc.records if r.type == "budget_line"]
    assert rows == [("合计", {"total": 8.06, "general_public_budget": 8.06, "government_fund": 0.0}),
                    ("“三公”经费小计", {"total": 8.06, "general_public_budget": 8.06, "government_fund": 0.0})]


def test_an_unnumbered_fragment_stream_list_is_read_a_line_a_row_and_counts_take_no_amounts():
    """Seed 000's 固定资产占用情况表 as plain text has no 序号: nothing told its rows apart, and the
    whole list became one row named "资产总额1、房屋…" with code 20318 (the 20 of "单价在 20 万元").
    A line is a row there; 569632.30 is no 数量."""
    out, ann = assembled(SEEDS / "seed_000_pingxiang_2022.jsonl")
    assets = [r for r in out["records"] if r["table_id"] == next(t["table_id"] for t in out["tables"] if t["kind"] == "assets")]
    assert [r["subject_name"] for r in assets] == ["资产总额", "1、房屋（平方米）", "其中：办公用房（平方米）", "2、车辆（台、辆）",
                                                   "3、单价在20万元以上的设备", "4、其他固定资产"]
    assert assets[0]["values"] == {"amount": 569632.3}
    assert assets[-1]["values"] == {"extra:数量": 318.0, "amount": 569632.3}
    assert all(r["subject_code"] is None for r in assets)


def test_two_sided_stream_rows_keep_wrapped_name_tails_on_their_side():
    """Seed 000's summaries as plain text: "8 八、社会 56.30 56.30" and, after a page break and the
    repeated header, "保障和就 / 业支出" (the name's tail) became an income item "八、社会" beside an
    expenditure item "保障和就业支出"; "八、附属单位上缴 / 收入 / 八、社会保障和就 / 业支出 / 56.30" lost its
    expenditure side, as the lone 收入 opened a third item."""
    out, ann = assembled(SEEDS / "seed_000_pingxiang_2022.jsonl")
    cells = budget_cells(out["records"], out["tables"])
    assert cells[("fiscal_summary", "expenditure", "八、社会保障和就业支出", "total", 56.3)] == 1
    assert cells[("revenue_expenditure_summary", "expenditure", "八、社会保障和就业支出", "amount", 56.3)] == 1
    names = {(r["side"], r["subject_name"]) for r in out["records"] if r["type"] == "budget_line"}
    assert ("income", "八、社会") not in names and ("income", "八、附属单位上缴收入") in names


def test_a_canonical_key_names_one_column_per_table_side():
    """Seed 002's 项目支出预算表 reads 本年拨款/一般公共预算 and 财政拨款结转结余/一般公共预算: a header
    model that maps both to general_public_budget left a row with only the carry-over printed
    (0.29) reading it as this year's budget. The left column keeps the key, the other its header."""
    from pipeline.assemble import ColumnSpec, one_column_per_key

    specs = [ColumnSpec(3, "合计", "合计", key="total"),
             ColumnSpec(4, "一般公共预算", "本年拨款 一般公共预算", key="general_public_budget"),
             ColumnSpec(7, "一般公共预算", "财政拨款结转结余 一般公共预算", key="general_public_budget"),
             ColumnSpec(8, "合计", "支出 合计", key="total", side="expenditure"),
             ColumnSpec(9, "其他资金", "其他资金", key="extra:其他资金")]
    one_column_per_key(specs)
    assert [s.key for s in specs] == ["total", "general_public_budget", "extra:财政拨款结转结余/一般公共预算", "total",
                                      "extra:其他资金"]


def test_row_pieces_of_a_plain_text_table_taken_for_headers_stay_rows():
    """Seed 000 as plain text, read by a classifier that took a row's "5 20899" and wrapped name
    pieces ("养老", "保险") for header lines: they opened no new header and broke no row. The header
    repeated on the next page prints the table's own header lines again and stays a header."""
    def misread(lines: list[Line]) -> None:
        for ln in lines:
            if ln.text.strip() in ("5 20899", "养老", "保险", "单位", "基本") and ln.label == "subject_row":
                ln.label = "table_header"

    clean = _cells_f1(SEEDS / "seed_000_pingxiang_2022.jsonl")
    assert _cells_f1(SEEDS / "seed_000_pingxiang_2022.jsonl", misread) >= clean - 0.002


def _pdf_pages(pages: list[list[tuple[str, float, float, float, str]]]) -> Document:
    out = []
    for n, rows in enumerate(pages, start=1):
        lines = [Line(text=t, page=n, index=i, bbox=(x0, y0, x1, y0 + 11.0), label=lab, label_prob=0.99, size=9.0)
                 for i, (t, x0, x1, y0, lab) in enumerate(rows)]
        out.append(Page(number=n, width=595, height=842, lines=lines))
    return Document(doc_id="0" * 64, source="t.pdf", format="pdf", pages=out)


def test_a_merged_level_cell_split_by_a_page_break_names_the_rows_on_both_pages():
    """A target table starting at the foot of a page with one row: its 产出指标 is printed once, under
    that row (centred on the part of its block the page holds), and the block goes on at the top of
    the next page, whose first merged cell is the next block's 效益指标."""
    I = "indicator_row"
    header = [("一级指标", 71, 107, 0, H), ("二级指标", 125, 161, 0, H), ("三级指标", 211, 247, 0, H),
              ("指标值", 412, 439, 0, H)]
    at = lambda rows, y: [(t, x0, x1, y0 + y, lab) for t, x0, x1, y0, lab in rows]  # noqa: E731
    page1 = [("1、耕地地力保护补贴绩效目标表", 64, 300, 680, "table_title")] + at(header, 735) + [
        ("数量指标", 124, 162, 750, I), ("建设高标准农田面积", 175, 261, 750, I), ("≥2.5万亩", 405, 446, 750, I),
        ("产出指标", 70, 108, 767, I)]
    page2 = at(header, 40) + [
        ("质量指标", 124, 162, 60, I), ("资金使用合规率", 175, 261, 60, I), ("100%", 405, 446, 60, I),
        ("时效指标", 124, 162, 80, I), ("资金拨付及时率", 175, 261, 80, I), ("100%", 405, 446, 80, I),
        ("社会效益指标", 124, 180, 110, I), ("政策知晓率", 175, 261, 110, I), ("≥90%", 405, 446, 110, I),
        ("效益指标", 70, 108, 110, I)]
    doc = assemble(_pdf_pages([page1, page2]))
    got = indicator_tuples(doc.to_contract()["records"])
    assert got == indicator_tuples([
        {"type": "indicator", "level1": l1, "level2": l2, "level3": l3, "target": t} for l1, l2, l3, t in [
            ("产出指标", "数量指标", "建设高标准农田面积", "≥2.5万亩"), ("产出指标", "质量指标", "资金使用合规率", "100%"),
            ("产出指标", "时效指标", "资金拨付及时率", "100%"), ("效益指标", "社会效益指标", "政策知晓率", "≥90%")]])


def test_repeated_department_furniture_read_as_a_row_joins_no_row():
    """Seed 000 as plain text repeats " 450 平乡县医疗保障局" over every page; a classifier that read it
    as a row's piece made "302450" of 302's code and "八、社会450平乡县医疗保障局保障和就业支出" of a name."""
    def misread(lines: list[Line]) -> None:
        for ln in lines:
            if ln.text.strip() == "450 平乡县医疗保障局":
                ln.label = "subject_row"

    clean = _cells_f1(SEEDS / "seed_000_pingxiang_2022.jsonl")
    assert _cells_f1(SEEDS / "seed_000_pingxiang_2022.jsonl", misread) >= clean - 0.002


def test_a_subtotal_column_sums_what_its_parent_heading_names():
    """上年结转结余/合计 is the carry-over, whatever a header model trained on few such parents says."""
    from pipeline.header_model import HeaderModel

    # a model that has only seen a 合计 as the table's total, as one trained on headers without parents
    model = HeaderModel.fit([("合计", "total")] * 5 + [("本年收入", "current_year"), ("上年结转", "carryover"),
                             ("基本支出", "basic"), ("其他资金", "extra:其他资金")], [("收入总表", "revenue_summary"),
                                                                                ("支出总表", "expenditure_summary")])
    assert model.column_keys([("合计", "合计")])[0][0] == "total"
    keys = [k for k, _ in model.column_keys([("合计", "上年结转结余 合计"), ("合计", "本年收入 合计"), ("小计", "基本支出 小计")])]
    assert keys == ["carryover", "current_year", "basic"]


def test_a_pdf_title_whose_numbered_first_line_was_taken_for_text_keeps_it():
    """A project named after its funding notice wraps its title: "1、河北省财政厅 …购置经费补助资" read
    as text left the table titled "金的通知冀财教【2020】28号绩效目标表" and the project named by that."""
    doc = assemble(_pdf_pages([[
        ("第二部分 预算项目绩效目标", 64, 200, 600, "narrative"),
        ("1、河北省财政厅 河北省残疾人联合会关于提前下达2020年中央办公设备购置经费补助资", 64, 526, 640, "narrative"),
        ("金的通知冀财教【2020】28号绩效目标表", 64, 250, 655, "table_title"),
        ("一级指标", 71, 107, 680, H), ("二级指标", 125, 161, 680, H), ("三级指标", 211, 247, 680, H),
        ("指标值", 412, 439, 680, H),
        ("产出指标", 70, 108, 700, "indicator_row"), ("数量指标", 124, 162, 700, "indicator_row"),
        ("购置设备数量", 175, 261, 700, "indicator_row"), ("≥5台", 405, 446, 700, "indicator_row")]]))
    assert doc.tables[0].title == ("1、河北省财政厅 河北省残疾人联合会关于提前下达2020年中央办公设备购置经费补助资"
                                   "金的通知冀财教【2020】28号绩效目标表")


def test_a_long_project_code_tagged_as_something_else_still_opens_its_project():
    """Seed 002's wide 项目绩效目标表 scored without it: "410304220000000016435" tagged as a 序号 (and the
    name after it as a description) lost the project 财政应负担部分核酸检测费用."""
    def misread(lines: list[Line]) -> None:
        for ln in lines:
            if ln.text.startswith("410304220000000016435"):
                relabel = {"project_code": "row_no", "project": "description"}
                ln.spans = [Span(s.start, s.end, relabel.get(s.label, s.label), s.key) for s in ln.spans]

    out, ann = assembled(SEEDS / "seed_002_chanhe_2022.jsonl", misread)
    assert project_names(out["records"])["财政应负担部分核酸检测费用"] == 1


def test_a_project_form_is_read_by_its_printed_labels_whatever_the_tags():
    """Found on never-seen generated PDFs (seed 8642) with the retrained tagger: the 项目名称 value
    left untagged and the 实施单位 value tagged as the project named the project "武功县卫生健康局"."""
    P = "project_header"
    page = [("1、2019年度计划生育家庭奖励扶助项目支出绩效自评表", 150, 440, 60, "table_title"),
            ("项目名称", 38, 74, 90, P), ("计划生育家庭奖励扶助", 120, 220, 90, P),
            ("实施单位", 38, 74, 105, P), ("武功县卫生健康局", 120, 190, 105, P),
            ("一级指标", 38, 74, 130, H), ("二级指标", 100, 136, 130, H), ("三级指标", 160, 196, 130, H),
            ("指标值", 300, 327, 130, H),
            ("投入", 40, 57, 150, "indicator_row"), ("预算编制", 100, 134, 150, "indicator_row"),
            ("预算编制科学性", 160, 220, 150, "indicator_row"), ("科学", 300, 317, 150, "indicator_row")]
    doc = _pdf_pages([page])
    unit = doc.pages[0].lines[4]
    unit.spans = [Span(0, len(unit.text), "project")]
    assemble(doc)
    projects = [r.fields for r in doc.records if r.type == "project"]
    assert [(p["name"], p["implementing_unit"]) for p in projects] == [("计划生育家庭奖励扶助", "武功县卫生健康局")]


def test_a_wide_tables_unit_row_is_no_project_whatever_its_name_is_tagged():
    """The unit row of a wide project table (639001 | 秭归县卫生健康局 | amounts) with its name tagged
    as a project became a project named after the department; a 序号 or a project's long code does not
    make a unit row."""
    from pipeline.assemble import _project_in_row
    from pipeline.layout import Cell, Fragment, Row

    def row(first: str, first_label: str) -> Row:
        ln = Line(text=f"{first}\t秭归县卫生健康局\t6492.60", page=1, index=0)
        cells = [(first, first_label), ("秭归县卫生健康局", "project"), ("6492.60", "amount")]
        return Row(cells={j: Cell(col=j, frags=[Fragment(text=t, line=ln, col=j, labels=[lab])])
                          for j, (t, lab) in enumerate(cells)})

    table = Table(table_id="t14", kind="performance_targets", title=None)
    assert _project_in_row(table, row("639001", "department_code"), 0, None) is None
    assert _project_in_row(table, row("410304220000000016435", "project_code"), 0, None).fields["name"] == "秭归县卫生健康局"
    assert _project_in_row(table, row("1", "row_no"), 0, None).fields["name"] == "秭归县卫生健康局"


@pytest.mark.parametrize("index", [4, 9])
def test_never_seen_generated_pdfs_name_their_projects(tmp_path, index):
    """A newcomer check's never-seen files (`budgetdoc synth 12 --seed 8642`) read with the shipped
    models: document 4's wide project table gave a project named after the department (its unit row
    and title-level unit line tagged as a project), document 9's self-evaluation its implementing
    unit for the project. Rendered here, read end to end, and compared with the labels the generator
    knows by construction."""
    from pipeline.extract import load_document
    from pipeline.process import Processor
    from training.synth import render_document

    _, pdf, pages, _ = render_document(index, 8642)
    path = tmp_path / f"doc{index}.pdf"
    path.write_bytes(pdf)
    doc = Processor(config.MODELS_DIR).process(load_document(path))
    gold = [r for p in pages for r in p["records"] if r["type"] == "project"]
    assert project_names(doc.to_contract()["records"]) == project_names(gold)


def test_a_narrow_class_column_that_wraps_its_codes_does_not_mark_the_rows(tmp_path):
    """A 类 column too narrow for "208" prints "20" / "8": two lines per row in the code column
    made it look like the column with the most cells, the rows were cut by it and the 合计 and
    unit rows lost their amounts (generator seed 1618, its henan_split_codes budget: cells 0.864).
    The amount column marks the rows when it has more cells than the codes have."""
    from training.synth import generate

    generate(3, tmp_path / "pdf", seed=1618, annotations_out=tmp_path / "ann", progress=False)
    path = next((tmp_path / "ann").glob("*_0002_henan_split_codes.jsonl"))
    pages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()][1:]
    assert any(ln["text"] == "8" and ln["bbox"][0] < 60 for p in pages for ln in p["lines"])  # the wrapped 类
    assert _cells_f1(path) >= 0.98


def test_a_wide_targets_row_holding_its_units_row_names_the_project_not_the_unit(tmp_path):
    """An excel_column_major targets table prints the unit's row and its project's row in one row
    band: 单位编码（项目编码） holds "733001" over "158452248000004" / "7630", 项目单位（项目名称）
    "肥西县教育局" over the wrapped name (generator seed 8080, newcomer check: the project read as
    "肥西县教育局义务教育薄弱环节改善与能力提升" beside a second one, "义务教育薄弱环节").
    A cell's lines tagged as other fields only are not the project's."""
    from training.synth import generate

    generate(3, tmp_path / "pdf", seed=8080, annotations_out=tmp_path / "ann", progress=False)
    path = next((tmp_path / "ann").glob("*_0002_excel_column_major.jsonl"))
    pages = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()][1:]
    assert any(ln["text"] == "733001" for p in pages for ln in p["lines"])  # the unit's code over the project's
    out, ann = assembled(path)
    assert project_names(out["records"]) == project_names(ann.records)
    (project,) = [r for r in out["records"] if r["type"] == "project" and "薄弱环节" in r["name"]]
    assert (project["code"], project["implementing_unit"], project["amount"]) == \
        ("1584522480000047630", "肥西县教育局", 2603.78)


def test_a_year_line_under_a_performance_title_leaves_the_project_name_alone():
    """The Ministry of Finance forms print "（2022 年度）" under a performance table's title; the title
    "1、营养改善计划补助绩效目标表" still names the project (generated test_doc: four projects lost)."""
    from pipeline.assemble import TableRegion, project_from_region

    titles = [Line(text="1、营养改善计划补助绩效目标表", page=12, index=0, label="table_title"),
              Line(text="（2022 年度）", page=12, index=1, label="table_title")]
    table = Table(table_id="t13", kind="performance_targets", title="\n".join(ln.text for ln in titles))
    project = project_from_region(TableRegion(title_lines=titles), table)
    assert project is not None and project.fields["name"] == "营养改善计划补助"


def test_a_title_ending_in_project_keeps_it_in_the_name_when_the_tagger_does():
    """"3、高标准农田建设项目绩效目标表": the title alone leaves it open whether 项目 is the name's
    (generator seed 1357: "高标准农田建设" against the gold "高标准农田建设项目"); the tagger's
    project span over the title settles it, and without such a span the name stays as read."""
    from pipeline.assemble import TableRegion, project_from_region

    text = "3、高标准农田建设项目绩效目标表"

    def name(span_end: Optional[int]) -> str:
        spans = [Span(2, span_end, "project", prob=0.9)] if span_end else []
        title = Line(text=text, page=15, index=0, label="table_title", spans=spans)
        table = Table(table_id="t14", kind="performance_targets", title=text)
        return project_from_region(TableRegion(title_lines=[title]), table).fields["name"]

    assert name(text.index("绩效")) == "高标准农田建设项目"
    assert name(text.index("项目")) == "高标准农田建设"
    assert name(None) == "高标准农田建设"


def test_a_wide_table_whose_wrapped_project_name_is_tagged_on_its_first_line_only_names_it_once():
    """A retrained tagger tagged "国土空间规划编制经" as a project and not its wrapped tail "费": the
    table's project lines then named a project of that first line beside the row's full name."""
    path = SYNTH / "synth_0045_excel_column_major.jsonl"

    def tail_untagged(lines: list[Line]) -> None:
        for a, b in zip(lines, lines[1:]):
            if a.text == "国土空间规划编制经" and b.text == "费":
                b.spans = []
                return
        raise AssertionError("the wrapped project name is no longer in the committed corpus")

    assert _projects_f1(path) == 1.0
    assert _projects_f1(path, tail_untagged) == 1.0


def test_a_wide_table_row_left_without_cells_is_no_unit_row(tmp_path):
    """The benchmark's corpus (`budgetdoc synth 200 --seed 2024`), document 127, crashed the assembly
    (min() of an empty row in `_unit_row`): the file became `internal_error`. Read end to end now,
    it is a document like the others."""
    from pipeline.assemble import _unit_row
    from pipeline.extract import load_document
    from pipeline.layout import Row
    from pipeline.process import Processor
    from training.synth import render_document

    assert not _unit_row(Row(cells={}))
    _, pdf, pages, _ = render_document(127, 2024)
    path = tmp_path / "doc127.pdf"
    path.write_bytes(pdf)
    doc = Processor(config.MODELS_DIR).process(load_document(path))
    assert doc.status == "ok"
    gold = [r for p in pages for r in p["records"] if r["type"] == "project"]
    assert project_names(doc.to_contract()["records"]) == project_names(gold)
