"""Accounting checks over contract dicts built from the real seed disclosures' table rows."""
from __future__ import annotations

import copy
from typing import Optional

import pytest

from pipeline import config
from pipeline.checks import (
    BASIC_SPLIT,
    CHECK_NAMES,
    CROSS_TABLE,
    PARENT_SUM,
    ROW_TOTAL,
    SUMMARY_BALANCE,
    TABLE_TOTAL,
    CheckResult,
    attach_to_records,
    failed_checks,
    results_by_record,
    run_checks,
)

SEED_001 = "001_f49da458a1f6b9c9.txt"
SEED_002 = "002_c4f73283edd28974.txt"


def _seed_lines(name: str) -> list[str]:
    return (config.SEEDS_DIR / name).read_text(encoding="utf-8").split("\n")


def _number(cell: str) -> Optional[float]:
    cell = cell.strip()
    return float(cell) if cell else None


def _table(table_id: str, kind: str, keys: list[str], headers: Optional[dict] = None) -> dict:
    headers = headers or {}
    return {"table_id": table_id, "kind": kind, "title": kind, "pages": [1], "confidence": 1.0,
            "columns": [{"key": k, "header": headers.get(k, k)} for k in dict.fromkeys(keys)]}


def _line(record_id: str, table_id: str, code: Optional[str], name: str, values: dict,
          side: Optional[str] = None, line: Optional[int] = None) -> dict:
    return {"record_id": record_id, "type": "budget_line", "table_id": table_id, "line": line,
            "confidence": 1.0, "checks": [], "side": side, "subject_code": code,
            "subject_name": name, "values": values}


def coded_rows(seed: str, first: int, last: int, table_id: str, keys: list[str],
               code_cells: slice = slice(1, 2), name_cell: int = 2, first_value: int = 3) -> list[dict]:
    """Budget lines of a one-sided table: tab-separated seed rows (code cells joined: "210\t15\t01")."""
    records = []
    for no, text in enumerate(_seed_lines(seed)[first - 1:last], start=first):
        if not text.strip():
            continue
        cells = text.split("\t")
        code = "".join(c.strip() for c in cells[code_cells]) or None
        values = {k: _number(c) for k, c in zip(keys, cells[first_value:])}
        records.append(_line(f"{table_id}-r{len(records)}", table_id, code, cells[name_cell].strip(), values, line=no))
    return records


def two_sided_rows(seed: str, first: int, last: int, table_id: str, income_keys: list[str],
                   expenditure_keys: list[str], first_cell: int = 1) -> list[dict]:
    """One record per side of each summary-table row (item name, then its amounts)."""
    records = []
    for no, text in enumerate(_seed_lines(seed)[first - 1:last], start=first):
        if not text.strip():
            continue
        cells = text.split("\t")[first_cell:]
        income, expenditure = cells[:1 + len(income_keys)], cells[1 + len(income_keys):]
        for side, part, keys in (("income", income, income_keys), ("expenditure", expenditure, expenditure_keys)):
            if part and part[0].strip():
                padded = part[1:] + [""] * len(keys)
                records.append(_line(f"{table_id}-{side[0]}{len(records)}", table_id, None, part[0].strip(),
                                     {k: _number(c) for k, c in zip(keys, padded)}, side=side, line=no))
    return records


REVENUE_001 = ["total", "fiscal_appropriation", "superior_subsidy", "business_income", "special_account",
               "operating_income", "affiliate_remittance", "other_income"]
EXPENDITURE_001 = ["total", "basic", "project", "remit_to_superior", "operating_expense", "affiliate_subsidy"]
FISCAL_EXPENDITURE = ["total", "general_public_budget", "government_fund", "state_capital"]
THREE_PUBLIC_001 = ["total", "general_public_budget", "government_fund", "state_capital", "special_account"]


