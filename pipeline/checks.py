"""Accounting identities of a budget disclosure, run over contract-shaped tables and records.

Used by the synth generator's tests, by gold verification and by the inference pipeline, which
attaches each result to the records it names and lowers their confidence. Checks report; they
never repair (real disclosures contain real mistakes).

Check names (a fixed vocabulary other modules rely on): see CHECK_NAMES.

Blank and missing values: a column of the table that a row's `values` leaves out is a blank cell,
i.e. zero (that is how disclosures print zero). A value that is present but null is missing
(unreadable): it never makes a check fail; an identity that does not hold while one of its values
is missing is dropped as inconclusive. A row whose parent value is absent or null is not checked,
nor is a sum none of whose parts is printed.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Collection, Iterable, Optional

if TYPE_CHECKING:
    from pipeline.model import Record

DEFAULT_TOLERANCE = 0.011

ROW_TOTAL = "row_total"
BASIC_SPLIT = "basic_split"
PARENT_SUM = "parent_sum"
TABLE_TOTAL = "table_total"
SUMMARY_BALANCE = "summary_balance"
CROSS_TABLE = "cross_table"
CHECK_NAMES: tuple[str, ...] = (ROW_TOTAL, BASIC_SPLIT, PARENT_SUM, TABLE_TOTAL, SUMMARY_BALANCE, CROSS_TABLE)

TWO_SIDED_KINDS = frozenset({"revenue_expenditure_summary", "fiscal_summary"})
SUBJECT_CODE_LENGTHS = (3, 5, 7)


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    record_ids: list[str]
    table_id: Optional[str]
    suspect_ids: Optional[list[str]] = None  # the records that can explain a failure; None: all of them

    def implicates(self, record_id: str) -> bool:
        """Whether a failure of this check may come from `record_id` (a misread, lost or misprinted
        value of it). A part whose row is blank or zero throughout adds nothing to the sum."""
        return self.ok or self.suspect_ids is None or record_id in self.suspect_ids


# ---------------------------------------------------------------------------------------------
# Row identities as data: parent column = sum of the part columns present in the row.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowIdentity:
    check: str
    parent: str
    parts: tuple[str, ...]
    requires: tuple[str, ...] = ()  # every one must be a column of the row
    excludes: tuple[str, ...] = ()  # none may be a column of the row
    min_parts: int = 2  # fewer part columns than this: the identity says nothing


_OTHER_INCOME = ("special_account", "business_income", "operating_income", "superior_subsidy",
                 "affiliate_remittance", "other_income", "unit_funds")
# 一般公共预算 / 政府性基金 / 国有资本经营预算 make up 财政拨款; when they are printed, 财政拨款 is
# either their sum or a 其中 part of 一般公共预算 (seed 002), so it is never added beside them.
INCOME_BY_FUND = ("general_public_budget", "government_fund", "state_capital") + _OTHER_INCOME
INCOME_BY_FISCAL = ("fiscal_appropriation",) + _OTHER_INCOME
EXPENDITURE_PARTS = ("basic", "project", "operating_expense", "remit_to_superior", "affiliate_subsidy")
BASIC_BY_ECONOMIC = ("wages_welfare", "household_subsidy", "goods_services", "capital")

ROW_IDENTITIES: tuple[RowIdentity, ...] = (
    # expenditure side: 合计 = 基本支出 + 项目支出 (+ 经营支出, 上缴上级支出, 对附属单位补助支出)
    RowIdentity(ROW_TOTAL, "total", EXPENDITURE_PARTS, requires=("basic", "project")),
    RowIdentity(ROW_TOTAL, "project", ("other_operation", "specific_target")),
    # income side: 合计 = 本年收入 + 上年结转; 本年收入 = its sources
    RowIdentity(ROW_TOTAL, "total", ("current_year", "carryover"), requires=("current_year", "carryover")),
    RowIdentity(ROW_TOTAL, "current_year", INCOME_BY_FUND, requires=("general_public_budget",)),
    RowIdentity(ROW_TOTAL, "current_year", INCOME_BY_FISCAL, requires=("fiscal_appropriation",),
                excludes=("general_public_budget",)),
    RowIdentity(ROW_TOTAL, "total", INCOME_BY_FUND + ("carryover",), requires=("general_public_budget",),
                excludes=("current_year",)),
    RowIdentity(ROW_TOTAL, "total", INCOME_BY_FISCAL + ("carryover",), requires=("fiscal_appropriation",),
                excludes=("current_year", "general_public_budget")),
    # 三公经费 as columns
    RowIdentity(ROW_TOTAL, "total", ("outbound_travel", "vehicles", "reception"), requires=("vehicles",)),
    RowIdentity(ROW_TOTAL, "total", ("outbound_travel", "vehicle_purchase", "vehicle_operation", "reception"),
                excludes=("vehicles",)),
    RowIdentity(ROW_TOTAL, "vehicles", ("vehicle_purchase", "vehicle_operation")),
    # 基本支出 = 人员经费 + 公用经费, and their economic parts
    RowIdentity(BASIC_SPLIT, "basic", ("personnel", "public_funds")),
    RowIdentity(BASIC_SPLIT, "basic", BASIC_BY_ECONOMIC, excludes=("personnel", "public_funds")),
    RowIdentity(BASIC_SPLIT, "personnel", ("wages_welfare", "household_subsidy")),
    RowIdentity(BASIC_SPLIT, "public_funds", ("goods_services", "capital")),
    # basic-expenditure tables print 基本支出 as 合计 with no 项目支出 beside it
    RowIdentity(BASIC_SPLIT, "total", ("personnel", "public_funds"), excludes=("basic", "project")),
    RowIdentity(BASIC_SPLIT, "total", BASIC_BY_ECONOMIC,
                excludes=("basic", "project", "personnel", "public_funds")),
)

# Cross-table identities: (detail table kind, its column, fiscal_summary column, income item name)
FISCAL_SHARES: tuple[tuple[str, str, str], ...] = (
    ("general_budget_expenditure", "general_public_budget", "一般公共预算"),
    ("government_fund_expenditure", "government_fund", "政府性基金"),
    ("state_capital_expenditure", "state_capital", "国有资本经营"),
)

# ---------------------------------------------------------------------------------------------
# Reading contract dicts
# ---------------------------------------------------------------------------------------------

_CN_NUM = "一二三四五六七八九十百零〇"
_ITEM_RE = re.compile(rf"^[{_CN_NUM}]+[、.]")
_SUBITEM_RE = re.compile(rf"^\([{_CN_NUM}]+\)")
_GRAND_RE = re.compile(r"^(收入|支出)?(总计|合计)$")
_SUBTOTAL_RE = re.compile(r"^本年(收入|支出)(合计|小计)$")
_TOTAL_ROW_RE = re.compile(r"(合计|总计|小计)$")
_QUOTES_RE = re.compile(r"[\"'“”‘’]")


def normalize_name(name: Optional[str]) -> str:
    """NFKC (full-width parentheses/digits to ASCII), no whitespace, no quotes."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    return _QUOTES_RE.sub("", "".join(text.split()))


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _value(record: dict, key: str) -> Optional[float]:
    return _number((record.get("values") or {}).get(key))


