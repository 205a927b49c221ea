"""Scoring the pipeline against annotated documents it never saw in training.

Figures: section macro-F1 (per label too), budget cell F1 (cell = table kind, side, subject
code or name, column key, value), indicator F1 (level1, level2, level3, target), project F1,
metadata accuracy (department, year, unit, doc_kind all right), record exact match and the
expected calibration error of record confidence against record correctness.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from pipeline.model import Document, SECTION_LABELS
from training.annotations import AnnotatedDocument

HELD_OUT_SPLITS = ("test_doc", "test_template", "seed")


def norm(text: Optional[str]) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def document_for_inference(ann: AnnotatedDocument) -> Document:
    """The annotated document as extraction would give it: same lines, no labels or spans."""
    pages = ann.to_model_pages()
    for page in pages:
        for line in page.lines:
            line.label, line.label_prob, line.label_probs, line.spans = None, 0.0, {}, []
    return Document(doc_id=ann.header.get("source_sha256", "0" * 64), source=ann.header.get("source", str(ann.path)),
                    format=ann.format, pages=pages)


# ------------------------------------------------------------------ tuple views of records

def _table_kinds(tables: Iterable[dict]) -> dict[Optional[str], str]:
    return {t["table_id"]: t["kind"] for t in tables}


def budget_key(rec: dict, kinds: dict) -> tuple:
    subject = rec.get("subject_code") or norm(rec.get("subject_name"))
    return (kinds.get(rec.get("table_id"), "other"), rec.get("side"), subject)


def budget_cells(records: Iterable[dict], tables: Iterable[dict]) -> Counter:
    kinds = _table_kinds(tables)
    cells: Counter = Counter()
    for r in records:
        if r.get("type") != "budget_line":
            continue
        base = budget_key(r, kinds)
        for key, value in (r.get("values") or {}).items():
            if value is not None:
                cells[base + (key, round(float(value), 2))] += 1
    return cells


def indicator_tuples(records: Iterable[dict]) -> Counter:
    return Counter((norm(r.get("level1")), norm(r.get("level2")), norm(r.get("level3")), norm(r.get("target")))
                   for r in records if r.get("type") == "indicator")


def project_names(records: Iterable[dict]) -> Counter:
    return Counter(norm(r.get("name")) for r in records if r.get("type") == "project")


def fact_tuples(records: Iterable[dict]) -> Counter:
    return Counter((round(float(r.get("value") or 0), 2), r.get("unit")) for r in records if r.get("type") == "fact")


@dataclass
class Tally:
    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0

    def add(self, gold: Counter, pred: Counter) -> None:
        overlap = sum((gold & pred).values())
        self.tp += overlap
        self.fp += sum(pred.values()) - overlap
        self.fn += sum(gold.values()) - overlap

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def record_correct(pred: dict, gold_records: list[dict], gold_tables: list[dict], pred_tables: list[dict]) -> bool:
    t = pred.get("type")
    if t == "budget_line":
        gk, pk = _table_kinds(gold_tables), _table_kinds(pred_tables)
        key = budget_key(pred, pk)
        want = {k: round(float(v), 2) for k, v in (pred.get("values") or {}).items() if v is not None}
        return any(budget_key(g, gk) == key and {k: round(float(v), 2) for k, v in (g.get("values") or {}).items()
                                                  if v is not None} == want
                   for g in gold_records if g.get("type") == "budget_line")
    if t == "indicator":
        return next(iter(indicator_tuples([pred]))) in indicator_tuples(gold_records)
    if t == "project":
        return norm(pred.get("name")) in project_names(gold_records)
    if t == "fact":
        return next(iter(fact_tuples([pred]))) in fact_tuples(gold_records)
    return False


def expected_calibration_error(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    if not confidences:
        return 0.0
    total, ece = len(confidences), 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if (lo <= c < hi) or (b == bins - 1 and c == 1.0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            conf = sum(confidences[i] for i in idx) / len(idx)
            ece += len(idx) / total * abs(acc - conf)
    return ece


@dataclass
class GroupScore:
    name: str
    documents: int = 0
    section_true: list[str] = field(default_factory=list)
    section_pred: list[str] = field(default_factory=list)
    cells: Tally = field(default_factory=Tally)
    indicators: Tally = field(default_factory=Tally)
    projects: Tally = field(default_factory=Tally)
    facts: Tally = field(default_factory=Tally)
    metadata_right: int = 0
    metadata_fields: Counter = field(default_factory=Counter)
    confidences: list[float] = field(default_factory=list)
    raw_scores: list[float] = field(default_factory=list)
    record_types: list[str] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    per_document: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        from sklearn.metrics import f1_score

        labels = [lab for lab in SECTION_LABELS if lab in set(self.section_true)]
        out = {
            "documents": self.documents,
            "section_macro_f1": f1_score(self.section_true, self.section_pred, labels=labels, average="macro", zero_division=0)
            if self.section_true else 0.0,
            "budget_cell_f1": self.cells.f1, "budget_cell_precision": self.cells.precision,
            "budget_cell_recall": self.cells.recall,
            "indicator_f1": self.indicators.f1, "project_f1": self.projects.f1, "fact_f1": self.facts.f1,
            "metadata_accuracy": self.metadata_right / self.documents if self.documents else 0.0,
            "record_exact_match": sum(self.correct) / len(self.correct) if self.correct else 0.0,
            "ece": expected_calibration_error(self.confidences, self.correct),
        }
        for lab in labels:
            out[f"section_f1.{lab}"] = f1_score(self.section_true, self.section_pred, labels=[lab], average="macro", zero_division=0)
        for fld, n in self.metadata_fields.items():
            out[f"metadata.{fld}"] = n / self.documents if self.documents else 0.0
        return out


def score_document(group: GroupScore, ann: AnnotatedDocument, doc: Document) -> None:
    out = doc.to_contract()
    gold_records, gold_tables = ann.records, ann.tables
    group.documents += 1
    pred_lines = [ln for ln in doc.iter_lines()]
    gold_lines = [ln for _, ln in ann.iter_lines()]
    group.section_true.extend(ln.label for ln in gold_lines)
    group.section_pred.extend(ln.label or "other" for ln in pred_lines)
    doc_cells = Tally()
    gold_cells, pred_cells = budget_cells(gold_records, gold_tables), budget_cells(out["records"], out["tables"])
    group.cells.add(gold_cells, pred_cells)
    doc_cells.add(gold_cells, pred_cells)
    group.indicators.add(indicator_tuples(gold_records), indicator_tuples(out["records"]))
    group.projects.add(project_names(gold_records), project_names(out["records"]))
    group.facts.add(fact_tuples(gold_records), fact_tuples(out["records"]))
    dept = ann.department.get("name")
    meta = {
        "department": norm(out["department"]["name"]) == norm(dept),
        "fiscal_year": out["fiscal_year"] == ann.fiscal_year,
        "unit": out["unit"] == ann.unit,
        "doc_kind": out["doc_kind"] == ann.doc_kind,
    }
    for k, ok in meta.items():
        group.metadata_fields[k] += int(ok)
    group.metadata_right += int(all(meta.values()))
    wrong = 0
    for rec, model_rec in zip(out["records"], doc.records):
        ok = record_correct(rec, gold_records, gold_tables, out["tables"])
        wrong += not ok
        group.confidences.append(rec["confidence"])
        group.raw_scores.append(model_rec.raw_score)
        group.record_types.append(rec["type"])
        group.correct.append(ok)
    group.per_document.append({
        "doc": ann.doc_name, "template": ann.template, "split": ann.split,
        "budget_cell_f1": round(doc_cells.f1, 4), "records": len(out["records"]), "wrong_records": wrong,
        "missed_cells": sum((gold_cells - pred_cells).values()), "extra_cells": sum((pred_cells - gold_cells).values()),
        "metadata": meta,
    })


def run_on(processor, ann: AnnotatedDocument) -> Document:
    return processor.process(document_for_inference(ann))


def evaluate(processor, docs: list[AnnotatedDocument], group_by: str = "split") -> dict[str, GroupScore]:
    groups: dict[str, GroupScore] = {}
    for ann in docs:
        key = ann.doc_name if group_by == "doc" else getattr(ann, group_by)
        group = groups.setdefault(key, GroupScore(name=key))
        score_document(group, ann, run_on(processor, ann))
    return groups


def reliability_plot(confidences: list[float], correct: list[bool], path: Path, title: str = "record confidence") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = 10
    xs, ys, ns = [], [], []
    for b in range(bins):
        idx = [i for i, c in enumerate(confidences) if b / bins <= c < (b + 1) / bins or (b == bins - 1 and c == 1.0)]
        if idx:
            xs.append(sum(confidences[i] for i in idx) / len(idx))
            ys.append(sum(correct[i] for i in idx) / len(idx))
            ns.append(len(idx))
    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1, label="perfect calibration")
    ax.plot(xs, ys, "o-", color="#c0392b", label="budgetdoc")
    for x, y, n in zip(xs, ys, ns):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ece = expected_calibration_error(confidences, correct)
    ax.set(xlabel="predicted confidence", ylabel="fraction of records correct", xlim=(0, 1), ylim=(0, 1.02),
           title=f"{title}\nECE = {ece:.3f} over {len(confidences)} records")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def format_table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    head = "| group | " + " | ".join(columns) + " |"
    sep = "|---|" + "---|" * len(columns)
    body = []
    for name, m in rows.items():
        cells = [f"{m.get(c, 0):.3f}" if isinstance(m.get(c), float) else str(m.get(c, "")) for c in columns]
        body.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *body])


HEADLINE = ["documents", "section_macro_f1", "budget_cell_f1", "indicator_f1", "project_f1", "metadata_accuracy",
            "record_exact_match", "ece"]


def evaluate_main(args) -> int:
    from pipeline import config
    from pipeline.process import Processor
    from training.annotations import load_corpus

    paths = [Path(p) for p in (args.annotations or [config.ANNOTATIONS_DIR])]
    docs = [d for d in load_corpus(paths) if d.split in HELD_OUT_SPLITS]
    if not docs:
        print("no held-out documents (split test_doc, test_template or seed) under " + ", ".join(map(str, paths)))
        return 1
    processor = Processor(args.model)
    trained_on = set(json.loads((Path(args.model) / "manifest.json").read_text()).get("trained_on_documents", []))
    groups = evaluate(processor, docs, group_by="split")
    seeds = evaluate(processor, [d for d in docs if d.split == "seed"], group_by="doc")
    rows = {g: s.metrics() for g, s in groups.items()}
    rows.update({f"seed:{g}" + (" (in training!)" if g in trained_on else ""): s.metrics() for g, s in seeds.items()})
    table = format_table(rows, HEADLINE)
    print(table)
    if args.report:
        Path(args.report).write_text(f"# budgetdoc evaluation\n\nmodel: {args.model}\n\n{table}\n")
    return 0