def seed_001() -> tuple[list[dict], list[dict]]:
    """Seed 001's nine tables, row for row."""
    tables = [
        _table("t01", "revenue_expenditure_summary", ["amount"]),
        _table("t02", "revenue_summary", REVENUE_001, {"special_account": "其中：财政专户收入"}),
        _table("t03", "expenditure_summary", EXPENDITURE_001),
        _table("t04", "fiscal_summary", ["amount"] + FISCAL_EXPENDITURE),
        _table("t05", "general_budget_expenditure", ["total", "basic", "project"]),
        _table("t06", "general_budget_basic_expenditure", ["total", "personnel", "public_funds"]),
        _table("t07", "government_fund_expenditure", ["total", "basic", "project"]),
        _table("t09", "three_public_expenditure", THREE_PUBLIC_001),
    ]
    records = (
        two_sided_rows(SEED_001, 41, 74, "t01", ["amount"], ["amount"])
        + coded_rows(SEED_001, 87, 115, "t02", REVENUE_001)
        + coded_rows(SEED_001, 128, 156, "t03", EXPENDITURE_001)
        + two_sided_rows(SEED_001, 169, 201, "t04", ["amount"], FISCAL_EXPENDITURE)
        + coded_rows(SEED_001, 214, 235, "t05", ["total", "basic", "project"])
        + coded_rows(SEED_001, 248, 270, "t06", ["total", "personnel", "public_funds"])
        + coded_rows(SEED_001, 283, 289, "t07", ["total", "basic", "project"])
        + coded_rows(SEED_001, 318, 326, "t09", THREE_PUBLIC_001, code_cells=slice(0, 0), name_cell=1, first_value=2)
    )
    return tables, records


EXPENDITURE_002 = ["total", "basic", "wages_welfare", "household_subsidy", "goods_services", "capital",
                   "project", "other_operation", "specific_target"]
FISCAL_EXPENDITURE_002 = ["total", "general_public_budget", "fiscal_appropriation", "government_fund", "state_capital"]


def seed_002() -> tuple[list[dict], list[dict]]:
    """Seed 002: codes split over 类/款/项, blank cells for zero, 其中 columns, carry-over."""
    tables = [
        _table("t01", "revenue_expenditure_summary", ["amount"]),
        _table("t03", "expenditure_summary", EXPENDITURE_002),
        _table("t04", "fiscal_summary", ["amount"] + FISCAL_EXPENDITURE_002,
               {"fiscal_appropriation": "其中：财政拨款"}),
    ]
    records = (
        two_sided_rows(SEED_002, 176, 208, "t01", ["amount"], ["amount"], first_cell=0)
        + coded_rows(SEED_002, 234, 243, "t03", EXPENDITURE_002, code_cells=slice(0, 3), name_cell=4, first_value=5)
        + two_sided_rows(SEED_002, 256, 289, "t04", ["amount"], FISCAL_EXPENDITURE_002, first_cell=0)
    )
    return tables, records


def find(records: list[dict], table_id: str, name: str, side: Optional[str] = None) -> dict:
    return next(r for r in records if r["table_id"] == table_id and r["subject_name"] == name
                and (side is None or r["side"] == side))


def find_code(records: list[dict], table_id: str, code: str) -> dict:
    return next(r for r in records if r["table_id"] == table_id and r["subject_code"] == code)


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.ok]


# --------------------------------------------------------------------------------------------
# Real tables pass
# --------------------------------------------------------------------------------------------


def test_seed_001_tables_pass_every_check_and_exercise_all_of_them():
    tables, records = seed_001()
    results = run_checks(tables, records)
    assert failures(results) == []
    assert {r.name for r in results} == set(CHECK_NAMES)
    assert sum(r.name == PARENT_SUM for r in results) >= 30
    cross = [r for r in results if r.name == CROSS_TABLE]
    assert {r.table_id for r in cross} == {"t02", "t03", "t05", "t06", "t07"}


def test_seed_001_expenditure_and_general_budget_rows_pass():
    tables, records = seed_001()
    keep = {"t03", "t05"}
    results = run_checks([t for t in tables if t["table_id"] in keep],
                         [r for r in records if r["table_id"] in keep])
    names = {(r.name, r.table_id) for r in results}
    assert {(ROW_TOTAL, "t03"), (PARENT_SUM, "t03"), (TABLE_TOTAL, "t03"),
            (ROW_TOTAL, "t05"), (PARENT_SUM, "t05"), (TABLE_TOTAL, "t05")} <= names
    assert failures(results) == []
    # 合计 of 部门预算支出总表 adds up its five 类 rows (208, 210, 212, 221, 229)
    total = next(r for r in results if r.name == TABLE_TOTAL and r.table_id == "t03")
    assert len(total.record_ids) == 6


