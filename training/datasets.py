"""Annotation files -> training examples for the section, field and header models.

One `DocExample` per annotated document: its pages as pipeline Lines carrying the gold section
label and spans, plus the header's split, template and tables. Splits follow the header's
`split` field; seeds are measured leave-one-seed-out.

Synth documents are PDFs; the seeds are text. `stream_view`, `tabbed_view` and `plain_view`
re-express a PDF's lines the way a text extractor or export would give them (one cell fragment
per line without positions; one row per line with tab-separated cells, a table row's wrapped
cells re-joined as a spreadsheet or Word export prints them; or plain extracted text, short rows
joined by spaces and a wrapped cell's lines on lines of their own), labels and spans carried
over, so the text-input side of the models sees more than the few real text files.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

from pipeline.features import reading_order, row_mates
from pipeline.layout import band_of, pdf_columns
from pipeline.model import Line, Page, Span

SPLITS = ("train", "test_doc", "test_template", "seed")


@dataclass
class DocExample:
    name: str
    split: str
    template: str
    origin: str
    format: str
    pages: list[Page]
    doc_kind: str = "budget"
    tables: list[dict[str, Any]] = field(default_factory=list)
    path: Optional[Path] = None
    view: str = "original"
    line_tables: dict[tuple[int, int], str] = field(default_factory=dict)  # (page, line index) -> table_id
    line_rows: dict[tuple[int, int], int] = field(default_factory=dict)  # (page, line index) -> body row of its table

    @property
    def lines(self) -> list[Line]:
        return [ln for p in self.pages for ln in p.lines]

    @property
    def labels(self) -> list[str]:
        return [ln.label or "other" for ln in self.lines]


# ------------------------------------------------------------------ loading

def annotation_files(paths: Iterable[Path]) -> list[Path]:
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*.jsonl")):
                found.setdefault(f, None)
        elif p.is_file():
            found.setdefault(p, None)
    return list(found)


def _line(raw: dict[str, Any], page: int, index: int) -> Line:
    bbox = raw.get("bbox")
    return Line(text=raw["text"], page=page, index=index,
                bbox=tuple(float(v) for v in bbox) if bbox else None,  # type: ignore[arg-type]
                line_no=raw.get("line_no"), font=raw.get("font"), size=raw.get("size"),
                bold=bool(raw.get("bold", False)), label=raw.get("label"), label_prob=1.0,
                spans=[Span(int(s["start"]), int(s["end"]), s["label"], s.get("key")) for s in raw.get("spans") or []])


def load_example(path: Path) -> DocExample:
    rows = [json.loads(t) for t in Path(path).read_text(encoding="utf-8").splitlines() if t.strip()]
    header, page_rows = rows[0], rows[1:]
    pages = [Page(number=int(p["page"]), width=float(p.get("width") or 0.0), height=float(p.get("height") or 0.0),
                  lines=[_line(raw, int(p["page"]), i) for i, raw in enumerate(p.get("lines") or [])])
             for p in page_rows]
    line_tables = {(int(p["page"]), i): raw["table_id"] for p in page_rows for i, raw in enumerate(p.get("lines") or [])
                   if raw.get("table_id")}
    line_rows = {(int(p["page"]), i): int(raw["row"]) for p in page_rows for i, raw in enumerate(p.get("lines") or [])
                 if raw.get("table_id") and raw.get("row") is not None}
    return DocExample(name=header["doc_name"], split=header["split"], template=header.get("template", ""),
                      origin=header.get("origin", ""), format=header.get("format", ""), pages=pages,
                      doc_kind=header.get("doc_kind") or "budget",
                      tables=list(header.get("tables") or []), path=Path(path), line_tables=line_tables,
                      line_rows=line_rows)


def load_examples(paths: Iterable[Path]) -> list[DocExample]:
    return [load_example(f) for f in annotation_files(paths)]


def file_fingerprints(examples: Sequence[DocExample]) -> list[dict[str, Any]]:
    out = []
    for ex in examples:
        if ex.path is None:
            continue
        data = ex.path.read_bytes()
        out.append({"file": ex.path.name, "split": ex.split, "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()})
    return out


# ------------------------------------------------------------------ splits

def by_split(examples: Sequence[DocExample], *splits: str) -> list[DocExample]:
    return [ex for ex in examples if ex.split in splits]


def seeds(examples: Sequence[DocExample]) -> list[DocExample]:
    return by_split(examples, "seed")


def leave_one_seed_out(examples: Sequence[DocExample]) -> Iterator[tuple[DocExample, list[DocExample]]]:
    """(held-out seed, the other seeds) for every seed."""
    all_seeds = seeds(examples)
    for held in all_seeds:
        yield held, [s for s in all_seeds if s.name != held.name]


# ------------------------------------------------------------------ unlabelled copies

def unlabelled(pages: Sequence[Page]) -> list[Page]:
    """The pages as inference sees them: same lines, no label, no spans."""
    return [replace(p, lines=[replace(ln, label=None, label_prob=0.0, label_probs={}, spans=[]) for ln in p.lines])
            for p in pages]


# ------------------------------------------------------------------ text views of PDF documents

def stream_view(ex: DocExample, file_order: bool = False) -> DocExample:
    """The PDF as plain extracted text: one line per PDF line in reading order, no layout, one page.

    `file_order`: in the order the producer wrote its text objects instead (what an extractor that
    follows the content stream gives: a wrapped cell's lines together, cell after cell)."""
    lines: list[Line] = []
    for page in ex.pages:
        for i in (range(len(page.lines)) if file_order else reading_order(page)):
            ln = page.lines[i]
            lines.append(replace(ln, page=1, index=len(lines), bbox=None, font=None, size=None, bold=False,
                                 line_no=len(lines) * 2 + 1, spans=list(ln.spans)))
    view = "stream_file_order" if file_order else "stream"
    return replace(ex, pages=[Page(number=1, lines=lines)], format="txt", view=view, name=f"{ex.name}#{view}",
                   line_tables={}, line_rows={})


def _row_groups(page: Page) -> list[list[int]]:
    """Lines of one visual row (connected through vertical overlap), rows in reading order, cells left to right."""
    mates = row_mates(page)
    seen: set[int] = set()
    groups: list[list[int]] = []
    for i in reading_order(page):
        if i in seen:
            continue
        stack, group = [i], []
        seen.add(i)
        while stack:
            j = stack.pop()
            group.append(j)
            for k in mates[j]:
                if k not in seen:
                    seen.add(k)
                    stack.append(k)
        group.sort(key=lambda j: page.lines[j].bbox[0] if page.lines[j].bbox else 0.0)
        groups.append(group)
    return groups


BODY_LABELS = ("subject_row", "indicator_row")  # in the priority of training.synth.annotate.LABEL_PRIORITY


def _majority_label(parts: list[Line]) -> Optional[str]:
    """The label of lines joined into one: a table body label if any part has one (a wide table's row
    whose project cells sit beside its indicator cells is an indicator row, as a PDF line holding both
    is, see training.synth.annotate), otherwise the label of most characters."""
    present = {ln.label for ln in parts}
    for label in BODY_LABELS:
        if label in present:
            return label
    weight: dict[str, int] = {}
    for ln in parts:
        weight[ln.label or "other"] = weight.get(ln.label or "other", 0) + len(ln.text)
    return max(weight, key=lambda k: weight[k]) if weight else None



def _table_bands(ex: DocExample, page: Page) -> dict[str, list[tuple[float, float]]]:
    """Column bands of each table on the page, from its body rows' x-ranges."""
    body: dict[str, list[Line]] = {}
    for i, ln in enumerate(page.lines):
        table = ex.line_tables.get((page.number, i))
        if table and ln.bbox and ln.label in BODY_LABELS:
            body.setdefault(table, []).append(ln)
    return {t: pdf_columns(lines) for t, lines in body.items()}


def _aligned_cells(ex: DocExample, page: Page, group: list[int], bands: dict[str, list[tuple[float, float]]]
                   ) -> Optional[list[list[Line]]]:
    """The row's lines placed in their table's columns (blank cells kept), or None outside tables."""
    tables = {ex.line_tables.get((page.number, j)) for j in group}
    if len(tables) != 1:
        return None
    table_bands = bands.get(next(iter(tables)) or "")
    if not table_bands:
        return None
    cells: list[list[Line]] = [[] for _ in table_bands]
    for j in group:
        cells[band_of(page.lines[j].bbox, table_bands)].append(page.lines[j])
    return cells


def _row_members(ex: DocExample, page: Page) -> dict[tuple[str, int], list[int]]:
    """The lines of each table body row on the page (a wrapped cell's lines and a merged cell's text included)."""
    out: dict[tuple[str, int], list[int]] = {}
    for i in range(len(page.lines)):
        table, row = ex.line_tables.get((page.number, i)), ex.line_rows.get((page.number, i))
        if table and row is not None:
            out.setdefault((table, row), []).append(i)
    return out


def _emit(lines: list[Line], chunk: list[list[Line]], sep: str, line_no: int) -> None:
    text, spans = "", []
    for n, cell in enumerate(chunk):
        if n:
            text += sep
        for p in cell:
            spans.extend(Span(s.start + len(text), s.end + len(text), s.label, s.key) for s in p.spans)
            text += p.text
    members = [p for cell in chunk for p in cell]
    lines.append(Line(text=text, page=1, index=len(lines), line_no=line_no, label=_majority_label(members),
                      label_prob=1.0, spans=spans))


PAGE_BREAK_SHARE = 0.08  # whole rows whose tallest cell an export breaks at a page end


def _emit_broken(lines: list[Line], cells: list[list[Line]], sep: str, rng: random.Random) -> None:
    """A row whose wrapped cell a spreadsheet or Word export breaks at a page end: the cell's first lines
    on the row's line, the rest after a blank line on a line of their own, every other cell empty there
    (seed 002's '\t\t\t\t任务、预算项目绩效指标是否清晰…')."""
    tallest = max(range(len(cells)), key=lambda k: len(cells[k]))
    parts = cells[tallest]
    if len(parts) < 2:
        _emit(lines, cells, sep, len(lines) + 1)
        return
    cut = rng.randint(1, len(parts) - 1)
    _emit(lines, [c if k != tallest else parts[:cut] for k, c in enumerate(cells)], sep, len(lines) + 1)
    _emit(lines, [[] if k != tallest else parts[cut:] for k in range(len(cells))], sep, len(lines) + 2)


def tabbed_view(ex: DocExample, sep: str = "\t", aligned: bool = False, whole_rows: bool = False) -> DocExample:
    """The PDF as tab-separated text: each visual row one line, its cells joined by `sep` (a tab, or a
    space as some extractors print a row), one page. `aligned`: every table row prints all its
    table's columns, blank ones as empty cells, as spreadsheet and Word exports do (a wrapped
    cell's second line becomes a row of its own, mostly blank). `whole_rows` (with `aligned`): a
    table body row is one line, each cell's wrapped lines joined into its full text, as a
    spreadsheet or a Word table saved as text prints it."""
    lines: list[Line] = []
    breaks = random.Random(f"page_break|{ex.name}")
    for page in ex.pages:
        bands = _table_bands(ex, page) if aligned else {}
        by_row = _row_members(ex, page) if aligned and whole_rows else {}
        done: set[int] = set()
        for group in _row_groups(page):
            group = [j for j in group if j not in done]
            if not group:
                continue
            if by_row:
                keys = [(ex.line_tables.get((page.number, j)), ex.line_rows.get((page.number, j))) for j in group]
                if all(k[1] is not None for k in keys):
                    for key in dict.fromkeys(keys):  # rows in the order they are met
                        members = sorted((j for j in by_row[key] if j not in done),  # type: ignore[index]
                                         key=lambda j: (page.lines[j].bbox or (0, 0, 0, 0))[1])
                        done.update(members)
                        cells = _aligned_cells(ex, page, members, bands)
                        if cells is not None and breaks.random() < PAGE_BREAK_SHARE:
                            _emit_broken(lines, cells, sep, breaks)
                        else:
                            _emit(lines, cells if cells is not None else [[page.lines[j]] for j in members], sep,
                                  len(lines) + 1)
                    continue
            done.update(group)
            parts = [page.lines[j] for j in group]
            columns = _aligned_cells(ex, page, group, bands) if aligned else None
            if columns is not None:
                chunks = [columns]
            elif len({p.label for p in parts}) > 1 and any(p.label in ("narrative", "table_title", "other") for p in parts):
                chunks = [[[p]] for p in parts]  # a title beside a unit line stays two lines
            else:
                chunks = [[[p] for p in parts]]
            for chunk in chunks:
                _emit(lines, chunk, sep, len(lines) + 1)
    view = ("whole_rows" if whole_rows else "aligned" if aligned else "tabbed") if sep == "\t" else "spaced"
    return replace(ex, pages=[Page(number=1, lines=lines)], format="txt", view=view, name=f"{ex.name}#{view}",
                   line_tables={}, line_rows={})


def _stacks(ex: DocExample, page: Page) -> dict[int, list[int]]:
    """Per table line that is one of several lines of a wrapped cell (a neighbour of the same table
    stacked right under or above it, overlapping it horizontally), all that cell's lines top to bottom."""
    geo_h = sorted(ln.bbox[3] - ln.bbox[1] for ln in page.lines if ln.bbox)
    if not geo_h:
        return {}
    reach = 1.2 * geo_h[len(geo_h) // 2]
    idx = [i for i, ln in enumerate(page.lines) if ln.bbox and ex.line_tables.get((page.number, i))]
    idx.sort(key=lambda i: page.lines[i].bbox[1])  # type: ignore[index]
    parent = {i: i for i in idx}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, i in enumerate(idx):
        bi = page.lines[i].bbox
        ci = (bi[1] + bi[3]) / 2  # type: ignore[index]
        for j in idx[a + 1:]:
            bj = page.lines[j].bbox
            cj = (bj[1] + bj[3]) / 2  # type: ignore[index]
            if cj - ci > reach:
                break
            if cj - ci < 0.6 * reach or ex.line_tables.get((page.number, i)) != ex.line_tables.get((page.number, j)):
                continue
            overlap = min(bi[2], bj[2]) - max(bi[0], bj[0])  # type: ignore[index]
            if overlap > 0.5 * min(bi[2] - bi[0], bj[2] - bj[0]):  # type: ignore[index]
                parent[find(j)] = find(i)
    comps: dict[int, list[int]] = {}
    for i in idx:
        comps.setdefault(find(i), []).append(i)
    return {i: members for members in comps.values() if len(members) > 1 for i in members}


def plain_view(ex: DocExample) -> DocExample:
    """The PDF as a plain text extractor without layout prints it: the cells of a visual row that
    fit on one line joined by spaces, each line of a wrapped cell on a line of its own (the cell's
    lines together), blank lines between many of the printed lines, one page."""
    rng = random.Random(f"plain|{ex.name}")
    lines: list[Line] = []
    line_no = [0]

    def out(parts: list[Line]) -> None:
        line_no[0] += 2 if rng.random() < 0.6 else 1
        _emit(lines, [[p] for p in parts], " ", line_no[0])

    for page in ex.pages:
        stacks = _stacks(ex, page)
        done: set[int] = set()
        for group in _row_groups(page):
            run: list[Line] = []
            for j in group:
                if j in done:
                    continue
                ln = page.lines[j]
                if j in stacks:
                    if run:
                        out(run)
                        run = []
                    for k in stacks[j]:
                        if k not in done:
                            out([page.lines[k]])
                            done.add(k)
                    continue
                done.add(j)
                if run and run[-1].label != ln.label and "narrative" in (ln.label, run[-1].label) or \
                        run and run[-1].label != ln.label and any(x in ("table_title", "other") for x in (ln.label, run[-1].label)):
                    out(run)
                    run = []
                run.append(ln)
            if run:
                out(run)
    return replace(ex, pages=[Page(number=1, lines=lines)], format="txt", view="plain", name=f"{ex.name}#plain",
                   line_tables={}, line_rows={})


def with_text_views(examples: Sequence[DocExample], share: float = 0.5,
                    file_order_streams: bool = False) -> list[DocExample]:
    """The PDF examples plus a text view (stream, column-aligned whole rows, tabbed, or plain extractor text,
    in turn per template) of `share` of them; `file_order_streams`: the stream views in the order the
    producer wrote the text (see `stream_view`)."""
    out = list(examples)
    pdfs = [ex for ex in examples if ex.format == "pdf"]
    step = max(int(round(1 / share)), 1) if share > 0 else 0
    if not step:
        return out
    turn: dict[str, int] = {}
    for n, ex in enumerate(pdfs):
        if n % step:
            continue
        # in turn per template: generated documents cycle through the templates, so a turn over the
        # whole list would give every document of a template the same view
        kind = turn.get(ex.template, 0) % 4
        turn[ex.template] = turn.get(ex.template, 0) + 1
        out.append(stream_view(ex, file_order=file_order_streams) if kind == 0
                   else tabbed_view(ex, aligned=True, whole_rows=True) if kind == 1
                   else tabbed_view(ex) if kind == 2 else plain_view(ex))
    return out
