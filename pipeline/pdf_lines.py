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
            spans = [s for s in raw.get("spans", []) if s.get("text")]
            text = "".join(s["text"] for s in spans).strip()
            if not text:
                continue
            main = max(spans, key=lambda s: len(s["text"].strip()))
            x0, y0, x1, y1 = raw["bbox"]
            lines.append(
                Line(
                    text=text,
                    page=page_number,
                    index=len(lines),
                    bbox=(round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
                    font=main.get("font"),
                    size=round(float(main.get("size", 0.0)), 2),
                    bold=bool(main.get("flags", 0) & 16) or "bold" in str(main.get("font", "")).lower(),
                )
            )
    return lines
