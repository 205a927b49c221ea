"""Annotation pages (annotations/README.md) <-> Label Studio tasks: one task = one page.

A task (what `budgetdoc suggest` writes, what a Label Studio JSON export gives back):

    {"data": {"text":  the page's lines joined by "\\n" (line k starts at the sum of the
                       lengths of lines 0..k-1 plus k),
              "image": the page rendered as PNG (a data URI or a URL)      (PDF pages only),
              "title": one line shown above the page,
              "budgetdoc": {"task_format": 1,
                            "document": the annotation file's header line,
                            "page":     the page line without its lines and records,
                            "lines":    every line without label, table_id, row and spans,
                            "records":  the page's gold records, carried unchanged,
                            "image":    {"width": px, "height": px}        (PDF pages only),
                            "why":      what made `suggest` pick the page  (optional)}},
     "annotations" or "predictions": [{"result": [...]}]}

What is edited in Label Studio are the results (control names of the labeling configs):

- `section`: the line's section label. PDF pages: a rectangle per line on the page image
  (`rectanglelabels`, x/y/width/height in percent of the page); a rectangle drawn by hand labels
  every line whose box centre it contains. Text pages: a `labels` span over the line's
  characters of `text`; a span over several lines labels all of them.
- `table` (a TextArea per section region): "<table_id> <row>", "<table_id>" (no row) or empty.
- `field`: a `labels` span inside one line of `text` -> the line's span [start, end) with its
  field label. Label Studio counts offsets in code points, as Python does.
- `key` (a TextArea per field region): the column key of an amount span.
- `tables` (one TextArea per task): one JSON object per table on the page (table_id, kind,
  title, columns, empty); edits replace the document header's table of that id, new ids add
  a table.

Everything else travels in `data.budgetdoc` and comes back unchanged, so annotation page ->
task -> Label Studio -> export -> annotation page is lossless. Region ids written here
("line-0007", "field-0007-02") only name the regions; the import reads lines back from the
region geometry, so regions drawn by hand work the same way. Relations between regions are
ignored: the annotation format has nothing for them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from pipeline.model import FIELD_LABELS, SECTION_LABELS, TABLE_KINDS

TASK_FORMAT = 1
# object tags of the labeling configs
TEXT_OBJECT, PAGE_OBJECT = "text", "page"
# control tags of the labeling configs
SECTION, TABLE, FIELD, KEY, TABLES = "section", "table", "field", "key", "tables"
CONTROLS = (SECTION, TABLE, FIELD, KEY, TABLES)
EDITED_LINE_FIELDS = ("label", "table_id", "row", "spans")
NO_TABLE = "-"  # "- 11": a row without a table (allowed by the format, unused so far)
_RECT_EPSILON = 1e-6  # percent; a line's centre on a rectangle's edge is inside it


class TaskError(ValueError):
    """A task that cannot become an annotation page; `problems` lists every reason."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class PageImage:
    """The rendered page Label Studio shows: `url` is a data URI or a URL it can load."""

    url: str
    width: int  # pixels
    height: int


# ------------------------------------------------------------------ page text layout

@dataclass(frozen=True)
class PageText:
    """The page's lines joined by newlines, with where each line starts."""

    text: str
    starts: tuple[int, ...]
    lengths: tuple[int, ...]

    @classmethod
    def of(cls, texts: Sequence[str]) -> "PageText":
        starts, pos = [], 0
        for t in texts:
            if "\n" in t or "\r" in t:
                raise TaskError([f"line text {t[:40]!r} contains a line break: it cannot be one line of the task text"])
            starts.append(pos)
            pos += len(t) + 1
        return cls("\n".join(texts), tuple(starts), tuple(len(t) for t in texts))

    def lines_overlapping(self, start: int, end: int) -> list[int]:
        return [k for k, (s, n) in enumerate(zip(self.starts, self.lengths)) if start < s + n and end > s]

    def line_containing(self, start: int, end: int) -> Optional[int]:
        for k, (s, n) in enumerate(zip(self.starts, self.lengths)):
            if s <= start and end <= s + n:
                return k
        return None


