"""PDF pages as PNG images for Label Studio's Image tag (PyMuPDF)."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Optional

import pymupdf

from pipeline import config
from training.label_studio.tasks import PageImage


def render_page_png(pdf: "pymupdf.Document", page_number: int, zoom: float = config.SUGGEST_IMAGE_ZOOM) -> tuple[bytes, int, int]:
    """PNG bytes (grayscale: a third of the size of RGB for black text on white) and pixel size."""
    pixmap = pdf[page_number - 1].get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY,
                                             alpha=False)
    return pixmap.tobytes("png"), pixmap.width, pixmap.height


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def page_image(png: bytes, width: int, height: int, file_name: str, url_prefix: Optional[str]) -> PageImage:
    """Embedded as a data URI, or `url_prefix + file_name` when the PNGs are served elsewhere."""
    url = url_prefix + file_name if url_prefix else data_uri(png)
    return PageImage(url=url, width=width, height=height)


def open_pdf(path: Path) -> "pymupdf.Document":
    return pymupdf.open(str(path))