def test_seed_002_split_codes_blanks_and_carryover_pass():
    tables, records = seed_002()
    results = run_checks(tables, records)
    assert failures(results) == []
    names = {r.name for r in results}
    assert {ROW_TOTAL, BASIC_SPLIT, TABLE_TOTAL, SUMMARY_BALANCE} <= names
    # 收入总计 = 本年收入合计 + 上年结转结余 (847.74 + 0.29) is checked, not just 本年 = 本年
    grand = find(records, "t01", "收入总计", "income")
    assert any(grand["record_id"] in r.record_ids and r.name == SUMMARY_BALANCE and r.ok for r in results)


# --------------------------------------------------------------------------------------------
# One planted error: the right check fails and names the right records
# --------------------------------------------------------------------------------------------


def test_row_total_fails_on_a_wrong_basic_and_names_the_row():
    tables, records = seed_001()
    row = find_code(records, "t03", "2101501")  # 行政运行 31.45 = 31.45 + 0.00
    row["values"]["basic"] = 30.45
    bad = [r for r in failures(run_checks(tables, records)) if r.name == ROW_TOTAL]
    assert len(bad) == 1
    assert bad[0].record_ids == [row["record_id"]] and bad[0].table_id == "t03"
    assert "basic 30.45" in bad[0].detail and "diff +1.00" in bad[0].detail


def test_parent_sum_fails_when_a_kuan_disagrees_with_its_xiang():
    tables, records = seed_001()
    parent = find_code(records, "t03", "21013")  # 医疗救助 849.00 = 2101301
    parent["values"].update(total=850.0, project=850.0)  # row stays consistent
    bad = failures(run_checks(tables, records))
    parent_sums = [r for r in bad if r.name == PARENT_SUM]
    child = find_code(records, "t03", "2101301")
    assert any(r.record_ids == [parent["record_id"], child["record_id"]] for r in parent_sums)
    assert all(r.name != ROW_TOTAL for r in bad)


def test_basic_split_fails_when_personnel_plus_public_funds_is_off():
    tables, records = seed_001()
    row = find_code(records, "t06", "30101")  # 基本工资 94.30 = 94.30 + 0.00
    row["values"]["personnel"] = 94.03
    bad = [r for r in failures(run_checks(tables, records)) if r.name == BASIC_SPLIT]
    assert [r.record_ids for r in bad] == [[row["record_id"]]]


def test_basic_split_on_a_row_with_basic_personnel_public_funds_and_economic_parts():
    table = _table("t1", "expenditure_summary", ["total", "basic", "project", "personnel", "public_funds",
                                                 "wages_welfare", "household_subsidy", "goods_services", "capital"])
    values = dict(total=300.0, basic=123.74, project=176.26, personnel=116.44, public_funds=7.30,
                  wages_welfare=100.0, household_subsidy=16.44, goods_services=7.30, capital=0.0)
    good = _line("a", "t1", "2101501", "行政运行", values)
    bad = _line("b", "t1", "2101502", "一般行政管理事务", dict(values, public_funds=8.30))
    results = run_checks([table], [good, bad])
    splits = [r for r in results if r.name == BASIC_SPLIT]
    assert all(r.ok for r in splits if r.record_ids == ["a"])
    # basic = personnel + public_funds and public_funds = goods_services + capital both break
    assert sorted(r.detail.split(":")[1].split()[0] for r in splits if not r.ok) == ["basic", "public_funds"]
    assert all(r.record_ids == ["b"] for r in splits if not r.ok)


def test_table_total_fails_when_the_heji_row_is_off():
    tables, records = seed_001()
    total = find(records, "t05", "合计")
    total["values"].update(total=17590.67, project=17314.50)
    bad = failures(run_checks(tables, records))
    table_totals = [r for r in bad if r.name == TABLE_TOTAL]
    assert len(table_totals) == 1 and table_totals[0].table_id == "t05"
    top = [find_code(records, "t05", c)["record_id"] for c in ("208", "210", "221")]
    assert table_totals[0].record_ids == [total["record_id"]] + top
    assert "合计 total 17590.67" in table_totals[0].detail
    # the general-budget table no longer matches its share of the fiscal summary either
    assert {(r.name, r.table_id) for r in bad} >= {(CROSS_TABLE, "t05")}