def section_region_id(k: int) -> str:
    return f"line-{k:04d}"


def field_region_id(k: int, j: int) -> str:
    return f"field-{k:04d}-{j:02d}"


def table_text(table_id: Optional[str], row: Optional[int]) -> str:
    if table_id is None and row is None:
        return ""
    if table_id is not None and (not table_id or table_id == NO_TABLE or any(ch.isspace() for ch in table_id)):
        raise TaskError([f"table_id {table_id!r} cannot be written in a task's table field (no spaces, not '-')"])
    tid = table_id if table_id is not None else NO_TABLE
    return tid if row is None else f"{tid} {row}"


def parse_table_text(text: str) -> tuple[Optional[str], Optional[int]]:
    """'t02 11' -> ('t02', 11); 't02' -> ('t02', None); '' -> (None, None)."""
    parts = text.split()
    if not parts:
        return None, None
    if len(parts) > 2:
        raise ValueError(f"table field {text!r}: expected '<table_id> <row>', '<table_id>' or nothing")
    tid = None if parts[0] == NO_TABLE else parts[0]
    if len(parts) == 1:
        if tid is None:
            raise ValueError(f"table field {text!r}: '-' stands for 'no table' and needs a row after it")
        return tid, None
    if not parts[1].isdigit():
        raise ValueError(f"table field {text!r}: the row must be a 0-based integer, got {parts[1]!r}")
    return tid, int(parts[1])


# ------------------------------------------------------------------ tables of a page

TABLE_BOX_FIELDS = ("table_id", "kind", "title", "columns", "empty")


def page_tables(header: dict[str, Any], page: dict[str, Any]) -> list[dict[str, Any]]:
    """The header's tables on this page: listed for the page or named by one of its lines."""
    named = {ln.get("table_id") for ln in page.get("lines") or []}
    number = page.get("page")
    return [t for t in header.get("tables") or []
            if number in (t.get("pages") or []) or t.get("table_id") in named]


def tables_box_text(tables: Iterable[dict[str, Any]]) -> str:
    return "\n".join(json.dumps({k: t.get(k) for k in TABLE_BOX_FIELDS if k in t}, ensure_ascii=False)
                     for t in tables)


def parse_tables_box(text: str) -> list[dict[str, Any]]:
    """The `tables` field back into table objects; ValueError names the bad line."""
    tables: list[dict[str, Any]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"tables field line {n} is not one JSON object ({exc.msg} at column {exc.colno}): "
                             f"{raw[:80]!r}") from exc
        if not isinstance(obj, dict):
            raise ValueError(f"tables field line {n} must be a JSON object, got {type(obj).__name__}")
        missing = [k for k in ("table_id", "kind", "title", "columns") if k not in obj]
        if missing:
            raise ValueError(f"tables field line {n} lacks {', '.join(missing)}: {raw[:80]!r}")
        unknown = sorted(set(obj) - set(TABLE_BOX_FIELDS))
        if unknown:
            raise ValueError(f"tables field line {n}: unknown key(s) {', '.join(unknown)} "
                             f"(allowed: {', '.join(TABLE_BOX_FIELDS)})")
        if not isinstance(obj["table_id"], str) or not obj["table_id"]:
            raise ValueError(f"tables field line {n}: table_id must be a non-empty string")
        if obj["kind"] not in TABLE_KINDS:
            raise ValueError(f"tables field line {n} (table {obj['table_id']}): kind {obj['kind']!r} is not one of: "
                             f"{', '.join(TABLE_KINDS)}")
        tables.append(obj)
    ids = [t["table_id"] for t in tables]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"tables field lists table(s) {', '.join(dup)} twice")
    return tables


