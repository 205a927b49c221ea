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
    return [line for line, _ in page_lines_with_chars(page, page_number)]


def page_lines_with_chars(page: "pymupdf.Page", page_number: int) -> list[tuple[Line, list[tuple[str, float, float]]]]:
    """page_lines plus each line's characters with their origins (for labelling generated pages).

    MuPDF joins text objects on one baseline into one line, even into one span, when they sit in
    neighbouring table cells; a horizontal gap between two characters wider than a third of the
    font size separates them again.
    """
    data = page.get_text("rawdict", flags=_FLAGS)
    out: list[tuple[Line, list[tuple[str, float, float]]]] = []
    for block in data.get("blocks", []):
        if block.get("type", 0) != 0:
            continue
        for raw in block.get("lines", []):
            for run in _runs(raw.get("spans", [])):
                line = _make_line(run, page_number, len(out))
                if line is not None:
                    out.append(line)
    return out


def _runs(spans: list[dict]) -> list[list[tuple[dict, dict]]]:
    """(char, span) runs of one raw line, cut at wide gaps; spaces never start or end a run."""
    runs: list[list[tuple[dict, dict]]] = []
    prev: Optional[dict] = None  # the previous character, spaces included
    for span in spans:
        size = max(float(span.get("size", 10.0)), 1.0)
        for ch in span.get("chars", []):
            if ch["c"].isspace():
                # a typed space touches its neighbours; only a gap between glyphs separates cells
                if runs and prev is not None and ch["bbox"][0] - prev["bbox"][2] <= 0.33 * size:
                    runs[-1].append((ch, span))
                    prev = ch
                continue
            if prev is None or not runs or ch["bbox"][0] - prev["bbox"][2] > 0.33 * size:
                runs.append([])
            runs[-1].append((ch, span))
            prev = ch
    return runs


def _make_line(run: list[tuple[dict, dict]], page_number: int, index: int
               ) -> Optional[tuple[Line, list[tuple[str, float, float]]]]:
    while run and run[-1][0]["c"].isspace():
        run = run[:-1]
    if not run:
        return None
    text = "".join(ch["c"] for ch, _ in run)
    x0 = min(ch["bbox"][0] for ch, _ in run)
    y0 = min(sp["bbox"][1] for _, sp in run)
    x1 = max(ch["bbox"][2] for ch, _ in run)
    y1 = max(sp["bbox"][3] for _, sp in run)
    spans = {id(sp): sp for _, sp in run}
    main = max(spans.values(), key=lambda sp: sum(1 for _, s in run if s is sp))
    line = Line(
        text=text,
        page=page_number,
        index=index,
        bbox=(round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
        font=main.get("font"),
        size=round(float(main.get("size", 0.0)), 2),
        bold=bool(main.get("flags", 0) & 16) or "bold" in str(main.get("font", "")).lower(),
    )
    return line, [(ch["c"], ch["origin"][0], ch["origin"][1]) for ch, _ in run]
