"""Deliberate printing mistakes: break exactly one identity of one table, keep all others.

Gold keeps what is printed, so the changed cells' record values change with them.
"""
from __future__ import annotations

from typing import Optional

from training.synth.spec import FieldRange, Row, TableSpec

EXPENDITURE_KINDS = ("expenditure_summary", "general_budget_expenditure")


def _cents(text: str) -> int:
    t = text.replace(",", "").strip()
    if t in ("", "-"):
        return 0
    whole, _, frac = t.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _col_index(table: TableSpec, key: str) -> Optional[int]:
    for k, c in enumerate(table.columns):
        if c.key == key:
            return k
    return None


def _shift(ctx, table: TableSpec, row: Row, key: str, delta: int) -> None:
    k = _col_index(table, key)
    assert k is not None, key
    c = row.cells[k]
    assert c is not None
    c.text = ctx.fmt(_cents(c.text) + delta) or ctx.fmt(_cents(c.text) + delta + 1)
    c.fields = [FieldRange(0, len(c.text), "amount", key)]
    for rec in row.records:
        rec["values"][key] = float(c.text.replace(",", "")) if c.text != "-" else 0.0


def _code(row: Row) -> Optional[str]:
    return row.records[0].get("subject_code") if row.records else None


def _value(table: TableSpec, row: Row, key: str) -> int:
    k = _col_index(table, key)
    c = row.cells[k] if k is not None else None
    return _cents(c.text) if c is not None else 0


def _total_rows(table: TableSpec) -> list[Row]:
    """The 合计 row and (split layout) the unit rows that repeat it."""
    return [r for r in table.rows if r.records and _code(r) is None]


def _ancestors(table: TableSpec, code: str) -> list[Row]:
    return [r for r in table.rows if _code(r) and _code(r) != code and code.startswith(_code(r))]


def _leaves(table: TableSpec, key: str) -> list[Row]:
    coded = [r for r in table.rows if _code(r)]
    longest = max((len(_code(r)) for r in coded), default=0)
    return [r for r in coded if len(_code(r)) == longest and _value(table, r, key) > 0]


def _chain(table: TableSpec, row: Row) -> list[str]:
    """Keys to move together so the row's own identities still hold."""
    keys = ["total", "project"]
    if _col_index(table, "other_operation") is not None:
        keys.append("other_operation" if _value(table, row, "other_operation") > 0 else "specific_target")
    return keys


def _pick_table(tables: list[TableSpec], kinds: tuple[str, ...], need: str, rng) -> Optional[TableSpec]:
    found = [t for t in tables
             if t.kind in kinds and not t.empty and _col_index(t, need) is not None and _leaves(t, need)]
    return rng.choice(found) if found else None


CHECK_NAMES = ("row_total", "basic_split", "parent_sum", "table_total", "summary_balance", "cross_table")


def apply_deliberate_error(ctx, tables: list[TableSpec], preferred: Optional[str] = None) -> Optional[dict[str, str]]:
    """Break one identity (the preferred check when this document's tables allow it)."""
    rng = ctx.rng
    # positive (printed values stay non-negative) and well above the checks' rounding tolerance
    delta = rng.randint(1, 90) * rng.choice([100, 100, 10])
    checks = [c for c in CHECK_NAMES if ctx.tpl.code_layout != "split" or c not in ("parent_sum", "table_total")]
    order = rng.sample(checks, len(checks))
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    for check in order:
        result = _apply(ctx, tables, check, delta)
        if result:
            return result
    return None


def _apply(ctx, tables: list[TableSpec], check: str, delta: int) -> Optional[dict[str, str]]:
    rng = ctx.rng
    if check == "row_total":
        t = _pick_table(tables, EXPENDITURE_KINDS, "project", rng)
        if t is None:
            return None
        leaf = rng.choice(_leaves(t, "project"))
        for r in [leaf] + _ancestors(t, _code(leaf)) + _total_rows(t):
            _shift(ctx, t, r, "project", delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"row {_code(leaf)}: 项目支出 printed {delta / 100:.2f} too high, 合计 unchanged"}
    if check == "basic_split":
        t = _pick_table(tables, EXPENDITURE_KINDS, "personnel", rng)
        if t is None:
            return None
        leaf = rng.choice(_leaves(t, "personnel"))
        for r in [leaf] + _ancestors(t, _code(leaf)) + _total_rows(t):
            _shift(ctx, t, r, "personnel", delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"row {_code(leaf)}: 人员经费 printed {delta / 100:.2f} too high"}
    if check == "parent_sum":
        t = _pick_table(tables, EXPENDITURE_KINDS, "project", rng)
        if t is None:
            return None
        leaf = rng.choice(_leaves(t, "project"))
        for key in _chain(t, leaf):
            _shift(ctx, t, leaf, key, delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"row {_code(leaf)} printed {delta / 100:.2f} higher than its parent accounts for"}
    if check == "table_total":
        t = _pick_table(tables, EXPENDITURE_KINDS, "project", rng)
        if t is None:
            return None
        leaf = rng.choice(_leaves(t, "project"))
        for r in [leaf] + _ancestors(t, _code(leaf)):
            for key in _chain(t, leaf):
                _shift(ctx, t, r, key, delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"branch {_code(leaf)[:3]} printed {delta / 100:.2f} higher; 合计 unchanged"}
    if check == "summary_balance":
        t = next((x for x in tables if x.kind == "revenue_expenditure_summary"), None)
        if t is None:
            return None
        grand = next(r for r in t.rows if any(rec["subject_name"] == "支出总计" for rec in r.records))
        _shift_expenditure_total(ctx, t, grand, delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"支出总计 printed {delta / 100:.2f} higher than 收入总计 and 本年支出合计"}
    if check == "cross_table":
        t = next((x for x in tables if x.kind == "general_budget_expenditure" and not x.empty), None)
        if t is None or not _leaves(t, "project"):
            return None
        leaf = rng.choice(_leaves(t, "project"))
        for r in [leaf] + _ancestors(t, _code(leaf)) + _total_rows(t):
            for key in _chain(t, leaf):
                _shift(ctx, t, r, key, delta)
        return {"check": check, "table_id": t.table_id,
                "detail": f"一般公共预算支出表 total {delta / 100:.2f} higher than the fiscal summary's general budget"}
    return None


def _shift_expenditure_total(ctx, table: TableSpec, row: Row, delta: int) -> None:
    """The first expenditure amount of a two-sided table's 支出总计 row."""
    k = next(i for i, c in enumerate(table.columns) if c.role == "exp_amount")
    key = table.columns[k].key
    c = row.cells[k]
    assert c is not None and key
    c.text = ctx.fmt(_cents(c.text) + delta)
    c.fields = [FieldRange(0, len(c.text), "amount", key)]
    for rec in row.records:
        if rec["side"] == "expenditure":
            rec["values"][key] = float(c.text.replace(",", ""))
