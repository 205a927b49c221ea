"""Generator of realistic budget-disclosure PDFs with annotations known by construction.

`generate(n, out_dir, seed)` renders n PDFs (several templates modelled on the seeds) and writes
one annotation file per PDF in the format of annotations/README.md.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import pymupdf

from training.synth.annotate import annotate_page
from training.synth.document import build_document
from training.synth.render import Renderer, write_pdf
from training.synth.spec import DocSpec
from training.synth.templates import TEMPLATES, TEST_TEMPLATE, Template

TEST_DOC_SHARE = 0.2

__all__ = ["generate", "render_document"]


def template_for(index: int, seed: int) -> Template:
    order = list(TEMPLATES)
    random.Random(f"templates:{seed}").shuffle(order)
    return order[index % len(order)]


def _doc_style(tpl: Template, rng: random.Random) -> Template:
    """Small per-document variation of a template's sizes and margins (same layout family)."""
    d = rng.choice([-0.5, 0.0, 0.0, 0.5])
    m = rng.uniform(-6, 6)
    return replace(tpl, body_size=tpl.body_size + d, header_size=tpl.header_size + d,
                   title_size=tpl.title_size + rng.choice([-1.0, 0.0, 1.0]),
                   margins=tuple(max(20.0, x + m) for x in tpl.margins))  # type: ignore[arg-type]


def split_for(tpl: Template, index: int, seed: int) -> str:
    if tpl.name == TEST_TEMPLATE:
        return "test_template"
    return "test_doc" if random.Random(f"split:{seed}:{index}").random() < TEST_DOC_SHARE else "train"


def render_document(index: int, seed: int) -> tuple[DocSpec, bytes, list[dict[str, Any]], str]:
    """Build, render and annotate one document: (spec, pdf bytes, page annotations, split)."""
    tpl = _doc_style(template_for(index, seed), random.Random(f"style:{seed}:{index}"))
    rng = random.Random(f"doc:{seed}:{index}")
    spec = build_document(index, tpl, rng, allow_error=True)
    renderer = Renderer(spec, tpl)
    pages = renderer.render()
    pdf = write_pdf(spec, tpl, pages)
    doc = pymupdf.open("pdf", pdf)
    page_records: list[dict[str, Any]] = []
    line_no = 0
    for state in pages:
        page = doc[state.number - 1]
        lines, line_no = annotate_page(page, state, line_no)
        for ln in lines:
            if ln["label"] == "page_furniture":
                ln["table_id"] = None
        page_records.append({"record": "page", "page": state.number, "width": round(state.width, 2),
                             "height": round(state.height, 2), "lines": lines,
                             "records": list(state.records)})
    for t in spec.tables:
        t.pages = renderer.table_pages.get(t.table_id, [])
    return spec, pdf, page_records, split_for(tpl, index, seed)


def document_header(spec: DocSpec, pdf_name: str, pdf: bytes, split: str) -> dict[str, Any]:
    return {
        "record": "document", "format_version": 1, "doc_name": spec.doc_name, "source": pdf_name,
        "source_sha256": hashlib.sha256(pdf).hexdigest(), "format": "pdf", "origin": "synth",
        "template": spec.template, "split": split,
        "department": {"name": spec.department_name, "code": spec.department_code},
        "fiscal_year": spec.fiscal_year, "unit": spec.unit, "doc_kind": spec.doc_kind,
        "tables": [{"table_id": t.table_id, "kind": t.kind, "title": t.title, "pages": t.pages,
                    "columns": t.contract_columns, "empty": t.empty} for t in spec.tables],
        "deliberate_errors": spec.deliberate_errors,
    }


def generate(n: int, out_dir: Path, seed: int, annotations_out: Optional[Path] = None,
             progress: bool = True) -> list[Path]:
    out_dir = Path(out_dir)
    ann_dir = Path(annotations_out) if annotations_out else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    indices = range(n)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="synth", unit="doc")
    written: list[Path] = []
    for i in indices:
        spec, pdf, pages, split = render_document(i, seed)
        pdf_path = out_dir / f"{spec.doc_name}.pdf"
        pdf_path.write_bytes(pdf)
        header = document_header(spec, pdf_path.name, pdf, split)
        with open(ann_dir / f"{spec.doc_name}.jsonl", "w", encoding="utf-8") as fh:
            fh.write(json.dumps(header, ensure_ascii=False, separators=(",", ":")) + "\n")
            for page in pages:
                fh.write(json.dumps(page, ensure_ascii=False, separators=(",", ":")) + "\n")
        written.append(pdf_path)
    return written
