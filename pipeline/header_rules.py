"""Printed header text -> column role and canonical key, as rules.

Used as the fallback of the trained header model and as the role decision for the non-amount
columns (序号, 编码, 名称, 一级指标 …) that the contract does not key.
"""
from __future__ import annotations

import re
from typing import Optional

ROLE_ROW_NO = "row_no"
ROLE_CODE = "code"
ROLE_UNIT_CODE = "unit_code"
ROLE_NAME = "name"
ROLE_VALUE = "value"
INDICATOR_ROLES = ("level1", "level2", "level3", "description", "target", "basis", "weight", "score")
ROLE_PROJECT = "project"
ROLE_PROJECT_UNIT = "implementing_unit"
ROLE_PROJECT_KIND = "project_kind"


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", text or "").replace("（", "(").replace("）", ")").replace("：", ":")


def header_role(leaf: str, full: str) -> Optional[str]:
    """Role of a column from its leaf header and its full (parent + leaf) header text."""
    lf, fl = _clean(leaf), _clean(full)
    if lf in {"序号", "栏次", "行次"}:
        return ROLE_ROW_NO
    if "单位代码" in fl or "单位编码" in fl or "部门(单位)代码" in fl:
        return ROLE_UNIT_CODE
    if lf in {"类", "款", "项"} or "编码" in lf or ("代码" in lf and "单位" not in lf):
        return ROLE_CODE
    if "一级指标" in lf:
        return "level1"
    if "二级指标" in lf:
        return "level2"
    if "三级指标" in lf or lf in {"指标名称", "指标内容", "绩效指标"}:
        return "level3"
    if "确定依据" in lf or "指标值说明" in lf or lf == "依据":
        return "basis"
    if "指标描述" in lf or "评价标准" in lf:
        return "description"
    if lf in {"指标值", "目标值", "年度指标值", "预期目标值", "年度目标值"}:
        return "target"
    if lf in {"分值", "权重"}:
        return "weight"
    if "得分" in lf and "率" not in lf:
        return "score"
    if lf in {"项目名称"}:
        return ROLE_PROJECT
    if lf in {"项目单位", "实施单位"}:
        return ROLE_PROJECT_UNIT
    if lf in {"类型", "项目类型"}:
        return ROLE_PROJECT_KIND
    if "名称" in lf or lf in {"项目", "科目", "收入项目", "支出项目"} or lf.startswith("项目(") :
        return ROLE_NAME
    return None


# (pattern over the cleaned leaf header, key); first match wins. Parent context handled below.
_KEY_RULES: list[tuple[str, str]] = [
    (r"^因公出国\(境\)费", "outbound_travel"),
    (r"^公务用车购置及运[行维]", "vehicles"),
    (r"公务用车购置费$", "vehicle_purchase"),
    (r"公务用车运[行维]", "vehicle_operation"),
    (r"^公务接待费", "reception"),
    (r"^(其中:)?财政拨款(收入)?$", "fiscal_appropriation"),
    (r"^一般公共预算(财政拨款|拨款)?(收入)?$", "general_public_budget"),
    (r"^政府性基金(预算)?(财政拨款|拨款)?(收入)?$", "government_fund"),
    (r"^国有资本经营预算(财政拨款|拨款)?(收入)?$", "state_capital"),
    (r"^(其中:)?财政专户", "special_account"),
    (r"^事业收入", "business_income"),
    (r"经营收入$", "operating_income"),
    (r"^上级补助收入", "superior_subsidy"),
    (r"^附属单位上缴收入", "affiliate_remittance"),
    (r"^其他收入", "other_income"),
    (r"^单位资金", "unit_funds"),
    (r"^(上年结转|年初结转|财政拨款结转|上年结余)", "carryover"),
    (r"^基本支出", "basic"),
    (r"^项目支出", "project"),
    (r"^人员经费", "personnel"),
    (r"^(日常)?公用经费", "public_funds"),
    (r"^工资福利支出", "wages_welfare"),
    (r"^对个人和家庭的补助", "household_subsidy"),
    (r"^商品和服务支出", "goods_services"),
    (r"^资本性支出", "capital"),
    (r"^(事业单位)?经营支出", "operating_expense"),
    (r"^上缴上级支出", "remit_to_superior"),
    (r"^对附属单位补助支出", "affiliate_subsidy"),
    (r"^其他运转类", "other_operation"),
    (r"^特定目标类", "specific_target"),
    (r"^执行数", "executed"),
    (r"^分值$", "weight"),
    (r"^(自评)?得分$", "score"),
    (r"^(本年)?(收入|支出)?(合计|总计)$", "total"),
    (r"^本年(收入|拨款)(小计)?$", "current_year"),
    (r"^(预算数|金额|预算金额|预算|价值)($|\()", "amount"),
]


