"""Turn a Budget into the printed budget tables of one disclosure (performance tables: performance.py).

Printed values come from the budget's integer cents, so every identity of domain.md holds,
except where errors.py later breaks one on purpose.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Optional

from training.synth import classification as cls
from training.synth.budget import Budget, Item, Project
from training.synth.spec import Cell, Column, FieldRange, Row, TableSpec, cell
from training.synth.templates import TITLES, Template


@dataclass
class Entry:
    """One body row of a subject table before it becomes cells."""

    name: str
    values: dict[str, Optional[int]]
    code: Optional[str] = None
    classification: Optional[str] = None
    texts: dict[str, str] = field(default_factory=dict)  # role -> printed text of non-amount columns


@dataclass
class Context:
    tpl: Template
    rng: random.Random
    budget: Budget
    dept: str
    dept_code: str
    year: int
    sector: cls.Sector
    next_table: int = 0
    title_family: int = 0  # one wording family per document (部门预算…表 / …预算表 / …)
    province: str = ""
    zero: str = ""  # how this document prints a zero amount
    thousands: bool = False  # 1,234.56

    def table_id(self) -> str:
        self.next_table += 1
        return f"t{self.next_table:02d}"

    def fmt(self, cents: Optional[int]) -> str:
        if cents is None:
            return ""
        if cents == 0:
            return self.zero
        whole, frac = divmod(abs(cents), 100)
        w = f"{whole:,}" if self.thousands else str(whole)
        return f"{'-' if cents < 0 else ''}{w}.{frac:02d}"

    def form_label(self, ordinal: int) -> Optional[str]:
        """The form number some producers print above each table's title ("预算 03 表", "公开01表")."""
        if self.tpl.form_labels:
            return f"预算 {ordinal + 1:02d} 表"
        own = random.Random(f"{self.dept}|{self.year}|form_labels")  # the document's other numbers stay as they were
        if own.random() >= 0.25:
            return None
        n = ordinal + 1
        return own.choice([f"公开{n:02d}表", f"预算{n:02d}表", f"表{n}", f"附表{n}", f"部门公开表{n:02d}", f"收支预算{n:02d}表"])

    def title(self, kind: str, ordinal: int) -> str:
        options = TITLES[kind]
        base = options[min(self.title_family, len(options) - 1)]
        style = self.tpl.title_style
        if style == "year":
            return f"{self.year} 年{base.removeprefix('部门预算')}" if base.startswith("部门预算") else f"{self.year} 年{base}"
        if style == "dept_year":
            return f"{self.dept}{self.year}年{base}"
        if style == "numbered":
            return f"表{cls.CHINESE_ORDINALS[ordinal]}：{base}"
        return base

    def furniture(self) -> str:
        f = self.tpl.furniture
        if f == "code_name_year_unit":
            return f"{self.dept_code} {self.dept} 预算年度：{self.year} 单位：{self.budget.unit}"
        if f == "bracket":
            return f"部门编码及名称：[{self.dept_code}]{self.dept}    预算年度：{self.year}    金额单位：{self.budget.unit}"
        if f == "name_only":
            return f"部门名称：{self.dept}    单位：{self.budget.unit}"
        return f"单位：{self.budget.unit}"


def parse_printed(text: str) -> Optional[float]:
    """Gold value of a printed amount: blank -> None (omitted), '-' -> 0.0."""
    t = text.strip()
    if not t:
        return None
    if t == "-":
        return 0.0
    return float(t.replace(",", ""))


def header_text(path: tuple[str, ...]) -> str:
    leaf = path[-1]
    if len(path) > 1 and leaf in ("小计", "合计", "金额", "预算数"):
        return f"{path[-2]} {leaf}" if path[-2] not in ("收入", "支出") else leaf
    return leaf


def contract_columns(columns: list[Column]) -> list[dict[str, str]]:
    out, seen = [], set()
    for c in columns:
        if c.key and c.key not in seen:
            seen.add(c.key)
            out.append({"key": c.key, "header": header_text(c.path)})
    return out


# ---------------------------------------------------------------- subject tables

def hierarchy(items: list[Item], value: Callable[[list[Item]], dict[str, int]], with_parents: bool) -> list[Entry]:
    """类/款/项 rows in code order; parents carry the sums of their items."""
    entries: list[Entry] = []
    classes = sorted({i.code[:3] for i in items})
    for c3 in classes:
        in3 = [i for i in items if i.code.startswith(c3)]
        if with_parents:
            entries.append(Entry(cls.function_name(c3), value(in3), c3, "functional"))
        for c5 in sorted({i.code[:5] for i in in3}):
            in5 = [i for i in in3 if i.code.startswith(c5)]
            if with_parents:
                entries.append(Entry(cls.function_name(c5), value(in5), c5, "functional"))
            for it in in5:
                entries.append(Entry(cls.function_name(it.code), value([it]), it.code, "functional"))
    return entries


