"""Tables printed as a fragment stream: one cell piece per line, no tabs, no positions.

This is what text extractors give for ruled tables (seed 000): rows are numbered 1, 2, 3 … so a
row starts at the next expected number; codes and names wrap over lines; amounts wrap
("5846." / "29"); blank cells vanish, so amounts are placed by pipeline.stream_solver.
Header cells wrap into pieces too: they are read as a sequence of known header phrases, the
first header row before the 科目编码/科目名称 cells and the second after them.
"""
from __future__ import annotations

import re
from typing import Optional

from pipeline import header_rules as hr
from pipeline.layout import Cell, Fragment, Row, join_fragments, parse_amount
from pipeline.model import Line
from pipeline.stream_solver import TOTAL_ROW, KnownCells, candidates, rescored, settle

HEADER_PHRASES = sorted([
    "合计", "总计", "小计", "本年收入", "本年支出", "上年结转", "年初结转", "财政拨款收入", "财政专户收入",
    "财政专户管理资金", "事业收入", "事业单位经营收入", "经营收入", "上级补助收入", "附属单位上缴收入", "其他收入",
    "基本支出", "项目支出", "经营支出", "上解上级支出", "上缴上级支出", "对附属单位补助支出", "人员经费", "公用经费",
    "一般公共预算", "政府性基金", "国有资本经营预算", "单位资金", "工资福利支出", "对个人和家庭的补助", "商品和服务支出",
    "资本性支出", "其他运转类", "特定目标类", "因公出国(境)费", "公务用车购置及运行费", "公务用车购置及运维费",
    "公务用车购置费", "公务用车运行维护费", "公务接待费", "金额", "预算数", "数量", "科目编码", "科目名称", "编码", "名称",
], key=len, reverse=True)
PARENT_PHRASES = {"本年收入", "基本支出", "项目支出", "本年拨款", "一般公共预算", "人员经费", "公用经费"}
CODE_OR_NAME = {"科目编码", "科目名称", "编码", "名称"}
AMOUNT_PIECE = re.compile(r"^-?[\d,]*\d\.\d{2}$|^-$|^—$")
PARTIAL_AMOUNT = re.compile(r"^-?[\d,]*\d\.\d?$")


def header_phrases(header_lines: list[Line]) -> list[str]:
    text = "".join(re.sub(r"\s+", "", ln.text) for ln in header_lines if not ln.text.strip().startswith("栏次"))
    text = text.replace("（", "(").replace("）", ")")
    found, i = [], 0
    while i < len(text):
        for phrase in HEADER_PHRASES:
            if text.startswith(phrase, i):
                found.append(phrase)
                i += len(phrase)
                break
        else:
            i += 1
    return found


def value_columns(header_lines: list[Line]) -> list[tuple[str, str]]:
    """(leaf, full) per value column, left to right."""
    phrases = header_phrases(header_lines)
    split = next((i for i, p in enumerate(phrases) if p in CODE_OR_NAME), len(phrases))
    first = [p for p in phrases[:split] if p not in CODE_OR_NAME]
    second = [p for p in phrases[split:] if p not in CODE_OR_NAME]
    if not second:
        return [(p, p) for p in first]
    out: list[tuple[str, str]] = []
    placed = False
    for p in first:
        if p in PARENT_PHRASES and not placed:
            out.extend((q, f"{p} {q}") for q in second)
            placed = True
        elif p in PARENT_PHRASES:
            out.append((p, p))
        else:
            out.append((p, p))
    if not placed:
        out.extend((q, q) for q in second)
    return out


def _pieces(line: Line) -> list[Fragment]:
    out, pos = [], 0
    for piece in line.text.split():
        start = line.text.index(piece, pos)
        pos = start + len(piece)
        out.append(Fragment(text=piece, line=line, start=start))
    return out


def _repair_amounts(frags: list[Fragment]) -> list[Fragment]:
    """Join amounts wrapped inside narrow cells: '5846.' + '29', '261.4' + '0'."""
    out: list[Fragment] = []
    for f in frags:
        if out and PARTIAL_AMOUNT.match(out[-1].text) and re.fullmatch(r"\d{1,2}", f.text) \
                and len(out[-1].text.split(".")[1]) + len(f.text) == 2:
            prev = out[-1]
            out[-1] = Fragment(text=prev.text + f.text, line=prev.line, start=prev.start)
            out[-1].extra = [f]  # type: ignore[attr-defined]
            continue
        out.append(f)
    return out


def is_numbered(body: list[Line]) -> bool:
    """Rows numbered 1, 2, 3 … (a 序号 column): some line opens with a lone 1."""
    return any(ln.text.split()[:1] == ["1"] for ln in body)


def split_rows(body: list[Line]) -> list[list[Fragment]]:
    if not is_numbered(body):  # nothing marks where a row starts: a line is a row
        return [_pieces(ln) for ln in body if ln.text.strip()]
    rows: list[list[Fragment]] = []
    expected = 1
    for ln in body:
        for f in _pieces(ln):
            t = f.text
            if t.isdigit() and not t.startswith("0") and int(t) == expected:
                rows.append([f])
                expected += 1
            elif rows:
                rows[-1].append(f)
            else:
                rows.append([f])
    return rows