_SUBTOTAL_PARENTS = (("本年收入", "current_year"), ("本年拨款", "current_year"), ("基本支出", "basic"),
                     ("项目支出", "project"), ("事业收入", "business_income"), ("一般公共预算", "general_public_budget"),
                     ("上年结转", "carryover"), ("结转结余", "carryover"), ("公务用车", "vehicles"),
                     ("人员经费", "personnel"), ("公用经费", "public_funds"), ("资金来源", "total"), ("三公", "total"))


def column_key(leaf: str, full: str, amount_only: bool = False) -> str:
    """Canonical contract key of a value column, `extra:<header>` when none fits."""
    lf, fl = _clean(leaf), _clean(full)
    parent = fl[: len(fl) - len(lf)] if lf and fl.endswith(lf) else ""
    if lf == "合计" and parent:
        for p_pattern, key in (("本年收入", "current_year"), ("本年拨款", "current_year"), ("上年结转", "carryover"),
                               ("结转结余", "carryover")):
            if p_pattern in parent:
                return key
        return "total"
    if lf == "小计" and parent:
        # the closest parent header decides what a 小计/合计 column sums
        best, best_pos = "total", -1
        for p_pattern, key in _SUBTOTAL_PARENTS:
            pos = parent.rfind(p_pattern)
            if pos > best_pos:
                best, best_pos = key, pos
        return best
    for pattern, key in _KEY_RULES:
        if re.search(pattern, lf):
            if key == "fiscal_appropriation" and "一般公共预算" in parent and "其中" not in lf:
                return "general_public_budget"
            return key
    if not lf and fl:
        return column_key(fl, fl)
    return extra_key(leaf, full)


def extra_key(leaf: str, full: str) -> str:
    """`extra:<header>` of a column no canonical key fits: the printed header, a parent heading
    before a "/" ("extra:上年结转结余/一般公共预算"), so that the same leaf under two parents stays two
    columns and reads as the annotations write it."""
    lf, fl = re.sub(r"\s+", "", leaf or ""), re.sub(r"\s+", "", full or "")
    if lf and fl.endswith(lf) and fl != lf:
        return f"extra:{fl[: len(fl) - len(lf)]}/{lf}"
    return "extra:" + (fl or lf or "?")


def table_kind_rules(title: str) -> str:
    t = _clean(title)
    rules = [
        ("自评", "performance_self_evaluation"),
        ("整体绩效", "department_performance"),
        ("绩效目标", "performance_targets"),
        ("三公", "three_public_expenditure"),
        ("政府采购", "procurement"),
        ("资产", "assets"),
        ("项目支出", "project_expenditure"),
        ("经济分类", "economic_classification"),
        ("基本支出", "general_budget_basic_expenditure"),
        ("政府性基金", "government_fund_expenditure"),
        ("政府基金", "government_fund_expenditure"),
        ("国有资本", "state_capital_expenditure"),
        ("财政拨款收支", "fiscal_summary"),
        ("一般公共预算", "general_budget_expenditure"),
        ("收支", "revenue_expenditure_summary"),
        ("收入", "revenue_summary"),
        ("支出", "expenditure_summary"),
    ]
    for needle, kind in rules:
        if needle in t:
            return kind
    return "other"
