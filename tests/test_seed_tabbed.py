"""Gold annotations of the tab-separated seeds 001 (元氏县, 2020) and 002 (瀍河回族区, 2022).

Coverage of every non-blank line, validity, the accounting identities the printed documents
satisfy (and the printed inconsistencies they do not), and values checked by hand against the
seed texts.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pipeline import config
from pipeline.checks import run_checks
from training.annotations import validate_paths
from training.seed_tools import tabbed

SEEDS = ("001", "002")


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict[str, Any]]]:
    return {seed: tabbed.build(seed) for seed in SEEDS}


def _source_lines(seed: str) -> list[str]:
    spec = tabbed.load_overrides()[seed]
    return (config.SEEDS_DIR / spec["file"]).read_text(encoding="utf-8").split("\n")


def _records(doc: list[dict[str, Any]], type_: str, table_id: str | None = None) -> list[dict[str, Any]]:
    return [r for r in doc[1]["records"] if r["type"] == type_ and (table_id is None or r["table_id"] == table_id)]


def _row(doc, table_id: str, row: int, side: str | None = None) -> dict[str, Any]:
    found = [r for r in _records(doc, "budget_line", table_id) if r["row"] == row and r["side"] == side]
    assert len(found) == 1, (table_id, row, side, found)
    return found[0]


def _line(doc, line_no: int) -> dict[str, Any]:
    return next(l for l in doc[1]["lines"] if l["line_no"] == line_no)


def _span_texts(line: dict[str, Any], label: str) -> list[str]:
    return [line["text"][s["start"]:s["end"]] for s in line["spans"] if s["label"] == label]


# ----------------------------------------------------------------------------- files and coverage

@pytest.mark.parametrize("seed", SEEDS)
def test_committed_file_is_what_the_tool_builds(built, seed):
    path = tabbed.output_path(seed)
    on_disk = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]
    assert on_disk == json.loads(json.dumps(built[seed], ensure_ascii=False)), \
        f"{path} is stale: run python -m training.seed_tools.tabbed"


@pytest.mark.parametrize("seed", SEEDS)
def test_every_nonblank_line_is_annotated_once_with_its_text(built, seed):
    source = _source_lines(seed)
    lines = built[seed][1]["lines"]
    numbers = [l["line_no"] for l in lines]
    assert len(numbers) == len(set(numbers))
    assert set(numbers) == {i + 1 for i, t in enumerate(source) if t.strip()}
    for l in lines:
        assert l["text"] == source[l["line_no"] - 1]
        assert l["bbox"] is None
    assert len(built[seed]) == 2 and built[seed][1]["page"] == 1


def test_files_validate():
    problems, n_files = validate_paths([tabbed.output_path(s) for s in SEEDS])
    assert n_files == 2
    assert problems == []


@pytest.mark.parametrize("seed,name,code,year,n_tables", [
    ("001", "元氏县医疗保障局", "473", 2020, 26),
    ("002", "洛阳市瀍河回族区医疗保障局", "308", 2022, 12),
])
def test_document_header(built, seed, name, code, year, n_tables):
    head = built[seed][0]
    assert head["department"] == {"name": name, "code": code}
    assert (head["fiscal_year"], head["unit"], head["doc_kind"], head["split"], head["origin"]) == \
        (year, "万元", "budget", "seed", "seed")
    assert len(head["tables"]) == n_tables
    assert len({t["table_id"] for t in head["tables"]}) == n_tables


# ----------------------------------------------------------------------------- identities

@pytest.mark.parametrize("seed", SEEDS)
def test_accounting_checks_hold_on_the_gold(built, seed):
    head, page = built[seed]
    results = run_checks(head["tables"], page["records"])
    assert len(results) > 50
    assert [r.detail for r in results if not r.ok] == []


def _class_sums(doc, table_id: str, key: str) -> dict[str, float]:
    """Per 类 (first 3 digits), the sum of the 项 (7-digit) rows of a functional table."""
    sums: dict[str, float] = defaultdict(float)
    for r in _records(doc, "budget_line", table_id):
        code = r["subject_code"]
        if code and len(code) == 7 and key in r["values"]:
            sums[code[:3]] += r["values"][key]
    return {k: round(v, 2) for k, v in sums.items()}


def test_seed_001_cross_table_figures_agree(built):
    doc = built["001"]
    # revenue, expenditure, general-budget and fund tables agree class by class
    assert _class_sums(doc, "t02", "total") == _class_sums(doc, "t03", "total") == \
        {"208": 27.44, "210": 17545.19, "212": 20.0, "221": 17.04, "229": 137.0}
    assert _class_sums(doc, "t05", "total") == {"208": 27.44, "210": 17545.19, "221": 17.04}
    assert _class_sums(doc, "t07", "total") == {"212": 20.0, "229": 137.0}
    # 三公 table = the basic-expenditure rows it summarises (30231, 30217)
    basic = {r["subject_code"]: r["values"]["total"] for r in _records(doc, "budget_line", "t06") if r["subject_code"]}
    assert _row(doc, "t09", 7)["values"]["total"] == basic["30231"] == 7.80
    assert _row(doc, "t09", 8)["values"]["total"] == basic["30217"] == 0.26
    # the narrative's project list adds up to 项目支出 (f009 = Σ f010..f022)
    facts = {r["record_id"]: r["value"] for r in _records(doc, "fact")}
    assert round(sum(facts[f"f{i:03d}"] for i in range(10, 23)), 2) == facts["f009"] == 17470.5


def test_seed_002_printed_inconsistencies_are_kept(built):
    """财政拨款收支预算表 (t04) leaves the 0.29 carryover unspent (年终结转结余 0.29, 卫生健康 831.43)
    while 部门收支预算表 (t01) and the expenditure tables (t03, t05) spend it under 2109999."""
    doc = built["002"]
    t01_health = next(r for r in _records(doc, "budget_line", "t01") if r["subject_name"] == "十、卫生健康")
    t04_health = next(r for r in _records(doc, "budget_line", "t04") if r["subject_name"] == "（十）卫生健康支出")
    assert t01_health["values"]["amount"] == _class_sums(doc, "t03", "total")["210"] == 831.72
    assert t04_health["values"]["general_public_budget"] == 831.43
    assert t04_health["values"]["general_public_budget"] != _class_sums(doc, "t05", "total")["210"]
    assert _row(doc, "t01", 31, "expenditure")["values"] == {"amount": 0.0}
    assert _row(doc, "t04", 31, "expenditure")["values"]["total"] == 0.29
    # 本年收入合计 847.74 vs 本年支出合计 848.03: printed, balanced only through 上年结转结余 0.29
    assert _row(doc, "t01", 30, "income")["values"] == {"amount": 847.74}
    assert _row(doc, "t01", 30, "expenditure")["values"] == {"amount": 848.03}
    assert _row(doc, "t01", 31, "income")["values"] == {"amount": 0.29}


def test_seed_002_projects_agree_across_tables(built):
    doc = built["002"]
    expenditure = {r["subject_name"]: r["values"]["total"] for r in _records(doc, "budget_line", "t10")
                   if r["subject_name"] and r["row"] >= 2}
    targets = {p["name"]: p["amount"] for p in _records(doc, "project", "t12")}
    assert targets == expenditure
    assert round(sum(targets.values()), 2) == _row(doc, "t10", 0)["values"]["total"] == 724.29
    assert _row(doc, "t03", 0)["values"]["project"] == 724.29


# ----------------------------------------------------------------------------- hand-checked values

def test_seed_001_spot_checks(built):
    doc = built["001"]
    r = _row(doc, "t02", 11)
    assert (r["line"], r["row_no"], r["subject_code"], r["values"]["total"]) == (98, 12, "2101202", 16448.0)
    assert _row(doc, "t03", 14)["values"] == {"total": 236.26, "basic": 224.76, "project": 11.5,
                                               "remit_to_superior": 0.0, "operating_expense": 0.0,
                                               "affiliate_subsidy": 0.0}
    assert _row(doc, "t01", 9, "expenditure")["values"] == {"amount": 17545.19}
    assert [s["side"] for s in _records(doc, "budget_line", "t01") if s["row"] == 7] == ["expenditure"]
    r = _row(doc, "t04", 29, "expenditure")
    assert r["values"] == {"total": 17746.67, "general_public_budget": 17589.67, "government_fund": 157.0,
                           "state_capital": 0.0}
    r = _row(doc, "t06", 16)
    assert (r["subject_code"], r["subject_name"], r["classification"], r["values"]["public_funds"]) == \
        ("30231", "公务用车运行维护费", "economic", 7.8)
    assert _row(doc, "t08", 0)["values"] == {"basic": 0.0}  # 空表列示, but 0.00 printed in 基本支出
    assert _row(doc, "t09", 3)["values"] == {}
    assert _row(doc, "t26", 3)["values"] == {"extra:数量": 3.0, "amount": 44.73}
    assert _row(doc, "t26", 5)["values"] == {"amount": 60.36}
    tables = {t["table_id"]: t for t in doc[0]["tables"]}
    assert tables["t08"]["empty"] and tables["t25"]["empty"] and not tables["t02"]["empty"]
    assert sum(t["kind"] == "performance_targets" for t in tables.values()) == 14

    projects = _records(doc, "project")
    assert len(projects) == 14
    p = next(p for p in projects if p["table_id"] == "t20")
    assert p["name"] == "省级城乡居民基本医疗保险财政补助资金第二批（冀财社[2019]93号）"
    assert p["implementing_unit"] == "元氏县医疗保险管理中心" and p["line"] == 526
    assert _records(doc, "project", "t12")[0]["goal"].startswith("1、每年至少组织 1 次廉政专题学习")

    ind = _records(doc, "indicator", "t12")[1]  # level1 filled down from the row above
    assert (ind["line"], ind["level1"], ind["level2"], ind["level3"], ind["target"]) == \
        (449, "产出指标", "数量指标", "廉政教育及警示教育次数", "≥2次")
    assert ind["target_parsed"] == {"op": "≥", "value": 2.0, "unit": "次", "text": None}
    ind = _records(doc, "indicator", "t14")[4]
    assert (ind["level2"], ind["target"], ind["project"]) == ("可持续影响指标", "≥3年", "信息化建设")
    ind = _records(doc, "indicator", "t22")[0]
    assert ind["target_parsed"] == {"op": "=", "value": 100.0, "unit": "%", "text": None}
    assert ind["basis"] is None
    assert len(_records(doc, "indicator")) == 47

    net = next(f for f in _records(doc, "fact") if f["subject"] == "网络经费")
    assert (net["line"], net["value"], net["unit"]) == (368, 6.0, "万元")
    assert _span_texts(_line(doc, 366), "fact_subject")[-1] == "网络"
    assert _span_texts(_line(doc, 37), "department_code") == ["473"]
    assert _line(doc, 19)["label"] == "other" and _line(doc, 305)["label"] == "note"
    assert _line(doc, 434)["label"] == "project_header"
    assert _span_texts(_line(doc, 434), "implementing_unit") == ["元氏县医疗保障局"]


def test_seed_002_spot_checks(built):
    doc = built["002"]
    r = _row(doc, "t03", 4)
    assert (r["subject_code"], r["subject_name"], r["values"]) == \
        ("2101202", "财政对城乡居民基本医疗保险基金的补助",
         {"total": 585.0, "project": 585.0, "other_operation": 585.0})
    assert _span_texts(_line(doc, 238), "subject_code") == ["210", "12", "02"]
    r = _row(doc, "t03", 1)  # the unit row
    assert (r["subject_code"], r["subject_name"], r["classification"]) == (None, "洛阳市瀍河回族区医疗保障局", None)
    assert _span_texts(_line(doc, 235), "department_code") == ["308"]
    r = _row(doc, "t05", 6)  # shifted cells: 7.30 is 商品和服务支出
    assert r["values"] == {"total": 99.05, "basic": 99.05, "wages_welfare": 91.75, "goods_services": 7.3}
    assert _row(doc, "t05", 2)["subject_name"] == "机关事业单位基本养老保险缴费支出"
    assert _row(doc, "t02", 0)["values"] == {
        "total": 848.03, "current_year": 847.74, "general_public_budget": 847.74,
        "fiscal_appropriation": 847.74, "carryover": 0.29, "extra:上年结转结余/一般公共预算": 0.29}
    r = _row(doc, "t06", 0)
    assert (r["subject_code"], r["subject_name"], r["values"]) == \
        (None, "合计", {"total": 123.74, "personnel": 116.44, "public_funds": 7.3})
    assert _row(doc, "t06", 12)["subject_code"] == "30113"
    assert _row(doc, "t10", 8)["values"] == {"total": 0.29, "extra:财政拨款结转结余/一般公共预算": 0.29}
    assert _row(doc, "t10", 0)["subject_name"] is None
    tables = {t["table_id"]: t for t in doc[0]["tables"]}
    assert [tid for tid, t in tables.items() if t["empty"]] == ["t07", "t08", "t09"]
    assert (tables["t11"]["kind"], tables["t12"]["kind"]) == ("department_performance", "performance_targets")

    dept = _records(doc, "project", "t11")
    assert len(dept) == 1 and dept[0]["name"] == "洛阳市瀍河回族区医疗保障局" and dept[0]["amount"] == 848.03
    inds = _records(doc, "indicator", "t11")
    assert len(inds) == 29
    r = next(i for i in inds if i["level3"] == "预算编制完整性")
    assert (r["level1"], r["level2"], r["target"]) == ("投入管理指标", "预算和财务管理", "完整")
    r = next(i for i in inds if i["level3"] == "绩效指标合理性")
    assert r["description"].endswith("4.是否与部门年度的任务数或计划数相对应。")
    assert "2.工作任务、预算项目绩效指标是否清晰" in r["description"]

    projects = {p["code"]: p for p in _records(doc, "project", "t12")}
    p = projects["410304220000000013235"]
    assert (p["name"], p["amount"], p["implementing_unit"]) == ("城乡困难群众医疗救助", 107.0, "洛阳市瀍河回族区医疗保障局")
    inds = _records(doc, "indicator", "t12")
    assert len(inds) == 48
    benefit = [i for i in inds if i["line"] == 457 and i["level1"] == "效益指标"][0]
    assert (benefit["level3"], benefit["target"], benefit["project"]) == \
        ("困难群众待遇落实到位", "中长期", "城乡困难群众医疗救助")
    r = next(i for i in inds if i["line"] == 465 and i["level1"] == "产出指标")
    assert r["target_parsed"] == {"op": "≥", "value": 69.6, "unit": "元", "text": None}
    r = next(i for i in inds if i["line"] == 482)
    assert (r["level3"], r["project_code"]) == ("医保法治建设能力", "410304220000000032529")
    r = next(i for i in inds if i["line"] == 471)
    assert r["target"] == "八类人员应检尽检" and r["target_parsed"]["op"] is None
    assert _line(doc, 484)["row"] == _line(doc, 482)["row"]

    facts = _records(doc, "fact")
    assert len(facts) == 46
    share = next(f for f in facts if f["line"] == 96 and f["value"] == 5.9)
    assert (share["subject"], share["unit"]) == ("公用经费支出占比", "%")
    assert _span_texts(_line(doc, 363), "unit") == ["万"] and _span_texts(_line(doc, 364), "unit") == ["元"]


# ----------------------------------------------------------------------------- helpers

def test_cell_bounds_and_parsers():
    text = "210\t12\t02\t\t 行政运行 \t99.05"
    bounds = tabbed.cell_bounds(text)
    assert [text[a:b] for a, b in bounds] == ["210", "12", "02", "", "行政运行", "99.05"]
    assert tabbed.parse_amount("-----") == 0.0 and tabbed.parse_amount("") is None
    assert tabbed.parse_amount("电子设备、桌椅等") is None and tabbed.parse_amount("17746.67") == 17746.67
    assert tabbed.parse_target("2022年12月前")["text"] == "2022年12月前"
    assert tabbed.parse_target("1726人") == {"op": "=", "value": 1726.0, "unit": "人", "text": None}
    assert tabbed.parse_target(">90%") == {"op": ">", "value": 90.0, "unit": "%", "text": None}
    assert tabbed.clean_text("洛阳市瀍河回族区医疗保 障局") == "洛阳市瀍河回族区医疗保障局"
    assert tabbed.clean_text("补助资金 (第二批)") == "补助资金(第二批)"


def test_readme_worked_example_is_the_real_annotation(built):
    readme = (config.REPO_ROOT / "annotations" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Worked example"):readme.index("## Validation")]
    blocks = [json.loads(b.split("```", 1)[0]) for b in section.split("```json")[1:]]
    line, record = blocks
    assert line == _line(built["001"], 98)
    assert record == next(r for r in built["001"][1]["records"] if r["line"] == 98)