ORDINAL = re.compile(r"^[一二三四五六七八九十]+、|^[(（][一二三四五六七八九十]+[)）]")


def stream_table(header_lines: list[Line], body: list[Line], kind: str = "other",
                 two_sided: bool = False, known: Optional[KnownCells] = None) -> tuple[list[Row], list["ColumnSpec"]]:
    from pipeline.assemble import ColumnSpec

    first_body = min((ln.line_no or 0) for ln in body) if body else 0
    heads = value_columns([ln for ln in header_lines if (ln.line_no or 0) < first_body] or header_lines)
    specs = [ColumnSpec(index=0, leaf="序号", full="序号", role=hr.ROLE_ROW_NO),
             ColumnSpec(index=1, leaf="科目编码", full="科目编码", role=hr.ROLE_CODE),
             ColumnSpec(index=2, leaf="科目名称", full="科目名称", role=hr.ROLE_NAME)]
    for j, (leaf, full) in enumerate(heads):
        specs.append(ColumnSpec(index=3 + j, leaf=leaf, full=full, role=hr.ROLE_VALUE, key=hr.column_key(leaf, full),
                                key_prob=0.8))
    value_specs = specs[3:]
    keys = [s.key for s in value_specs]
    rows: list[Row] = []
    codes: list[Optional[str]] = []
    options = []
    numbered = is_numbered(body)
    for frags in split_rows(body):
        frags = _repair_amounts(frags)
        row = Row()
        start = 0
        if frags and frags[0].text.isdigit() and not frags[0].text.startswith("0") and len(frags[0].text) <= 3 \
                and (len(frags) == 1 or not re.fullmatch(r"\d{5,7}", frags[0].text)):
            row.cells[0] = Cell(col=0, frags=[frags[0]])
            start = 1
        if numbered:
            code_frags = [f for f in frags[start:] if re.fullmatch(r"\d{2,7}", f.text)]
            amount_frags = [f for f in frags[start:] if AMOUNT_PIECE.match(f.text)]
        else:  # one line: a leading code, the name, then its numbers (counts too: "318 569632.30")
            code_frags = frags[:1] if frags and re.fullmatch(r"\d{3,7}", frags[0].text) and len(frags) > 1 else []
            tail = len(frags)
            while tail > len(code_frags) + 1 and (AMOUNT_PIECE.match(frags[tail - 1].text)
                                                  or re.fullmatch(r"\d{1,9}", frags[tail - 1].text)):
                tail -= 1
            amount_frags = frags[tail:]
        name_frags = [f for f in frags[start:] if f not in code_frags and f not in amount_frags]
        if code_frags:
            row.cells[1] = Cell(col=1, frags=code_frags)
        if name_frags:
            row.cells[2] = Cell(col=2, frags=name_frags)
        amounts = [parse_amount(f.text) for f in amount_frags]
        code = re.sub(r"\D", "", "".join(f.text for f in code_frags)) or None
        options.append(rescored(candidates([a for a in amounts if a is not None], keys, kind), code, known))
        if code is None and re.sub(r"\s", "", join_fragments([f.text for f in name_frags])) in {"合计", "总计"}:
            code = TOTAL_ROW
        codes.append(code)
        row.amount_frags = amount_frags  # type: ignore[attr-defined]
        rows.append(row)
    chosen = settle(codes, options)
    for row, values in zip(rows, chosen):
        frags = list(row.amount_frags)  # type: ignore[attr-defined]
        key_to_spec = {s.key: s for s in value_specs}
        for (key, _), frag in zip(values.items(), frags):
            spec = key_to_spec[key]
            row.cells[spec.index] = Cell(col=spec.index, frags=[frag])
    return rows, specs


INCOME_HINT = re.compile(r"收入|拨款$|^[一二三四五六七八九十]+、.*拨款|^上年|^年初|^用事业基金")
NAME_START = re.compile(r"^[一二三四五六七八九十]+、|^[(（][一二三四五六七八九十]+[)）]|^(本年|上年|年初|年终|年末|收入|支出)")


