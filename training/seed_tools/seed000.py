"""Hand annotation of seed 000 (平乡县医疗保障局 2022 budget, PDF-text layout).

Seed 000 is what a PDF text extractor returns for ruled tables: every cell fragment on its own
line, wrapped cells broken ("5846." / "29", "21012" / "02", names in 2-4 character pieces),
blank cells gone, page headers repeated. The engine here pre-annotates every non-blank line
from that structure (table ranges, page-header blocks, row numbers, code/name/amount shapes);
every human decision is written down in `seed000_overrides.json` beside this file:

- `tables`: line ranges, kinds, titles, columns, notes and a layout (hand-set): `one_sided` /
  `two_sided` budget tables (title, page-header blocks down to the 栏次 line, then body rows
  that start at the row-number lines 1, 2, 3 …), `empty`, `indicators` (performance target
  tables) and `tagged` (small tables whose every line is specified in the table's `lines`);
- `row_keys`: for every body row of every budget table, the column key of each printed amount
  in order (blank cells vanished from the text, so this is resolved by hand with the header,
  the row/parent identities and the totals row);
- `sides`: which side a single-sided row of a two-sided table belongs to;
- `line_tags`: per-line token tags that replace the heuristic ones of the indicator tables
  (`row_starts` can force or forbid an indicator row starting at a line);
- `page_numbers`: lone page-number lines;
- `labels`: per-line section labels outside tables (furniture, page numbers, cover);
- `facts` and `meta_spans`: narrative figures and department/year/unit spans.

Token tags (one per whitespace-separated token of a line): `-` no span, `+` extends the
previous token's span over the space, `rn` row_no, `code` subject_code, `name` subject_name
(`name@i` / `name@e`: income / expenditure side), `a:<key>` amount (`a:<key>@i|@e`), `l1` `l2`
`l3` `desc` `tgt` `basis` `goal` `title` `dept` `dcode` `fy` `unit`.

Conventions (as the tabbed seeds 001/002): table lines (title, header, body, furniture inside
the table's range) carry the table id; record ids `t02-r11`, `t01-r0-income`, `t12-i3`,
`t12-p0`, `f007`; classification only on coded rows; names drop whitespace next to CJK
characters; targets drop all whitespace; wrapped fragments are joined with no separator.
`build()` returns [document header, page 1]; `write()` writes annotations/seeds/….
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pipeline import config

SEED_FILE = "000_c33f9f66877ba6d3.txt"
DOC_NAME = "seed_000_pingxiang_2022"
OVERRIDES_PATH = Path(__file__).with_name("seed000_overrides.json")
FORMAT_VERSION = 1

_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_FURNITURE_RE = re.compile(r"^\s*450 平乡县医疗保障局|^(预算年度：|预算年|度：2022|2022|单位：万元)$")
_AMOUNT_RE = re.compile(r"^\d+\.\d*$")
_CODE_RE = re.compile(r"^[23]\d{2}(\d{2}){0,2}$")
_ENUM_RE = re.compile(r"^[一二三四五六七八九十]+、")
_SUMMARY_NAME_STARTS = ("本年收入", "本年支出", "上年结转", "年终结转", "收入总计", "支出总计", "年初财政", "年末财政")
_TARGET_RE = re.compile(r"^(≥|≤|>|<|=|＞|＜)?(\d+(?:\.\d+)?)([^\d]*)$")
_OPS = {"＞": ">", "＜": "<"}

LEVEL1 = ("产出指标", "效益指标", "满意度指标")
LEVEL2 = ("数量指标", "质量指标", "时效指标", "成本指标", "社会效益指标", "经济效益指标", "生态效益指标",
          "可持续影响指标", "服务对象满意度指标")
TARGET_WORDS = ("明显改善", "较上年提高", "明显提高", "成效明显", "不低于上年", "每年年底之前", "全县参保人员",
                "不晚于", "每月", "合格及以上等次", "不超本年预算", "明显提升")
TARGET_UNITS = ("人", "家", "元", "天", "个", "万份", "个村", "项", "万元", "元/每村", "元/本", "元/份", "号")
CELL_WIDTH = 9  # characters of a full wrapped line in the indicator tables' text cells (9-10)

SPAN_OF_TAG = {"rn": "row_no", "code": "subject_code", "name": "subject_name", "l1": "level1", "l2": "level2",
               "l3": "level3", "desc": "description", "tgt": "target", "basis": "basis", "goal": "goal",
               "title": "table_title", "dept": "department", "dcode": "department_code", "fy": "fiscal_year",
               "unit": "unit", "proj": "project", "fs": "fact_subject", "fv": "fact_value"}


# ----------------------------------------------------------------------------- text helpers

def clean_text(text: str) -> str:
    """Drop whitespace next to CJK characters (wrap artefacts), collapse the rest."""
    return re.sub(r"\s+", " ", _SPACE_NEAR_CJK.sub("", text.strip()))


def plain_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())


def parse_target(target: str) -> dict[str, Any]:
    """指标值 -> {op, value, unit, text}; op null when none is printed, text only for words."""
    m = _TARGET_RE.match(target)
    if m:
        op = m.group(1)
        return {"op": _OPS.get(op, op) if op else None, "value": float(m.group(2)),
                "unit": m.group(3) or None, "text": None}
    return {"op": None, "value": None, "unit": None, "text": target}


def tokens_of(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]


# ----------------------------------------------------------------------------- lines

@dataclass
class AnnLine:
    line_no: int
    text: str
    label: str = "narrative"
    table_id: Optional[str] = None
    row: Optional[int] = None
    tags: list[str] = field(default_factory=list)  # one per token; empty: no token spans
    extra_spans: list[dict[str, Any]] = field(default_factory=list)  # substring spans (facts, meta)

    @property
    def tokens(self) -> list[tuple[int, int, str]]:
        return tokens_of(self.text)

    def set_tags(self, tags: list[str]) -> None:
        assert len(tags) == len(self.tokens), f"line {self.line_no}: {len(tags)} tags for {len(self.tokens)} tokens"
        self.tags = tags

    def token_fields(self) -> list[tuple[str, Optional[str], Optional[str], str]]:
        """(field, key, side, text) per tagged span, '+' tokens merged into their span."""
        out: list[tuple[str, Optional[str], Optional[str], str]] = []
        prev_end = None
        for (start, end, tok), tag in zip(self.tokens, self.tags):
            if tag == "+":
                assert out, f"line {self.line_no}: '+' without a span before it"
                f, k, s, t = out[-1]
                out[-1] = (f, k, s, t + self.text[prev_end:end])
            elif tag != "-":
                f, k, s = split_tag(tag)
                out.append((f, k, s, tok))
            prev_end = end
        return out

    def spans(self) -> list[dict[str, Any]]:
        spans: list[dict[str, Any]] = []
        for (start, end, _), tag in zip(self.tokens, self.tags):
            if tag == "+":
                spans[-1]["end"] = end
            elif tag != "-":
                f, k, _side = split_tag(tag)
                span: dict[str, Any] = {"start": start, "end": end, "label": SPAN_OF_TAG.get(f, f)}
                if f == "amount":
                    span["key"] = k
                spans.append(span)
        spans += self.extra_spans
        spans.sort(key=lambda s: s["start"])
        return spans

    def add_substring_span(self, needle: str, label: str, occurrence: int = 0, after: int = 0) -> int:
        pos = after - 1
        for _ in range(occurrence + 1):
            pos = self.text.find(needle, pos + 1)
            assert pos >= 0, f"line {self.line_no}: {needle!r} not found"
        self.extra_spans.append({"start": pos, "end": pos + len(needle), "label": label})
        return pos + len(needle)

    def to_json(self) -> dict[str, Any]:
        return {"id": f"p1-{self.line_no:04d}", "text": self.text, "bbox": None, "line_no": self.line_no,
                "label": self.label, "table_id": self.table_id, "row": self.row, "spans": self.spans()}


def split_tag(tag: str) -> tuple[str, Optional[str], Optional[str]]:
    """'a:total@e' -> ('amount', 'total', 'expenditure'); 'name@i' -> ('name', None, 'income')."""
    side = None
    if "@" in tag:
        tag, s = tag.split("@")
        side = {"i": "income", "e": "expenditure"}[s]
    if tag.startswith("a:"):
        return "amount", tag[2:], side
    return tag, None, side


def read_lines() -> dict[int, AnnLine]:
    texts = (config.SEEDS_DIR / SEED_FILE).read_bytes().decode("utf-8").split("\n")
    return {i + 1: AnnLine(i + 1, t) for i, t in enumerate(texts) if t.strip()}


def load_overrides() -> dict[str, Any]:
    return json.loads(OVERRIDES_PATH.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- budget tables

def is_furniture(text: str) -> bool:
    return bool(_FURNITURE_RE.match(text))


def mark_headers(t: dict[str, Any], lines: dict[int, AnnLine], ov: dict[str, Any]) -> list[int]:
    """Label title, page-header blocks (furniture + column header up to 栏次); return body lines."""
    page_numbers = set(ov["page_numbers"])
    body: list[int] = []
    in_header = True
    for ln in table_lines(t, lines):
        line = lines[ln]
        line.table_id = t["table_id"]
        if ln in t["title_lines"]:
            line.label = "table_title"
            line.set_tags(["title"] + ["+"] * (len(line.tokens) - 1))
            in_header = True
        elif ln in page_numbers:
            line.label = "page_furniture"
        elif is_furniture(line.text):
            line.label = "page_furniture"
            in_header = True
        elif ln in t.get("notes", []):
            line.label = "note"
        elif in_header:
            line.label = "table_header"
            if line.text.strip().startswith("栏次"):
                in_header = False
        else:
            line.label = t.get("body_label", "subject_row")
            body.append(ln)
    return body


def table_lines(t: dict[str, Any], lines: dict[int, AnnLine]) -> list[int]:
    return [ln for ln in range(t["start"], t["end"] + 1) if ln in lines]


@dataclass
class RowState:
    row: int
    row_no: int
    amounts: list[list[tuple[int, int]]] = field(default_factory=list)  # per amount: (line, token) refs
    names: list[list[tuple[int, int]]] = field(default_factory=list)  # per name item: (line, token) refs
    code_seen: bool = False
    open_amount: bool = False
    lines: list[int] = field(default_factory=list)


def group_rows(body: list[int], lines: dict[int, AnnLine], two_sided: bool) -> list[RowState]:
    """Row-number lines start rows (1, 2, 3 … in order); other fragments join the open row."""
    rows: list[RowState] = []
    for ln in body:
        line = lines[ln]
        toks = line.tokens
        tags = ["?"] * len(toks)
        start_tok = 0
        if toks and toks[0][2] == str(len(rows) + 1):
            rows.append(RowState(row=len(rows), row_no=len(rows) + 1))
            tags[0] = "rn"
            start_tok = 1
        assert rows, f"line {ln}: body fragment before the first row"
        st = rows[-1]
        st.lines.append(ln)
        line.row = st.row
        for i in range(start_tok, len(toks)):
            tok = toks[i][2]
            if st.open_amount and tok.isdigit():
                tags[i] = "amt"
                st.amounts[-1].append((ln, i))
                st.open_amount = False
            elif _AMOUNT_RE.match(tok):
                tags[i] = "amt"
                st.amounts.append([(ln, i)])
                st.open_amount = len(tok.split(".")[1]) < 2
            elif not two_sided and _CODE_RE.match(tok) and not st.names and not st.amounts:
                tags[i] = "code"
                st.code_seen = True
            elif not two_sided and st.code_seen and re.fullmatch(r"\d{2}", tok) and not st.names and not st.amounts:
                tags[i] = "code"
            else:
                tags[i] = "name"
                starts_item = two_sided and (_ENUM_RE.match(tok) or tok.startswith(_SUMMARY_NAME_STARTS))
                if not st.names or starts_item:
                    st.names.append([(ln, i)])
                else:
                    st.names[-1].append((ln, i))
        line.tags = tags
    return rows


def resolve_one_sided(t: dict[str, Any], rows: list[RowState], lines: dict[int, AnnLine],
                      row_keys: dict[str, list[str]]) -> list[dict[str, Any]]:
    records = []
    for st in rows:
        keys = row_keys[str(st.row_no)]
        assert len(keys) == len(st.amounts), f"{t['table_id']} row {st.row_no}: {len(st.amounts)} amounts, keys {keys}"
        for refs, key in zip(st.amounts, keys):
            for ln, i in refs:
                lines[ln].tags[i] = f"a:{key}"
        records.append(budget_record(t, st, lines, side=None))
    return records


def resolve_two_sided(t: dict[str, Any], rows: list[RowState], lines: dict[int, AnnLine],
                      row_keys: dict[str, list[str]], sides: dict[str, str]) -> list[dict[str, Any]]:
    """Names: with two name items the first is income; one item: the side in `sides` (else
    expenditure). Amounts belong to the side of the name printed before them."""
    records = []
    for st in rows:
        if len(st.names) == 2:
            name_sides = ["income", "expenditure"]
        else:
            assert len(st.names) == 1, f"{t['table_id']} row {st.row_no}: {len(st.names)} names"
            name_sides = [sides.get(str(st.row_no), "expenditure")]
        order: list[tuple[int, int, str, str]] = []  # (line, token, kind, side)
        for item, side in zip(st.names, name_sides):
            for ln, i in item:
                order.append((ln, i, "name", side))
        for n, refs in enumerate(st.amounts):
            for ln, i in refs:
                order.append((ln, i, f"amt{n}", ""))
        order.sort()
        side_of_amount: dict[int, str] = {}
        current = name_sides[0]
        for ln, i, kind, side in order:
            if kind == "name":
                current = side
                lines[ln].tags[i] = f"name@{side[0]}"
            else:
                side_of_amount.setdefault(int(kind[3:]), current)
        keys = {"income": list(row_keys.get(f"{st.row_no}@i", [])), "expenditure": list(row_keys.get(f"{st.row_no}@e", []))}
        for n, refs in enumerate(st.amounts):
            side = side_of_amount[n]
            assert keys[side], f"{t['table_id']} row {st.row_no}: no key left for {side} amount {n}"
            key = keys[side].pop(0)
            for ln, i in refs:
                lines[ln].tags[i] = f"a:{key}@{side[0]}"
        assert not keys["income"] and not keys["expenditure"], f"{t['table_id']} row {st.row_no}: unused keys {keys}"
        for side in ("income", "expenditure"):
            if side in name_sides:
                records.append(budget_record(t, st, lines, side=side))
    return records


def budget_record(t: dict[str, Any], st: RowState, lines: dict[int, AnnLine], side: Optional[str]) -> dict[str, Any]:
    code, name, values, first = "", "", {}, None
    texts: dict[str, str] = {}
    for ln in st.lines:
        for f, key, s, text in lines[ln].token_fields():
            if side and s not in (side, None):
                continue
            if side and f == "rn":
                continue
            if f not in ("rn",) and first is None:
                first = ln
            if f == "code":
                code += text
            elif f == "name":
                name += text
            elif f == "amount":
                texts[key] = texts.get(key, "") + text
    for key, text in texts.items():
        values[key] = float(text)
    if side != "expenditure" or len(st.names) == 1:
        first = st.lines[0]  # the row's first line (its row number) starts the record
    assert not code or code.isdigit()
    rid = f"{t['table_id']}-r{st.row}" + (f"-{side}" if side else "")
    return {
        "record_id": rid, "type": "budget_line", "table_id": t["table_id"], "line": first or st.lines[0],
        "row": st.row, "confidence": 1.0, "checks": [], "side": side, "row_no": st.row_no,
        "subject_code": code or None, "subject_name": clean_text(name) or None,
        "classification": t.get("classification") if code else None, "values": values,
    }


def build_budget_table(t: dict[str, Any], lines: dict[int, AnnLine], ov: dict[str, Any]) -> list[dict[str, Any]]:
    body = mark_headers(t, lines, ov)
    if t["layout"] == "empty":
        assert not body, f"{t['table_id']}: empty table has body lines {body}"
        return []
    two_sided = t["layout"] == "two_sided"
    rows = group_rows(body, lines, two_sided)
    row_keys = ov["row_keys"][t["table_id"]]
    if two_sided:
        return resolve_two_sided(t, rows, lines, row_keys, ov.get("sides", {}).get(t["table_id"], {}))
    return resolve_one_sided(t, rows, lines, row_keys)


# ----------------------------------------------------------------------------- hand-tagged tables

def build_tagged_table(t: dict[str, Any], lines: dict[int, AnnLine], ov: dict[str, Any]) -> list[dict[str, Any]]:
    """Small tables whose every line is tagged by hand in `line_tags` (assets, org chart)."""
    records = []
    for ln in table_lines(t, lines):
        line = lines[ln]
        line.table_id = t["table_id"]
        spec = t["lines"].get(str(ln))
        assert spec is not None, f"{t['table_id']}: line {ln} has no hand spec"
        line.label = spec["label"]
        line.row = spec.get("row")
        if spec.get("tags"):
            line.set_tags(spec["tags"].split())
        if spec.get("record"):
            st = RowState(row=spec["row"], row_no=0, lines=[ln])
            rec = budget_record(t, st, lines, side=None)
            rec["row_no"] = None
            records.append(rec)
    return records


# ----------------------------------------------------------------------------- indicator tables

def is_target_token(tok: str) -> bool:
    return bool(re.match(r"^(≥|≤|＞|>|<|＜)?\d", tok)) or tok.startswith(TARGET_WORDS)


def heuristic_indicator_tags(row_lines: list[AnnLine]) -> None:
    """Tags for one indicator row: l1? l2, then cells level3, description, target, basis in order.
    A cell ends at a space, at a line shorter than a full cell width or at the end of a line that
    also holds a level-1/2 cell (wrapped cells stand on their own lines); a target-looking token
    starts the target (its unit token joins it); everything after the target is basis."""
    fields = ["l3", "desc", "tgt", "basis"]
    cell, open_cell, unit_next = -1, False, False
    for line in row_lines:
        toks = line.tokens
        tags: list[str] = []
        beside_level = any(tok in LEVEL1 or tok in LEVEL2 for _, _, tok in toks)
        for i, (_, _, tok) in enumerate(toks):
            last_on_line = i == len(toks) - 1 and not beside_level
            if cell == -1 and not open_cell and tok in LEVEL1 and i == 0:
                tags.append("l1")
            elif cell == -1 and not open_cell and tok in LEVEL2:
                tags.append("l2")
            elif unit_next and tok in TARGET_UNITS:
                tags.append("+")
                unit_next = False
            elif cell < 2 and is_target_token(tok):
                cell, open_cell, unit_next = 2, False, True
                tags.append("tgt")
            elif cell >= 2 and not (cell == 2 and open_cell):
                cell, unit_next = 3, False
                tags.append("basis")
            else:
                unit_next = False
                if not open_cell:
                    cell += 1
                tags.append(fields[cell])
                open_cell = last_on_line and len(tok) >= CELL_WIDTH
        line.tags = tags


def merge_tags(tags: list[str]) -> list[str]:
    """Consecutive target or basis tokens of one line are one span ('+')."""
    out: list[str] = []
    prev = None
    for tag in tags:
        if tag in ("tgt", "basis") and tag == prev:
            out.append("+")
        else:
            out.append(tag)
            prev = tag if tag != "+" else prev
    return out


def build_indicator_table(t: dict[str, Any], lines: dict[int, AnnLine], ov: dict[str, Any]) -> list[dict[str, Any]]:
    tid = t["table_id"]
    tl = table_lines(t, lines)
    header_at = [ln for ln in tl if lines[ln].text.strip().startswith("一级指标")]
    goal_lines: list[int] = []
    rows: list[list[int]] = []
    pending: list[int] = []
    for ln in tl:
        line = lines[ln]
        line.table_id = tid
        first = line.tokens[0][2]
        if ln in t["title_lines"]:
            line.label = "table_title"
            line.set_tags(["title"] + ["+"] * (len(line.tokens) - 1))
        elif ln < header_at[0]:
            line.label = "project_header"
            if line.text.strip() != "绩效目标":
                goal_lines.append(ln)
                line.set_tags(["goal"] + ["+"] * (len(line.tokens) - 1))
        elif ln in header_at:
            line.label = "table_header"
        else:
            line.label = "indicator_row"
            forced = ov["row_starts"].get(str(ln))
            starts = forced if forced is not None else (first in LEVEL2 or (first in LEVEL1 and len(line.tokens) > 1))
            if first in LEVEL1 and len(line.tokens) == 1 and forced is None:
                pending.append(ln)
                continue
            if starts or not rows:
                rows.append(pending + [ln])
                pending = []
            else:
                rows[-1].append(ln)
    assert not pending, f"{tid}: level-1 line without a row after it: {pending}"
    title = "".join(lines[ln].text.strip() for ln in t["title_lines"])
    name = re.sub(r"^\d+、", "", title)
    name = clean_text(re.sub(r"绩效目标表$", "", name))
    goal = "".join(lines[ln].text.strip() for ln in goal_lines) or None
    records: list[dict[str, Any]] = [{
        "record_id": f"{tid}-p0", "type": "project", "table_id": tid, "line": t["title_lines"][0],
        "confidence": 1.0, "checks": [], "name": name, "code": None, "amount": None, "goal": goal,
        "implementing_unit": None,
    }]
    fill = {"level1": None, "level2": None}
    for r, row_lines in enumerate(rows):
        objs = [lines[ln] for ln in row_lines]
        heuristic_indicator_tags(objs)
        for line in objs:
            line.row = r
            hand = ov["line_tags"].get(str(line.line_no))
            line.set_tags(hand.split() if hand else merge_tags(line.tags))
        fields: dict[str, str] = {}
        for line in objs:
            for f, _, _, text in line.token_fields():
                fields[f] = fields.get(f, "") + text
        for lvl, tag in (("level1", "l1"), ("level2", "l2")):
            if fields.get(tag):
                fill[lvl] = clean_text(fields[tag])
        target = re.sub(r"\s+", "", fields.get("tgt", "")) or None
        records.append({
            "record_id": f"{tid}-i{r}", "type": "indicator", "table_id": tid, "line": row_lines[0], "row": r,
            "confidence": 1.0, "checks": [], "project": name, "project_code": None,
            "level1": fill["level1"], "level2": fill["level2"],
            "level3": clean_text(fields.get("l3", "")) or None,
            "description": plain_text(fields.get("desc", "")) or None,
            "target": target, "target_parsed": parse_target(target) if target else None,
            "basis": plain_text(fields.get("basis", "")) or None,
        })
    return records


# ----------------------------------------------------------------------------- narrative

def add_facts(lines: dict[int, AnnLine], facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    cursor: dict[int, int] = {}
    for n, f in enumerate(facts):
        vline = lines[f["value_line"]]
        sline = lines[f.get("subject_line", f["value_line"])]
        pos = cursor.get(sline.line_no, 0)
        end = sline.add_substring_span(f["subject_span"], "fact_subject", after=pos)
        if sline is not vline:
            end = cursor.get(vline.line_no, 0)
        m = re.compile(rf"(?<![\d.]){re.escape(f['value'])}(?![\d.])").search(vline.text, end)
        assert m, f"fact {n}: value {f['value']} not found on line {vline.line_no}"
        vline.extra_spans.append({"start": m.start(), "end": m.end(), "label": "fact_value"})
        cursor[sline.line_no] = end
        cursor[vline.line_no] = m.end()
        records.append({
            "record_id": f"f{n:03d}", "type": "fact", "table_id": None, "line": vline.line_no,
            "confidence": 1.0, "checks": [], "subject": f["subject"], "value": float(f["value"]),
            "unit": f.get("unit", "万元"), "text": f["text"],
        })
    return records


def furniture_spans(line: AnnLine) -> None:
    """Department code and name, fiscal year and unit on a repeated page-header line."""
    text = line.text
    m = re.search(r"(450) (平乡县医疗保障局)", text)
    if m:
        line.extra_spans.append({"start": m.start(1), "end": m.end(1), "label": "department_code"})
        line.extra_spans.append({"start": m.start(2), "end": m.end(2), "label": "department"})
    m = re.search(r"(?:^|预算年度：|度：)(2022)(?!\d)", text.strip())
    if m:
        off = len(text) - len(text.lstrip())
        line.extra_spans.append({"start": off + m.start(1), "end": off + m.end(1), "label": "fiscal_year"})
    m = re.search(r"单位：(万元)", text)
    if m:
        line.extra_spans.append({"start": m.start(1), "end": m.end(1), "label": "unit"})


# ----------------------------------------------------------------------------- document

def build() -> list[dict[str, Any]]:
    ov = load_overrides()
    raw = (config.SEEDS_DIR / SEED_FILE).read_bytes()
    lines = read_lines()
    for ln, label in ov["labels"].items():
        lines[int(ln)].label = label
    records: list[dict[str, Any]] = []
    header_tables = []
    for t in ov["tables"]:
        if t["layout"] in ("one_sided", "two_sided", "empty"):
            records += build_budget_table(t, lines, ov)
        elif t["layout"] == "indicators":
            records += build_indicator_table(t, lines, ov)
        else:
            records += build_tagged_table(t, lines, ov)
        title = t["title"] or "".join(lines[ln].text.strip() for ln in t["title_lines"])
        header_tables.append({
            "table_id": t["table_id"], "kind": t["kind"], "title": title, "pages": [1],
            "columns": [{"key": k, "header": h} for k, h in t.get("columns", [])],
            "empty": bool(t.get("empty", False)),
        })
    for ln, tid in ov.get("furniture_tables", {}).items():
        lines[int(ln)].table_id = tid
    for ln, tags in ov.get("other_line_tags", {}).items():
        lines[int(ln)].set_tags(tags.split())
    for ln, items in ov.get("meta_spans", {}).items():
        for label, needle in items:
            lines[int(ln)].add_substring_span(needle, label)
    for ln in ov["page_numbers"]:
        lines[ln].label = "page_furniture"
    for line in lines.values():
        if line.label == "page_furniture" and not line.tags and not line.extra_spans:
            furniture_spans(line)
    records += add_facts(lines, ov["facts"])
    order = {"project": 0, "budget_line": 1, "indicator": 2, "fact": 3}
    records.sort(key=lambda r: (r["line"], order[r["type"]]))
    header = {
        "record": "document", "format_version": FORMAT_VERSION, "doc_name": DOC_NAME,
        "source": f"seeds/{SEED_FILE}", "source_sha256": hashlib.sha256(raw).hexdigest(),
        "format": "txt", "origin": "seed", "template": "seed_pdftext_hebei", "split": "seed",
        "department": {"name": "平乡县医疗保障局", "code": "450"}, "fiscal_year": 2022, "unit": "万元",
        "doc_kind": "budget", "tables": header_tables, "deliberate_errors": [],
    }
    page = {"record": "page", "page": 1, "width": None, "height": None,
            "lines": [lines[n].to_json() for n in sorted(lines)], "records": records}
    return [header, page]


def output_path() -> Path:
    return config.ANNOTATIONS_DIR / "seeds" / f"{DOC_NAME}.jsonl"


def write() -> Path:
    out = output_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for obj in build():
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    print(write())
