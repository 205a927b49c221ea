"""`budgetdoc suggest`: the pages of an extract run most worth annotating, as Label Studio tasks.

1. Score every page of the run from what the run says about it (documents.jsonl) and its lines
   (re-read, without the models: extraction is cheap): 1 - mean record confidence, failed checks,
   extra:<header> columns (headers the model could not map), no records on a page with
   table-looking lines, a partial document. Weights: pipeline/config.py (SUGGEST_*).
2. Pick greedily with diversity: a page's gain is its score lowered for every page already
   chosen from the same document, department and layout, and no document gives more than
   ceil(n / documents) + 1 pages.
3. Run the pipeline again on the chosen documents (documents.jsonl holds records, not lines) and
   write one task per page with the model's reading as a prediction: OUT/pdf/ (page images in
   OUT/pdf/pages/) and OUT/text/, each with tasks.json and the labeling config of its project.
Pages already annotated under the annotation folders are skipped unless asked for; then the
task carries the existing annotation (to review it against the model) beside the prediction.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from pipeline import config
from pipeline.extract import file_sha256, load_document
from pipeline.model import Document
from pipeline.output import iter_documents
from training.label_studio import labeling_config_path
from training.label_studio.predictions import PredictedDocument, annotation_format, predicted_document
from training.label_studio.render import open_pdf, page_image, render_page_png
from training.label_studio.tasks import build_task

DOCUMENTS_FILE = "documents.jsonl"
TASKS_FILE = "tasks.json"
SUGGESTIONS_FILE = "suggestions.tsv"
FORMAT_DIRS = {"pdf": "pdf", "txt": "text"}
_PAGE_NUMBER = re.compile(r'"page"\s*:\s*(\d+)')  # a page line starts {"record": "page", "page": N
_AMOUNT_TOKEN = re.compile(r"(?<![\d.])-?\d[\d,]*\.\d{2}(?![\d])")

Log = Callable[[str], None]


class SuggestError(RuntimeError):
    pass


@dataclass
class RunDocument:
    """One document of the run that can be annotated (readable source, pdf or text)."""

    contract: dict[str, Any]
    path: Path
    fmt: str  # annotation format: pdf or txt
    layout: str
    existing: Optional[Path] = None  # annotation file of this document, if any
    annotated_pages: frozenset[int] = frozenset()

    @property
    def doc_id(self) -> str:
        return self.contract["doc_id"]

    @property
    def department(self) -> str:
        return (self.contract.get("department") or {}).get("name") or "?"


@dataclass
class PageCandidate:
    run_doc: RunDocument
    page: int
    lines: int
    records: int = 0
    mean_confidence: Optional[float] = None
    failed_checks: int = 0
    extra_columns: int = 0
    tableish_lines: int = 0
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return self.run_doc.doc_id, self.page

    def why(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "reasons": self.reasons, "records": self.records,
                "mean_confidence": None if self.mean_confidence is None else round(self.mean_confidence, 4),
                "failed_checks": self.failed_checks, "extra_columns": self.extra_columns,
                "tableish_lines": self.tableish_lines}


@dataclass
class SuggestResult:
    chosen: list[PageCandidate]
    candidates: int
    skipped: list[str]
    written: dict[str, Path]  # format dir -> tasks.json
    already_annotated: int = 0  # pages left out because the annotation folders hold them
    task_counts: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        if not self.chosen:
            out = [f"no page to suggest ({self.candidates} candidate page(s); {self.already_annotated} page(s) "
                   "already annotated, see --include-annotated)"]
            return "\n".join(out + [f"skipped: {s}" for s in self.skipped])
        rows = [f"{'#':>3}  {'score':>5}  {'document':<40} {'page':>4}  why"]
        for n, c in enumerate(self.chosen, start=1):
            name = Path(c.run_doc.contract.get("source", "")).name
            rows.append(f"{n:>3}  {c.score:5.2f}  {name[:40]:<40} {c.page:>4}  {'; '.join(c.reasons) or 'nothing flagged'}")
        out = [f"chose {len(self.chosen)} of {self.candidates} candidate page(s)"] + rows
        out += [f"skipped: {s}" for s in self.skipped]
        out += [f"tasks: {p} ({self.task_counts.get(d, 0)} task(s)); labeling config: {p.parent / 'labeling_config.xml'}"
                for d, p in self.written.items()]
        return "\n".join(out)


# ------------------------------------------------------------------ reading the run

def resolve_source(source: str, run_dir: Path) -> Optional[Path]:
    """The input file of a run document: as recorded, or relative to the run folder's parent."""
    path = Path(source)
    for candidate in (path, run_dir.parent / path, run_dir / path):
        if candidate.is_file():
            return candidate
    return None


