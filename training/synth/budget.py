"""A department's budget as numbers: items (项), their funding, economic split and projects.

Amounts are integer cents of the document unit so every identity holds exactly; tables are
views of these numbers (content.py), printed values are derived from them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from training.synth import classification as cls


@dataclass
class Item:
    """One functional 项 of the department budget; all amounts in cents of the document unit."""

    code: str
    wages: int = 0  # 人员经费: 工资福利支出
    household: int = 0  # 人员经费: 对个人和家庭的补助
    goods: int = 0  # 公用经费: 商品和服务支出
    capital_basic: int = 0  # 公用经费: 资本性支出
    proj_gp: int = 0  # project, general public budget, current year
    proj_carry: int = 0  # project, general public budget carried over from last year
    proj_gf: int = 0  # project, government fund
    proj_sa: int = 0  # project, special account (财政专户)
    proj_bi: int = 0  # project, business income (事业收入)
    proj_oi: int = 0  # project, other income
    proj_specific_share: float = 0.5

    @property
    def personnel(self) -> int:
        return self.wages + self.household

    @property
    def public(self) -> int:
        return self.goods + self.capital_basic

    @property
    def basic(self) -> int:
        return self.personnel + self.public

    @property
    def project(self) -> int:
        return self.proj_gp + self.proj_carry + self.proj_gf + self.proj_sa + self.proj_bi + self.proj_oi

    @property
    def total(self) -> int:
        return self.basic + self.project

    @property
    def gp(self) -> int:  # general public budget, current year (basic is always general budget)
        return self.basic + self.proj_gp

    @property
    def general_budget(self) -> int:  # general budget incl. carryover
        return self.gp + self.proj_carry

    @property
    def fiscal(self) -> int:
        return self.general_budget + self.proj_gf

    @property
    def current_year(self) -> int:
        return self.total - self.proj_carry

    @property
    def specific(self) -> int:
        return int(round(self.project * self.proj_specific_share))

    @property
    def other_operation(self) -> int:
        return self.project - self.specific


@dataclass
class Project:
    name: str
    item_code: str
    code: str
    sources: dict[str, int]  # gp / carry / gf / sa / bi / oi

    @property
    def amount(self) -> int:
        return sum(self.sources.values())


@dataclass
class Budget:
    unit: str
    items: list[Item]
    projects: list[Project]
    economic_basic: dict[str, tuple[int, int]]  # econ 款 -> (personnel, public)
    economic_project: dict[str, int]
    three_public: dict[str, int] = field(default_factory=dict)
    procurement: list[tuple[str, str, int, int]] = field(default_factory=list)  # name, catalog, qty, amount
    staff: int = 0
    carry_total_last: int = 0

    def item(self, code: str) -> Item:
        return next(i for i in self.items if i.code == code)

    def sum(self, attr: str, items: list[Item] | None = None) -> int:
        return sum(getattr(i, attr) for i in (self.items if items is None else items))


def split(total: int, n: int, rng: random.Random, min_share: float = 0.05) -> list[int]:
    """n non-negative integer parts summing to total, none tiny unless total is."""
    if n <= 1:
        return [total]
    weights = [rng.uniform(min_share, 1.0) for _ in range(n)]
    s = sum(weights)
    parts = [int(total * w / s) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


class Money:
    """Draws amounts in cents of the document unit (万元 or 元)."""

    def __init__(self, unit: str, rng: random.Random):
        self.unit = unit
        self.rng = rng
        self.scale = 10000 if unit == "元" else 1

    def wan(self, lo: float, hi: float, round_to_unit: bool = False) -> int:
        cents = self.rng.randint(int(lo * 100), int(hi * 100))
        if round_to_unit and self.rng.random() < 0.7:
            cents = max(100, cents // 100 * 100)
        if self.scale == 1:
            return cents
        # in 元 the last digits are not zeros: add a random number of 元 and cents
        return cents * self.scale + self.rng.randint(0, 9999) * (1 if not round_to_unit else 0)


def make_budget(sector: cls.Sector, rng: random.Random, unit: str, year: int) -> Budget:
    money = Money(unit, rng)
    staff = rng.randint(6, 90)
    wage_pool = money.wan(staff * 9.0, staff * 16.0)
    public_unit = rng.random() < 0.35
    items: dict[str, Item] = {}

    def get(code: str) -> Item:
        return items.setdefault(code, Item(code))

    # personnel items are shares of the wage pool
    pension = int(wage_pool * 0.16)
    annuity = int(wage_pool * 0.08) if rng.random() < 0.6 else 0
    medical = int(wage_pool * rng.uniform(0.06, 0.1))
    housing = int(wage_pool * 0.12)
    get("2080505").wages = pension
    if annuity:
        get("2080506").wages = annuity
    get("2101102" if public_unit else "2101101").wages = medical
    get("2210201").wages = housing
    admin = get(sector.admin_items[0])
    admin.wages = wage_pool
    admin.household = money.wan(0.5, staff * 0.6) if rng.random() < 0.6 else 0
    admin.goods = money.wan(staff * 0.4, staff * 2.5)
    if rng.random() < 0.1:
        admin.capital_basic = money.wan(1, 20)

    n_projects = rng.randint(min(2, len(sector.project_items)), min(6, len(sector.project_items)))
    for code in rng.sample(sector.project_items, n_projects):
        it = get(code)
        size = rng.choice([(2, 30), (5, 120), (20, 800), (100, 6000)])
        it.proj_gp = money.wan(*size, round_to_unit=True)
        if rng.random() < 0.15:
            it.proj_carry = money.wan(0.1, size[1] * 0.1)
        if rng.random() < 0.08:
            it.proj_bi = money.wan(1, 50)
        if rng.random() < 0.06:
            it.proj_sa = money.wan(1, 40)
        if rng.random() < 0.06:
            it.proj_oi = money.wan(0.5, 10)
        it.proj_specific_share = rng.choice([0.0, 1.0, 1.0, rng.uniform(0.2, 0.8)])
    for code in sector.fund_items:
        if rng.random() < 0.55:
            get(code).proj_gf = money.wan(5, 300, round_to_unit=True)
    if rng.random() < 0.2:
        get(sector.admin_items[0]).proj_gp += money.wan(1, 30, round_to_unit=True)

    ordered = [items[c] for c in sorted(items)]
    projects = _make_projects(sector, ordered, rng, year)
    econ_basic = _economic_basic(ordered, rng)
    econ_project = _economic_project(ordered, rng)
    budget = Budget(unit, ordered, projects, econ_basic, econ_project, staff=staff)
    budget.three_public = _three_public(econ_basic, rng, money)
    budget.procurement = _procurement(rng, money) if rng.random() < 0.55 else []
    return budget


def _make_projects(sector: cls.Sector, items: list[Item], rng: random.Random, year: int) -> list[Project]:
    names = list(sector.projects) + ["日常工作经费", "专项业务经费", "办公设备购置经费", "业务培训经费"]
    rng.shuffle(names)
    projects: list[Project] = []
    serial = rng.randint(10000, 90000)
    prefix = f"{rng.randint(130000, 620000)}{str(year)[2:]}{rng.randint(0, 9)}"
    for it in items:
        if it.project == 0:
            continue
        n = 1 if it.project < 2000 else rng.choice([1, 1, 2, 3])
        sources = {"gp": it.proj_gp, "carry": it.proj_carry, "gf": it.proj_gf,
                   "sa": it.proj_sa, "bi": it.proj_bi, "oi": it.proj_oi}
        shares = {k: split(v, n, rng) for k, v in sources.items()}
        for j in range(n):
            name = names.pop() if names else f"{cls.FUNCTION_ITEMS[it.code]}项目{j + 1}"
            serial += rng.randint(1, 900)
            projects.append(Project(name, it.code, f"{prefix}{serial:010d}",
                                    {k: shares[k][j] for k in sources}))
    return projects


def _economic_basic(items: list[Item], rng: random.Random) -> dict[str, tuple[int, int]]:
    """Split personnel and public funds over economic 款 (30108 = pensions etc. where known)."""
    known = {"30108": _amount(items, "2080505"), "30109": _amount(items, "2080506"),
             "30110": _amount(items, "2101101") + _amount(items, "2101102"), "30113": _amount(items, "2210201")}
    wages_total = sum(i.wages for i in items)
    household_total = sum(i.household for i in items)
    rest = wages_total - sum(known.values())
    wage_codes = ["30101", "30102", "30103", "30107"] + rng.sample(["30111", "30112", "30199", "30106"], rng.randint(1, 3))
    parts = split(rest, len(wage_codes), rng, 0.1)
    econ: dict[str, tuple[int, int]] = {c: (v, 0) for c, v in known.items() if v}
    for c, v in zip(wage_codes, parts):
        econ[c] = (v, 0)
    if household_total:
        hcodes = rng.sample(["30302", "30309", "30399"], rng.randint(1, 2))
        for c, v in zip(hcodes, split(household_total, len(hcodes), rng)):
            econ[c] = (v, 0)
    goods_total = sum(i.goods for i in items)
    gcodes = sorted(rng.sample(list(cls.PUBLIC_ECONOMIC), rng.randint(4, 10)))
    for c, v in zip(gcodes, split(goods_total, len(gcodes), rng, 0.02)):
        econ[c] = (0, v)
    cap = sum(i.capital_basic for i in items)
    if cap:
        econ["31002"] = (0, cap)
    return {c: econ[c] for c in sorted(econ)}


def _economic_project(items: list[Item], rng: random.Random) -> dict[str, int]:
    total = sum(i.project for i in items)
    if total == 0:
        return {}
    codes = sorted(rng.sample(list(cls.PROJECT_ECONOMIC), rng.randint(2, 5)))
    return dict(zip(codes, split(total, len(codes), rng, 0.05)))


def _amount(items: list[Item], code: str) -> int:
    return sum(i.wages for i in items if i.code == code)


def _three_public(econ_basic: dict[str, tuple[int, int]], rng: random.Random, money: Money) -> dict[str, int]:
    vehicle_operation = econ_basic.get("30231", (0, 0))[1]
    reception = econ_basic.get("30217", (0, 0))[1]
    outbound = money.wan(1, 8) if rng.random() < 0.05 else 0
    purchase = 0
    if rng.random() < 0.05:
        purchase = money.wan(10, 25, round_to_unit=True)
    return {"outbound_travel": outbound, "vehicle_purchase": purchase, "vehicle_operation": vehicle_operation,
            "reception": reception}


PROCUREMENT_ITEMS = (("台式计算机", "A02010104", "台"), ("复印纸", "A05040101", "箱"), ("打印设备", "A020201", "台"),
                     ("物业管理服务", "C1204", "项"), ("办公家具", "A0601", "套"), ("车辆维修和保养服务", "C050301", "项"),
                     ("印刷服务", "C081401", "项"), ("信息系统运维服务", "C020601", "项"))


def _procurement(rng: random.Random, money: Money) -> list[tuple[str, str, int, int]]:
    picked = rng.sample(PROCUREMENT_ITEMS, rng.randint(1, 4))
    return [(n, cat, rng.randint(1, 30) if u != "项" else 1, money.wan(0.5, 40)) for n, cat, u in picked]