def apply_table_edits(header_tables: list[dict[str, Any]], edits: list[dict[str, Any]], page: int
                      ) -> list[dict[str, Any]]:
    """Header tables with the edited ones replaced (pages kept) and new ones added (on `page`)."""
    by_id = {e["table_id"]: e for e in edits}
    out: list[dict[str, Any]] = []
    for t in header_tables:
        edit = by_id.pop(t.get("table_id"), None)
        if edit is None:
            out.append(t)
            continue
        merged = dict(t)
        for k in TABLE_BOX_FIELDS:
            if k in edit:
                merged[k] = edit[k]
        out.append(merged)
    for edit in by_id.values():
        out.append({"table_id": edit["table_id"], "kind": edit["kind"], "title": edit["title"], "pages": [page],
                    "columns": edit["columns"], "empty": bool(edit.get("empty", False))})
    return out


# ------------------------------------------------------------------ annotation page -> results

@dataclass
class RegionScores:
    """Model probabilities shown with predicted regions (Label Studio sorts and colours by them)."""

    lines: dict[int, float] = field(default_factory=dict)  # line index -> section label probability
    spans: dict[tuple[int, int], float] = field(default_factory=dict)  # (line index, span index) -> prob


def _rect_value(bbox: Sequence[float], width: float, height: float) -> dict[str, float]:
    x0, y0, x1, y1 = (float(v) for v in bbox)
    return {"x": x0 / width * 100.0, "y": y0 / height * 100.0,
            "width": (x1 - x0) / width * 100.0, "height": (y1 - y0) / height * 100.0, "rotation": 0}


def page_results(fmt: str, page: dict[str, Any], layout: PageText, image: Optional[PageImage],
                 tables: Sequence[dict[str, Any]], scores: Optional[RegionScores] = None) -> list[dict[str, Any]]:
    """Label Studio results holding every line's section label, table, row and spans."""
    results: list[dict[str, Any]] = []
    pdf = fmt == "pdf"
    if pdf and (image is None or not page.get("width") or not page.get("height")):
        raise TaskError([f"page {page.get('page')}: a PDF page task needs the page image and the page size"])
    for k, line in enumerate(page.get("lines") or []):
        start, text = layout.starts[k], line["text"]
        score = scores.lines.get(k) if scores else None
        rid = section_region_id(k)
        if pdf:
            if not line.get("bbox"):
                raise TaskError([f"line {line.get('id')!r}: a PDF line needs its bbox"])
            geometry = _rect_value(line["bbox"], float(page["width"]), float(page["height"]))
            base = {"id": rid, "to_name": PAGE_OBJECT, "original_width": image.width,  # type: ignore[union-attr]
                    "original_height": image.height, "image_rotation": 0}  # type: ignore[union-attr]
            label_type, label_key = "rectanglelabels", "rectanglelabels"
        else:
            geometry = {"start": start, "end": start + len(text)}
            base = {"id": rid, "to_name": TEXT_OBJECT}
            label_type, label_key = "labels", "labels"
        if line.get("label") is not None:
            value = dict(geometry)
            if not pdf:
                value["text"] = text
            value[label_key] = [line["label"]]
            results.append({**base, "from_name": SECTION, "type": label_type, "value": value,
                            **({"score": round(float(score), 4)} if score is not None else {})})
        where = table_text(line.get("table_id"), line.get("row"))
        if where:
            results.append({**base, "from_name": TABLE, "type": "textarea", "value": {**geometry, "text": [where]}})
        for j, span in enumerate(line.get("spans") or []):
            fid = field_region_id(k, j)
            s, e = start + int(span["start"]), start + int(span["end"])
            value = {"start": s, "end": e, "text": text[span["start"]:span["end"]], "labels": [span["label"]]}
            sp_score = scores.spans.get((k, j)) if scores else None
            results.append({"id": fid, "from_name": FIELD, "to_name": TEXT_OBJECT, "type": "labels", "value": value,
                            **({"score": round(float(sp_score), 4)} if sp_score is not None else {})})
            if span.get("key") is not None:
                results.append({"id": fid, "from_name": KEY, "to_name": TEXT_OBJECT, "type": "textarea",
                                "value": {"start": s, "end": e, "text": [span["key"]]}})
    box = tables_box_text(tables)
    if box:
        results.append({"id": "tables", "from_name": TABLES, "to_name": TEXT_OBJECT, "type": "textarea",
                        "value": {"text": [box]}})
    return results


