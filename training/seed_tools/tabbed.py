"""Hand annotation of the tab-separated seed disclosures (seeds 001 and 002).

The engine pre-annotates every line from the file's tab structure; everything that needs a
human decision (where each table starts and ends, which cell of which line is which field,
wrapped rows, narrative facts) is written down explicitly in `tabbed_overrides.json` beside
this file. `build(seed)` turns file + decisions into the annotation (document header and one
page, format of annotations/README.md); `write_all()` writes annotations/seeds/*.jsonl.

Conventions decided here (documented again in the report and the JSON):
- Table lines: title/header/body/furniture/notes carry the table's id; body rows count from 0.
- Cell roles: `row_no`, `subject_code` (a code split over 类/款/项 cells gives one span per
  cell; the record joins them), `subject_name`, `department_code` (unit codes such as 308 or
  473002), `department`, `implementing_unit`, `project`, `project_code`, `goal`, `level1..3`,
  `description`, `target`, `basis`, `amount:<key>`; a `slot.field` role (产出指标.level3) puts
  the field into the indicator of that slot, whose level1 is the slot name.
- Unit rows of budget tables ("308  洛阳市…医疗保障局") are budget lines with subject_code
  null, subject_name the unit's name and the code spanned as department_code.
- classification is set only on rows with a printed subject code.
- Amount cells: numbers -> float, "-"/"-----" -> 0.0, blank -> key omitted, other text -> no
  span and no key.
- Names (subject, project, levels, unit) drop whitespace next to CJK characters (wrap
  artefacts of the PDF conversion); targets drop all whitespace; goal/description/basis keep
  the printed text with whitespace runs collapsed.
- target_parsed: {op, value, unit, text}; op "=" when no operator is printed ("100%");
  text is null for numeric targets and the whole target for qualitative ones ("有效保障").
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pipeline import config

OVERRIDES_PATH = Path(__file__).with_name("tabbed_overrides.json")
FORMAT_VERSION = 1
INDICATOR_FIELDS = ("level1", "level2", "level3", "description", "target", "basis")

_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_TARGET = re.compile(r"^(≥|≤|>|<|=)?(\d+(?:\.\d+)?)(%|‰|[\u4e00-\u9fff]{1,2})?$")
_AMOUNT = re.compile(r"^-?\d+(?:\.\d+)?$")


# ----------------------------------------------------------------------------- text helpers

def read_seed_lines(path: Path) -> list[str]:
    """The file's lines without newline characters, tabs kept (line i is lines[i-1])."""
    return path.read_text(encoding="utf-8").split("\n")


def clean_text(text: str) -> str:
    """Drop whitespace next to CJK characters (PDF wrap artefacts), collapse the rest."""
    text = _SPACE_NEAR_CJK.sub("", text.strip())
    return re.sub(r"\s+", " ", text)


def plain_text(text: str) -> str:
    """Free text (goal, description, basis): as printed, whitespace runs collapsed."""
    return re.sub(r"\s+", " ", text.strip())


def target_text(text: str) -> str:
    return re.sub(r"\s+", "", text)


def parse_target(target: str) -> dict[str, Any]:
    """指标值 -> {op, value, unit, text}; a bare number ("100%") means "=" (as synth and assemble
    read it); a number followed by more than a short unit ("2022年12月前") is qualitative text."""
    m = _TARGET.match(target)
    if m:
        return {"op": m.group(1) or "=", "value": float(m.group(2)), "unit": m.group(3), "text": None}
    return {"op": None, "value": None, "unit": None, "text": target}


def parse_amount(cell: str) -> Optional[float]:
    s = cell.strip()
    if s and set(s) == {"-"}:
        return 0.0
    if _AMOUNT.match(s):
        return float(s)
    return None


def cell_bounds(text: str) -> list[tuple[int, int]]:
    """[start, end) of each tab-separated cell's stripped text (empty cells give start==end)."""
    bounds: list[tuple[int, int]] = []
    pos = 0
    for cell in text.split("\t"):
        lead = len(cell) - len(cell.lstrip())
        stripped = cell.strip()
        start = pos + lead
        bounds.append((start, start + len(stripped)))
        pos += len(cell) + 1
    return bounds