def test_summary_balance_fails_when_expenditure_total_differs_from_income_total():
    tables, records = seed_001()
    spent = find(records, "t01", "合计", "expenditure")
    spent["values"]["amount"] = 17746.76
    bad = [r for r in failures(run_checks(tables, records)) if r.name == SUMMARY_BALANCE]
    income = find(records, "t01", "合计", "income")
    assert [income["record_id"], spent["record_id"]] in [r.record_ids for r in bad]
    assert any("17746.67 ≠ expenditure 合计 17746.76" in r.detail for r in bad)


def test_summary_balance_fails_when_an_income_item_is_off():
    tables, records = seed_001()
    item = find(records, "t04", "二、政府性基金预算财政拨款", "income")
    item["values"]["amount"] = 175.0
    bad = failures(run_checks(tables, records))
    assert [(r.name, r.table_id) for r in bad] == [(SUMMARY_BALANCE, "t04")]
    assert item["record_id"] in bad[0].record_ids
    assert find(records, "t04", "本年收入合计", "income")["record_id"] == bad[0].record_ids[0]


def test_cross_table_fails_when_expenditure_summary_disagrees_with_the_summary():
    tables, records = seed_001()
    # a consistent expenditure summary (every row and 类 adds up) with a different total
    for code in ("229", "22960", "2296013"):
        find_code(records, "t03", code)["values"].update(total=138.0, project=138.0)
    total = find(records, "t03", "合计")
    total["values"].update(total=17747.67, project=17471.50)
    bad = failures(run_checks(tables, records))
    assert {(r.name, r.table_id) for r in bad} == {(CROSS_TABLE, "t03")}
    assert bad[0].record_ids[0] == total["record_id"]
    assert "matches none of 本年支出合计 17746.67" in bad[0].detail


def test_failed_checks_and_results_by_record_index_the_results():
    tables, records = seed_001()
    row = find_code(records, "t03", "2101501")
    row["values"]["basic"] = 30.45
    results = run_checks(tables, records)
    assert (ROW_TOTAL, "t03") in failed_checks(results)
    attached = results_by_record(results)[row["record_id"]]
    assert {(r.name, r.ok) for r in attached} >= {(ROW_TOTAL, False), (PARENT_SUM, False)}


# --------------------------------------------------------------------------------------------
# Missing values never fail; 其中 columns are not added twice
# --------------------------------------------------------------------------------------------


def test_missing_values_do_not_fail():
    tables, records = seed_001()
    for r in records:
        if r["subject_code"] == "2101501":
            r["values"]["project"] = None  # a part read as blank: 31.45 = 31.45 + blank still holds
        if r["subject_code"] == "2101506":
            r["values"]["basic"] = None  # 193.31 ≠ blank + 0.00: inconclusive, not failed
        if r["subject_code"] == "21015" and r["table_id"] == "t05":
            r["values"]["total"] = None  # unreadable: its own row and its 类's sum are inconclusive
    results = run_checks(tables, records)
    assert failures(results) == []
    kept = [r for r in results if r.name == ROW_TOTAL and r.record_ids == [find_code(records, "t03", "2101501")["record_id"]]]
    assert [r.ok for r in kept] == [True]
    assert not any(r.name == ROW_TOTAL and r.record_ids == [find_code(records, "t03", "2101506")["record_id"]]
                   for r in results)


def test_rows_without_enough_columns_are_not_checked():
    table = _table("t1", "project_expenditure", ["total", "extra:项目名称"])
    results = run_checks([table], [_line("a", "t1", None, "城乡医疗救助", {"total": 34.0})])
    assert results == []


def test_of_which_column_is_not_double_counted():
    keys = REVENUE_001
    row = dict(total=100.0, fiscal_appropriation=80.0, superior_subsidy=0.0, business_income=20.0,
               special_account=15.0, operating_income=0.0, affiliate_remittance=0.0, other_income=0.0)
    of_which = _table("t2", "revenue_summary", keys, {"special_account": "其中：财政专户收入"})
    separate = _table("t2", "revenue_summary", keys, {"special_account": "财政专户收入"})
    record = _line("a", "t2", "2101301", "城乡医疗救助", row)
    assert [r.ok for r in run_checks([of_which], [record]) if r.name == ROW_TOTAL] == [True]
    assert [r.ok for r in run_checks([separate], [record]) if r.name == ROW_TOTAL] == [False]