def annotated_documents(roots: Iterable[Path]) -> dict[str, tuple[Path, frozenset[int]]]:
    """source_sha256 -> (annotation file, its annotated pages), over every *.jsonl under the roots."""
    found: dict[str, tuple[Path, frozenset[int]]] = {}
    for root in roots:
        root = Path(root)
        files = sorted(root.rglob("*.jsonl")) if root.is_dir() else [root] if root.is_file() else []
        for f in files:
            try:
                with open(f, encoding="utf-8") as handle:
                    header = json.loads(handle.readline())
                    pages = frozenset(int(m.group(1)) for line in handle if (m := _PAGE_NUMBER.search(line[:200])))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(header, dict) and header.get("record") == "document":
                found.setdefault(str(header.get("source_sha256")), (f, pages))
    return found


def layout_of(doc: Document, path: Path) -> str:
    """A stand-in for the template of a new document: the PDF's producer and main font, or
    whether a text file keeps table cells tab-separated."""
    if doc.format == "pdf":
        import pymupdf

        try:
            with pymupdf.open(str(path)) as pdf:
                meta = pdf.metadata or {}
        except Exception:  # a document the run read can still be unreadable here: no layout then
            meta = {}
        fonts: Counter = Counter()
        for ln in doc.iter_lines():
            fonts[ln.font or "?"] += len(ln.text)
        producer = (meta.get("producer") or meta.get("creator") or "?").strip() or "?"
        return f"pdf:{producer}:{fonts.most_common(1)[0][0] if fonts else '?'}"
    lines = list(doc.iter_lines())
    tabbed = sum("\t" in ln.text for ln in lines) > 0.2 * max(len(lines), 1)
    return f"txt:{'tabbed' if tabbed else 'plain'}"


def read_run(run_dir: Path, annotation_roots: Iterable[Path], progress: bool = False
             ) -> tuple[list[PageCandidate], list[str]]:
    """Every page of the run that can be annotated, scored. The documents are read again without
    the models (for their lines); only the scores are kept, not the lines."""
    from tqdm import tqdm

    jsonl = Path(run_dir) / DOCUMENTS_FILE
    if not jsonl.is_file():
        raise SuggestError(f"{jsonl} not found: RUN_DIR is the --out folder of `budgetdoc extract`")
    annotated = annotated_documents(annotation_roots)
    candidates: list[PageCandidate] = []
    skipped: list[str] = []
    contracts = list(iter_documents(jsonl))
    for contract in tqdm(contracts, desc="reading the run", unit="doc", disable=not progress):
        source = str(contract.get("source"))
        fmt = annotation_format(contract.get("format", ""))
        if contract.get("status") == "failed":
            skipped.append(f"{source}: extraction failed ({', '.join(e.get('code', '?') for e in contract.get('errors', []))})")
            continue
        if fmt is None:
            skipped.append(f"{source}: {contract.get('format')} input has no annotation format (pdf and text only)")
            continue
        path = resolve_source(source, Path(run_dir))
        if path is None:
            skipped.append(f"{source}: file not found (run suggest from where extract was run)")
            continue
        if file_sha256(path) != contract["doc_id"]:
            skipped.append(f"{source}: the file changed since the run (sha256 differs): extract it again")
            continue
        doc = load_document(path)
        if doc.status == "failed":
            skipped.append(f"{source}: cannot be read now ({doc.errors[0].code if doc.errors else '?'})")
            continue
        existing = annotated.get(contract["doc_id"])
        run_doc = RunDocument(contract=contract, path=path, fmt=fmt, layout=layout_of(doc, path),
                              existing=existing[0] if existing else None,
                              annotated_pages=existing[1] if existing else frozenset())
        candidates.extend(page_candidates(run_doc, doc))
    return candidates, skipped


# ------------------------------------------------------------------ scoring