def _part(record: dict, key: str) -> Optional[float]:
    """A summand: 0.0 for a blank cell (key left out), None when present but unreadable."""
    values = record.get("values") or {}
    return _number(values[key]) if key in values else 0.0


def _printed(record: dict, key: str) -> bool:
    return _value(record, key) is not None


def _fmt(value: Optional[float]) -> str:
    return "blank" if value is None else f"{value:.2f}"


def _rid(record: dict) -> str:
    return str(record.get("record_id"))


def _of_which_keys(table: Optional[dict]) -> set[str]:
    """Columns printed as 其中 (a part of the column before them): never summands."""
    if not table:
        return set()
    return {c.get("key") for c in table.get("columns") or [] if "其中" in (c.get("header") or "")}


def _side_columns(table: Optional[dict], lines: list[dict], side: Optional[str]) -> set[str]:
    """Columns the rows of one table side have (a blank cell may be left out of `values`):
    the declared columns of a one-sided table; on a two-sided one, the columns its side's rows
    use plus the declared ones no row of the other side uses."""
    declared = {c.get("key") for c in (table or {}).get("columns") or [] if c.get("key")}
    if table and table.get("kind") not in TWO_SIDED_KINDS:
        return declared
    used = {k for r in lines if r.get("side") == side for k in (r.get("values") or {})}
    used_elsewhere = {k for r in lines if r.get("side") != side for k in (r.get("values") or {})}
    return used | (declared - used_elsewhere)