def two_sided_columns(header_lines: list[Line]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    text = "".join(re.sub(r"\s+", "", ln.text) for ln in header_lines if not ln.text.strip().startswith("栏次"))
    marks = [m.start() for m in re.finditer("项目", text)]
    if len(marks) < 2:
        cols = value_columns(header_lines)
        return cols[:1], cols[1:]
    income_text, exp_text = text[marks[0]:marks[1]], text[marks[1]:]

    def phrases(t: str) -> list[tuple[str, str]]:
        fake = Line(text=t, page=1, index=0)
        return [(p, p) for p in header_phrases([fake]) if p not in CODE_OR_NAME]
    return phrases(income_text), phrases(exp_text)


def stream_two_sided(header_lines: list[Line], body: list[Line], kind: str) -> tuple[list[Row], list["ColumnSpec"]]:
    """Summary tables with income items and expenditure items side by side in one row."""
    from pipeline.assemble import ColumnSpec

    first_body = min((ln.line_no or 0) for ln in body) if body else 0
    inc_cols, exp_cols = two_sided_columns([ln for ln in header_lines if (ln.line_no or 0) < first_body] or header_lines)
    specs = [ColumnSpec(index=0, leaf="序号", full="序号", role=hr.ROLE_ROW_NO),
             ColumnSpec(index=1, leaf="项目", full="收入 项目", role=hr.ROLE_NAME, side="income")]
    for leaf, full in inc_cols:
        specs.append(ColumnSpec(index=len(specs), leaf=leaf, full="收入 " + full, role=hr.ROLE_VALUE,
                                key=hr.column_key(leaf, full), key_prob=0.8, side="income"))
    exp_name = len(specs)
    specs.append(ColumnSpec(index=exp_name, leaf="项目", full="支出 项目", role=hr.ROLE_NAME, side="expenditure"))
    for leaf, full in exp_cols:
        specs.append(ColumnSpec(index=len(specs), leaf=leaf, full="支出 " + full, role=hr.ROLE_VALUE,
                                key=hr.column_key(leaf, full), key_prob=0.8, side="expenditure"))
    inc_specs = [s for s in specs if s.side == "income" and s.role == hr.ROLE_VALUE]
    exp_specs = [s for s in specs if s.side == "expenditure" and s.role == hr.ROLE_VALUE]
    rows: list[Row] = []
    side_rows: dict[str, list[tuple[Row, str, list[Fragment]]]] = {"income": [], "expenditure": []}
    for frags in split_rows(body):
        frags = _repair_amounts(frags)
        row = Row()
        start = 0
        if frags and frags[0].text.isdigit() and not frags[0].text.startswith("0"):
            row.cells[0] = Cell(col=0, frags=[frags[0]])
            start = 1
        groups: list[tuple[list[Fragment], list[Fragment]]] = []
        for f in frags[start:]:
            if AMOUNT_PIECE.match(f.text):
                if not groups:
                    groups.append(([], []))
                groups[-1][1].append(f)
            elif not groups or groups[-1][1] or (NAME_START.match(f.text) and groups[-1][0]
                                                 and f.text not in ("收入", "支出")):  # "…上缴" / "收入": a wrapped tail
                groups.append(([f], []))
            else:
                groups[-1][0].append(f)
        if len(groups) >= 2 and not groups[-1][1] and groups[-1][0] and not NAME_START.match(groups[-1][0][0].text):
            # a name's tail after the amounts (its cell wrapped past a page break): not another side
            tail = groups.pop()[0]
            groups[-1][0].extend(tail)
        if len(groups) == 1:
            name = join_fragments([f.text for f in groups[0][0]])
            sides = ["income"] if INCOME_HINT.search(name) and "支出" not in name else ["expenditure"]
        else:
            sides = ["income", "expenditure"][: len(groups)]
        for (names, amounts), side in zip(groups, sides):
            name_col = 1 if side == "income" else exp_name
            if names:
                row.cells[name_col] = Cell(col=name_col, frags=names)
            side_rows[side].append((row, join_name(names), amounts))
        rows.append(row)
    place_side_amounts(side_rows["income"], inc_specs, kind)
    place_side_amounts(side_rows["expenditure"], exp_specs, kind)
    return rows, specs


def place_side_amounts(entries: list[tuple[Row, str, list[Fragment]]], value_specs: list["ColumnSpec"],
                       kind: str) -> None:
    """Put one side's amounts into its columns: each row's placements scored by its row identities,
    then settled so that 本年支出合计 = Σ 一、二、… and 总计 = 本年合计 + 结转 (seed 000's 财政拨款收支总表
    prints "二十五、其他支出 32.00 32.00": the side's totals say the 32.00 is 政府性基金, not the
    一般公共预算 column next to 合计)."""
    from pipeline.checks import side_identities

    keys = [s.key for s in value_specs]
    key_to_spec = {s.key: s for s in value_specs}
    options = [candidates([a for a in (parse_amount(f.text) for f in amounts) if a is not None], keys, kind)
               for _, _, amounts in entries]
    named = [{"subject_name": name} for _, name, _ in entries]
    place = {id(d): i for i, d in enumerate(named)}
    groups = [(place[id(parent)], [place[id(p)] for p in parts]) for parent, parts in side_identities(named)]
    chosen = settle([None] * len(entries), options, groups)
    for (row, _, amounts), values in zip(entries, chosen):
        for (key, _), frag in zip(values.items(), amounts):
            spec = key_to_spec[key]
            row.cells[spec.index] = Cell(col=spec.index, frags=[frag])


def join_name(frags: list[Fragment]) -> str:
    return join_fragments([f.text for f in frags])