def code_columns(ctx: Context, group: str, econ: bool = False) -> list[Column]:
    tpl = ctx.tpl
    cols: list[Column] = []
    if tpl.row_no:
        cols.append(Column(("序号",), 0.45 if not tpl.narrow else 0.35, role="row_no", align="c"))
    if tpl.code_layout == "split" and not econ:
        for part, role in (("类", "code_l"), ("款", "code_k"), ("项", "code_x")):
            cols.append(Column(("科目编码", part), 0.35, role=role, align="c"))
        cols.append(Column(("单位代码",), 0.55, role="unit_code", align="c"))
        cols.append(Column(("单位（科目名称）",), 2.6, role="name", align="l"))
        return cols
    code_w = 0.5 if tpl.narrow else 0.95
    name_w = 0.55 if tpl.narrow else 2.6
    if tpl.revenue_variant == "sources" and not tpl.narrow:
        cols.append(Column((group, f"{'经济' if econ else '功能'}分类科目编码"), code_w, role="code", align="c"))
    else:
        cols.append(Column((group, "科目编码"), code_w, role="code", align="c"))
    cols.append(Column((group, "科目名称"), name_w, role="name", align="l"))
    return cols


def amount_col(path: tuple[str, ...], key: str, ctx: Context, weight: float = 1.0) -> Column:
    w = 0.55 if ctx.tpl.narrow else weight
    return Column(path, w, key=key, role="amount", align="r")


def entry_rows(ctx: Context, tid: str, columns: list[Column], entries: list[Entry], label: str = "subject_row") -> list[Row]:
    rows: list[Row] = []
    for idx, e in enumerate(entries):
        cells: list[Optional[Cell]] = []
        record_values: dict[str, Optional[float]] = {}
        row_no = idx + 1
        for col in columns:
            if col.role == "row_no":
                cells.append(cell(str(row_no), "row_no", align="c"))
            elif col.role == "code":
                cells.append(cell(e.code or "", "subject_code", align=col.align))
            elif col.role in ("code_l", "code_k", "code_x"):
                part = {"code_l": (0, 3), "code_k": (3, 5), "code_x": (5, 7)}[col.role]
                text = e.code[part[0]:part[1]] if e.code and len(e.code) >= part[1] else ""
                cells.append(cell(text, "subject_code", align="c"))
            elif col.role == "name":
                cells.append(cell(e.name, "subject_name", align=col.align))
            elif col.role == "amount":
                printed = ctx.fmt(e.values.get(col.key)) if col.key in e.values else ""
                cells.append(cell(printed, "amount", col.key, align="r"))
                v = parse_printed(printed)
                if v is not None:
                    record_values[col.key] = v
            elif col.role == "unit_code":
                cells.append(cell(e.texts.get("unit_code", ""), "department_code", align="c"))
            elif col.role == "impl":
                cells.append(cell(e.texts.get("impl", ""), "implementing_unit", align="l"))
            else:
                cells.append(cell(e.texts.get(col.role, ""), align=col.align))
        rec = {"record_id": f"{tid}-r{idx}", "type": "budget_line", "table_id": tid, "confidence": 1.0,
               "checks": [], "page": None, "line": None, "row": idx, "side": None,
               "row_no": row_no if ctx.tpl.row_no else None, "subject_code": e.code, "subject_name": e.name,
               "classification": e.classification, "values": record_values}
        rows.append(Row(cells, label, idx, [rec]))
    return rows


def subject_table(ctx: Context, kind: str, ordinal: int, group: str, amount_cols: list[Column],
                  entries: list[Entry], total_name: str = "合计", econ: bool = False, empty_note: str = "") -> TableSpec:
    tid = ctx.table_id()
    columns = code_columns(ctx, group, econ) + amount_cols
    total_vals = {c.key: 0 for c in amount_cols if c.key}
    top_len = min((len(e.code) for e in entries if e.code), default=0)
    for e in entries:
        if e.code and len(e.code) == top_len:
            for k in total_vals:
                total_vals[k] += e.values.get(k) or 0
    if ctx.tpl.code_layout == "split" and not econ and entries:
        # the unit rows of the split layout repeat the 合计
        unit_row = Entry(ctx.dept, dict(total_vals), texts={"unit_code": ctx.dept_code})
        entries = [unit_row] + entries
    if not entries:
        all_entries = []
    elif ctx.tpl.total_last:
        all_entries = entries + [Entry("总计" if ctx.rng.random() < 0.5 else total_name, total_vals)]
    else:
        all_entries = [Entry(total_name, total_vals)] + entries
    empty = not entries
    rows = entry_rows(ctx, tid, columns, all_entries)
    table = TableSpec(tid, kind, ctx.title(kind, ordinal), columns, rows, contract_columns(amount_cols),
                      index_row=ctx.tpl.index_row, empty=empty, furniture=ctx.furniture())
    if empty:
        table.notes.append(empty_note or ctx.rng.choice(["注：本表无数据，空表列示。", "此表无数据。"]))
        # empty tables still print a 合计 row without amounts in some producers
        if ctx.rng.random() < 0.5:
            table.rows = entry_rows(ctx, tid, columns, [Entry(total_name, {})])
    _maybe_landscape(ctx, table)
    return table


def _maybe_landscape(ctx: Context, table: TableSpec) -> None:
    n_amount = sum(1 for c in table.columns if c.role == "amount")
    table.landscape = ctx.tpl.landscape_wide and n_amount >= 6