def _valid_code(record: dict) -> Optional[str]:
    code = record.get("subject_code")
    if isinstance(code, str) and code.isdigit() and len(code) in SUBJECT_CODE_LENGTHS:
        return code
    return None


def _code_family(record: dict, code: str) -> str:
    """functional (2xx) or economic (3xx, 5xx): keeps a stray unit code (308) out of a functional table."""
    if record.get("classification") in ("functional", "economic"):
        return record["classification"]
    return "functional" if code.startswith("2") else "economic"


def _is_total_name(record: dict) -> bool:
    name = normalize_name(record.get("subject_name"))
    return record.get("subject_code") is None and bool(_TOTAL_ROW_RE.search(name)) and not name.startswith("其中")


# ---------------------------------------------------------------------------------------------
# Sum comparison shared by every identity
# ---------------------------------------------------------------------------------------------


@dataclass
class _Sum:
    """parent ?= sum(parts) for one column; None when inconclusive."""

    column: str
    parent: Optional[float]
    parts: list[tuple[str, Optional[float]]] = field(default_factory=list)
    any_printed: bool = True  # False: every part blank or missing, the sum says nothing

    def total(self) -> float:
        return sum(v for _, v in self.parts if v is not None)

    def verdict(self, tolerance: float) -> Optional[bool]:
        if self.parent is None or not self.parts or not self.any_printed:
            return None
        ok = abs(self.parent - self.total()) <= tolerance
        if not ok and any(v is None for _, v in self.parts):
            return None
        return ok

    def describe(self, parent_label: str) -> str:
        shown_parts = [(label, v) for label, v in self.parts if v != 0.0]  # blanks and zeros add nothing
        shown = " + ".join(f"{label} {'missing' if v is None else f'{v:.2f}'}" for label, v in shown_parts[:6])
        if len(shown_parts) > 6:
            shown += f" + … ({len(shown_parts)} non-zero parts)"
        shown = shown or "zero"
        diff = (self.parent or 0.0) - self.total()
        return f"{parent_label} {_fmt(self.parent)} vs {shown} = {self.total():.2f} (diff {diff:+.2f})"


def _judge(name: str, sums: list[_Sum], labels: list[str], tolerance: float, record_ids: list[str],
           table_id: Optional[str], blank_parts: Collection[str] = ()) -> Optional[CheckResult]:
    """One result over several column sums: ok when every conclusive one holds. record_ids: the
    parent's first; blank_parts: parts that cannot explain a failure (see _blank_rows)."""
    verdicts = [(s, label, s.verdict(tolerance)) for s, label in zip(sums, labels)]
    conclusive = [(s, label, v) for s, label, v in verdicts if v is not None]
    if not conclusive:
        return None
    failed = [(s, label) for s, label, v in conclusive if not v]
    shown = failed if failed else [(s, label) for s, label, _ in conclusive]
    detail = "; ".join(s.describe(label) for s, label in shown[:4])
    if len(shown) > 4:
        detail += f"; … {len(shown) - 4} more column(s)"
    suspects = [rid for k, rid in enumerate(record_ids) if k == 0 or rid not in blank_parts] if failed else None
    return CheckResult(name, not failed, detail, record_ids, table_id, suspects)


