"""Put the amounts of a fragment-stream row back into their columns.

Plain extracted text loses blank cells: "13.03 6.00 6.00 7.03" under twelve columns says nothing
about which four columns were printed. The printed values still obey the identities, so each
row's candidate placements (order-preserving) are scored by the row identities and a preference
for the columns the table uses, then rows are settled together so that parents equal the sums of
their children (类 = Σ款 = Σ项).
"""
from __future__ import annotations

import re
from itertools import combinations, product
from typing import Optional

from pipeline.checks import run_checks

MAX_CANDIDATES = 64
COUNT_KEY_RE = re.compile(r"^extra:.*(数量|人数|个数|台数|户数)")  # columns of whole counts
AGREEMENT_BONUS = 1.0  # per amount placed where an earlier table printed it: more than the left preference, less than an identity
TOTAL_ROW = "T"  # the 合计 row: parent of the 类 rows
MAX_GROUP_PRODUCT = 4096
# a row's placements scoring up to this under its best stay in its pool: one identity held is worth
# 2.0, so the pool is the placements holding as many, told apart by the sums (a wider pool left
# seed 000's summary side to a local search that shifted a whole side one column right)
POOL_MARGIN = 2.0


def _row_identity_score(values: dict[str, float], kind: str, keys: list[str]) -> float:
    table = {"table_id": "s", "kind": kind, "columns": [{"key": k, "header": k} for k in keys]}
    rec = {"record_id": "r", "type": "budget_line", "table_id": "s", "subject_code": None, "subject_name": "x",
           "side": None, "values": values}
    score = 0.0
    for res in run_checks([table], [rec]):
        if res.name in ("row_total", "basic_split"):
            score += 2.0 if res.ok else -10.0
    return score


def candidates(amounts: list[float], keys: list[str], kind: str) -> list[tuple[float, dict[str, float]]]:
    """(score, values) placements of the amounts into the keyed columns, best first."""
    k, m = len(amounts), len(keys)
    if k == 0:
        return [(0.0, {})]
    if k >= m:
        return [(0.0, dict(zip(keys, amounts[:m])))]
    counts = {c for c, key in enumerate(keys) if COUNT_KEY_RE.search(key)}
    out = []
    for cols in combinations(range(m), k):
        values = {keys[c]: a for c, a in zip(cols, amounts)}
        score = _row_identity_score(values, kind, keys) - 0.15 * sum(cols) / k
        score -= 10.0 * sum(1 for c, a in zip(cols, amounts) if c in counts and a != int(a))  # 569632.30 is no 数量
        out.append((score, values))
    out.sort(key=lambda sv: -sv[0])
    return out[:MAX_CANDIDATES]


class KnownCells:
    """(subject code, amount) -> the column keys under which earlier tables of the document printed
    it. A subject's split (基本支出 / 项目支出, …) is the same in every table of one document, so
    where the identities leave a stream row's placement open, agreeing with another table settles it
    (seed 000's 政府性基金 table prints "229 其他支出 32.00 32.00": 项目支出 in its 支出总表)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, float], set[str]] = {}

    def add(self, records) -> None:
        for rec in records:
            code = rec.fields.get("subject_code")
            if not code:
                continue
            for key, value in (rec.fields.get("values") or {}).items():
                if value is not None:
                    self.keys.setdefault((code, round(value, 2)), set()).add(key)

    def agreement(self, code: Optional[str], values: dict[str, float]) -> int:
        if not code or not self.keys:
            return 0
        return sum(key in self.keys.get((code, round(v, 2)), ()) for key, v in values.items())


def rescored(options: list[tuple[float, dict[str, float]]], code: Optional[str], known: Optional[KnownCells]
             ) -> list[tuple[float, dict[str, float]]]:
    """The row's placements with a bonus for each amount that agrees with an earlier table, best first."""
    if known is None or not code or len(options) < 2:
        return options
    out = [(score + AGREEMENT_BONUS * known.agreement(code, values), values) for score, values in options]
    return sorted(out, key=lambda sv: -sv[0])