def expenditure_cols(ctx: Context, variant: str, with_other: bool = True) -> list[Column]:
    a = lambda p, k, w=1.0: amount_col(p, k, ctx, w)  # noqa: E731
    if variant == "detailed":
        return [a(("合计",), "total"), a(("基本支出", "小计"), "basic"),
                a(("基本支出", "人员经费", "工资福利支出"), "wages_welfare"),
                a(("基本支出", "人员经费", "对个人和家庭的补助"), "household_subsidy"),
                a(("基本支出", "公用经费", "商品和服务支出"), "goods_services"),
                a(("基本支出", "公用经费", "资本性支出"), "capital"),
                a(("项目支出", "小计"), "project"), a(("项目支出", "其他运转类"), "other_operation"),
                a(("项目支出", "特定目标类"), "specific_target")]
    if variant == "basic_split":
        return [a(("合计",), "total"), a(("基本支出", "小计"), "basic"), a(("基本支出", "人员经费"), "personnel"),
                a(("基本支出", "公用经费"), "public_funds"), a(("项目支出",), "project")]
    cols = [a(("合计",), "total"), a(("基本支出",), "basic"), a(("项目支出",), "project")]
    if with_other:
        cols += [a(("上缴上级支出",), "remit_to_superior"), a(("经营支出",), "operating_expense"),
                 a(("对附属单位补助支出",), "affiliate_subsidy")]
    return cols


def expenditure_values(items: list[Item], source: str = "all") -> dict[str, int]:
    """Column values of expenditure tables for a set of items, restricted to a funding source."""
    if source == "gb":
        project = sum(i.proj_gp + i.proj_carry for i in items)
        basic_items = items
    elif source == "gf":
        project = sum(i.proj_gf for i in items)
        basic_items = []
    else:
        project = sum(i.project for i in items)
        basic_items = items
    wages = sum(i.wages for i in basic_items)
    household = sum(i.household for i in basic_items)
    goods = sum(i.goods for i in basic_items)
    capital = sum(i.capital_basic for i in basic_items)
    basic = wages + household + goods + capital
    specific = sum(_specific_share(i, source) for i in items)
    return {"total": basic + project, "basic": basic, "project": project, "personnel": wages + household,
            "public_funds": goods + capital, "wages_welfare": wages, "household_subsidy": household,
            "goods_services": goods, "capital": capital, "other_operation": project - specific,
            "specific_target": specific, "remit_to_superior": 0, "operating_expense": 0, "affiliate_subsidy": 0}


def _specific_share(item: Item, source: str) -> int:
    """特定目标类 part of an item's project money from one source (rounded per item, so sums add up)."""
    part = {"gb": item.proj_gp + item.proj_carry, "gf": item.proj_gf}.get(source, item.project)
    return int(round(part * item.specific / item.project)) if item.project else 0


def _blank_zero_columns(values: dict[str, int], keys: list[str]) -> dict[str, Optional[int]]:
    return {k: values.get(k, 0) for k in keys}


def expenditure_table(ctx: Context, kind: str, ordinal: int, source: str) -> TableSpec:
    variant = ctx.tpl.expenditure_variant
    if kind != "expenditure_summary" and variant == "basic_project":
        cols = expenditure_cols(ctx, "basic_project", with_other=False)
    else:
        cols = expenditure_cols(ctx, variant, with_other=(kind == "expenditure_summary"))
    keys = [c.key for c in cols]
    items = [i for i in ctx.budget.items if _uses_source(i, source)]
    flat = ctx.tpl.code_layout == "split"
    entries = hierarchy(items, lambda its: _blank_zero_columns(expenditure_values(its, source), keys), not flat)
    note = {"gf": "注：本部门无政府性基金预算财政拨款支出，空表列示。", "sc": "注：无国有资本经营预算财政拨款预算，空表列示。"}
    return subject_table(ctx, kind, ordinal, "功能分类科目", cols, entries, empty_note=note.get(source, ""))


def _uses_source(item: Item, source: str) -> bool:
    if source == "gb":
        return item.general_budget > 0
    if source == "gf":
        return item.proj_gf > 0
    if source == "sc":
        return False
    return item.total > 0


def revenue_table(ctx: Context, ordinal: int) -> TableSpec:
    variant = ctx.tpl.revenue_variant
    a = lambda p, k, w=1.0: amount_col(p, k, ctx, w)  # noqa: E731
    if variant == "seed000":
        cols = [a(("合计",), "total"), a(("本年收入", "小计"), "current_year"),
                a(("本年收入", "财政拨款收入"), "fiscal_appropriation"), a(("本年收入", "财政专户收入"), "special_account"),
                a(("本年收入", "事业收入"), "business_income"), a(("本年收入", "经营收入"), "operating_income"),
                a(("本年收入", "上级补助收入"), "superior_subsidy"),
                a(("本年收入", "附属单位上缴收入"), "affiliate_remittance"), a(("本年收入", "其他收入"), "other_income"),
                a(("上年结转",), "carryover")]
    elif variant == "units":
        cols = [a(("总计",), "total"), a(("本年收入", "合计"), "current_year"),
                a(("本年收入", "一般公共预算"), "general_public_budget"), a(("本年收入", "政府性基金"), "government_fund"),
                a(("本年收入", "国有资本经营预算"), "state_capital"),
                a(("本年收入", "财政专户管理资金收入"), "special_account"), a(("本年收入", "事业收入"), "business_income"),
                a(("本年收入", "其他收入"), "other_income"), a(("上年结转结余",), "carryover")]
    else:
        cols = [a(("合计",), "total"), a(("一般公共预算",), "general_public_budget"),
                a(("政府性基金",), "government_fund"), a(("财政专户管理资金",), "special_account"),
                a(("事业收入",), "business_income"), a(("其他收入",), "other_income"), a(("上年结转",), "carryover")]
    keys = [c.key for c in cols]

    def values(its: list[Item]) -> dict[str, Optional[int]]:
        v = {"total": sum(i.total for i in its), "current_year": sum(i.current_year for i in its),
             "fiscal_appropriation": sum(i.gp + i.proj_gf for i in its),
             "general_public_budget": sum(i.gp for i in its), "government_fund": sum(i.proj_gf for i in its),
             "state_capital": 0, "special_account": sum(i.proj_sa for i in its),
             "business_income": sum(i.proj_bi for i in its), "operating_income": 0, "superior_subsidy": 0,
             "affiliate_remittance": 0, "other_income": sum(i.proj_oi for i in its),
             "carryover": sum(i.proj_carry for i in its)}
        return {k: v[k] for k in keys}

    flat = ctx.tpl.code_layout == "split"
    if variant == "units" and ctx.rng.random() < 0.7:
        return _revenue_by_unit(ctx, ordinal, cols, values(ctx.budget.items))
    entries = hierarchy(ctx.budget.items, values, not flat)
    return subject_table(ctx, "revenue_summary", ordinal, "功能分类科目", cols, entries)