def _row_label(record: dict) -> str:
    return record.get("subject_code") or normalize_name(record.get("subject_name"))[:12] or _rid(record)


def _column_sums(parent: dict, parts: list[dict], columns: Iterable[str]) -> list[_Sum]:
    return [
        _Sum(col, _value(parent, col), [(_row_label(p), _part(p, col)) for p in parts],
             any(_printed(p, col) for p in parts))
        for col in columns
    ]


def _blank_rows(parts: list[dict]) -> set[str]:
    """Parts printed blank or zero in every column: a misread of such a row would have to invent a
    value, so it cannot explain a failed sum (a row that lost a value still shows its others)."""
    return {_rid(p) for p in parts if all(_number(v) in (None, 0.0) for v in (p.get("values") or {}).values())}


def _amount_columns(records: Iterable[dict]) -> list[str]:
    cols: dict[str, None] = {}
    for r in records:
        for key, v in (r.get("values") or {}).items():
            if _number(v) is not None:
                cols.setdefault(key, None)
    return list(cols)


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------


def _has_printed_extra(record: dict) -> bool:
    return any(key.startswith("extra:") and _number(v) not in (None, 0.0)
               for key, v in (record.get("values") or {}).items())


def check_row_identities(record: dict, table: Optional[dict], side_columns: set[str],
                         tolerance: float) -> list[CheckResult]:
    """row_total and basic_split for one budget line; side_columns: see _side_columns."""
    columns = (set((record.get("values") or {})) | side_columns) - _of_which_keys(table)
    results = []
    for ident in ROW_IDENTITIES:
        if ident.parent not in columns or not all(k in columns for k in ident.requires):
            continue
        if any(k in columns for k in ident.excludes):
            continue
        parts = [k for k in ident.parts if k in columns]
        if len(parts) < ident.min_parts:
            continue
        s = _Sum(ident.parent, _value(record, ident.parent), [(k, _part(record, k)) for k in parts],
                 any(_printed(record, k) for k in parts))
        verdict = s.verdict(tolerance)
        if verdict is None or (not verdict and _has_printed_extra(record)):
            continue  # an unmapped column (extra:…) may be the missing part
        label = record.get("subject_name") or record.get("subject_code") or _rid(record)
        results.append(CheckResult(ident.check, verdict, f"{label}: {s.describe(ident.parent)}",
                                   [_rid(record)], record.get("table_id")))
    return results


def check_parent_sums(table_id: Optional[str], lines: list[dict], tolerance: float) -> list[CheckResult]:
    """A 类 = Σ its 款, a 款 = Σ its 项 (and 301 = Σ 301xx), per column, where children exist."""
    by_code: dict[str, list[dict]] = defaultdict(list)
    for r in lines:
        code = _valid_code(r)
        if code:
            by_code[code].append(r)
    results = []
    for code, parents in by_code.items():
        if len(code) == 7 or len(parents) != 1:
            continue  # a code printed twice makes the parent ambiguous
        parent = parents[0]
        children = [c for child_code, rows in by_code.items()
                    if len(child_code) == len(code) + 2 and child_code.startswith(code) for c in rows]
        if not children:
            continue
        cols = _amount_columns([parent])
        sums = _column_sums(parent, children, cols)
        result = _judge(PARENT_SUM, sums, [f"{code} {c}" for c in cols], tolerance,
                        [_rid(parent)] + [_rid(c) for c in children], table_id, _blank_rows(children))
        if result:
            results.append(result)
    return results


def _top_level_rows(lines: list[dict]) -> list[dict]:
    """The rows a table's 合计 adds up: coded rows without a coded ancestor in the table
    (of the table's main classification family), else the 一、二、… items."""
    coded = [(r, _valid_code(r)) for r in lines]
    coded = [(r, c) for r, c in coded if c]
    if coded:
        families: dict[str, int] = defaultdict(int)
        for r, c in coded:
            families[_code_family(r, c)] += 1
        main = max(families, key=lambda f: families[f])
        coded = [(r, c) for r, c in coded if _code_family(r, c) == main]
        codes = {c for _, c in coded}
        return [r for r, c in coded if not any(c[:n] in codes for n in SUBJECT_CODE_LENGTHS if n < len(c))]
    return [r for r in lines if r.get("subject_code") is None and _ITEM_RE.match(normalize_name(r.get("subject_name")))]


