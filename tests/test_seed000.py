"""Gold annotation of seed 000 (平乡县医疗保障局 2022, PDF-text layout): coverage, validity,
accounting identities of the printed tables and hand-verified values."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Optional

import pytest

from pipeline import config
from pipeline.checks import run_checks
from training.annotations import validate_paths
from training.seed_tools import seed000

ANNOTATION = seed000.output_path()
TOL = 0.005


@pytest.fixture(scope="module")
def doc() -> tuple[dict, dict]:
    header, page = [json.loads(line) for line in ANNOTATION.read_text(encoding="utf-8").splitlines()]
    return header, page


@pytest.fixture(scope="module")
def records(doc) -> list[dict]:
    return doc[1]["records"]


def budget_rows(records: list[dict], table_id: str, side: Optional[str] = None) -> list[dict]:
    return [r for r in records if r["type"] == "budget_line" and r["table_id"] == table_id and r["side"] == side]


def by_code(rows: list[dict]) -> dict[str, dict]:
    return {r["subject_code"]: r for r in rows if r["subject_code"]}


def row_named(rows: list[dict], name: str) -> dict:
    found = [r for r in rows if r["subject_name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} rows"
    return found[0]


def v(row: dict, key: str) -> float:
    return row["values"].get(key, 0.0)


# ----------------------------------------------------------------------------- file

def test_annotation_file_is_what_the_tool_builds():
    built = seed000.build()
    on_disk = [json.loads(line) for line in ANNOTATION.read_text(encoding="utf-8").splitlines()]
    assert on_disk == json.loads(json.dumps(built, ensure_ascii=False))


def test_every_non_blank_line_is_annotated_once_with_its_text(doc):
    source = (config.SEEDS_DIR / seed000.SEED_FILE).read_bytes().decode("utf-8").split("\n")
    expected = {i + 1: t for i, t in enumerate(source) if t.strip()}
    lines = doc[1]["lines"]
    numbers = [ln["line_no"] for ln in lines]
    assert len(numbers) == len(set(numbers)) == len(expected) == 2239  # line 4016 is a lone space
    assert {ln["line_no"]: ln["text"] for ln in lines} == expected
    assert all(ln["bbox"] is None for ln in lines)


def test_file_validates():
    problems, count = validate_paths([ANNOTATION])
    assert count == 1
    assert problems == []


def test_header(doc):
    header = doc[0]
    assert header["department"] == {"name": "平乡县医疗保障局", "code": "450"}
    assert (header["fiscal_year"], header["unit"], header["doc_kind"]) == (2022, "万元", "budget")
    assert (header["origin"], header["split"], header["template"]) == ("seed", "seed", "seed_pdftext_hebei")
    kinds = [t["kind"] for t in header["tables"]]
    assert kinds[:9] == ["revenue_expenditure_summary", "revenue_summary", "expenditure_summary", "fiscal_summary",
                         "general_budget_expenditure", "general_budget_basic_expenditure",
                         "government_fund_expenditure", "state_capital_expenditure", "three_public_expenditure"]
    assert kinds.count("performance_targets") == 21
    assert {t["table_id"] for t in header["tables"] if t["empty"]} == {"t08", "t09", "t32"}


def test_every_record_joins_to_its_lines(doc, records):
    rows = {(ln["table_id"], ln["row"]) for ln in doc[1]["lines"] if ln["row"] is not None}
    for r in records:
        if r["type"] in ("budget_line", "indicator"):
            assert (r["table_id"], r["row"]) in rows, r["record_id"]


# ----------------------------------------------------------------------------- identities

ONE_SIDED = {"t02": "functional", "t03": "functional", "t05": "functional", "t06": "economic", "t07": "functional"}


@pytest.mark.parametrize("table_id", sorted(ONE_SIDED))
def test_parent_rows_are_sums_of_their_children(records, table_id):
    rows = budget_rows(records, table_id)
    codes = by_code(rows)
    checked = 0
    for code, parent in codes.items():
        children = [c for k, c in codes.items() if len(k) == len(code) + 2 and k.startswith(code)]
        if not children:
            continue
        for key in parent["values"]:
            assert abs(v(parent, key) - sum(v(c, key) for c in children)) < TOL, (table_id, code, key)
        checked += 1
    assert checked >= 2
    total = row_named(rows, "合计")
    top = [r for k, r in codes.items() if len(k) == 3]
    for key in total["values"]:
        assert abs(v(total, key) - sum(v(r, key) for r in top)) < TOL, (table_id, key)
    assert all(r["classification"] == ONE_SIDED[table_id] for r in codes.values())


def test_row_identities(records):
    for r in budget_rows(records, "t02"):
        assert abs(v(r, "total") - v(r, "current_year") - v(r, "carryover")) < TOL, r["record_id"]
        assert abs(v(r, "current_year") - v(r, "fiscal_appropriation")) < TOL, r["record_id"]
    for tid in ("t03", "t05", "t07"):
        for r in budget_rows(records, tid):
            assert abs(v(r, "total") - v(r, "basic") - v(r, "project")) < TOL, r["record_id"]
    for r in budget_rows(records, "t06"):
        assert abs(v(r, "total") - v(r, "personnel") - v(r, "public_funds")) < TOL, r["record_id"]
        assert ("personnel" in r["values"]) != ("public_funds" in r["values"]) or r["subject_code"] is None
    for r in budget_rows(records, "t04", "expenditure"):
        parts = v(r, "general_public_budget") + v(r, "government_fund") + v(r, "state_capital")
        assert abs(v(r, "total") - parts) < TOL, r["record_id"]


def items_sum(rows: list[dict], key: str) -> float:
    return sum(v(r, key) for r in rows if r["subject_name"][:1] in "一二三四五六七八九十")


@pytest.mark.parametrize("table_id,key", [("t01", "amount"), ("t04", "total")])
def test_summary_tables_balance(records, table_id, key):
    income = budget_rows(records, table_id, "income")
    spend = budget_rows(records, table_id, "expenditure")
    year_in, year_out = income[-3 if table_id == "t01" else -6], row_named(spend, "本年支出合计")
    assert year_in["subject_name"] == "本年收入合计"
    assert abs(items_sum(income[: income.index(year_in)], "amount") - v(year_in, "amount")) < TOL
    assert abs(items_sum(spend, key) - v(year_out, key)) < TOL
    carry = income[income.index(year_in) + 1]
    grand_in, grand_out = row_named(income, "收入总计"), row_named(spend, "支出总计")
    assert abs(v(year_in, "amount") + v(carry, "amount") - v(grand_in, "amount")) < TOL
    assert abs(v(grand_in, "amount") - v(grand_out, key)) < TOL
    assert v(grand_in, "amount") == 5846.29


def test_fiscal_summary_columns_and_carryover_breakdown(records):
    spend = budget_rows(records, "t04", "expenditure")
    for key in ("general_public_budget", "government_fund"):
        assert abs(items_sum(spend, key) - v(row_named(spend, "本年支出合计"), key)) < TOL
    income = budget_rows(records, "t04", "income")
    carry = row_named(income, "年初财政拨款结转和结余")
    breakdown = income[income.index(carry) + 1: income.index(carry) + 4]
    assert [r["row_no"] for r in breakdown] == [33, 34, 35]
    assert abs(sum(v(r, "amount") for r in breakdown) - v(carry, "amount")) < TOL


def test_cross_table_identities(records):
    def total(tid: str, key: str = "total") -> float:
        return v(row_named(budget_rows(records, tid), "合计"), key)

    t01_in, t01_out = budget_rows(records, "t01", "income"), budget_rows(records, "t01", "expenditure")
    assert total("t02") == v(row_named(t01_in, "收入总计"), "amount")
    assert total("t03") == v(row_named(t01_out, "支出总计"), "amount")
    t04_out = row_named(budget_rows(records, "t04", "expenditure"), "本年支出合计")
    assert total("t05") == v(t04_out, "general_public_budget")
    assert total("t07") == v(t04_out, "government_fund")
    assert total("t06") == total("t05", "basic")
    # the revenue and expenditure tables list the same subjects with the same totals
    assert {c: v(r, "total") for c, r in by_code(budget_rows(records, "t02")).items()} == \
        {c: v(r, "total") for c, r in by_code(budget_rows(records, "t03")).items()}


def test_pipeline_checks_pass_except_the_known_checker_limitation(doc, records):
    """The printed tables satisfy every identity. The one failure is pipeline.checks reading the
    fiscal summary's carry-over breakdown (rows 33-35 一、二、三、 under 年初财政拨款结转和结余) as
    further items of 收入总计; reported to the lead, tolerated here until the check learns it."""
    results = run_checks(doc[0]["tables"], records)
    assert len(results) > 150
    failed = [r for r in results if not r.ok]
    assert all((r.name, r.table_id) == ("summary_balance", "t04") and "年初财政拨款结转和结余" in r.detail
               for r in failed), [r.detail for r in failed]


def test_narrative_figures_the_document_gets_wrong(records):
    """Printed mistakes kept as printed: the explanation's expenditure (5839.26) leaves out the
    7.03 carry-over that the tables spend (5846.29), and its 人员经费 474.08 + 日常公用经费 9.2
    do not make the 基本支出 490.66 it states (the tables' 公用经费 is 16.58)."""
    facts = {(r["line"], r["subject"]): r["value"] for r in records if r["type"] == "fact"}
    t03_total = v(row_named(budget_rows(records, "t03"), "合计"), "total")
    assert facts[(2174, "2022年部门支出预算")] == 5839.26 != t03_total
    assert facts[(2174, "人员经费")] + facts[(2176, "日常公用经费")] != facts[(2174, "基本支出")]
    assert facts[(2176, "项目支出")] + facts[(2174, "基本支出")] == pytest.approx(5839.26)
    assert v(row_named(budget_rows(records, "t06"), "合计"), "public_funds") == 16.58
    # 机关运行经费 9.2 is what the explanation says: 办公费 + 印刷费 + 水费 + 电费 + 差旅费
    t06 = by_code(budget_rows(records, "t06"))
    running = sum(v(t06[c], "total") for c in ("30201", "30202", "30205", "30206", "30211"))
    assert running == pytest.approx(facts[(2188, "机关运行经费")])


# ----------------------------------------------------------------------------- hand-verified values

def test_hand_verified_budget_values(records):
    t02 = by_code(budget_rows(records, "t02"))
    assert t02["2101302"]["values"] == {"total": 13.03, "current_year": 6.0, "fiscal_appropriation": 6.0,
                                         "carryover": 7.03}
    assert t02["2101302"]["subject_name"] == "疾病应急救助" and t02["2101302"]["row_no"] == 15
    assert t02["210"]["values"]["current_year"] == 5711.99
    assert t02["2101299"]["subject_name"] == "财政对其他基本医疗保险基金的补助"
    assert t02["2101299"]["values"]["total"] == 261.4
    assert t02["2089999"]["subject_name"] == "其它社会保障和就业支出"
    t03 = by_code(budget_rows(records, "t03"))
    assert t03["21015"]["values"] == {"total": 451.23, "basic": 375.23, "project": 76.0}
    assert t03["2101101"]["subject_name"] == "行政单位医疗" and t03["2101101"]["values"]["basic"] == 32.16
    t06 = by_code(budget_rows(records, "t06"))
    assert t06["30239"]["values"] == {"total": 5.54, "public_funds": 5.54}
    assert t06["30108"]["subject_name"] == "机关事业单位基本养老保险缴费"
    t04_out = budget_rows(records, "t04", "expenditure")
    assert row_named(t04_out, "二十五、其他支出")["values"] == {"total": 32.0, "government_fund": 32.0}
    t01_in = budget_rows(records, "t01", "income")
    assert row_named(t01_in, "二、政府性基金预算拨款收入")["values"] == {"amount": 32.0}
    assert row_named(t01_in, "上年结转结余")["values"] == {"amount": 7.03}
    assets = budget_rows(records, "t33")
    assert row_named(assets, "4、其他固定资产")["values"] == {"extra:数量": 318.0, "amount": 569632.3}


def test_split_cells_are_spanned_on_each_line(doc):
    lines = {ln["line_no"]: ln for ln in doc[1]["lines"]}
    assert [(s["label"], s.get("key")) for s in lines[248]["spans"]] == [("amount", "total")]  # "5846."
    assert [(s["label"], s.get("key")) for s in lines[250]["spans"]] == [("amount", "total")]  # "29"
    assert [s["label"] for s in lines[711]["spans"]] == ["subject_code"]  # "21013"
    assert [s["label"] for s in lines[713]["spans"]] == ["subject_code"]  # "02"
    assert lines[721]["text"] == "13.03 6.00 6.00 7.03"
    assert [s["key"] for s in lines[721]["spans"]] == ["total", "current_year", "fiscal_appropriation", "carryover"]
    assert lines[665]["row"] == lines[577]["row"] == 11  # "金的" continues row 12 on the next page
    assert lines[71]["label"] == "page_furniture" and lines[140]["label"] == "page_furniture"


def test_hand_verified_indicators_and_projects(records):
    ind = {(r["table_id"], r["row"]): r for r in records if r["type"] == "indicator"}
    assert len(ind) == 173
    first = ind[("t11", 0)]
    assert (first["level1"], first["level2"], first["level3"], first["target"], first["basis"]) == \
        ("产出指标", "数量指标", "救助流浪人员人数", "≥20人", "冀财社（2021）31 号")
    assert first["target_parsed"] == {"op": "≥", "value": 20.0, "unit": "人", "text": None}
    cost = ind[("t14", 3)]
    assert cost["target"] == "城乡居民县级配套8元，城镇职工县级配套3元。"
    assert cost["target_parsed"]["text"] == cost["target"] and cost["basis"] == "邢医保发【2021】9 号"
    assert ind[("t26", 5)]["target"] == "部门工作正常可持续运转" and ind[("t26", 5)]["basis"] == "年终报告"
    assert ind[("t22", 1)]["target"] == "每月15号"
    assert ind[("t11", 6)]["level1"] == "效益指标"  # filled down from the merged cell above
    assert ind[("t11", 6)]["description"] == "改善贫困人口看病难、看病贵费用补贴率"
    assert ind[("t25", 3)]["target_parsed"] == {"op": None, "value": 500.0, "unit": "元/每村", "text": None}
    projects = [r for r in records if r["type"] == "project"]
    assert len(projects) == 21
    assert projects[1]["name"] == "长期护理保险办公经费"
    assert projects[1]["goal"].startswith("1.聚焦解决失能人员") and projects[1]["goal"].endswith("幸福感。")


def test_narrative_facts(records):
    facts = [r for r in records if r["type"] == "fact"]
    assert len(facts) == 23
    first = facts[0]
    assert (first["line"], first["subject"], first["value"], first["unit"]) == (2166, "2022年预算收入", 5839.26, "万元")
    assert any(f["subject"] == "较2021年增加" and f["value"] == 443.58 for f in facts)
    assert all(f["text"] and f["unit"] == "万元" for f in facts)