def test_fiscal_appropriation_under_general_public_budget_is_not_added_again():
    keys = ["total", "current_year", "general_public_budget", "fiscal_appropriation", "government_fund", "carryover"]
    table = _table("t2", "revenue_summary", keys, {"fiscal_appropriation": "其中：财政拨款"})
    # seed 002 revenue summary 合计 row: 848.03 = 847.74 + 0.29; 847.74 = 一般公共预算 847.74 (其中财政拨款 847.74)
    record = _line("a", "t2", None, "合计", dict(total=848.03, current_year=847.74, general_public_budget=847.74,
                                                fiscal_appropriation=847.74, government_fund=None, carryover=0.29))
    results = [r for r in run_checks([table], [record]) if r.name == ROW_TOTAL]
    assert len(results) == 2 and all(r.ok for r in results)


def test_unit_code_row_is_not_a_top_level_subject():
    tables, records = seed_002()
    unit_row = next(r for r in records if r["table_id"] == "t03" and r["subject_name"] == "洛阳市瀍河回族区医疗保障局")
    unit_row["subject_code"] = "308"  # 单位代码 read as a code
    results = run_checks(tables, records)
    assert failures(results) == []
    total = next(r for r in results if r.name == TABLE_TOTAL)
    assert unit_row["record_id"] not in total.record_ids


def test_three_public_columns_and_vehicle_split():
    keys = ["total", "outbound_travel", "vehicles", "vehicle_purchase", "vehicle_operation", "reception"]
    table = _table("t9", "three_public_expenditure", keys)
    good = _line("a", "t9", None, "合计", dict(total=8.06, outbound_travel=0.0, vehicles=7.80,
                                              vehicle_purchase=0.0, vehicle_operation=7.80, reception=0.26))
    bad = _line("b", "t9", None, "本级", dict(good["values"], vehicle_operation=7.08))
    results = run_checks([table], [good, bad])
    assert [(r.record_ids, r.ok) for r in results if r.name == ROW_TOTAL] == [
        (["a"], True), (["a"], True), (["b"], True), (["b"], False)]


@pytest.mark.parametrize("tolerance, ok", [(0.011, False), (0.05, True)])
def test_tolerance_is_respected(tolerance, ok):
    table = _table("t1", "general_budget_expenditure", ["total", "basic", "project"])
    record = _line("a", "t1", "2101501", "行政运行", dict(total=31.45, basic=31.43, project=0.0))
    assert [r.ok for r in run_checks([table], [record], tolerance=tolerance)] == [ok]


def test_checks_do_not_modify_their_input():
    tables, records = seed_001()
    before = copy.deepcopy((tables, records))
    run_checks(tables, records)
    assert (tables, records) == before


def test_unmapped_extra_column_makes_a_failing_row_identity_inconclusive():
    # seed 002 项目支出预算表: 合计 724.29 = 本年拨款 一般公共预算 724.00 + 结转结余 一般公共预算 0.29
    keys = ["total", "general_public_budget", "government_fund", "extra:财政拨款结转结余/一般公共预算"]
    table = _table("t11", "project_expenditure", keys)
    values = {"total": 724.29, "general_public_budget": 724.00, "government_fund": None,
              "extra:财政拨款结转结余/一般公共预算": 0.29}
    assert run_checks([table], [_line("a", "t11", None, "洛阳市瀍河回族区医疗保障局", values)]) == []
    values.update({"extra:财政拨款结转结余/一般公共预算": 0.0, "government_fund": 0.0})
    assert [r.ok for r in run_checks([table], [_line("a", "t11", None, "x", values)])] == [False]