def check_table_total(table_id: Optional[str], lines: list[dict], tolerance: float) -> list[CheckResult]:
    """合计 (总计, 小计) row of a one-sided table = Σ its top-level rows, per column."""
    totals = [r for r in lines if _is_total_name(r)]
    top = _top_level_rows(lines)
    if not totals or not top:
        return []
    results = []
    for total in totals:
        cols = _amount_columns([total])
        name = normalize_name(total.get("subject_name"))
        sums = _column_sums(total, top, cols)
        result = _judge(TABLE_TOTAL, sums, [f"{name} {c}" for c in cols], tolerance,
                        [_rid(total)] + [_rid(r) for r in top], table_id, _blank_rows(top))
        if result:
            results.append(result)
    return results


def _summary_row_kind(record: dict) -> str:
    name = normalize_name(record.get("subject_name"))
    if name.startswith("其中"):
        return "of_which"
    if _SUBTOTAL_RE.match(name):
        return "subtotal"
    if _GRAND_RE.match(name):
        return "grand"
    if _ITEM_RE.match(name):
        return "item"
    if _SUBITEM_RE.match(name):
        return "subitem"
    return "other"


def side_identities(side_rows: list[dict]) -> list[tuple[dict, list[dict]]]:
    """(row, the rows it adds up) for one side of a summary table, in printed order:
    本年合计 = Σ 一、二、… items; 总计 = 本年合计 + the rows after it (结转, 结余 …) or Σ items;
    an item followed by (一)(二)… sub-items = Σ its sub-items."""
    kinds = [_summary_row_kind(r) for r in side_rows]
    pairs: list[tuple[dict, list[dict]]] = []
    subtotal_at: Optional[int] = None
    for i, (row, kind) in enumerate(zip(side_rows, kinds)):
        if kind == "item":
            subs = []
            for row2, kind2 in zip(side_rows[i + 1:], kinds[i + 1:]):
                if kind2 in ("item", "subtotal", "grand"):
                    break
                if kind2 == "subitem":
                    subs.append(row2)
            if subs:
                pairs.append((row, subs))
        elif kind == "subtotal":
            items = [r for r, k in zip(side_rows[:i], kinds[:i]) if k == "item"]
            if items:
                pairs.append((row, items))
            subtotal_at = i
        elif kind == "grand":
            if subtotal_at is not None:
                parts, breakdowns = _after_subtotal(side_rows[subtotal_at + 1:i], kinds[subtotal_at + 1:i])
                parts = [side_rows[subtotal_at]] + parts
                pairs.extend(breakdowns)
            else:
                parts = [r for r, k in zip(side_rows[:i], kinds[:i]) if k == "item"]
            if parts:
                pairs.append((row, parts))
    return pairs


def _after_subtotal(rows: list[dict], kinds: list[str]) -> tuple[list[dict], list[tuple[dict, list[dict]]]]:
    """Rows between 本年合计 and 总计: each unnumbered row (年初结转和结余 …) is a summand and may be
    followed by its own 一、二、… breakdown (seed 000's fiscal summary), which is not added again."""
    parts: list[dict] = []
    groups: list[tuple[dict, list[dict]]] = []
    for row, kind in zip(rows, kinds):
        if kind == "other":
            parts.append(row)
            groups.append((row, []))
        elif kind == "item":
            if groups:
                groups[-1][1].append(row)
            else:
                parts.append(row)
    return parts, [(head, items) for head, items in groups if items]


def _main_amount(record: dict) -> Optional[float]:
    for key in ("total", "amount", "budget"):
        v = _value(record, key)
        if v is not None:
            return v
    return None


