"""PDF page -> Lines, the one place that decides what a 'line' of a PDF is.

The annotation corpus is built from exactly these lines (synth annotations are produced by
running this function over the rendered PDF), so training and inference see the same units.
Lines come in the producer's content-stream order (no re-sorting): real extractors see wrapped
cells out of reading order and the models must cope with that.
"""
from __future__ import annotations

import unicodedata

import pymupdf

from pipeline.model import Line

_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP


def normalize_text(text: str) -> str:
    """NFKC folds full-width digits/letters/punctuation; strip stray control characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch == "\t" or unicodedata.category(ch)[0] != "C")


def page_lines(page: "pymupdf.Page", page_number: int) -> list[Line]:
    """All non-blank text lines of one page with bbox and font, in content-stream order."""
    data = page.get_text("dict", flags=_FLAGS)
    lines: list[Line] = []
    for block in data.get("blocks", []):
        if block.get("type", 0) != 0:
            continue
        for raw in block.get("lines", []):
            for spans in _split_at_gaps([s for s in raw.get("spans", []) if s.get("text", "").strip()]):
                line = _make_line(spans, page_number, len(lines))
                if line is not None:
                    lines.append(line)
    return lines


def _split_at_gaps(spans: list[dict]) -> list[list[dict]]:
    """PyMuPDF joins text objects on one baseline into one line even when they sit in different
    table cells; a horizontal gap wider than a third of the font size separates them again."""
    groups: list[list[dict]] = []
    for span in spans:
        if groups:
            prev = groups[-1][-1]
            gap = span["bbox"][0] - prev["bbox"][2]
            if gap <= 0.33 * max(float(prev.get("size", 10.0)), 1.0):
                groups[-1].append(span)
                continue
        groups.append([span])
    return groups


def _make_line(spans: list[dict], page_number: int, index: int) -> Line | None:
    text = "".join(s["text"] for s in spans).strip()
    if not text:
        return None
    main = max(spans, key=lambda s: len(s["text"].strip()))
    x0 = min(s["bbox"][0] for s in spans)
    y0 = min(s["bbox"][1] for s in spans)
    x1 = max(s["bbox"][2] for s in spans)
    y1 = max(s["bbox"][3] for s in spans)
    return Line(
        text=text,
        page=page_number,
        index=index,
        bbox=(round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
        font=main.get("font"),
        size=round(float(main.get("size", 0.0)), 2),
        bold=bool(main.get("flags", 0) & 16) or "bold" in str(main.get("font", "")).lower(),
    )


def page_lines_with_chars(page: "pymupdf.Page", page_number: int) -> list[tuple[Line, list[tuple[str, float, float]]]]:
    """page_lines plus each line's characters with their origins (for labelling generated pages).

    Same units as page_lines (same gap splitting), read from rawdict.
    """
    data = page.get_text("rawdict", flags=_FLAGS)
    out: list[tuple[Line, list[tuple[str, float, float]]]] = []
    for block in data.get("blocks", []):
        if block.get("type", 0) != 0:
            continue
        for raw in block.get("lines", []):
            spans = []
            for s in raw.get("spans", []):
                text = "".join(c["c"] for c in s.get("chars", []))
                if text.strip():
                    spans.append({**s, "text": text})
            for group in _split_at_gaps(spans):
                line = _make_line(group, page_number, len(out))
                if line is None:
                    continue
                chars = [(c["c"], c["origin"][0], c["origin"][1]) for s in group for c in s["chars"]]
                text = "".join(c for c, _, _ in chars)
                lead = len(text) - len(text.lstrip())
                out.append((line, chars[lead:lead + len(line.text)]))
    return out
