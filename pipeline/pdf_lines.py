"""PDF page -> Lines, the one place that decides what a 'line' of a PDF is.

The annotation corpus is built from exactly these lines (synth annotations are produced by
running this function over the rendered PDF), so training and inference see the same units.
Lines come in the producer's content-stream order (no re-sorting): real extractors see wrapped
cells out of reading order and the models must cope with that.
"""
from __future__ import annotations

import unicodedata
from typing import Optional

import pymupdf

from pipeline.model import Line

_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP | pymupdf.TEXT_INHIBIT_SPACES  # no invented spaces: gaps stay gaps


def normalize_text(text: str) -> str:
    """NFKC folds full-width digits/letters/punctuation; strip stray control characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch == "\t" or unicodedata.category(ch)[0] != "C")


def page_lines(page: "pymupdf.Page", page_number: int) -> list[Line]:
    """All non-blank text lines of one page with bbox and font, in content-stream order."""
    return [line for line, _ in _page_lines(page, page_number, with_chars=False)]


def page_lines_with_chars(page: "pymupdf.Page", page_number: int) -> list[tuple[Line, list[tuple[str, float, float]]]]:
    """page_lines plus each line's characters with their origins (for labelling generated pages).

    MuPDF joins text objects on one baseline into one line, even into one span, when they sit in
    neighbouring table cells; a horizontal gap between two characters wider than a third of the
    font size separates them again.
    """
    return _page_lines(page, page_number, with_chars=True)


def _page_lines(page: "pymupdf.Page", page_number: int, with_chars: bool
                ) -> list[tuple[Line, list[tuple[str, float, float]]]]:
    data = page.get_text("rawdict", flags=_FLAGS)
    out: list[tuple[Line, list[tuple[str, float, float]]]] = []
    for block in data.get("blocks", []):
        if block.get("type", 0) != 0:
            continue
        for raw in block.get("lines", []):
            for run in _runs(raw.get("spans", [])):
                line = _make_line(run, page_number, len(out), with_chars)
                if line is not None:
                    out.append(line)
    return out


def _runs(spans: list[dict]) -> list[list[tuple[dict, dict]]]:
    """(char, span) runs of one raw line, cut at wide gaps; spaces never start or end a run."""
    runs: list[list[tuple[dict, dict]]] = []
    prev_x1: Optional[float] = None  # right edge of the previous character, spaces included
    for span in spans:
        gap = 0.33 * max(float(span.get("size", 10.0)), 1.0)
        for ch in span.get("chars", []):
            x0 = ch["bbox"][0]
            if ch["c"].isspace():
                # a typed space touches its neighbours; only a gap between glyphs separates cells
                if runs and prev_x1 is not None and x0 - prev_x1 <= gap:
                    runs[-1].append((ch, span))
                    prev_x1 = ch["bbox"][2]
                continue
            if prev_x1 is None or not runs or x0 - prev_x1 > gap:
                runs.append([])
            runs[-1].append((ch, span))
            prev_x1 = ch["bbox"][2]
    return runs


def _make_line(run: list[tuple[dict, dict]], page_number: int, index: int, with_chars: bool = True
               ) -> Optional[tuple[Line, list[tuple[str, float, float]]]]:
    end = len(run)
    while end and run[end - 1][0]["c"].isspace():
        end -= 1
    if not end:
        return None
    run = run[:end]
    text = "".join([ch["c"] for ch, _ in run])
    x0 = min([ch["bbox"][0] for ch, _ in run])
    x1 = max([ch["bbox"][2] for ch, _ in run])
    spans: dict[int, dict] = {}
    counts: dict[int, int] = {}
    for _, sp in run:
        key = id(sp)
        if key not in spans:
            spans[key] = sp
            counts[key] = 0
        counts[key] += 1
    y0 = min([sp["bbox"][1] for sp in spans.values()])
    y1 = max([sp["bbox"][3] for sp in spans.values()])
    main = spans[max(counts, key=counts.__getitem__)]  # the first of the most used spans
    line = Line(
        text=text,
        page=page_number,
        index=index,
        bbox=(round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
        font=main.get("font"),
        size=round(float(main.get("size", 0.0)), 2),
        bold=bool(main.get("flags", 0) & 16) or "bold" in str(main.get("font", "")).lower(),
    )
    return line, ([(ch["c"], ch["origin"][0], ch["origin"][1]) for ch, _ in run] if with_chars else [])