def expand_lines(spec: str) -> list[int]:
    """"7-31" -> 7..31 inclusive, "5" -> [5]."""
    a, _, b = spec.partition("-")
    return list(range(int(a), int(b or a) + 1))


# ----------------------------------------------------------------------------- builder state

@dataclass
class AnnLine:
    line_no: int
    text: str
    label: str
    table_id: Optional[str] = None
    row: Optional[int] = None
    spans: list[dict[str, Any]] = field(default_factory=list)

    def add_span(self, start: int, end: int, label: str, key: Optional[str] = None) -> None:
        if end <= start:
            return
        span: dict[str, Any] = {"start": start, "end": end, "label": label}
        if key is not None:
            span["key"] = key
        self.spans.append(span)

    def add_cell_span(self, cell: int, role: str) -> None:
        start, end = cell_bounds(self.text)[cell]
        label, key = split_role(role)
        self.add_span(start, end, label, key)

    def find_span(self, needle: str, label: str, after: int = 0, occurrence: int = 0) -> int:
        """Span the `occurrence`-th match of needle at or after `after`; returns its end."""
        pos = after - 1
        for _ in range(occurrence + 1):
            pos = self.text.find(needle, pos + 1)
            if pos < 0:
                raise ValueError(f"line {self.line_no}: {needle!r} not found after {after}")
        self.add_span(pos, pos + len(needle), label)
        return pos + len(needle)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"p1-{self.line_no:04d}",
            "text": self.text,
            "bbox": None,
            "line_no": self.line_no,
            "label": self.label,
            "table_id": self.table_id,
            "row": self.row,
            "spans": sorted(self.spans, key=lambda s: s["start"]),
        }


def split_role(role: str) -> tuple[str, Optional[str]]:
    """'amount:total' -> ('amount', 'total'); '产出指标.level3' -> ('level3', None)."""
    if role.startswith("amount:"):
        return "amount", role[len("amount:"):]
    if "." in role:
        return role.split(".", 1)[1], None
    return role, None


def cells_of(text: str) -> list[str]:
    return text.split("\t")


def role_map(raw: dict[str, str]) -> dict[int, str]:
    return {int(k): v for k, v in raw.items()}


# ----------------------------------------------------------------------------- tables

def budget_record(tid: str, row: int, line: AnnLine, roles: dict[int, str], classification: Optional[str],
                  side: Optional[str] = None) -> dict[str, Any]:
    cells = cells_of(line.text)
    code = "".join(cells[i].strip() for i, r in sorted(roles.items()) if r == "subject_code" and i < len(cells))
    name = next((cells[i] for i, r in sorted(roles.items()) if r == "subject_name" and i < len(cells) and cells[i].strip()), "")
    row_no = next((cells[i].strip() for i, r in roles.items() if r == "row_no" and i < len(cells) and cells[i].strip()), None)
    values: dict[str, float] = {}
    for i, r in sorted(roles.items()):
        if r.startswith("amount:") and i < len(cells):
            v = parse_amount(cells[i])
            if v is not None:
                values[r[len("amount:"):]] = v
    assert not code or code.isdigit(), f"line {line.line_no}: subject code {code!r} is not digits"
    rid = f"{tid}-r{row}" + (f"-{side}" if side else "")
    return {
        "record_id": rid, "type": "budget_line", "table_id": tid, "line": line.line_no, "row": row,
        "confidence": 1.0, "checks": [], "side": side,
        "row_no": int(row_no) if row_no else None,
        "subject_code": code or None,
        "subject_name": clean_text(name) or None,
        "classification": classification if code else None,
        "values": values,
    }


def span_cells(line: AnnLine, roles: dict[int, str]) -> None:
    cells = cells_of(line.text)
    for i, role in sorted(roles.items()):
        if i >= len(cells) or role == "none" or not cells[i].strip():
            continue
        if role.startswith("amount:") and parse_amount(cells[i]) is None:
            continue
        line.add_cell_span(i, role)