def _children(codes: list[Optional[str]], parent_idx: int) -> list[int]:
    parent = codes[parent_idx]
    if parent == TOTAL_ROW:
        return [i for i, c in enumerate(codes) if c and len(c) == 3]
    if not parent:
        return []
    want = {3: 5, 5: 7}.get(len(parent))
    return [i for i, c in enumerate(codes) if c and want and len(c) == want and c.startswith(parent)]


MAX_PAIR_GROUP = 24


def _pair_move(trial: list[int], pools: list, cost) -> bool:
    """Change two rows at once when no single change helps (two wrong rows can offset)."""
    base = cost(trial)
    best, best_c = None, base - 1e-9
    for a in range(1, len(trial)):
        for b in range(a + 1, len(trial)):
            for oa in range(len(pools[a])):
                for ob in range(len(pools[b])):
                    t = list(trial)
                    t[a], t[b] = oa, ob
                    c = cost(t)
                    if c < best_c:
                        best, best_c = (a, b, oa, ob), c
    if best is None:
        return False
    a, b, oa, ob = best
    trial[a], trial[b] = oa, ob
    return True


def settle(codes: list[Optional[str]], options: list[list[tuple[float, dict[str, float]]]],
           groups: Optional[list[tuple[int, list[int]]]] = None) -> list[dict[str, float]]:
    """Choose one placement per row: best own score, then parent = Σ children where it decides.

    groups: (parent row, its children) in the order to settle them; by default from the codes,
    top-down (类 groups first, so a 款 settled by its 类 stays settled for its own 项)."""
    chosen = [opts[0][1] if opts else {} for opts in options]
    fixed: set[int] = set()
    if groups is None:
        groups = [(p, _children(codes, p)) for p in sorted(range(len(codes)), key=lambda i: len(codes[i] or "9" * 9))]
    for p, kids in groups:
        if not kids:
            continue
        group = [p] + kids
        ambiguous = [i for i in group if i not in fixed and len(options[i]) > 1
                     and options[i][0][0] - options[i][1][0] < POOL_MARGIN]
        if not ambiguous:
            continue
        pools = [[o for o in options[i] if o[0] >= options[i][0][0] - POOL_MARGIN][:8] if i in ambiguous else [(0.0, chosen[i])]
                 for i in group]
        picks = [0] * len(group)

        def cost(picks: list[int]) -> float:
            combo = [pools[k][picks[k]] for k in range(len(group))]
            parent_vals = combo[0][1]
            c = -sum(sc for sc, _ in combo) * 0.01
            for key in set(parent_vals) | {k for _, v in combo[1:] for k in v}:
                c += abs(parent_vals.get(key, 0.0) - sum(v.get(key, 0.0) for _, v in combo[1:]))
            return c

        total = 1
        for pool in pools:
            total *= len(pool)
        if total <= MAX_GROUP_PRODUCT:
            picks = list(min(product(*[range(len(pool)) for pool in pools]), key=lambda pk: cost(list(pk))))
        else:  # coordinate descent over the children, restarted from each placement of the parent
            best_picks, best_cost = None, float("inf")
            for start in range(len(pools[0])):
                trial = [start] + [0] * (len(group) - 1)
                for _ in range(6):
                    changed = False
                    for k in range(1, len(group)):
                        o = min(range(len(pools[k])), key=lambda o: cost(trial[:k] + [o] + trial[k + 1:]))
                        changed |= o != trial[k]
                        trial[k] = o
                    if not changed and len(group) <= MAX_PAIR_GROUP:
                        changed = _pair_move(trial, pools, cost)
                    if not changed:
                        break
                c = cost(trial)
                if c < best_cost:
                    best_picks, best_cost = trial, c
            picks = best_picks or picks
        for i, k in zip(group, range(len(group))):
            chosen[i] = pools[k][picks[k]][1]
        fixed.update(group)
    return chosen