def _revenue_by_unit(ctx: Context, ordinal: int, amount_cols: list[Column], vals: dict[str, Optional[int]]) -> TableSpec:
    """Seed 002's 部门收入预算表: rows are the department and its units, not subjects."""
    tid = ctx.table_id()
    cols = [Column(("部门（单位）代码",), 0.9, role="unit_code", align="l"),
            Column(("部门（单位）名称",), 2.4, role="name", align="l")] + amount_cols
    entries = [Entry("合计", dict(vals)), Entry(ctx.dept, dict(vals), texts={"unit_code": ctx.dept_code}),
               Entry(ctx.dept, dict(vals), texts={"unit_code": f"{ctx.dept_code}001"})]
    rows = entry_rows(ctx, tid, cols, entries)
    table = TableSpec(tid, "revenue_summary", ctx.title("revenue_summary", ordinal), cols, rows,
                      contract_columns(amount_cols), furniture=ctx.furniture())
    _maybe_landscape(ctx, table)
    return table


# ---------------------------------------------------------------- two-sided summary tables

def _class_lines(ctx: Context, totals: dict[str, dict[str, int]], keys: list[str], style: str) -> list[tuple[str, dict]]:
    """Expenditure side of summary tables: one line per 类 (every 类, or those with money).

    style: full ("八、社会保障和就业支出"), short ("八、社会保障和就业"), paren ("（八）社会保障和就业支出").
    """
    lines = []
    n = 0
    for code, name in cls.FUNCTION_CLASSES.items():
        if code == "234" and ctx.year < 2021:
            continue
        ordinal = cls.CHINESE_ORDINALS[n]  # the official position, also when empty classes are left out
        n += 1
        if not ctx.tpl.all_classes and code not in totals and style != "short":
            continue
        text = cls.SHORT_CLASS_NAMES.get(code, name) if style == "short" else name
        label = f"（{ordinal}）{text}" if style == "paren" else f"{ordinal}、{text}"
        vals = totals.get(code, {})
        lines.append((label, {k: vals.get(k, 0) for k in keys}))
    return lines


def _per_class(items: list[Item], keys: list[str], fiscal: bool) -> dict[str, dict[str, int]]:
    per: dict[str, dict[str, int]] = {}
    for i in items:
        if (i.fiscal if fiscal else i.total) == 0:
            continue
        d = per.setdefault(i.code[:3], {k: 0 for k in keys})
        if fiscal:
            d["total"] += i.fiscal
            d["general_public_budget"] += i.general_budget
            if "fiscal_appropriation" in d:
                d["fiscal_appropriation"] += i.general_budget
            d["government_fund"] += i.proj_gf
        else:
            d["amount"] += i.total
    return per


SideLine = tuple[str, Optional[int]]  # income: name, amount (None: printed blank)
ExpLine = tuple[str, dict]