def build_task(header: dict[str, Any], page: dict[str, Any], *, image: Optional[PageImage] = None,
               as_annotation: bool = True, predicted_page: Optional[dict[str, Any]] = None,
               prediction_score: Optional[float] = None, scores: Optional[RegionScores] = None,
               model_version: str = "", title: Optional[str] = None,
               why: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """One Label Studio task for one annotation page.

    `page` holds the lines (and gold records when it comes from an annotation file). With
    `as_annotation` its labels become the task's annotation (reviewing or round-tripping gold);
    `predicted_page` (same lines, the model's labels) becomes a prediction with
    `prediction_score`, the page's confidence, so Label Studio can order tasks by it.
    """
    fmt = header.get("format")
    lines = page.get("lines") or []
    layout = PageText.of([ln["text"] for ln in lines])
    number = page.get("page")
    tables = page_tables(header, page)
    carried_page = {k: v for k, v in page.items() if k not in ("lines", "records")}
    meta: dict[str, Any] = {
        "task_format": TASK_FORMAT,
        "document": header,
        "page": carried_page,
        "lines": [{k: v for k, v in ln.items() if k not in EDITED_LINE_FIELDS} for ln in lines],
        "records": list(page.get("records") or []),
    }
    data: dict[str, Any] = {"text": layout.text}
    if fmt == "pdf":
        if image is None:
            raise TaskError([f"{header.get('doc_name')} page {number}: a PDF page task needs the page image"])
        data["image"] = image.url
        meta["image"] = {"width": image.width, "height": image.height}
    if why is not None:
        meta["why"] = why
    dept = (header.get("department") or {}).get("name") or ""
    data["title"] = title or f"{header.get('doc_name')} · page {number} · {dept} {header.get('fiscal_year') or ''}".strip()
    data["budgetdoc"] = meta
    task: dict[str, Any] = {"data": data}
    if as_annotation:
        task["annotations"] = [{"result": page_results(fmt, page, layout, image, tables)}]
    if predicted_page is not None:
        if [ln["text"] for ln in predicted_page.get("lines") or []] != [ln["text"] for ln in lines]:
            raise TaskError([f"{header.get('doc_name')} page {number}: the predicted page has other lines than the page"])
        prediction: dict[str, Any] = {"model_version": model_version or "budgetdoc",
                                      "result": page_results(fmt, predicted_page, layout, image,
                                                             page_tables(header, predicted_page), scores)}
        if prediction_score is not None:
            prediction["score"] = round(float(prediction_score), 4)
        task["predictions"] = [prediction]
    return task


# ------------------------------------------------------------------ Label Studio task -> annotation page

@dataclass
class ImportedPage:
    """One annotated task read back: the document header it carries and the annotation page."""

    task_id: Any
    header: dict[str, Any]
    page: dict[str, Any]
    table_edits: Optional[list[dict[str, Any]]]  # the `tables` field, None when absent
    annotation_id: Any = None
    annotations: int = 1  # submitted annotations of the task (the last updated one is imported)

    @property
    def number(self) -> int:
        return int(self.page["page"])

    @property
    def sha256(self) -> str:
        return str(self.header.get("source_sha256"))


@dataclass
class _Region:
    rid: str
    object_name: str
    label: Optional[str] = None
    control: Optional[str] = None  # SECTION or FIELD
    value: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)  # TextArea control -> its entries


def submitted_annotations(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]


