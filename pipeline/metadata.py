"""Document metadata: department name and code, fiscal year, unit, doc_kind (Document in, out).

Votes over the field tagger's spans (department, department_code, fiscal_year, unit) on the
furniture, title and narrative lines, with patterns of the printed forms as a second voter.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from pipeline.model import Document, Line, UNITS

DEPT_SUFFIX = r"(?:局|委员会|委|办公室|中心|院|所|厅|部|会|处|站|队|馆|校|学校|政府|办|署|社|台|园|场|党校|法院|检察院)"
DEPT_PATTERNS = [
    re.compile(r"部门编码及名称[:：]\s*[\[【〔(（]?(\d{2,9})[\]】〕)）]?\s*(\S+?" + DEPT_SUFFIX + r")(?=\s|$|\t)"),
    re.compile(r"(?:部门|单位|编制部门|预算单位)(?:名称)?[:：]\s*(?P<name>\S+?" + DEPT_SUFFIX + r")(?=\s|$|\t)"),
    re.compile(r"^\s*(\d{2,9})\s+(\S+?" + DEPT_SUFFIX + r")\s+预算年度"),
    re.compile(r"^\s*(?:\d{4}\s*年)?\s*(?P<name>\S+?" + DEPT_SUFFIX + r")\s*(?:\d{4}\s*年)?\s*部门(?:预算|决算)"),
]
YEAR_PATTERNS = [re.compile(r"预算年度[:：]\s*(20\d{2})"), re.compile(r"(20\d{2})\s*年(?:度)?\s*(?:部门|单位)?(?:预算|决算)"),
                 re.compile(r"(20\d{2})\s*年度?.{0,16}绩效自评")]  # a self-evaluation is about the year it evaluates
UNIT_PATTERN = re.compile(r"(?:金额)?单位[:：]\s*(万元|千元|亿元|元)")


def _vote(counter: Counter) -> tuple[Optional[str], float]:
    if not counter:
        return None, 0.0
    value, n = counter.most_common(1)[0]
    return value, n / sum(counter.values())


def _span_texts(lines: list[Line], label: str) -> Counter:
    c: Counter = Counter()
    for ln in lines:
        for sp in ln.spans:
            if sp.label == label:
                c[ln.text[sp.start:sp.end].strip()] += sp.prob
    return c


def detect_metadata(doc: Document) -> Document:
    lines = [ln for ln in doc.iter_lines()]
    focus = [ln for ln in lines if ln.label in {"page_furniture", "table_title", "other", "narrative"}] or lines

    names, codes = _span_texts(focus, "department"), _span_texts(focus, "department_code")
    for ln in lines[:4000]:
        for pat in DEPT_PATTERNS:
            m = pat.search(ln.text)
            if m:
                gd = m.groupdict()
                name = gd.get("name") or m.group(2)
                names[name.strip()] += 1.0
                if "name" not in gd:
                    codes[m.group(1)] += 1.0
                break
    name, name_share = _vote(names)
    code, _ = _vote(Counter({k: v for k, v in codes.items() if k.isdigit()}))
    doc.department.name, doc.department.code = name, code
    doc.department.confidence = round(min(1.0, name_share * (0.6 + 0.4 * min(1.0, names[name] / 3))) if name else 0.0, 4)

    years: Counter = Counter()
    for text, w in _span_texts(focus, "fiscal_year").items():
        m = re.search(r"20\d{2}", text)
        if m:
            years[m.group(0)] += w
    for ln in lines:
        for pat in YEAR_PATTERNS:
            for m in pat.finditer(ln.text):
                years[m.group(1)] += 1.0
    year, _ = _vote(years)
    doc.fiscal_year = int(year) if year else None

    units: Counter = Counter()
    for text, w in _span_texts(focus, "unit").items():
        for u in sorted(UNITS, key=len, reverse=True):
            if u in text:
                units[u] += w
                break
    for ln in lines:
        m = UNIT_PATTERN.search(ln.text.replace(" ", ""))
        if m:
            units[m.group(1)] += 1.0
    unit, _ = _vote(units)
    doc.unit = unit if unit in UNITS else None
    doc.doc_kind = detect_doc_kind(lines)
    return doc


def detect_doc_kind(lines: list[Line]) -> str:
    """From the cover and the table titles; narrative prose ("编制预决算草案") does not count."""
    heads = [ln.text for ln in lines[:60] if ln.label in {"table_title", "other", None}]
    titles = [ln.text for ln in lines if ln.label == "table_title"]

    def says(texts: list[str], word: str) -> bool:
        return any(word in re.sub(r"预决算", "", t) for t in texts)
    for texts in (heads, heads + titles):
        if says(texts, "决算"):
            return "final_accounts"
        if says(texts, "自评"):
            return "performance_self_evaluation"
        if says(texts, "预算"):
            return "budget"
    if says(titles, "绩效目标"):
        return "performance_targets"
    return "other"