def _summary_lines(ctx: Context, fiscal: bool) -> tuple[list[SideLine], list[ExpLine], list[tuple[SideLine, ExpLine]], list[str]]:
    """Income lines, expenditure lines, closing rows (side by side) and the expenditure columns."""
    items = ctx.budget.items
    gp = sum(i.gp for i in items)
    gf = sum(i.proj_gf for i in items)
    carry = sum(i.proj_carry for i in items)
    seed002 = ctx.tpl.revenue_variant == "units"
    if fiscal:
        keys = ["total", "general_public_budget"] + (["fiscal_appropriation"] if seed002 else []) + \
               ["government_fund", "state_capital"]
        per = _per_class(items, keys, True)
        exp_total = {k: sum(d[k] for d in per.values()) for k in keys}
        zero = {k: 0 for k in keys}
        if seed002:
            # 一、本年收入 / （一）… / 二、上年结转 / （一）… ; 收入合计 = 支出合计
            income: list[SideLine] = [("一、本年收入", gp + gf), ("（一）一般公共预算拨款", gp), ("其中：财政拨款", gp),
                                      ("（二）政府性基金预算拨款", gf), ("（三）国有资本经营预算拨款", None),
                                      ("二、上年结转", carry), ("（一）一般公共预算拨款", carry),
                                      ("（二）政府性基金预算拨款", None), ("（三）国有资本经营预算拨款", None)]
            exp = [("一、本年支出", exp_total)] + _class_lines(ctx, per, keys, "paren") + [("二、年终结转结余", zero)]
            closing = [(("收入合计", gp + gf + carry), ("支出合计", exp_total))]
            return income, exp, closing, keys
        income = [("一、一般公共预算财政拨款", gp), ("二、政府性基金预算财政拨款", gf), ("三、国有资本经营预算财政拨款", 0)]
        exp = _class_lines(ctx, per, keys, "full")
        closing = [(("本年收入合计", gp + gf), ("本年支出合计", exp_total)),
                   (("年初财政拨款结转和结余", carry), ("年末财政拨款结转和结余", zero)),
                   (("收入总计", gp + gf + carry), ("支出总计", exp_total))]
        return income, exp, closing, keys
    keys = ["amount"]
    per = _per_class(items, keys, False)
    exp_total = {"amount": sum(d["amount"] for d in per.values())}
    sa = sum(i.proj_sa for i in items)
    bi = sum(i.proj_bi for i in items)
    oi = sum(i.proj_oi for i in items)
    if seed002:
        income = [("一、一般公共预算", gp), ("其中：财政拨款", gp), ("二、政府性基金预算拨款收入", gf),
                  ("三、国有资本经营预算拨款收入", 0), ("四、财政专户管理资金收入", sa), ("五、事业收入", bi),
                  ("六、事业单位经营收入", 0), ("七、上级补助收入", 0), ("八、附属单位上缴收入", 0), ("九、其他收入", oi)]
        exp = _class_lines(ctx, per, keys, "short")
    else:
        income = [("一、一般公共预算拨款收入", gp), ("二、政府性基金预算拨款收入", gf), ("三、国有资本经营预算拨款收入", 0),
                  ("四、财政专户管理资金收入", sa), ("五、事业收入", bi), ("六、事业单位经营收入", 0), ("七、上级补助收入", 0),
                  ("八、附属单位上缴收入", 0), ("九、其他收入", oi)]
        exp = _class_lines(ctx, per, keys, "full")
    current = gp + gf + sa + bi + oi
    closing = [(("本年收入合计", current), ("本年支出合计", exp_total)),
               (("上年结转结余", carry), ("年终结转结余", {"amount": 0})),
               (("收入总计", current + carry), ("支出总计", exp_total))]
    return income, exp, closing, keys


