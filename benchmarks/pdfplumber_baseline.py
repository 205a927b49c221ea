"""The extractor a user would write without budgetdoc: pdfplumber tables + regular expressions.

Per page: the table title is the first text line containing 表 (its kind by keywords of the
usual titles); tables come from `extract_tables()` (ruled lines), or, on a page without ruled
tables, from pdfplumber's text-alignment strategy. Each column's header cells, joined top-down,
are mapped to the contract's column keys by the usual printed names; a body row is a row with an
amount; its subject code is a 3/5/7-digit cell, its name the first cell with Chinese text. Two
项目 columns make a two-sided summary table (income left, expenditure right). Output: budget_line
records and tables in the contract's shape, so training.evaluate.budget_cells scores them.
"""
from __future__ import annotations

import re
from typing import Any, Optional

import pdfplumber

AMOUNT = re.compile(r"^-?[\d,]+\.\d{2}$")
ZERO = {"-", "—", "0", "0.00", ""}
CODE = re.compile(r"^\d{3}(\d{2}){0,2}$")
CJK = re.compile(r"[\u4e00-\u9fff]")
TEXT_STRATEGY = {"vertical_strategy": "text", "horizontal_strategy": "text"}

# (keyword in the title, kind): most specific first
KIND_KEYWORDS: list[tuple[str, str]] = [
    ("三公", "three_public_expenditure"), ("基本支出", "general_budget_basic_expenditure"),
    ("政府性基金", "government_fund_expenditure"), ("国有资本", "state_capital_expenditure"),
    ("一般公共预算", "general_budget_expenditure"), ("财政拨款收支", "fiscal_summary"),
    ("收支总表", "revenue_expenditure_summary"), ("收支预算", "revenue_expenditure_summary"),
    ("收入", "revenue_summary"), ("项目支出", "project_expenditure"), ("经济分类", "economic_classification"),
    ("采购", "procurement"), ("支出", "expenditure_summary"),
]
# (printed header fragment, column key): longest first so 基本支出 wins over 支出
HEADER_KEYS: list[tuple[str, str]] = sorted([
    ("预算数", "amount"), ("金额", "amount"), ("合计", "total"), ("总计", "total"), ("本年收入", "current_year"),
    ("财政拨款", "fiscal_appropriation"), ("一般公共预算", "general_public_budget"), ("政府性基金", "government_fund"),
    ("国有资本经营预算", "state_capital"), ("财政专户", "special_account"), ("事业收入", "business_income"),
    ("经营收入", "operating_income"), ("上级补助", "superior_subsidy"), ("附属单位上缴", "affiliate_remittance"),
    ("其他收入", "other_income"), ("上年结转", "carryover"), ("基本支出", "basic"), ("项目支出", "project"),
    ("人员经费", "personnel"), ("公用经费", "public_funds"), ("工资福利", "wages_welfare"),
    ("对个人和家庭", "household_subsidy"), ("商品和服务", "goods_services"), ("资本性支出", "capital"),
    ("因公出国", "outbound_travel"), ("购置及运行", "vehicles"), ("购置费", "vehicle_purchase"),
    ("运行", "vehicle_operation"), ("公务接待", "reception"),
], key=lambda pair: -len(pair[0]))


def clean(cell: Optional[str]) -> str:
    return re.sub(r"\s+", "", cell or "")


def amount_of(cell: str) -> Optional[float]:
    if cell in ZERO:
        return 0.0
    return float(cell.replace(",", "")) if AMOUNT.match(cell) else None


def table_kind(title: str) -> str:
    return next((kind for keyword, kind in KIND_KEYWORDS if keyword in title), "other")


def column_key(header: str) -> Optional[str]:
    return next((key for fragment, key in HEADER_KEYS if fragment in header), None)


def page_title(page: Any) -> str:
    lines = (page.extract_text() or "").splitlines()
    return next((line for line in lines if "表" in line), "")


def split_rows(rows: list[list[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """Header rows (before the first row holding an amount) and body rows."""
    for index, row in enumerate(rows):
        if any(AMOUNT.match(cell) for cell in row):
            return rows[:index], rows[index:]
    return rows, []


def column_keys(header_rows: list[list[str]], width: int) -> list[Optional[str]]:
    """Per column, the key of its lowest header cell that names one (merged cells above are group titles)."""
    keys: list[Optional[str]] = []
    for column in range(width):
        cells = [row[column] for row in reversed(header_rows) if column < len(row) and row[column]]
        keys.append(next((key for cell in cells if (key := column_key(cell))), None))
    return keys


def row_records(row: list[str], keys: list[Optional[str]], side: Optional[str]) -> Optional[dict[str, Any]]:
    code = next((cell for cell in row if CODE.match(cell)), None)
    name = next((cell for cell in row if CJK.search(cell) and column_key(cell) is None), None)
    values = {}
    for cell, key in zip(row, keys):
        if key and key not in values and (amount := amount_of(cell)) is not None:
            values[key] = amount
    if not values or not (code or name):
        return None
    return {"type": "budget_line", "side": side, "subject_code": code, "subject_name": name, "values": values}


def table_records(rows: list[list[str]], table_id: str) -> list[dict[str, Any]]:
    header_rows, body = split_rows(rows)
    width = max((len(r) for r in rows), default=0)
    keys = column_keys(header_rows, width)
    item_columns = [i for i in range(width) if any("项目" in row[i] for row in header_rows if i < len(row))]
    records = []
    for row in body:
        if len(item_columns) >= 2:  # two-sided summary: split at the second 项目 column
            cut = item_columns[1]
            halves = [(row[:cut], keys[:cut], "income"), (row[cut:], keys[cut:], "expenditure")]
        else:
            halves = [(row, keys, None)]
        for cells, half_keys, side in halves:
            record = row_records(cells, half_keys, side)
            if record:
                record["table_id"] = table_id
                records.append(record)
    return records


def extract_pdf(path: str) -> dict[str, Any]:
    """{"tables": [...], "records": [...]} of one PDF, in the contract's shape (budget lines only)."""
    tables: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            title = page_title(page)
            found = page.extract_tables() or page.extract_tables(TEXT_STRATEGY)
            for raw in found:
                table_id = f"p{page.page_number}t{len(tables)}"
                tables.append({"table_id": table_id, "kind": table_kind(title), "title": title})
                rows = [[clean(cell) for cell in row] for row in raw]
                records.extend(table_records(rows, table_id))
    return {"tables": tables, "records": records}