def _grand_row(side_rows: list[dict]) -> Optional[dict]:
    grands = [r for r in side_rows if _summary_row_kind(r) == "grand"]
    return grands[-1] if grands else None


def check_summary_balance(table_id: Optional[str], lines: list[dict], tolerance: float) -> list[CheckResult]:
    """Two-sided summary tables: each side adds up, and 收入总计 = 支出总计."""
    results = []
    sides = {s: [r for r in lines if r.get("side") == s] for s in ("income", "expenditure")}
    for side, rows in sides.items():
        cols = _amount_columns(rows)
        for row, parts in side_identities(rows):
            name = normalize_name(row.get("subject_name"))
            sums = _column_sums(row, parts, cols)
            result = _judge(SUMMARY_BALANCE, sums, [f"{side} {name} {c}" for c in cols], tolerance,
                            [_rid(row)] + [_rid(p) for p in parts], table_id, _blank_rows(parts))
            if result:
                results.append(result)
    income, expenditure = _grand_row(sides["income"]), _grand_row(sides["expenditure"])
    if income and expenditure:
        a, b = _main_amount(income), _main_amount(expenditure)
        if a is not None and b is not None:
            ok = abs(a - b) <= tolerance
            detail = (f"income {normalize_name(income.get('subject_name'))} {a:.2f} "
                      f"{'=' if ok else '≠'} expenditure {normalize_name(expenditure.get('subject_name'))} "
                      f"{b:.2f} (diff {a - b:+.2f})")
            results.append(CheckResult(SUMMARY_BALANCE, ok, detail, [_rid(income), _rid(expenditure)], table_id))
    return results


def _table_total_row(lines: list[dict]) -> Optional[dict]:
    for r in lines:
        if r.get("subject_code") is None and normalize_name(r.get("subject_name")) in ("合计", "总计"):
            return r
    return None


def _compare_to_candidates(detail_table: dict, detail_row: dict, value: float, label: str,
                           candidates: list[tuple[dict, str, float]], tolerance: float) -> CheckResult:
    """ok when the detail total equals any of the candidate figures of the other table."""
    ok = any(abs(value - v) <= tolerance for _, _, v in candidates)
    shown = ", ".join(f"{name} {v:.2f}" for _, name, v in candidates)
    detail = f"{label} {value:.2f} {'matches' if ok else 'matches none of'} {shown}"
    ids = [_rid(detail_row)] + [_rid(r) for r, _, _ in candidates]
    return CheckResult(CROSS_TABLE, ok, detail, ids, detail_table.get("table_id"))


def _side_total_candidates(rows: list[dict], column: Optional[str]) -> list[tuple[dict, str, float]]:
    """Subtotal (本年…合计) and grand total (总计) of one side, in `column` or the main amount."""
    out = []
    for r in rows:
        if _summary_row_kind(r) in ("subtotal", "grand"):
            v = _value(r, column) if column else _main_amount(r)
            if v is not None:
                out.append((r, normalize_name(r.get("subject_name")), v))
    return out