def build_budget_rows(t: dict[str, Any], lines: dict[int, AnnLine]) -> list[dict[str, Any]]:
    tid = t["table_id"]
    base = role_map(t.get("cells", {}))
    overrides = {int(k): role_map(v) for k, v in t.get("row_cells", {}).items()}
    records: list[dict[str, Any]] = []
    for row, ln in enumerate(n for n in body_lines(t) if n in lines):
        line = lines[ln]
        line.label, line.table_id, line.row = t.get("row_label", "subject_row"), tid, row
        if t["layout"] == "two_sided":
            sides = t["sides"]
            row_no_cell = t.get("row_no_cell")
            if row_no_cell is not None:
                span_cells(line, {row_no_cell: "row_no"})
            for side in ("income", "expenditure"):
                s = sides[side]
                roles = {s["name"]: "subject_name", **{int(k): "amount:" + v for k, v in s["amounts"].items()}}
                if row_no_cell is not None:
                    roles[row_no_cell] = "row_no"
                cells = cells_of(line.text)
                if not any(cells[i].strip() for i in roles if i < len(cells) and roles[i] != "row_no"):
                    continue
                span_cells(line, {i: r for i, r in roles.items() if r != "row_no"})
                records.append(budget_record(tid, row, line, roles, None, side))
        else:
            roles = overrides.get(ln, base)
            span_cells(line, roles)
            if t["layout"] == "budget":
                records.append(budget_record(tid, row, line, roles, t.get("classification")))
    return records


def body_lines(t: dict[str, Any]) -> list[int]:
    if not t.get("body"):
        return []
    a, b = t["body"]
    return list(range(a, b + 1))


@dataclass
class IndicatorState:
    """Running context while walking down one performance table."""

    project: Optional[dict[str, Any]] = None
    unit: Optional[str] = None
    fill: dict[str, Optional[str]] = field(default_factory=dict)
    last_row: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    row: int = -1
    department_project: bool = False  # 部门（单位）整体绩效目标表: one project named after the unit


def build_indicator_table(t: dict[str, Any], lines: dict[int, AnnLine]) -> list[dict[str, Any]]:
    tid = t["table_id"]
    records: list[dict[str, Any]] = []
    st = IndicatorState(department_project=bool(t.get("department_project")))
    n_ind = 0
    n_proj = 0
    owners: list[tuple[dict[str, Any], Optional[dict[str, Any]]]] = []
    default_roles = role_map(t.get("roles", {}))
    line_roles = {int(k): role_map(v) for k, v in t.get("line_roles", {}).items()}
    cont_lines = set(t.get("cont", []))
    header_roles = {int(k): role_map(v) for k, v in t.get("project_lines", {}).items()}

    def start_project(line_no: int, name: str) -> None:
        nonlocal n_proj
        st.project = {
            "record_id": f"{tid}-p{n_proj}", "type": "project", "table_id": tid, "line": line_no,
            "confidence": 1.0, "checks": [], "name": name, "code": None, "amount": None, "goal": None,
            "implementing_unit": st.unit,
        }
        n_proj += 1
        st.fill = {}
        records.append(st.project)

    title_project = t.get("title_project")
    for ln in t["title_lines"]:
        line = lines[ln]
        if title_project and ln == t["title_lines"][0]:
            m = re.match(title_project, line.text.strip())
            assert m, f"title regex fails on line {ln}"
            start = line.text.index(m.group(1))
            line.add_span(start, start + len(m.group(1)), "project")
            start_project(ln, clean_text(m.group(1)))

    for ln in t.get("unit_lines", []):
        line = lines[ln]
        line.label, line.table_id = "project_header", tid
        m = re.match(r"^\s*(\d+)\s+(\S.*?)\s*$", line.text)
        assert m, f"unit line {ln} is not '<code> <name>'"
        line.add_span(m.start(1), m.end(1), "department_code")
        line.add_span(m.start(2), m.end(2), "implementing_unit")
        st.unit = clean_text(m.group(2))
        if st.project is not None and st.project["implementing_unit"] is None:
            st.project["implementing_unit"] = st.unit

    for ln in sorted(set(header_roles) | set(body_lines(t))):
        if ln not in lines:
            continue
        line = lines[ln]
        line.table_id = tid
        cells = cells_of(line.text)
        if ln in header_roles:
            line.label = "project_header"
            roles = header_roles[ln]
            apply_project_roles(line, roles, cells, st, start_project, is_cont=False)
            continue
        line.label = "indicator_row"
        is_cont = ln in cont_lines
        roles = line_roles.get(ln) or (role_map(t["cont_roles"]) if is_cont and "cont_roles" in t else default_roles)
        span_cells(line, roles)
        apply_project_roles(line, {i: r for i, r in roles.items() if "." not in r and r.split(":")[0] in
                                   ("project", "project_code", "amount", "implementing_unit", "department_code",
                                    "department", "goal")},
                            cells, st, start_project, is_cont=is_cont, spans_done=True)
        if is_cont:
            line.row = st.row
            append_continuation(st, roles, cells)
            continue
        st.row += 1
        line.row = st.row
        st.last_row = []
        for slot, fields in cells_by_slot(roles, cells).items():
            if not any(fields.get(f, "").strip() for f in ("level3", "target", "description")):
                continue
            ind = indicator_record(tid, n_ind, ln, st.row, slot, fields, st)
            n_ind += 1
            records.append(ind)
            owners.append((ind, st.project))
            st.last_row.append((slot, ind))
    for ind, project in owners:  # a wrapped project name is complete only after its last line
        if project is not None:
            ind["project"] = project["name"]
    return records


