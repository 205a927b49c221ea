"""`budgetdoc annotations import`: a Label Studio JSON export -> annotation files, all or nothing.

- Every annotated task becomes one annotation page (training/label_studio/tasks.py); tasks
  without a submitted annotation are skipped and counted.
- Pages of one document (source_sha256) go to one file: the annotation file that already holds
  that document anywhere under the annotation folders, else OUT/<doc_name>.jsonl.
- A page or table that the file already holds with other content is a conflict: reported, and
  nothing is written, unless `overwrite`. Identical pages are left alone (the file is not
  rewritten when nothing changes); lines of untouched pages are kept byte for byte.
- A new file keeps, of the task's document header, the tables the imported pages touch (lines
  naming them, tables listed on those pages, tables edited in the task).
- Every file to be written is written beside its target first and checked with
  `training.annotations.validate_file`; only when all are valid do they replace their targets.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pipeline import config
from training.annotations import validate_file
from training.label_studio.suggest import annotated_documents
from training.label_studio.tasks import ImportedPage, TaskError, apply_table_edits, page_from_task

DEFAULT_OUT = config.ANNOTATIONS_DIR / "imported"
IDENTITY_FIELDS = ("doc_name", "source", "source_sha256", "format")


class ImportFailed(RuntimeError):
    """Nothing was written; `problems` says why (one line each)."""

    def __init__(self, problems: list[str], conflicts: bool = False):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.conflicts = conflicts


@dataclass
class PlannedFile:
    path: Path
    existed: bool
    header: dict[str, Any]
    pages: dict[int, dict[str, Any]]
    raw: dict[Any, str] = field(default_factory=dict)  # "header" / page number -> line as it is in the file
    compact: bool = False  # the file writes JSON without spaces after separators
    added: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    tables_added: list[str] = field(default_factory=list)
    tables_replaced: list[str] = field(default_factory=list)
    task_of_page: dict[int, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.tables_added or self.tables_replaced) or not self.existed

    def dumps(self, obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":") if self.compact else None)

    def lines(self) -> list[str]:
        out = [self.raw.get("header") or self.dumps(self.header)]
        out += [self.raw.get(n) or self.dumps(self.pages[n]) for n in sorted(self.pages)]
        return out


@dataclass
class ImportReport:
    files: list[PlannedFile]
    tasks: int
    imported: int
    not_annotated: list[Any]
    dry_run: bool = False
    several: list[ImportedPage] = field(default_factory=list)  # tasks with more than one annotation

    def render(self) -> str:
        out = [f"{self.imported} annotated page(s) of {self.tasks} task(s); "
               f"{len(self.not_annotated)} task(s) without a submitted annotation skipped"]
        out += [f"  task {p.task_id}: {p.annotations} annotations, imported the last updated one (#{p.annotation_id})"
                for p in self.several]
        for f in self.files:
            state = "unchanged" if not f.changed else ("would write" if self.dry_run else "wrote") + \
                (" (new file)" if not f.existed else "")
            parts = [f"{len(f.added)} page(s) added" if f.added else "", f"{len(f.replaced)} replaced" if f.replaced else "",
                     f"{len(f.unchanged)} already there" if f.unchanged else "",
                     f"tables added {','.join(f.tables_added)}" if f.tables_added else "",
                     f"tables replaced {','.join(f.tables_replaced)}" if f.tables_replaced else ""]
            out.append(f"  {f.path}: {state}: {', '.join(p for p in parts if p)}")
        return "\n".join(out)


# ------------------------------------------------------------------ reading the export

def load_export(path: Path) -> list[Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportFailed([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ImportFailed([f"{path}: not UTF-8 text: {exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed([f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                            "a cut-short download? Export the project again as JSON"]) from exc
    if isinstance(data, dict) and "data" in data:
        data = [data]
    if not isinstance(data, list):
        raise ImportFailed([f"{path}: expected a list of tasks (Label Studio's JSON export), got {type(data).__name__}"])
    return data


def read_pages(tasks: list[Any]) -> tuple[list[ImportedPage], list[Any], list[str]]:
    pages, not_annotated, problems = [], [], []
    for n, task in enumerate(tasks):
        try:
            page = page_from_task(task)
        except TaskError as exc:
            problems.extend(exc.problems)
            continue
        if page is None:
            not_annotated.append(task.get("id", n) if isinstance(task, dict) else n)
        else:
            pages.append(page)
    return pages, not_annotated, problems


# ------------------------------------------------------------------ one document

@dataclass
class DocumentImport:
    sha256: str
    header: dict[str, Any]
    pages: dict[int, ImportedPage]
    tables: list[dict[str, Any]]  # the tables the imported pages touch, edits applied


def _touched_tables(page: ImportedPage, tables: list[dict[str, Any]]) -> set[str]:
    named = {ln.get("table_id") for ln in page.page["lines"] if ln.get("table_id")}
    edited = {t["table_id"] for t in page.table_edits or []}
    listed = {t["table_id"] for t in tables if page.number in (t.get("pages") or [])}
    return named | edited | listed


def group_documents(pages: list[ImportedPage]) -> tuple[list[DocumentImport], list[str]]:
    problems: list[str] = []
    by_doc: dict[str, list[ImportedPage]] = {}
    for p in pages:
        by_doc.setdefault(p.sha256, []).append(p)
    docs = []
    for sha, items in by_doc.items():
        items.sort(key=lambda p: p.number)
        base = items[0].header
        chosen: dict[int, ImportedPage] = {}
        tables: dict[str, tuple[dict[str, Any], ImportedPage]] = {}
        order: list[str] = []
        for p in items:
            differs = [f for f in IDENTITY_FIELDS if p.header.get(f) != base.get(f)]
            if differs:
                problems.append(f"task {p.task_id}: document {', '.join(differs)} differ(s) from task "
                                f"{items[0].task_id} of the same file (sha256 {sha[:12]}…)")
                continue
            if p.number in chosen:
                if chosen[p.number].page != p.page:
                    problems.append(f"{base.get('doc_name')} page {p.number} is annotated differently in tasks "
                                    f"{chosen[p.number].task_id} and {p.task_id}: delete one of them in Label Studio")
                continue
            chosen[p.number] = p
            effective = apply_table_edits(list(p.header.get("tables") or []), p.table_edits or [], p.number)
            touched = _touched_tables(p, effective)
            for t in effective:
                tid = t["table_id"]
                if tid not in touched:
                    continue
                if tid in tables and tables[tid][0] != t:
                    problems.append(f"{base.get('doc_name')}: table {tid} differs between tasks {tables[tid][1].task_id} "
                                    f"(page {tables[tid][1].number}) and {p.task_id} (page {p.number}): "
                                    f"{_table_difference(tables[tid][0], t)}; make the tables fields agree")
                    continue
                if tid not in tables:
                    order.append(tid)
                tables[tid] = (t, p)
        header_order = [t["table_id"] for t in base.get("tables") or []]
        order.sort(key=lambda tid: header_order.index(tid) if tid in header_order else len(header_order))
        docs.append(DocumentImport(sha256=sha, header=base, pages=chosen, tables=[tables[t][0] for t in order]))
    return docs, problems


def _table_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}"[:160] for k in keys) or "key order"


def _page_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    old_lines = {ln.get("id"): ln for ln in old.get("lines") or []}
    new_lines = {ln.get("id"): ln for ln in new.get("lines") or []}
    if list(old_lines) != list(new_lines):
        return "the lines differ (other ids or order)"
    diffs = []
    for lid, ln in new_lines.items():
        was = old_lines[lid]
        for k in sorted(set(ln) | set(was)):
            if ln.get(k) != was.get(k):
                shown = (f"{k} {was.get(k)!r} -> {ln.get(k)!r}" if k != "spans"
                         else f"spans ({len(was.get(k) or [])} -> {len(ln.get(k) or [])})")
                diffs.append(f"{lid} {shown}")
    if not diffs and old.get("records") != new.get("records"):
        return "the records differ"
    if not diffs:
        return "page fields differ: " + ", ".join(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
    more = f" (+{len(diffs) - 3} more)" if len(diffs) > 3 else ""
    return f"{len(diffs)} difference(s): " + "; ".join(d[:120] for d in diffs[:3]) + more


# ------------------------------------------------------------------ planning files

def _read_file(path: Path) -> tuple[dict[str, Any], dict[int, dict[str, Any]], dict[Any, str]]:
    raw_lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    rows = [json.loads(t) for t in raw_lines]
    raw: dict[Any, str] = {"header": raw_lines[0]}
    pages: dict[int, dict[str, Any]] = {}
    for text, row in zip(raw_lines[1:], rows[1:]):
        pages[int(row["page"])] = row
        raw[int(row["page"])] = text
    return rows[0], pages, raw


def plan_file(doc: DocumentImport, target: Path, overwrite: bool) -> tuple[PlannedFile, list[str]]:
    conflicts: list[str] = []
    if target.exists():
        try:
            header, pages, raw = _read_file(target)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return PlannedFile(path=target, existed=True, header={}, pages={}), [
                f"{target}: the existing annotation file cannot be read ({exc}); fix it first"]
        if header.get("source_sha256") != doc.sha256:
            return PlannedFile(path=target, existed=True, header=header, pages=pages), [
                f"{target} exists and holds another document (sha256 {str(header.get('source_sha256'))[:12]}…): "
                f"rename doc_name or pass another --out"]
        plan = PlannedFile(path=target, existed=True, header=header, pages=dict(pages), raw=raw,
                           compact='", "' not in raw["header"] and '": ' not in raw["header"])
        tables = list(header.get("tables") or [])
        index = {t.get("table_id"): i for i, t in enumerate(tables)}
        for t in doc.tables:
            tid = t["table_id"]
            if tid not in index:
                tables.append(t)
                plan.tables_added.append(tid)
            elif tables[index[tid]] != t:
                if overwrite:
                    tables[index[tid]] = t
                    plan.tables_replaced.append(tid)
                else:
                    conflicts.append(f"{target}: table {tid} differs from the file's: "
                                     f"{_table_difference(tables[index[tid]], t)}")
        if plan.tables_added or plan.tables_replaced:
            plan.header = {**header, "tables": tables}
            plan.raw.pop("header", None)
    else:
        header = {**doc.header, "tables": doc.tables}
        plan = PlannedFile(path=target, existed=False, header=header, pages={})
    for number, imported in sorted(doc.pages.items()):
        plan.task_of_page[number] = imported.task_id
        old = plan.pages.get(number)
        if old is None:
            plan.pages[number] = imported.page
            plan.added.append(number)
        elif old == imported.page:
            plan.unchanged.append(number)
        elif overwrite:
            plan.pages[number] = imported.page
            plan.raw.pop(number, None)
            plan.replaced.append(number)
        else:
            conflicts.append(f"{target} page {number} (task {imported.task_id}) differs from the file: "
                             f"{_page_difference(old, imported.page)}; pass --overwrite to replace it")
    return plan, conflicts


def _targets(docs: list[DocumentImport], out_dir: Path, roots: Iterable[Path]) -> tuple[dict[str, Path], list[str]]:
    existing = annotated_documents([*roots, out_dir])
    targets: dict[str, Path] = {}
    problems: list[str] = []
    for doc in docs:
        if doc.sha256 in existing:
            targets[doc.sha256] = existing[doc.sha256][0]
            continue
        name = str(doc.header.get("doc_name") or doc.sha256[:12])
        if "/" in name or "\\" in name or name.startswith("."):
            problems.append(f"doc_name {name!r} cannot be a file name")
            continue
        targets[doc.sha256] = out_dir / f"{name}.jsonl"
    paths = list(targets.values())
    for p in {p for p in paths if paths.count(p) > 1}:
        problems.append(f"{p}: two documents would be written to this file (same doc_name)")
    return targets, problems


# ------------------------------------------------------------------ writing

def _write_checked(plans: list[PlannedFile], commit: bool) -> list[str]:
    """Write every changed file beside its target and validate them all; only when all pass (and
    `commit`) do they replace their targets. A dry run of a new folder validates in a temporary one."""
    import shutil
    import tempfile

    temps: list[tuple[PlannedFile, Path, list[str]]] = []
    scratch: list[Path] = []
    problems: list[str] = []
    try:
        for plan in plans:
            if not plan.changed:
                continue
            folder = plan.path.parent
            if not folder.exists():
                if commit:
                    folder.mkdir(parents=True)
                else:
                    folder = Path(tempfile.mkdtemp(prefix="budgetdoc-import-"))
                    scratch.append(folder)
            temp = folder / f".{plan.path.name}.importing"
            lines = plan.lines()
            temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            temps.append((plan, temp, lines))
        for plan, temp, lines in temps:
            page_at = {no: int(json.loads(text)["page"]) for no, text in enumerate(lines, start=1) if no > 1}
            problems += [_locate(problem, temp, plan, page_at) for problem in validate_file(temp)]
        if problems or not commit:
            return problems
        for plan, temp, _ in temps:
            os.replace(temp, plan.path)
        return []
    finally:
        for _, temp, _ in temps:
            if temp.exists():
                temp.unlink()
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)


def _locate(problem: str, temp: Path, plan: PlannedFile, page_at: dict[int, int]) -> str:
    """A validator message about the temporary file, told about the target file and the task."""
    text = problem.replace(str(temp), str(plan.path), 1)
    rest = text[len(str(plan.path)) + 1:]
    number, _, reason = rest.partition(": ")
    if number.isdigit() and int(number) in page_at:
        page = page_at[int(number)]
        task = plan.task_of_page.get(page)
        where = f"page {page}" + (f", task {task}" if task is not None else ", already in the file")
        return f"{plan.path}:{number} ({where}): {reason}"
    return text


def import_export(export: Path, out_dir: Path = DEFAULT_OUT,
                  annotation_roots: Iterable[Path] = (config.ANNOTATIONS_DIR,),
                  overwrite: bool = False, dry_run: bool = False) -> ImportReport:
    """Import a Label Studio JSON export; raises ImportFailed (nothing written) on any problem."""
    tasks = load_export(export)
    pages, not_annotated, problems = read_pages(tasks)
    docs, grouping = group_documents(pages)
    problems += grouping
    if problems:
        raise ImportFailed(problems)
    targets, problems = _targets(docs, Path(out_dir), list(annotation_roots))
    if problems:
        raise ImportFailed(problems)
    plans, conflicts = [], []
    for doc in docs:
        plan, doc_conflicts = plan_file(doc, targets[doc.sha256], overwrite)
        plans.append(plan)
        conflicts += doc_conflicts
    if conflicts:
        raise ImportFailed(conflicts, conflicts=True)
    problems = _write_checked(plans, commit=not dry_run)
    if problems:
        raise ImportFailed(problems)
    return ImportReport(files=plans, tasks=len(tasks), imported=len(pages), not_annotated=not_annotated,
                        dry_run=dry_run, several=[p for p in pages if p.annotations > 1])

