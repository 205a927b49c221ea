"""Label the lines a PDF extractor returns from a rendered page with what was drawn there.

Each extracted character is matched to the fragment drawn at its origin (same baseline, inside
the fragment's horizontal extent); a line takes the section label, table and row of its
fragments and gets one span per fragment field it contains.
"""
from __future__ import annotations

from typing import Any, Optional

import pymupdf

from pipeline.pdf_lines import page_lines, page_lines_with_chars
from training.synth.render import Fragment, PageState

LABEL_PRIORITY = ("subject_row", "indicator_row", "project_header", "table_title", "table_header", "note",
                  "narrative", "page_furniture", "other")


class UnmatchedLine(AssertionError):
    pass


def _char_lines(page: pymupdf.Page) -> list[tuple[str, list[tuple[str, float, float]]]]:
    """Per extracted line (same units as page_lines): its stripped text and its chars with origins."""
    return [(line.text, chars) for line, chars in page_lines_with_chars(page, 0)]


def _match(frags: list[Fragment], x: float, y: float) -> Optional[Fragment]:
    """The fragment drawn on this baseline whose horizontal extent holds the char origin."""
    for f in frags:
        if abs(f.baseline - y) < 0.6 and f.x - 0.6 <= x < f.x1 - 0.05:
            return f
    return None


def annotate_page(page: pymupdf.Page, state: PageState, line_id_start: int) -> tuple[list[dict[str, Any]], int]:
    lines = page_lines(page, state.number)
    char_lines = _char_lines(page)
    if [ln.text for ln in lines] != [t for t, _ in char_lines]:
        raise UnmatchedLine(f"page {state.number}: rawdict and dict disagree on lines")
    # each fragment's characters are consumed in drawing order, so a char's offset is its index
    consumed: dict[int, int] = {}
    out: list[dict[str, Any]] = []
    n = line_id_start
    for line, (text, chars) in zip(lines, char_lines):
        owners: list[Optional[tuple[Fragment, int]]] = []
        for ch, x, y in chars:
            frag = _match(state.fragments, x, y)
            if frag is None:
                if not ch.isspace():
                    raise UnmatchedLine(f"page {state.number}: {ch!r} at ({x:.1f},{y:.1f}) of line {text!r}")
                owners.append(None)
                continue
            if ch.isspace() and ch not in frag.text[consumed.get(id(frag), 0):]:
                owners.append(None)  # a space the extractor inserted between text objects
                continue
            k = consumed.get(id(frag), 0)
            while k < len(frag.text) and frag.text[k] != ch:
                k += 1  # the extractor drops nothing but may skip spaces we drew
            if k >= len(frag.text):
                raise UnmatchedLine(f"page {state.number}: {ch!r} not in fragment {frag.text!r}")
            consumed[id(frag)] = k + 1
            owners.append((frag, k))
        frags = []
        for o in owners:
            if o is not None and o[0] not in frags:
                frags.append(o[0])
        if not frags:
            raise UnmatchedLine(f"page {state.number}: no fragment for {text!r}")
        n += 1
        out.append(_line_record(line, text, owners, frags, n))
    return out, n


def _line_record(line, text: str, owners, frags: list[Fragment], n: int) -> dict[str, Any]:
    weight: dict[str, int] = {}
    for o in owners:
        if o is not None:
            weight[o[0].label] = weight.get(o[0].label, 0) + 1
    label = max(weight, key=lambda lb: (weight[lb], -LABEL_PRIORITY.index(lb)))
    table_id = next((f.table_id for f in frags if f.table_id), None)
    rows = [f.row for f in frags if f.row is not None and not f.spanning] or \
           [f.row for f in frags if f.row is not None]
    row = min(rows) if rows and label in ("subject_row", "indicator_row") else None
    spans = []
    k = 0
    while k < len(owners):
        o = owners[k]
        if o is None:
            k += 1
            continue
        frag, off = o
        field = next((fr for fr in frag.fields if fr.start <= off < fr.end), None)
        if field is None:
            k += 1
            continue
        start = k
        while (k + 1 < len(owners) and owners[k + 1] is not None and owners[k + 1][0] is frag
               and field.start <= owners[k + 1][1] < field.end):
            k += 1
        span: dict[str, Any] = {"start": start, "end": k + 1, "label": field.label}
        if field.key:
            span["key"] = field.key
        spans.append(span)
        k += 1
    rec: dict[str, Any] = {"id": f"p{line.page}-{n:04d}", "text": text, "bbox": list(line.bbox), "line_no": None,
                           "font": line.font, "size": line.size, "bold": line.bold, "label": label,
                           "table_id": table_id if label not in ("narrative", "other") else None, "row": row,
                           "spans": spans}
    return rec