def cells_by_slot(roles: dict[int, str], cells: list[str]) -> dict[str, dict[str, str]]:
    """Indicator fields of one printed row grouped by slot ("" for one-indicator-per-row tables)."""
    by_slot: dict[str, dict[str, str]] = {}
    for i, role in roles.items():
        if i >= len(cells):
            continue
        slot, fld = role.split(".", 1) if "." in role else ("", role)
        if fld in INDICATOR_FIELDS:
            by_slot.setdefault(slot, {})[fld] = cells[i]
    return by_slot


def append_continuation(st: IndicatorState, roles: dict[int, str], cells: list[str]) -> None:
    """A wrapped row: its cell texts continue the fields of the previous row's indicators."""
    for slot, fields in cells_by_slot(roles, cells).items():
        for fld, text in fields.items():
            if not text.strip():
                continue
            for s, ind in st.last_row:
                if s != slot:
                    continue
                joined = (ind.get(fld) or "") + text
                if fld == "target":
                    ind["target"] = target_text(joined)
                    ind["target_parsed"] = parse_target(ind["target"])
                else:
                    ind[fld] = clean_text(joined) if fld in ("level1", "level2", "level3") else plain_text(joined)


def apply_project_roles(line: AnnLine, roles: dict[int, str], cells: list[str], st: IndicatorState,
                        start_project, is_cont: bool, spans_done: bool = False) -> None:
    if not spans_done:
        span_cells(line, roles)
    val = {r: cells[i] for i, r in roles.items() if i < len(cells) and cells[i].strip()}
    if is_cont:
        if "project" in val and st.project is not None:
            st.project["name"] = clean_text(st.project["name"] + val["project"])
        return
    if "project" in val or "project_code" in val:
        start_project(line.line_no, clean_text(val.get("project") or ""))
    elif "implementing_unit" in val and st.project is None and st.department_project:
        start_project(line.line_no, clean_text(val["implementing_unit"]))  # 部门整体: the unit is the project
    if "implementing_unit" in val:
        st.unit = clean_text(val["implementing_unit"])
        if st.project is not None and st.project["implementing_unit"] is None:
            st.project["implementing_unit"] = st.unit
    if st.project is None:
        return
    if "project_code" in val:
        st.project["code"] = val["project_code"].strip()
    if "goal" in val:
        st.project["goal"] = plain_text(val["goal"])
    if "amount:amount" in val:
        st.project["amount"] = parse_amount(val["amount:amount"])