def chosen_annotation(task: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The annotation to import: the last one updated among those not cancelled (skipped).
    Label Studio marks annotations imported with the task as ground truth, so that flag says
    nothing about which one a reviewer meant."""
    annotations = submitted_annotations(task)
    if not annotations:
        return None
    return max(annotations, key=lambda a: (str(a.get("updated_at") or ""), str(a.get("created_at") or ""),
                                           a.get("id") if isinstance(a.get("id"), int) else -1))


def task_label(task: dict[str, Any]) -> str:
    meta = (task.get("data") or {}).get("budgetdoc") or {}
    doc = (meta.get("document") or {}).get("doc_name", "?") if isinstance(meta, dict) else "?"
    page = (meta.get("page") or {}).get("page", "?") if isinstance(meta, dict) else "?"
    tid = task.get("id")
    return f"task {tid} ({doc} page {page})" if tid is not None else f"task ({doc} page {page})"


def _texts(value: dict[str, Any]) -> list[str]:
    raw = value.get("text")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        return list(raw)
    raise ValueError(f"text {raw!r} is not a list of strings")


def _single_text(entries: list[str], what: str) -> str:
    filled = [t.strip() for t in entries if t.strip()]
    if len(filled) > 1:
        raise ValueError(f"{what} has {len(filled)} entries {filled}: keep one")
    return filled[0] if filled else ""


def _collect_regions(results: list[Any], problems: list[str]) -> tuple[dict[str, _Region], Optional[str]]:
    regions: dict[str, _Region] = {}
    tables_text: Optional[str] = None
    for n, r in enumerate(results):
        if not isinstance(r, dict):
            problems.append(f"result {n} is not an object")
            continue
        control, value, rid = r.get("from_name"), r.get("value"), r.get("id")
        if r.get("type") == "relation":
            continue  # links between regions mean nothing in the annotation format
        if control not in CONTROLS:
            problems.append(f"result {n}: control {control!r} is not one of the budgetdoc labeling config's "
                            f"({', '.join(CONTROLS)}): was the project set up with training/label_studio/"
                            "labeling_config_*.xml?")
            continue
        if not isinstance(value, dict):
            problems.append(f"result {n} ({control}): value must be an object")
            continue
        if control == TABLES:
            try:
                text = "\n".join(_texts(value))
            except ValueError as exc:
                problems.append(f"tables field: {exc}")
                continue
            tables_text = text if tables_text is None else tables_text + "\n" + text
            continue
        if not isinstance(rid, str) or not rid:
            problems.append(f"result {n} ({control}): no region id")
            continue
        region = regions.setdefault(rid, _Region(rid=rid, object_name=str(r.get("to_name"))))
        if control in (SECTION, FIELD):
            labels = value.get("rectanglelabels", value.get("labels"))
            if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
                problems.append(f"region {rid} ({control}): expected exactly one label, got {labels!r}")
                continue
            if region.control is not None and region.control != control:
                problems.append(f"region {rid} is both a {region.control} and a {control} region")
                continue
            region.control, region.label = control, labels[0]
            region.value = value
        else:
            try:
                region.texts.setdefault(control, []).extend(_texts(value))
            except ValueError as exc:
                problems.append(f"region {rid} ({control} field): {exc}")
            if not region.value:
                region.value = value  # geometry, in case the region has no label result
    return regions, tables_text


def _rect_covers(value: dict[str, Any], bbox: Sequence[float], width: float, height: float) -> bool:
    try:
        x, y, w, h = (float(value[k]) for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        return False
    cx = (float(bbox[0]) + float(bbox[2])) / 2 / width * 100.0
    cy = (float(bbox[1]) + float(bbox[3])) / 2 / height * 100.0
    return x - _RECT_EPSILON <= cx <= x + w + _RECT_EPSILON and y - _RECT_EPSILON <= cy <= y + h + _RECT_EPSILON


def _section_lines(region: _Region, fmt: str, layout: PageText, lines: list[dict[str, Any]],
                   page: dict[str, Any]) -> list[int]:
    if fmt == "pdf":
        for k in range(len(lines)):
            if region.rid == section_region_id(k):
                return [k]  # a line's own box, even if nudged
        width, height = float(page.get("width") or 0), float(page.get("height") or 0)
        if not width or not height:
            return []
        return [k for k, ln in enumerate(lines) if ln.get("bbox") and _rect_covers(region.value, ln["bbox"], width, height)]
    try:
        start, end = int(region.value["start"]), int(region.value["end"])
    except (KeyError, TypeError, ValueError):
        return []
    return layout.lines_overlapping(start, end)


def _describe(line: dict[str, Any]) -> str:
    text = line.get("text", "")
    return f"line {line.get('id')!r} ({text[:30]!r}{'…' if len(text) > 30 else ''})"


@dataclass
class _Carried:
    """What a task carries through Label Studio unchanged (data.budgetdoc)."""

    header: dict[str, Any]
    page: dict[str, Any]
    lines: list[dict[str, Any]]
    records: list[Any]
    layout: PageText


def _carried(task: dict[str, Any], where: str) -> _Carried:
    data = task.get("data")
    meta = data.get("budgetdoc") if isinstance(data, dict) else None
    if not isinstance(meta, dict):
        raise TaskError([f"{where}: no data.budgetdoc: not a task written by `budgetdoc suggest` (export the "
                         "project as JSON, not JSON-MIN or CSV)"])
    if meta.get("task_format") != TASK_FORMAT:
        raise TaskError([f"{where}: task_format {meta.get('task_format')!r}, this budgetdoc reads {TASK_FORMAT}"])
    header, page, lines, records = meta.get("document"), meta.get("page"), meta.get("lines"), meta.get("records", [])
    if not isinstance(header, dict) or not isinstance(page, dict) or not isinstance(lines, list) \
            or not isinstance(records, list) or not all(isinstance(ln, dict) and isinstance(ln.get("text"), str)
                                                        for ln in lines):
        raise TaskError([f"{where}: data.budgetdoc is incomplete (document, page, lines and records are needed); "
                         "was the task edited or cut short?"])
    layout = PageText.of([ln["text"] for ln in lines])
    if isinstance(data.get("text"), str) and data["text"] != layout.text:
        raise TaskError([f"{where}: data.text is not the page's lines joined by newlines: the task was edited"])
    return _Carried(header=header, page=page, lines=lines, records=records, layout=layout)


def _section_of_lines(regions: Iterable[_Region], carried: _Carried, problems: list[str]
                      ) -> tuple[dict[int, set[str]], dict[int, set[tuple[Optional[str], Optional[int]]]]]:
    """Line index -> the section labels and the (table_id, row) of the regions covering it."""
    labels: dict[int, set[str]] = {}
    places: dict[int, set[tuple[Optional[str], Optional[int]]]] = {}
    fmt = carried.header.get("format")
    for region in regions:
        if region.label not in SECTION_LABELS:
            problems.append(f"region {region.rid}: unknown section label {region.label!r}")
            continue
        if any(t.strip() for t in region.texts.get(KEY, [])):
            problems.append(f"region {region.rid}: a key belongs on an amount field span, not on a section region")
        covered = _section_lines(region, fmt, carried.layout, carried.lines, carried.page)
        if not covered:
            problems.append(f"region {region.rid} ({region.label}) covers no line: draw it over the line(s)")
            continue
        try:
            place = parse_table_text(_single_text(region.texts.get(TABLE, []), "table field"))
        except ValueError as exc:
            problems.append(f"region {region.rid} ({region.label}): {exc}")
            continue
        for k in covered:
            labels.setdefault(k, set()).add(region.label)  # type: ignore[arg-type]
            places.setdefault(k, set()).add(place)
    return labels, places


def _spans_of_lines(regions: Iterable[_Region], carried: _Carried, problems: list[str]
                    ) -> dict[int, list[dict[str, Any]]]:
    """Line index -> its field spans (offsets into the line) from the field regions."""
    layout = carried.layout
    spans: dict[int, list[dict[str, Any]]] = {k: [] for k in range(len(carried.lines))}
    for region in regions:
        if region.label not in FIELD_LABELS:
            problems.append(f"region {region.rid}: unknown field label {region.label!r}")
            continue
        if any(t.strip() for t in region.texts.get(TABLE, [])):
            problems.append(f"region {region.rid} ({region.label}): a table field belongs on the line's section "
                            "region, not on a field span")
        try:
            start, end = int(region.value["start"]), int(region.value["end"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"region {region.rid} ({region.label}): a field span needs start and end offsets")
            continue
        k = layout.line_containing(start, end)
        if k is None or start >= end:
            problems.append(f"region {region.rid} ({region.label}) [{start}, {end}) {layout.text[start:end][:30]!r} "
                            "is not inside one line: a field span must not cross a line break")
            continue
        try:
            key = _single_text(region.texts.get(KEY, []), "key field")
        except ValueError as exc:
            problems.append(f"region {region.rid} ({region.label}): {exc}")
            continue
        shown = f"{_describe(carried.lines[k])}: {region.label} span {layout.text[start:end]!r}"
        if region.label == "amount" and not key:
            problems.append(f"{shown} has no column key: type it in the span's key field (e.g. total, or "
                            "extra:<header as printed>)")
            continue
        if region.label != "amount" and key:
            problems.append(f"{shown} has key {key!r}: only amount spans carry a key")
            continue
        span: dict[str, Any] = {"start": start - layout.starts[k], "end": end - layout.starts[k], "label": region.label}
        if key:
            span["key"] = key
        spans[k].append(span)
    return spans


def page_from_task(task: Any) -> Optional[ImportedPage]:
    """The annotation page of one exported task; None when it has no annotation to import.
    Raises TaskError listing every problem of the task."""
    if not isinstance(task, dict):
        raise TaskError([f"a task must be a JSON object, got {type(task).__name__}"])
    where = task_label(task)
    carried = _carried(task, where)
    if "annotations" not in task:
        raise TaskError([f"{where}: the task has no 'annotations' key: export the project as JSON (the full "
                         "format with annotations)"])
    annotation = chosen_annotation(task)
    if annotation is None:
        return None
    results = annotation.get("result")
    if not isinstance(results, list):
        raise TaskError([f"{where}: annotation {annotation.get('id')} has no result list"])
    problems: list[str] = []
    regions, tables_text = _collect_regions(results, problems)
    for region in regions.values():
        if region.control is None:
            problems.append(f"region {region.rid}: a {'/'.join(region.texts)} field without its region "
                            "(the label was removed?)")
    labels, places = _section_of_lines([r for r in regions.values() if r.control == SECTION], carried, problems)
    spans = _spans_of_lines([r for r in regions.values() if r.control == FIELD], carried, problems)
    lines: list[dict[str, Any]] = []
    for k, line in enumerate(carried.lines):
        got = labels.get(k, set())
        if len(got) != 1:
            problems.append(f"{_describe(line)} has no section label" if not got else
                            f"{_describe(line)} is inside regions labelled {', '.join(sorted(got))}: keep one")
            continue
        if len(places[k]) > 1:
            shown = ", ".join(sorted(repr(table_text(t, r)) for t, r in places[k]))
            problems.append(f"{_describe(line)} is inside regions with different table fields ({shown}): keep one")
            continue
        table_id, row = next(iter(places[k]))
        lines.append({**line, "label": next(iter(got)), "table_id": table_id, "row": row,
                      "spans": sorted(spans[k], key=lambda s: (s["start"], s["end"]))})
    table_edits = None
    if tables_text is not None:
        try:
            table_edits = parse_tables_box(tables_text)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise TaskError([f"{where}: {p}" for p in problems])
    return ImportedPage(task_id=task.get("id"), header=carried.header,
                        page={**carried.page, "lines": lines, "records": carried.records}, table_edits=table_edits,
                        annotation_id=annotation.get("id"), annotations=len(submitted_annotations(task)))