def test_a_column_left_out_of_values_is_a_blank_cell_and_counts_as_zero():
    # seed 002 prints zero as a blank cell; its annotations leave such cells out of `values`
    tables, records = seed_002()
    rows = [r for r in records if r["table_id"] == "t03"]
    for r in rows:
        r["values"] = {k: v for k, v in r["values"].items() if v is not None}
    assert failures(run_checks(tables, records)) == []
    row = find_code(records, "t03", "2101202")  # 585.00 = basic (blank) + 585.00
    assert "basic" not in row["values"]
    row["values"]["project"] = 580.0
    bad = [r for r in failures(run_checks(tables, records)) if r.record_ids == [row["record_id"]]]
    assert [r.name for r in bad] == [ROW_TOTAL, ROW_TOTAL]  # 合计 = 基本 + 项目; 项目 = 其他运转类 + 特定目标类
    assert "total 585.00 vs project 580.00 = 580.00 (diff +5.00)" in bad[0].detail
    assert "project 580.00 vs other_operation 585.00 = 585.00 (diff -5.00)" in bad[1].detail


def test_two_sided_rows_with_blank_cells_left_out_still_get_row_checks():
    tables, records = seed_002()
    for r in records:
        r["values"] = {k: v for k, v in r["values"].items() if v is not None}
    spent = find(records, "t04", "一、本年支出", "expenditure")
    assert set(spent["values"]) == {"total", "general_public_budget", "fiscal_appropriation"}
    results = [r for r in run_checks(tables, records) if r.record_ids == [spent["record_id"]]]
    # 合计 = 一般公共预算 + 政府性基金 (blank) + 国有资本经营预算 (blank); 其中：财政拨款 is not added
    assert [(r.name, r.ok) for r in results] == [(ROW_TOTAL, True)]
    spent["values"]["general_public_budget"] = 840.0
    assert [r.ok for r in run_checks(tables, records) if r.record_ids == [spent["record_id"]]] == [False]


def test_attach_to_records_appends_the_named_results_to_pipeline_records():
    from pipeline.model import Record

    tables, records = seed_001()
    row = find_code(records, "t03", "2101501")
    row["values"]["basic"] = 30.45
    pipeline_records = [Record(r["record_id"], r["type"], r["table_id"], fields={"values": r["values"]})
                        for r in records]
    attach_to_records(pipeline_records, run_checks(tables, records))
    target = next(r for r in pipeline_records if r.record_id == row["record_id"])
    assert ("row_total", False) in {(c.name, c.ok) for c in target.checks}
    assert target.to_contract()["checks"][0]["detail"]
    untouched = next(r for r in pipeline_records if r.record_id == find(records, "t07", "合计")["record_id"])
    assert {c.name for c in untouched.checks} == {ROW_TOTAL, TABLE_TOTAL, CROSS_TABLE}
    assert all(c.ok for c in untouched.checks)


def test_carryover_block_with_its_own_numbered_breakdown_is_not_added_twice():
    # seed 000 部门预算财政拨款收支总表, income side (lines 1301-1758 of the PDF-extracted text)
    table = _table("t04", "fiscal_summary", ["amount"])
    rows = [("一、一般公共预算拨款", 5807.26), ("二、政府性基金预算拨款", 32.0), ("三、国有资本经营预算拨款", None),
            ("本年收入合计", 5839.26), ("年初财政拨款结转和结余", 7.03), ("一、一般公共预算拨款", 7.03),
            ("二、政府性基金预算拨款", None), ("三、国有资本经营预算拨款", None), ("收入总计", 5846.29)]
    records = [_line(f"i{n}", "t04", None, name, {} if v is None else {"amount": v}, side="income")
               for n, (name, v) in enumerate(rows)]
    results = run_checks([table], records)
    assert failures(results) == []
    assert sorted(r.record_ids for r in results) == [["i3", "i0", "i1", "i2"], ["i4", "i5", "i6", "i7"],
                                                     ["i8", "i3", "i4"]]
    records[5]["values"]["amount"] = 7.30
    bad = failures(run_checks([table], records))
    assert [r.record_ids for r in bad] == [["i4", "i5", "i6", "i7"]]