def indicator_record(tid: str, n: int, line_no: int, row: int, slot: str, fields: dict[str, str],
                     st: IndicatorState) -> dict[str, Any]:
    out: dict[str, Optional[str]] = {}
    for lvl in ("level1", "level2"):
        printed = clean_text(fields.get(lvl, ""))
        if slot and lvl == "level1":
            printed = slot
        if printed:
            st.fill[lvl] = printed
        out[lvl] = printed or (st.fill.get(lvl) if not slot else None)
    target = target_text(fields.get("target", "")) or None
    project = st.project
    return {
        "record_id": f"{tid}-i{n}", "type": "indicator", "table_id": tid, "line": line_no, "row": row,
        "confidence": 1.0, "checks": [],
        "project": project["name"] if project else None,
        "project_code": project["code"] if project else None,
        "level1": out["level1"], "level2": out["level2"],
        "level3": clean_text(fields.get("level3", "")) or None,
        "description": plain_text(fields.get("description", "")) or None,
        "target": target,
        "target_parsed": parse_target(target) if target else None,
        "basis": plain_text(fields.get("basis", "")) or None,
    }


# ----------------------------------------------------------------------------- non-table lines

def meta_spans(line: AnnLine, names: list[str]) -> None:
    """Department name/code, fiscal year and unit on furniture lines."""
    text = line.text
    for name in names:
        pos = text.find(name)
        if pos < 0:
            continue
        line.add_span(pos, pos + len(name), "department")
        m = re.search(r"\[?(\d+)\]?$", text[:pos])
        if m:
            line.add_span(m.start(1), m.end(1), "department_code")
        break
    for pattern in (r"预算年度：\s*(\d{4})", r"(\d{4})\s*年度"):
        m = re.search(pattern, text)
        if m:
            line.add_span(m.start(1), m.end(1), "fiscal_year")
    m = re.search(r"单位：\s*(万元|元|万)", text)
    if m:
        line.add_span(m.start(1), m.end(1), "unit")


_VALUE_RE = r"(?<![\d.]){}(?![\d.])"


def add_fact(lines: dict[int, AnnLine], f: dict[str, Any], cursor: dict[int, int], n: int) -> dict[str, Any]:
    ln = f["line"]
    line = lines[ln]
    pos = cursor.get(ln, 0)
    value_re = re.compile(_VALUE_RE.format(re.escape(f["value"])))
    subject = f.get("subject")
    if f.get("subject_after"):
        m = value_re.search(line.text, pos)
        assert m, f"fact value {f['value']} not found on line {ln}"
        line.add_span(m.start(), m.end(), "fact_value")
        end = line.find_span(subject, "fact_subject", m.end()) if subject else m.end()
    else:
        s_end = line.find_span(subject, "fact_subject", pos) if subject and f.get("span_subject", True) else pos
        m = value_re.search(line.text, s_end)
        assert m, f"fact value {f['value']} not found on line {ln} after {s_end}"
        line.add_span(m.start(), m.end(), "fact_value")
        end = m.end()
    cursor[ln] = end
    for extra_ln, needle in f.get("subject_spans_before", []):
        lines[extra_ln].add_span(lines[extra_ln].text.rindex(needle), lines[extra_ln].text.rindex(needle) + len(needle),
                                 "fact_subject")
    return {
        "record_id": f"f{n:03d}", "type": "fact", "table_id": None, "line": ln, "confidence": 1.0, "checks": [],
        "subject": clean_text(f.get("subject_text") or subject or "") or None,
        "value": float(f["value"]), "unit": f.get("unit", "万元"),
        "text": f.get("text") or sentence_of(line.text, m.start()),
    }


def sentence_of(text: str, pos: int) -> str:
    """The 。-delimited sentence of `text` around character `pos`, as printed."""
    start = text.rfind("。", 0, pos) + 1
    end = text.find("。", pos)
    return text[start: end + 1 if end >= 0 else len(text)].strip()


# ----------------------------------------------------------------------------- document

def load_overrides() -> dict[str, Any]:
    return json.loads(OVERRIDES_PATH.read_text(encoding="utf-8"))