def _record_page(record: dict[str, Any], page_of_line: dict[int, int]) -> Optional[int]:
    if isinstance(record.get("page"), int):
        return record["page"]
    if isinstance(record.get("line"), int):
        return page_of_line.get(record["line"])
    return None


def page_candidates(run_doc: RunDocument, doc: Document) -> list[PageCandidate]:
    """The run document's pages with text, scored (`doc`: its pages as extraction reads them)."""
    contract = run_doc.contract
    page_of_line = {ln.line_no: ln.page for ln in doc.iter_lines() if ln.line_no is not None}
    by_page: dict[int, list[dict[str, Any]]] = {}
    for rec in contract.get("records") or []:
        page = _record_page(rec, page_of_line)
        if page is not None:
            by_page.setdefault(page, []).append(rec)
    extra_by_page: dict[int, set[str]] = {}
    for t in contract.get("tables") or []:
        extras = {c["key"] for c in t.get("columns") or [] if str(c.get("key", "")).startswith("extra:")}
        for p in t.get("pages") or []:
            extra_by_page.setdefault(p, set()).update(extras)
    for page, recs in by_page.items():
        for rec in recs:
            extra_by_page.setdefault(page, set()).update(k for k in (rec.get("values") or {}) if k.startswith("extra:"))
    partial = contract.get("status") == "partial"
    out = []
    for page in doc.pages:
        if not page.lines:
            continue  # nothing to label on a page without text
        recs = by_page.get(page.number, [])
        cand = PageCandidate(run_doc=run_doc, page=page.number, lines=len(page.lines), records=len(recs))
        if recs:
            cand.mean_confidence = sum(float(r.get("confidence") or 0.0) for r in recs) / len(recs)
        cand.failed_checks = sum(1 for r in recs for c in r.get("checks") or [] if not c.get("ok"))
        cand.extra_columns = len(extra_by_page.get(page.number, set()))
        cand.tableish_lines = sum(len(_AMOUNT_TOKEN.findall(ln.text)) >= 2 for ln in page.lines)
        score_page(cand, partial)
        out.append(cand)
    return out


def score_page(cand: PageCandidate, partial: bool) -> None:
    score, reasons = 0.0, []
    if cand.mean_confidence is not None:
        gap = 1.0 - cand.mean_confidence
        score += config.SUGGEST_CONFIDENCE_WEIGHT * gap
        if gap >= 0.2:
            reasons.append(f"mean confidence {cand.mean_confidence:.2f}")
    if cand.failed_checks:
        score += config.SUGGEST_FAILED_CHECK_WEIGHT * min(cand.failed_checks, 4)
        reasons.append(f"{cand.failed_checks} failed check(s)")
    if cand.extra_columns:
        score += config.SUGGEST_EXTRA_COLUMN_WEIGHT * min(cand.extra_columns, 4)
        reasons.append(f"{cand.extra_columns} unknown column(s)")
    if not cand.records and cand.tableish_lines >= config.SUGGEST_UNREAD_TABLE_MIN_LINES:
        score += config.SUGGEST_UNREAD_TABLE_WEIGHT
        reasons.append(f"no records, {cand.tableish_lines} table-looking lines")
    if partial:
        score += config.SUGGEST_PARTIAL_WEIGHT
        reasons.append("document partial")
    cand.score, cand.reasons = score, reasons


def choose(candidates: list[PageCandidate], n: int) -> list[PageCandidate]:
    """Greedy by score, lowered per page already taken from the same document, department and
    layout; at most ceil(n / documents) + 1 pages per document."""
    if n <= 0 or not candidates:
        return []
    documents = {c.run_doc.doc_id for c in candidates}
    cap = math.ceil(n / len(documents)) + 1
    taken: Counter = Counter()
    order = {id(c): i for i, c in enumerate(candidates)}
    left = list(candidates)
    chosen: list[PageCandidate] = []
    while left and len(chosen) < n:
        def gain(c: PageCandidate) -> float:
            return (c.score * config.SUGGEST_DOC_DECAY ** taken[("doc", c.run_doc.doc_id)]
                    * config.SUGGEST_GROUP_DECAY ** taken[("dept", c.run_doc.department)]
                    * config.SUGGEST_GROUP_DECAY ** taken[("layout", c.run_doc.layout)])
        allowed = [c for c in left if taken[("doc", c.run_doc.doc_id)] < cap]
        if not allowed:
            break
        best = max(allowed, key=lambda c: (gain(c), -order[id(c)]))
        chosen.append(best)
        left.remove(best)
        taken[("doc", best.run_doc.doc_id)] += 1
        taken[("dept", best.run_doc.department)] += 1
        taken[("layout", best.run_doc.layout)] += 1
    return chosen


