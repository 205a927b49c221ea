"""PDF page -> Lines, the one place that decides what a 'line' of a PDF is.

The annotation corpus is built from exactly these lines (synth annotations are produced by
running this function over the rendered PDF), so training and inference see the same units.
Lines come in the producer's content-stream order (no re-sorting): real extractors see wrapped
cells out of reading order and the models must cope with that.
"""
from __future__ import annotations

import sys
import unicodedata
from operator import itemgetter
from typing import Optional

from pipeline.model import Line


_UNUSED_EXTRAS = ("pymupdf.layout", "pymupdf4llm")


def _import_pymupdf_without_layout():
    """pymupdf, imported without its optional layout and Markdown packages.

    When pymupdf_layout is installed, `import pymupdf` imports it too, and it loads an ONNX layout
    model (about 0.4 s of every worker's start-up); pymupdf4llm (Markdown export, with onnxruntime)
    costs another 0.14 s. budgetdoc uses neither: text extraction is the same without them. Both
    stay importable afterwards for code that wants them.
    """
    if "pymupdf" in sys.modules or any(name in sys.modules for name in _UNUSED_EXTRAS):
        import pymupdf
        return pymupdf
    for name in _UNUSED_EXTRAS:
        sys.modules[name] = None  # type: ignore[assignment]  # makes its import fail, quietly
    try:
        import pymupdf
    finally:
        for name in _UNUSED_EXTRAS:
            del sys.modules[name]
    return pymupdf


pymupdf = _import_pymupdf_without_layout()

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


_CHAR, _BBOX, _LEFT, _RIGHT = itemgetter("c"), itemgetter("bbox"), itemgetter(0), itemgetter(2)

# A run: the characters of one future Line, grouped by the span they come from, spans in order.
Run = list[tuple[dict, list[dict]]]


def _runs(spans: list[dict]) -> list[Run]:
    """Runs of one raw line, cut at wide gaps; spaces never start a run."""
    runs: list[Run] = []
    prev_x1: Optional[float] = None  # right edge of the previous character, spaces included
    for span in spans:
        gap = 0.33 * max(float(span.get("size", 10.0)), 1.0)
        chars: Optional[list[dict]] = None  # this span's characters in the last run
        for ch in span.get("chars", []):
            bbox = ch["bbox"]
            if ch["c"].isspace():
                # a typed space touches its neighbours; only a gap between glyphs separates cells
                if runs and prev_x1 is not None and bbox[0] - prev_x1 <= gap:
                    if chars is None:
                        chars = []
                        runs[-1].append((span, chars))
                    chars.append(ch)
                    prev_x1 = bbox[2]
                continue
            if prev_x1 is None or not runs or bbox[0] - prev_x1 > gap:
                runs.append([])
                chars = None
            if chars is None:
                chars = []
                runs[-1].append((span, chars))
            chars.append(ch)
            prev_x1 = bbox[2]
    return runs


def _make_line(run: Run, page_number: int, index: int, with_chars: bool = True
               ) -> Optional[tuple[Line, list[tuple[str, float, float]]]]:
    while run and run[-1][1][-1]["c"].isspace():  # trailing spaces go (with a span left without characters)
        run[-1][1].pop()
        if not run[-1][1]:
            run.pop()
    if not run:
        return None
    if len(run) == 1:  # most lines: one span
        main, chars = run[0]
        _, y0, _, y1 = main["bbox"]
    else:
        chars = [ch for _, span_chars in run for ch in span_chars]
        y0 = min([span["bbox"][1] for span, _ in run])
        y1 = max([span["bbox"][3] for span, _ in run])
        main = max(run, key=lambda item: len(item[1]))[0]  # the first of the most used spans
    text = "".join(map(_CHAR, chars))
    boxes = list(map(_BBOX, chars))
    x0 = min(map(_LEFT, boxes))
    x1 = max(map(_RIGHT, boxes))
    line = Line(
        text=text,
        page=page_number,
        index=index,
        bbox=(round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
        font=main.get("font"),
        size=round(float(main.get("size", 0.0)), 2),
        bold=bool(main.get("flags", 0) & 16) or "bold" in str(main.get("font", "")).lower(),
    )
    return line, ([(ch["c"], ch["origin"][0], ch["origin"][1]) for ch in chars] if with_chars else [])