def two_sided_table(ctx: Context, kind: str, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    fiscal = kind == "fiscal_summary"
    income, exp, closing, exp_keys = _summary_lines(ctx, fiscal)
    body: list[tuple[Optional[str], Optional[int], Optional[str], dict, Optional[str]]] = []
    for k in range(max(len(income), len(exp))):
        iname, ival = income[k] if k < len(income) else (None, None)
        ename, evals = exp[k] if k < len(exp) else (None, {})
        is_class = bool(ename) and not ename.startswith(("一、本年支出", "二、年终"))
        body.append((iname, ival, ename, evals, "functional" if is_class else None))
    for (iname, ival), (ename, evals) in closing:
        body.append((iname, ival, ename, evals, None))

    tpl = ctx.tpl
    cols: list[Column] = []
    if tpl.row_no:
        cols.append(Column(("序号",), 0.4, role="row_no", align="c"))
    amount_word = "预算数" if not fiscal else "金额"
    cols.append(Column(("收入", "项 目"), 2.2 if not tpl.narrow else 1.2, role="inc_name", align="l"))
    cols.append(Column(("收入", amount_word), 1.0 if not tpl.narrow else 0.8, key="amount", role="inc_amount"))
    cols.append(Column(("支出", "项 目"), 2.4 if not tpl.narrow else 1.2, role="exp_name", align="l"))
    if fiscal:
        headers = {"total": ("合计",), "general_public_budget": ("一般公共预算财政拨款",),
                   "government_fund": ("政府性基金预算财政拨款",), "state_capital": ("国有资本经营预算财政拨款",)}
        if "fiscal_appropriation" in exp_keys:
            headers.update({"general_public_budget": ("一般公共预算", "小计"),
                            "fiscal_appropriation": ("一般公共预算", "其中：财政拨款"),
                            "government_fund": ("政府性基金",), "state_capital": ("国有资本经营预算",)})
        for key in exp_keys:
            cols.append(Column(("支出",) + headers[key], 0.9 if not tpl.narrow else 0.7, key=key, role="exp_amount"))
    else:
        cols.append(Column(("支出", amount_word), 1.0 if not tpl.narrow else 0.8, key="amount", role="exp_amount"))

    rows: list[Row] = []
    for idx, (iname, ival, ename, evals, eclass) in enumerate(body):
        cells: list[Optional[Cell]] = []
        inc_vals: dict[str, float] = {}
        exp_vals: dict[str, float] = {}
        for col in cols:
            if col.role == "row_no":
                cells.append(cell(str(idx + 1), "row_no", align="c"))
            elif col.role == "inc_name":
                cells.append(cell(iname or "", "subject_name"))
            elif col.role == "inc_amount":
                printed = ctx.fmt(ival) if iname and ival is not None else ""
                cells.append(cell(printed, "amount", "amount", "r"))
                if parse_printed(printed) is not None:
                    inc_vals["amount"] = parse_printed(printed)
            elif col.role == "exp_name":
                cells.append(cell(ename or "", "subject_name"))
            else:
                printed = ctx.fmt(evals.get(col.key)) if ename else ""
                cells.append(cell(printed, "amount", col.key, "r"))
                if parse_printed(printed) is not None:
                    exp_vals[col.key] = parse_printed(printed)
        recs = []
        base = {"type": "budget_line", "table_id": tid, "confidence": 1.0, "checks": [], "page": None, "line": None,
                "row": idx, "row_no": idx + 1 if tpl.row_no else None, "subject_code": None}
        if iname:
            recs.append({"record_id": f"{tid}-r{idx}-i", **base, "side": "income", "subject_name": iname,
                         "classification": None, "values": inc_vals})
        if ename:
            recs.append({"record_id": f"{tid}-r{idx}-e", **base, "side": "expenditure", "subject_name": ename,
                         "classification": eclass, "values": exp_vals})
        rows.append(Row(cells, "subject_row", idx, recs))
    ccols = [{"key": "amount", "header": amount_word}]
    if fiscal:
        ccols += [{"key": c.key, "header": header_text(c.path[1:])} for c in cols if c.role == "exp_amount"]
    table = TableSpec(tid, kind, ctx.title(kind, ordinal), cols, rows, ccols, index_row=tpl.index_row,
                      furniture=ctx.furniture())
    table.landscape = tpl.landscape_wide and fiscal
    return table


# ---------------------------------------------------------------- economic tables

def basic_economic_table(ctx: Context, ordinal: int) -> TableSpec:
    b = ctx.budget
    a = lambda p, k: amount_col(p, k, ctx)  # noqa: E731
    group = "基本支出" if ctx.tpl.revenue_variant != "units" else "本年一般公共预算基本支出"
    cols = [a((group, "合计"), "total"), a((group, "人员经费"), "personnel"), a((group, "公用经费"), "public_funds")]
    second = ctx.tpl.economic_second_code and ctx.rng.random() < 0.8
    entries: list[Entry] = []
    if second:
        codes = list(b.economic_basic)
        ctx.rng.shuffle(codes)  # seed 002 prints the economic rows unordered
        for c in codes:
            p, q = b.economic_basic[c]
            name, gcode, gname = cls.ECONOMIC_ITEMS[c]
            entries.append(Entry(name, {"total": p + q, "personnel": p, "public_funds": q}, c, "economic",
                                 texts={"gcode": gcode, "gname": gname}))
        tid_cols: list[Column] = []
        if ctx.tpl.row_no:
            tid_cols.append(Column(("序号",), 0.4, role="row_no", align="c"))
        tid_cols += [Column(("部门预算支出经济分类科目", "科目编码"), 0.8, role="code", align="c"),
                     Column(("部门预算支出经济分类科目", "科目名称"), 1.8, role="name", align="l"),
                     Column(("政府预算支出经济分类科目", "科目编码"), 0.8, role="gcode", align="c"),
                     Column(("政府预算支出经济分类科目", "科目名称"), 1.6, role="gname", align="l")]
        tid = ctx.table_id()
        total = {"total": sum(e.values["total"] for e in entries), "personnel": sum(e.values["personnel"] for e in entries),
                 "public_funds": sum(e.values["public_funds"] for e in entries)}
        columns = tid_cols + cols
        rows = entry_rows(ctx, tid, columns, [Entry("合计", total)] + entries)
        return TableSpec(tid, "general_budget_basic_expenditure", ctx.title("general_budget_basic_expenditure", ordinal),
                         columns, rows, contract_columns(cols), index_row=False, furniture=ctx.furniture())
    for c3 in sorted({c[:3] for c in b.economic_basic}):
        codes = [c for c in b.economic_basic if c.startswith(c3)]
        p = sum(b.economic_basic[c][0] for c in codes)
        q = sum(b.economic_basic[c][1] for c in codes)
        entries.append(Entry(cls.economic_name(c3), {"total": p + q, "personnel": p, "public_funds": q}, c3, "economic"))
        for c in codes:
            p, q = b.economic_basic[c]
            entries.append(Entry(cls.economic_name(c), {"total": p + q, "personnel": p, "public_funds": q}, c, "economic"))
    return subject_table(ctx, "general_budget_basic_expenditure", ordinal, "经济分类科目", cols, entries, econ=True)


def economic_summary_table(ctx: Context, ordinal: int) -> TableSpec:
    b = ctx.budget
    a = lambda p, k: amount_col(p, k, ctx)  # noqa: E731
    cols = [a(("合计",), "total"), a(("基本支出",), "basic"), a(("项目支出",), "project")]
    per: dict[str, dict[str, int]] = {}
    for c, (p, q) in b.economic_basic.items():
        per.setdefault(c, {"basic": 0, "project": 0})["basic"] += p + q
    for c, v in b.economic_project.items():
        per.setdefault(c, {"basic": 0, "project": 0})["project"] += v
    entries: list[Entry] = []
    for c3 in sorted({c[:3] for c in per}):
        codes = sorted(c for c in per if c.startswith(c3))
        bs = sum(per[c]["basic"] for c in codes)
        ps = sum(per[c]["project"] for c in codes)
        entries.append(Entry(cls.economic_name(c3), {"total": bs + ps, "basic": bs, "project": ps}, c3, "economic"))
        for c in codes:
            bb, pp = per[c]["basic"], per[c]["project"]
            entries.append(Entry(cls.economic_name(c), {"total": bb + pp, "basic": bb, "project": pp}, c, "economic"))
    return subject_table(ctx, "economic_classification", ordinal, "经济分类科目", cols, entries, econ=True)


# ---------------------------------------------------------------- other tables

def three_public_table(ctx: Context, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    tp = ctx.budget.three_public
    vehicles = tp["vehicle_purchase"] + tp["vehicle_operation"]
    total = tp["outbound_travel"] + vehicles + tp["reception"]
    kind = "three_public_expenditure"
    if ctx.tpl.code_layout == "split" or ctx.rng.random() < 0.35:
        # one row, the items as columns (seed 002)
        cols = [amount_col(("“三公”经费合计",), "total", ctx), amount_col(("因公出国（境）费",), "outbound_travel", ctx),
                amount_col(("公务用车购置及运行费", "小计"), "vehicles", ctx),
                amount_col(("公务用车购置及运行费", "公务用车购置费"), "vehicle_purchase", ctx),
                amount_col(("公务用车购置及运行费", "公务用车运行费"), "vehicle_operation", ctx),
                amount_col(("公务接待费",), "reception", ctx)]
        vals = {"total": total, "outbound_travel": tp["outbound_travel"], "vehicles": vehicles,
                "vehicle_purchase": tp["vehicle_purchase"], "vehicle_operation": tp["vehicle_operation"],
                "reception": tp["reception"]}
        table = TableSpec(tid, kind, ctx.title(kind, ordinal), cols, [], contract_columns(cols), furniture=ctx.furniture())
        if total == 0:
            table.empty = True
            table.notes.append(f"注：{ctx.dept}{ctx.year}年无“三公”经费安排的支出，故此表无数据。")
        else:
            table.rows = entry_rows(ctx, tid, cols, [Entry("", vals)])
            for r in table.rows:
                r.records[0]["subject_name"] = None
        return table
    cols = []
    if ctx.tpl.row_no:
        cols.append(Column(("序号",), 0.4, role="row_no", align="c"))
    cols += [Column(("项 目",), 2.4, role="name", align="l"),
             amount_col(("资金来源", "合计"), "total", ctx), amount_col(("资金来源", "一般公共预算财政拨款"), "general_public_budget", ctx),
             amount_col(("资金来源", "政府性基金财政拨款"), "government_fund", ctx)]
    lines = [("合计", total), ("一、因公出国（境）费", tp["outbound_travel"]), ("二、公务用车购置及运维费", vehicles),
             ("其中：公务用车购置费", tp["vehicle_purchase"]), ("公务用车运行维护费", tp["vehicle_operation"]),
             ("三、公务接待费", tp["reception"])]
    entries = [Entry(n, {"total": v, "general_public_budget": v, "government_fund": 0}) for n, v in lines]
    rows = entry_rows(ctx, tid, cols, entries)
    return TableSpec(tid, kind, ctx.title(kind, ordinal), cols, rows, contract_columns(cols), index_row=ctx.tpl.index_row,
                     furniture=ctx.furniture())


def project_table(ctx: Context, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    cols: list[Column] = []
    if ctx.tpl.row_no:
        cols.append(Column(("序号",), 0.4, role="row_no", align="c"))
    if ctx.tpl.code_layout == "split":
        cols.append(Column(("类型",), 0.8, role="ptype", align="c"))
    cols += [Column(("项目名称",), 2.4, role="name", align="l"), Column(("项目单位",), 1.8, role="impl", align="l"),
             amount_col(("合计",), "total", ctx), amount_col(("本年拨款", "一般公共预算"), "general_public_budget", ctx),
             amount_col(("本年拨款", "政府性基金预算"), "government_fund", ctx),
             amount_col(("财政拨款结转结余",), "carryover", ctx), amount_col(("其他资金",), "extra:其他资金", ctx)]
    entries = []
    for p in ctx.budget.projects:
        s = p.sources
        vals = {"total": p.amount, "general_public_budget": s["gp"], "government_fund": s["gf"], "carryover": s["carry"],
                "extra:其他资金": s["sa"] + s["bi"] + s["oi"]}
        it = ctx.budget.item(p.item_code)
        entries.append(Entry(p.name, vals, texts={"impl": ctx.dept,
                                                  "ptype": "特定目标类" if it.proj_specific_share > 0.5 else "其他运转类"}))
    keys = ["total", "general_public_budget", "government_fund", "carryover", "extra:其他资金"]
    total = {k: sum(e.values[k] for e in entries) for k in keys}
    rows = entry_rows(ctx, tid, cols, [Entry("合计", total)] + entries)
    table = TableSpec(tid, "project_expenditure", ctx.title("project_expenditure", ordinal), cols, rows,
                      contract_columns(cols), furniture=ctx.furniture())
    if not entries:
        table.rows, table.empty = [], True
        table.notes.append("注：本部门无项目支出预算，空表列示。")
    _maybe_landscape(ctx, table)
    return table


PROCUREMENT_NOTES = (
    "注：同一采购品目下的货物，单价因规格配置不同而有差异，均按资产配置标准编制。",
    "注：本表采购金额为预算数，实际支出以政府采购合同金额为准。涉密采购项目按有关规定执行。",
    "注：本表反映纳入政府采购管理的货物、工程和服务预算。",
    "注：采购目录按照本年度政府集中采购目录及限额标准填列。",
)
ASSETS_NOTES = (
    "注：资产数据来源于上年末行政事业单位国有资产报表。",
    "注：单价在50万元以上的通用设备、单价在100万元以上的专用设备按台（套）列示。",
    "注：本表资产总额为账面原值，未扣除累计折旧。",
)


def explanatory_note(ctx: Context, table: TableSpec, notes: tuple[str, ...]) -> None:
    """About half the producers explain a table that has data in a note under it ('注：…'); drawn from the
    table's own stream, so the rest of the document is the same either way."""
    own = random.Random(f"{ctx.dept}|{table.table_id}|note")
    if own.random() < 0.5:
        table.notes.append(own.choice(notes))


def procurement_table(ctx: Context, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    cols: list[Column] = []
    if ctx.tpl.row_no:
        cols.append(Column(("序号",), 0.4, role="row_no", align="c"))
    cols += [Column(("采购项目",), 2.0, role="name", align="l"), Column(("采购目录",), 1.0, role="catalog", align="c"),
             Column(("数量",), 0.6, key="extra:数量", role="amount", align="c"),
             amount_col(("采购金额", "合计"), "total", ctx),
             amount_col(("采购金额", "一般公共预算"), "general_public_budget", ctx)]
    # 数量 is no contract column: a value column kept as extra:数量, as in the assets table
    entries = [Entry(n, {"extra:数量": q * 100, "total": v, "general_public_budget": v}, texts={"catalog": cat})
               for n, cat, q, v in ctx.budget.procurement]
    table = TableSpec(tid, "procurement", ctx.title("procurement", ordinal), cols, [], contract_columns(cols),
                      furniture=ctx.furniture())
    if entries:
        total = {k: sum(e.values[k] for e in entries) for k in ("total", "general_public_budget")}
        table.rows = entry_rows(ctx, tid, cols, [Entry("合计", total)] + entries)
        _print_counts_whole(table.rows, cols)
        explanatory_note(ctx, table, PROCUREMENT_NOTES)
    else:
        table.empty = True
        table.notes.append("注：无政府采购预算，空表列示。")
    return table


def _print_counts_whole(rows: list, cols: list[Column]) -> None:
    """Quantities (数量) are counts: printed without decimals or thousands separators."""
    for r in rows:
        for c, col in zip(r.cells, cols):
            if col.key == "extra:数量" and c is not None and c.text:
                c.text = c.text.split(".")[0].replace(",", "")
                c.fields = [FieldRange(0, len(c.text), "amount", "extra:数量")]
                r.records[0]["values"]["extra:数量"] = parse_printed(c.text)


def assets_table(ctx: Context, ordinal: int) -> TableSpec:
    tid = ctx.table_id()
    rng = ctx.rng
    m = ctx.budget.unit == "元" and 10000 or 1
    house = rng.randint(10, 3000) * 100 * m
    cars = rng.randint(0, 6)
    car_value = cars * rng.randint(800, 2500) * m
    equip = rng.randint(0, 5000) * m
    other = rng.randint(100, 90000) * m
    lines = [("资产总额", None, house + car_value + equip + other), ("1、房屋（平方米）", rng.randint(200, 5000), house),
             ("其中：办公用房（平方米）", rng.randint(100, 1500), None), ("2、车辆（台、辆）", cars, car_value),
             ("3、单价在20万元以上的设备", rng.randint(0, 3), equip), ("4、其他固定资产", rng.randint(20, 900), other)]
    cols = [Column(("项 目",), 2.4, role="name", align="l"), Column(("数量",), 0.8, key="extra:数量", role="amount"),
            amount_col((f"价值（金额单位：{ctx.budget.unit}）",), "amount", ctx)]
    entries = []
    for name, qty, value in lines:
        vals: dict[str, Optional[int]] = {"amount": value} if value is not None else {}
        if qty is not None:
            vals["extra:数量"] = qty * 100
        entries.append(Entry(name, vals))
    rows = entry_rows(ctx, tid, cols, entries)
    _print_counts_whole(rows, cols)
    table = TableSpec(tid, "assets", ctx.title("assets", ordinal), cols, rows, contract_columns(cols),
                      furniture=f"{ctx.dept_code} {ctx.dept} 截止时间：{ctx.year - 1}-12-31")
    explanatory_note(ctx, table, ASSETS_NOTES)
    return table


def organisation_table(ctx: Context) -> TableSpec:
    """部门机构设置情况 (kind other): the department and its units, no amounts."""
    tid = ctx.table_id()
    cols = [Column(("单位名称",), 2.2, role="unit", align="l"), Column(("单位性质",), 0.8, role="nature", align="c"),
            Column(("单位规格",), 0.8, role="grade", align="c"), Column(("经费保障形式",), 1.2, role="funding", align="c")]
    units = [(f"{ctx.dept}本级" if ctx.rng.random() < 0.5 else ctx.dept, "行政", "正科级", "财政拨款")]
    if ctx.rng.random() < 0.5:
        centre = ctx.dept[:-1] + ctx.rng.choice(["服务中心", "事务中心", "综合执法大队"])
        units.append((centre, "事业", "副科级", ctx.rng.choice(["财政拨款", "财政性资金基本保证"])))
    rows = []
    for k, (name, nature, grade, funding) in enumerate(units):
        rows.append(Row([cell(name, "department"), cell(nature, align="c"), cell(grade, align="c"),
                         cell(funding, align="c")], "subject_row", k))
    return TableSpec(tid, "other", "部门机构设置情况", cols, rows, [])