# ------------------------------------------------------------------ tasks

def read_annotation(path: Path) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    rows = [json.loads(t) for t in Path(path).read_text(encoding="utf-8").splitlines() if t.strip()]
    return rows[0], {int(p["page"]): p for p in rows[1:]}


def rebase_on_existing(predicted: PredictedDocument, existing: dict[str, Any]) -> PredictedDocument:
    """The prediction of a document that already has an annotation file: its header (name, split,
    gold tables) is kept, predicted tables join it under table ids not used there yet."""
    used = {t["table_id"] for t in existing.get("tables") or []}
    numbers = [int(m.group(1)) for t in used if (m := re.fullmatch(r"t(\d+)", str(t)))]
    next_number = max(numbers, default=0) + 1
    rename: dict[str, str] = {}
    for t in predicted.header["tables"]:
        new = t["table_id"]
        if new in used:
            new = f"t{next_number:02d}"
            next_number += 1
        rename[t["table_id"]] = new
        used.add(new)
    header = {**existing, "tables": list(existing.get("tables") or []) +
              [{**t, "table_id": rename[t["table_id"]]} for t in predicted.header["tables"]]}
    pages = {n: {**p, "lines": [{**ln, "table_id": rename.get(ln["table_id"], ln["table_id"])} for ln in p["lines"]]}
             for n, p in predicted.pages.items()}
    return PredictedDocument(header=header, pages=pages, scores=predicted.scores)


def document_tasks(pages: list[PageCandidate], processor: Any, images_dir: Path, zoom: float,
                   image_url_prefix: Optional[str], skipped: list[str]):
    """(candidate, task or None) for the chosen pages of one document, the model run once on it."""
    run_doc = pages[0].run_doc
    model_version = f"{processor.name} {processor.version}"
    try:
        predicted = predicted_document(processor.process(load_document(run_doc.path)), run_doc.path)
    except Exception as exc:  # one document the model cannot read must not lose the others' tasks
        skipped.append(f"{run_doc.path}: the model failed on it ({type(exc).__name__}: {exc}); "
                       f"its {len(pages)} page(s) are left out")
        yield from ((cand, None) for cand in pages)
        return
    existing_header, existing_pages = read_annotation(run_doc.existing) if run_doc.existing else (None, {})
    if existing_header is not None:
        predicted = rebase_on_existing(predicted, existing_header)
    pdf = open_pdf(run_doc.path) if run_doc.fmt == "pdf" else None
    try:
        for cand in pages:
            image = None
            if pdf is not None:
                png, width, height = render_page_png(pdf, cand.page, zoom)
                name = f"{predicted.header['doc_name']}_p{cand.page:03d}.png"
                images_dir.mkdir(parents=True, exist_ok=True)
                (images_dir / name).write_bytes(png)
                image = page_image(png, width, height, name, image_url_prefix)
            gold = existing_pages.get(cand.page)
            predicted_page = predicted.pages[cand.page]
            if gold is not None and [ln["text"] for ln in gold["lines"]] != [ln["text"] for ln in predicted_page["lines"]]:
                skipped.append(f"{run_doc.path.name} page {cand.page}: its annotation has other lines than the "
                               "extractor gives now: not suggested")
                yield cand, None
                continue
            # a gold page keeps the file's header as it is: the import must find it unchanged
            header = existing_header if gold is not None else predicted.header
            yield cand, build_task(header, gold or predicted_page, image=image, as_annotation=gold is not None,
                                   predicted_page=predicted_page, prediction_score=page_confidence(cand, predicted),
                                   scores=predicted.scores.get(cand.page), model_version=model_version,
                                   title=_title(header, cand), why=cand.why())
    finally:
        if pdf is not None:
            pdf.close()