def check_cross_tables(tables: list[dict], lines_by_table: dict[Optional[str], list[dict]],
                       tolerance: float) -> list[CheckResult]:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for t in tables:
        by_kind[t.get("kind")].append(t)

    def only(kind: str) -> Optional[dict]:
        found = by_kind.get(kind) or []
        return found[0] if len(found) == 1 else None  # two tables of a kind: which to compare is unclear

    def side_rows(table: dict, side: str) -> list[dict]:
        return [r for r in lines_by_table.get(table.get("table_id"), []) if r.get("side") == side]

    def detail_total(table: dict, column: str = "total") -> Optional[tuple[dict, float]]:
        row = _table_total_row(lines_by_table.get(table.get("table_id"), []))
        if row is None:
            return None
        v = _value(row, column)
        if v is None and column == "total":
            v = _main_amount(row)
        return (row, v) if v is not None else None

    results: list[CheckResult] = []

    def compare(detail_table: dict, got: Optional[tuple[dict, float]], label: str,
                candidates: list[tuple[dict, str, float]]) -> None:
        if got and candidates:
            results.append(_compare_to_candidates(detail_table, got[0], got[1], label, candidates, tolerance))

    summary = only("revenue_expenditure_summary")
    if summary:
        for kind, side in (("expenditure_summary", "expenditure"), ("revenue_summary", "income")):
            table = only(kind)
            if table:
                compare(table, detail_total(table), f"{kind} 合计",
                        _side_total_candidates(side_rows(summary, side), None))

    fiscal = only("fiscal_summary")
    if fiscal:
        for kind, column, income_name in FISCAL_SHARES:
            table = only(kind)
            if not table:
                continue
            candidates = _side_total_candidates(side_rows(fiscal, "expenditure"), column)
            if not candidates:  # one-column layout: the fund's income item carries its share
                candidates = [(r, normalize_name(r.get("subject_name")), _main_amount(r))
                              for r in side_rows(fiscal, "income")
                              if income_name in normalize_name(r.get("subject_name"))
                              and _summary_row_kind(r) == "item" and _main_amount(r) is not None]
            compare(table, detail_total(table), f"{kind} 合计", candidates)

    basic_table, general = only("general_budget_basic_expenditure"), only("general_budget_expenditure")
    if basic_table and general:
        got = detail_total(basic_table, "basic") or detail_total(basic_table)
        general_row = detail_total(general, "basic")
        if general_row:
            compare(basic_table, got, "general_budget_basic_expenditure 合计",
                    [(general_row[0], "general_budget_expenditure 合计 basic", general_row[1])])
    return results


def run_checks(tables: list[dict], records: list[dict], tolerance: float = DEFAULT_TOLERANCE) -> list[CheckResult]:
    """Every identity that the present columns allow, passing ones included."""
    table_by_id = {t.get("table_id"): t for t in tables}
    lines_by_table: dict[Optional[str], list[dict]] = defaultdict(list)
    for r in records:
        if r.get("type") == "budget_line":
            lines_by_table[r.get("table_id")].append(r)

    results: list[CheckResult] = []
    for table_id, lines in lines_by_table.items():
        table = table_by_id.get(table_id)
        columns = {side: _side_columns(table, lines, side) for side in {r.get("side") for r in lines}}
        for r in lines:
            results.extend(check_row_identities(r, table, columns[r.get("side")], tolerance))
        if table_id is None:
            continue
        if table and table.get("kind") in TWO_SIDED_KINDS:
            results.extend(check_summary_balance(table_id, lines, tolerance))
            continue
        for side in {r.get("side") for r in lines}:
            side_lines = [r for r in lines if r.get("side") == side]
            results.extend(check_parent_sums(table_id, side_lines, tolerance))
            results.extend(check_table_total(table_id, side_lines, tolerance))
    results.extend(check_cross_tables(tables, lines_by_table, tolerance))
    return results


def results_by_record(results: Iterable[CheckResult]) -> dict[str, list[CheckResult]]:
    """record_id -> the results that name it (for attaching to records)."""
    out: dict[str, list[CheckResult]] = defaultdict(list)
    for res in results:
        for rid in res.record_ids:
            out[rid].append(res)
    return dict(out)


def attach_to_records(records: Iterable["Record"], results: Iterable[CheckResult]) -> None:
    """Append each result to the pipeline Records it names (Record.checks); confidence is the caller's."""
    from pipeline.model import Check

    named = results_by_record(results)
    for record in records:
        for res in named.get(record.record_id, []):
            record.checks.append(Check(res.name, res.ok, res.detail, res.implicates(record.record_id)))


def failed_checks(results: Iterable[CheckResult]) -> set[tuple[str, Optional[str]]]:
    """(check name, table_id) of every failing result: what deliberate_errors entries name."""
    return {(r.name, r.table_id) for r in results if not r.ok}