def expand_perf_tables(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Seed 001's 14 project target tables share one layout; the JSON lists their lines."""
    out = []
    compact = spec.get("perf_tables")
    if not compact:
        return out
    for k, (title, unit, goal, header, first, last) in enumerate(compact["lines"]):
        out.append({
            "table_id": f"t{compact['first_table'] + k:02d}", "kind": "performance_targets", "layout": "indicators",
            "title_lines": [title], "header": [header], "body": [first, last], "columns": [],
            "title_project": compact["title_project"],
            "unit_lines": [unit],
            "project_lines": {str(goal): compact["goal_roles_by_line"].get(str(goal), compact["goal_roles"])},
            "roles": compact["roles"],
        })
    return out


def build(seed: str) -> list[dict[str, Any]]:
    """The annotation of one seed: [document header, page 1]."""
    spec = load_overrides()[seed]
    path = config.SEEDS_DIR / spec["file"]
    raw = path.read_bytes()
    texts = read_seed_lines(path)
    lines = {i + 1: AnnLine(i + 1, t, "narrative") for i, t in enumerate(texts) if t.strip()}
    for rng, label in spec.get("labels", {}).items():
        for ln in expand_lines(rng):
            if ln in lines:
                lines[ln].label = label

    tables = spec["tables"] + expand_perf_tables(spec)
    tables.sort(key=lambda t: t["title_lines"][0])
    records: list[dict[str, Any]] = []
    header_tables = []
    for t in tables:
        tid = t["table_id"]
        for k, ln in enumerate(t["title_lines"]):
            line = lines[ln]
            line.label, line.table_id = "table_title", tid
            if k > 0:  # a second title line such as "(2022 年度)"
                meta_spans(line, spec["department_names"])
            elif not t.get("title_project"):
                start, end = cell_bounds(line.text)[0]
                line.add_span(start, end, "table_title")
        for ln in t.get("furniture", []):
            lines[ln].label, lines[ln].table_id = "page_furniture", tid
            meta_spans(lines[ln], spec["department_names"])
        for ln in t.get("header", []):
            lines[ln].label, lines[ln].table_id = "table_header", tid
        for ln in t.get("notes", []):
            lines[ln].label, lines[ln].table_id = "note", tid
        if t["layout"] in ("budget", "two_sided", "plain"):
            records += build_budget_rows(t, lines)
        else:
            records += build_indicator_table(t, lines)
        header_tables.append({
            "table_id": tid, "kind": t["kind"], "title": clean_title(lines[t["title_lines"][0]].text),
            "pages": [1], "columns": [{"key": k, "header": h} for k, h in t.get("columns", [])],
            "empty": bool(t.get("empty", False)),
        })

    for ln, items in spec.get("meta_spans", {}).items():
        for label, needle in items:
            lines[int(ln)].find_span(needle, label)
    for ln in spec.get("furniture", []):
        lines[ln].label = "page_furniture"
        meta_spans(lines[ln], spec["department_names"])

    cursor: dict[int, int] = {}
    for n, f in enumerate(spec.get("facts", [])):
        records.append(add_fact(lines, f, cursor, n))

    records.sort(key=lambda r: (r["line"], {"project": 0, "budget_line": 1, "indicator": 2, "fact": 3}[r["type"]]))
    header = {
        "record": "document", "format_version": FORMAT_VERSION, "doc_name": spec["doc_name"],
        "source": f"seeds/{spec['file']}", "source_sha256": hashlib.sha256(raw).hexdigest(),
        "format": "txt", "origin": "seed", "template": spec["template"], "split": "seed",
        "department": spec["department"], "fiscal_year": spec["fiscal_year"], "unit": spec["unit"],
        "doc_kind": spec["doc_kind"], "tables": header_tables, "deliberate_errors": [],
    }
    page = {
        "record": "page", "page": 1, "width": None, "height": None,
        "lines": [lines[n].to_json() for n in sorted(lines)],
        "records": records,
    }
    return [header, page]


def clean_title(text: str) -> str:
    return text.strip()


def output_path(seed: str) -> Path:
    return config.ANNOTATIONS_DIR / "seeds" / f"{load_overrides()[seed]['doc_name']}.jsonl"


def write_all(seeds: tuple[str, ...] = ("001", "002")) -> list[Path]:
    written = []
    for seed in seeds:
        out = output_path(seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for obj in build(seed):
                fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        written.append(out)
    return written


if __name__ == "__main__":
    for p in write_all():
        print(p)