def page_confidence(cand: PageCandidate, predicted: PredictedDocument) -> float:
    """The prediction's score: mean record confidence, else mean section-label probability."""
    if cand.mean_confidence is not None:
        return cand.mean_confidence
    probs = list(predicted.scores.get(cand.page).lines.values()) if cand.page in predicted.scores else []
    return sum(probs) / len(probs) if probs else 0.0


def suggest(run_dir: Path, n: int, out_dir: Path, model_dir: Path, annotation_roots: Iterable[Path],
            include_annotated: bool = False, zoom: float = config.SUGGEST_IMAGE_ZOOM,
            image_url_prefix: Optional[str] = None, progress: bool = True, log: Log = print) -> SuggestResult:
    from tqdm import tqdm

    from pipeline.process import Processor

    every_page, skipped = read_run(Path(run_dir), list(annotation_roots), progress)
    candidates = [c for c in every_page if include_annotated or c.page not in c.run_doc.annotated_pages]
    already = len(every_page) - len(candidates)
    chosen = choose(candidates, n)
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    if not chosen:
        return SuggestResult(chosen=[], candidates=len(candidates), skipped=skipped, written=written,
                             already_annotated=already)
    processor = Processor(model_dir)
    model_version = f"{processor.name} {processor.version}"
    for d in {c.run_doc.doc_id: c.run_doc for c in chosen}.values():
        run_model = d.contract.get("model") or {}
        if (run_model.get("name"), str(run_model.get("version"))) != (processor.name, processor.version):
            log(f"note: {d.path.name} was extracted with model {run_model.get('name')} {run_model.get('version')}, "
                f"the predictions come from {model_version}")
    tasks: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # format dir -> (rank, task)
    rank = {c.key: n for n, c in enumerate(chosen)}
    done: set[tuple[str, int]] = set()
    by_doc: dict[str, list[PageCandidate]] = {}
    for c in chosen:
        by_doc.setdefault(c.run_doc.doc_id, []).append(c)
    bar = tqdm(total=len(chosen), desc="pages", unit="page", disable=not progress)
    try:
        for pages in by_doc.values():
            bar.set_postfix_str(pages[0].run_doc.path.name[:30])
            for cand, task in document_tasks(pages, processor, out_dir / FORMAT_DIRS["pdf"] / "pages", zoom,
                                             image_url_prefix, skipped):
                if task is not None:
                    tasks.setdefault(FORMAT_DIRS[cand.run_doc.fmt], []).append((rank[cand.key], task))
                    done.add(cand.key)
                bar.update(1)
    finally:
        bar.close()
    chosen = [c for c in chosen if c.key in done]
    for fmt_dir, items in tasks.items():
        folder = out_dir / fmt_dir
        folder.mkdir(parents=True, exist_ok=True)
        in_rank_order = [task for _, task in sorted(items, key=lambda item: item[0])]
        (folder / TASKS_FILE).write_text(json.dumps(in_rank_order, ensure_ascii=False), encoding="utf-8")
        shutil.copyfile(labeling_config_path("pdf" if fmt_dir == "pdf" else "txt"), folder / "labeling_config.xml")
        written[fmt_dir] = folder / TASKS_FILE
    write_suggestions(out_dir / SUGGESTIONS_FILE, chosen)
    return SuggestResult(chosen=chosen, candidates=len(candidates), skipped=skipped, written=written,
                         already_annotated=already, task_counts={d: len(items) for d, items in tasks.items()})


def _title(header: dict[str, Any], cand: PageCandidate) -> str:
    dept = (header.get("department") or {}).get("name") or ""
    why = "; ".join(cand.reasons) or "nothing flagged"
    return f"{cand.run_doc.path.name} · page {cand.page} · {dept} · score {cand.score:.2f}: {why}"


def write_suggestions(path: Path, chosen: list[PageCandidate]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["rank\tsource\tdoc_id\tpage\tscore\trecords\tmean_confidence\tfailed_checks\textra_columns\ttableish_lines\twhy"]
    for n, c in enumerate(chosen, start=1):
        conf = "" if c.mean_confidence is None else f"{c.mean_confidence:.4f}"
        rows.append(f"{n}\t{c.run_doc.contract.get('source')}\t{c.run_doc.doc_id}\t{c.page}\t{c.score:.4f}\t{c.records}\t"
                    f"{conf}\t{c.failed_checks}\t{c.extra_columns}\t{c.tableish_lines}\t{'; '.join(c.reasons)}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
