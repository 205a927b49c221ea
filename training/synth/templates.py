"""Layout families (templates) modelled on the three seeds and on common producers.

A template fixes how a producer prints: fonts, sizes, margins, rules, code columns, zero style,
page furniture, title wording and the order its text objects are written into the page.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    name: str
    body_font: str
    title_font: str
    header_font: str
    body_size: float
    title_size: float
    header_size: float
    line_gap: float  # line height / font size
    margins: tuple[float, float, float, float]  # left, top, right, bottom
    rules: str  # grid / three_line / none
    code_layout: str  # single (hierarchy rows, one code column) / split (flat 类|款|项 columns)
    narrow: bool  # narrow cells: names and amounts wrap (seed 000)
    zero: str  # how a zero amount is printed: "", "0.00", "-"
    row_no: bool  # 序号 column
    index_row: bool  # 栏次 row under the header
    furniture: str  # code_name_year_unit / bracket / name_only / unit_only
    furniture_repeat: bool  # furniture line repeated on every page of a table
    page_numbers: str  # none / plain / dash / di
    emission: str  # row / column / bottom_up / header_last
    title_style: str  # plain / year / dept_year / numbered
    table_new_page: bool
    landscape_wide: bool
    unit: str
    thousands: bool
    narrative_first: bool
    expenditure_variant: str  # basic_project / detailed / basic_split
    revenue_variant: str  # seed000 / sources / units
    all_classes: bool  # summary tables list every 类 (with blanks) or only those with amounts
    economic_second_code: bool
    perf_style: str  # per_project / department
    cell_pad: float = 2.0
    split_rows: bool = False  # a tall row may be split by a page break (Excel/WPS print)
    repeat_header: bool = True  # header rows printed again on every page of a table
    total_last: bool = False  # 合计 row at the bottom instead of the top
    form_labels: bool = False  # "预算 01 表" above each title
    spaced_headers: bool = False  # two-character headers printed with a space ("合 计", "金 额")
    running_header: bool = False  # department/year line at the top of every page (Word header)


TEMPLATES: tuple[Template, ...] = (
    Template("hebei_grid_narrow", "SimSun", "SimHei", "SimSun", 9.5, 15.0, 9.0, 1.25, (66, 46, 66, 46),
             "grid", "single", True, "", True, True, "code_name_year_unit", True, "plain", "row", "plain",
             True, False, "万元", False, False, "basic_project", "seed000", True, False, "per_project",
             split_rows=True),
    Template("hebei_grid_wide", "SimSun", "SimSun-Bold", "SimHei", 9.0, 16.0, 9.0, 1.3, (36, 40, 36, 40),
             "grid", "single", False, "0.00", True, True, "bracket", False, "none", "column", "plain",
             True, True, "万元", False, False, "basic_split", "sources", True, False, "per_project"),
    Template("henan_split_codes", "FangSong", "SimHei", "SimSun", 8.0, 16.0, 8.0, 1.2, (30, 36, 30, 36),
             "grid", "split", False, "", False, False, "name_only", False, "none", "header_last", "year",
             True, True, "万元", False, True, "detailed", "units", False, True, "department", form_labels=True,
             spaced_headers=True),
    Template("word_three_line", "SimSun", "SimHei", "SimHei", 9.5, 14.0, 9.5, 1.45, (56, 60, 56, 60),
             "three_line", "single", False, "-", False, False, "unit_only", False, "dash", "bottom_up", "numbered",
             False, False, "万元", False, True, "basic_project", "sources", False, False, "per_project",
             repeat_header=False, total_last=True, running_header=True),
    Template("wps_unruled_yuan", "FangSong", "SimHei", "SimHei", 8.5, 15.0, 8.5, 1.35, (40, 44, 40, 44),
             "none", "single", False, "0.00", True, False, "name_only", True, "di", "bottom_up", "dept_year",
             True, True, "元", True, False, "basic_split", "sources", False, False, "per_project", split_rows=True),
    Template("excel_column_major", "KaiTi", "SimHei", "SimSun-Bold", 9.0, 15.0, 9.0, 1.3, (38, 42, 38, 42),
             "grid", "single", False, "0.00", True, False, "unit_only", False, "plain", "column", "dept_year",
             True, True, "万元", False, True, "detailed", "seed000", True, True, "department"),
)

TEST_TEMPLATE = "excel_column_major"

TEMPLATE_BY_NAME = {t.name: t for t in TEMPLATES}

# Titles per table kind; the template's title_style decides prefixes.
TITLES: dict[str, tuple[str, ...]] = {
    "revenue_expenditure_summary": ("部门预算收支总表", "部门收支预算表", "收支预算总表", "部门收支总表"),
    "revenue_summary": ("部门预算收入总表", "部门收入预算表", "收入预算总表"),
    "expenditure_summary": ("部门预算支出总表", "部门支出预算表", "支出预算总表"),
    "fiscal_summary": ("部门预算财政拨款收支总表", "财政拨款收支预算表", "财政拨款收支总表"),
    "general_budget_expenditure": ("部门预算一般公共预算财政拨款支出表", "一般公共预算支出预算表",
                                   "一般公共预算（财政拨款）支出表"),
    "general_budget_basic_expenditure": ("部门预算一般公共预算财政拨款基本支出表", "一般公共预算基本支出预算表",
                                         "一般公共预算（财政拨款）基本支出表"),
    "government_fund_expenditure": ("部门预算政府性基金预算财政拨款支出表", "政府性基金支出预算表",
                                    "政府性基金预算（财政拨款）支出表"),
    "state_capital_expenditure": ("部门预算国有资本经营预算财政拨款支出表", "国有资本经营支出预算表",
                                  "国有资本经营预算（财政拨款）支出表"),
    "three_public_expenditure": ("部门预算财政拨款“三公”经费支出表", "一般公共预算“三公”经费预算表",
                                 "财政拨款“三公”经费支出表"),
    "project_expenditure": ("项目支出预算表", "部门项目支出预算表"),
    "economic_classification": ("支出经济分类汇总表", "部门支出经济分类汇总表"),
    "procurement": ("政府采购预算表", "部门政府采购预算表"),
    "assets": ("国有资产占用情况表", "部门固定资产占用情况表"),
    "department_performance": ("部门（单位）整体绩效目标表", "本级部门(单位)整体绩效目标表"),
    "performance_self_evaluation": ("项目支出绩效自评表",),
}