def test_a_failed_sum_lowers_the_parts_that_can_explain_it_not_its_blank_parts():
    """seed 000 财政拨款收支总表, expenditure side, with 二十五、其他支出's 32.00 read into the
    一般公共预算 column (printed under 政府性基金): 本年支出合计 fails, and only it and the four
    non-zero items can be the misread; the blank 九、十一 … items add nothing to the sum."""
    from pipeline.confidence import raw_score
    from pipeline.model import Record

    table = _table("t04", "fiscal_summary", ["total", "general_public_budget", "government_fund"])
    rows = [("八、社会保障和就业支出", 56.30), ("九、卫生健康支出", None), ("十、卫生健康支出", 5719.02),
            ("十一、节能环保支出", None), ("二十、住房保障支出", 38.97), ("二十五、其他支出", 32.00)]
    records = [_line(f"e{n}", "t04", None, name, {} if v is None else {"total": v, "general_public_budget": v},
                     side="expenditure") for n, (name, v) in enumerate(rows)]
    records.append(_line("e9", "t04", None, "本年支出合计",
                         {"total": 5846.29, "general_public_budget": 5814.29, "government_fund": 32.00},
                         side="expenditure"))
    bad = failures(run_checks([table], records))
    assert [(r.name, r.record_ids[0]) for r in bad] == [(SUMMARY_BALANCE, "e9")]
    pipeline_records = [Record(r["record_id"], r["type"], r["table_id"], field_confidence={"values.total": 0.99})
                        for r in records]
    attach_to_records(pipeline_records, run_checks([table], records))
    implicated = {r.record_id for r in pipeline_records if any(not c.ok and c.implicated for c in r.checks)}
    blank = {r.record_id for r in pipeline_records if r.checks and all(not c.implicated for c in r.checks)}
    assert implicated == {"e0", "e2", "e4", "e5", "e9"}
    assert blank == {"e1", "e3"}
    score = {r.record_id: raw_score(r) for r in pipeline_records}
    assert max(score[i] for i in implicated) < 0.5 < min(score[i] for i in blank) < 0.99

    # seed 000 项目支出表: 2101299's 261.40 under 财政拨款 was read into its name; its row still
    # shows 261.40 in 合计, so it stays a suspect of the failed 21012 = Σ its 项
    table = _table("t02", "project_expenditure", ["total", "fiscal_appropriation"])
    records = [_line("p0", "t02", "21012", "财政对基本医疗保险基金的补助", {"total": 4214.40, "fiscal_appropriation": 4214.40}),
               _line("p1", "t02", "2101201", "财政对职工基本医疗保险基金的补助", {}),
               _line("p2", "t02", "2101202", "财政对城乡居民基本医疗保险基金的补助",
                     {"total": 3953.00, "fiscal_appropriation": 3953.00}),
               _line("p3", "t02", "2101299", "财政对其他基本医疗保险基261.4金的补助", {"total": 261.40})]
    bad = failures(run_checks([table], records))
    assert [(r.name, r.record_ids) for r in bad] == [(PARENT_SUM, ["p0", "p1", "p2", "p3"])]
    assert [bad[0].implicates(rid) for rid in ("p0", "p1", "p2", "p3")] == [True, False, True, True]


def test_calibrator_maps_each_record_type_by_its_own_steps_and_rare_types_by_all(tmp_path) -> None:
    """A low raw score means a failed identity on a budget line (half of them wrong) and unsure tags
    on an indicator (all right): one map each; a type with few fitting records takes the map of all."""
    from pipeline.confidence import Calibrator

    scores, correct, types = [], [], []
    for k in range(400):
        low = k % 4 == 0
        scores.append(0.3 if low else 0.95)
        correct.append(not (low and k % 8 == 0))  # budget lines: half of the low ones wrong
        types.append("budget_line")
        scores.append(0.3 if low else 0.95)
        correct.append(True)  # indicators: all right
        types.append("indicator")
    scores += [0.3, 0.95]
    correct += [False, True]
    types += ["project", "project"]
    calibrator = Calibrator.fit(scores, correct, types, min_type_records=200)
    assert calibrator(0.3, "budget_line") == pytest.approx(0.5)
    assert calibrator(0.3, "indicator") == pytest.approx(1.0)
    assert calibrator(0.3, "project") == calibrator(0.3) < 0.8  # too few projects: the map of all records
    calibrator.save(tmp_path)
    loaded = Calibrator.load(tmp_path)
    assert [loaded(s, t) for s in (0.3, 0.95) for t in ("budget_line", "indicator", "fact")] == \
        [calibrator(s, t) for s in (0.3, 0.95) for t in ("budget_line", "indicator", "fact")]
