"""Train the shipped models from annotations/ and write models/ with a manifest.

    python -m training.build_models [--annotations DIR ...] [--out models/]

Trains the section classifier, the field tagger and the header/title models on the `train`
split plus every seed, writes section.npz, fields.crfsuite, header_keys.npz,
table_kind.npz and manifest.json (library versions, training files with sizes and hashes,
held-out metrics), and prints the held-out figures:
- test_doc / test_template: the shipped models (they never saw these documents);
- each seed: models trained by the same function on train + the other seeds (leave-one-seed-out).
Everything is seeded, so the same annotations give the same files.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from pipeline import config
from pipeline.classify import SectionClassifier
from pipeline.fields import FieldTagger, tag_fields
from pipeline.header_model import HeaderModel, contract_key_examples, domain_title_examples
from pipeline.model import SECTION_LABELS, Document, Line, Page
from training.datasets import (
    DocExample, by_split, file_fingerprints, leave_one_seed_out, load_examples, seeds, unlabelled, with_text_views,
)

MODEL_NAME = "budgetdoc-default"
MODEL_VERSION = "1"
SEED_WEIGHT = 3.0  # real documents count more than generated ones
TEXT_VIEW_SHARE = 1.0  # every generated PDF also seen as one text export (stream, whole rows, tabbed, plain in turn per template)
SECTION_CAP = 150
FIELD_SEED_COPIES = 2  # extra copies of each real page in the field tagger's training set
MAX_SYNTH_DOCS = 60  # generated documents are alike: past this they cost time, not accuracy (40 -> 60 measured: +0.004 / +0.008 section macro-F1 on seeds 002 / 000 over three samples)


@dataclass
class TrainedModels:
    sections: SectionClassifier
    fields: FieldTagger
    headers: HeaderModel


# ------------------------------------------------------------------ training

def training_documents(examples: Sequence[DocExample], max_synth: int = MAX_SYNTH_DOCS) -> list[DocExample]:
    """The train split (at most `max_synth` generated documents, taken in turn from each template
    and document kind, so budgets and self-evaluation reports of every layout are both seen; every
    hand-annotated one, e.g. pages imported from Label Studio) plus every seed."""
    by_group: dict[tuple[str, str], list[DocExample]] = {}
    train = by_split(examples, "train")
    for ex in sorted((ex for ex in train if ex.origin == "synth"), key=lambda e: e.name):
        by_group.setdefault((ex.template, ex.doc_kind), []).append(ex)
    chosen: list[DocExample] = []
    while len(chosen) < max_synth and any(by_group.values()):
        for group in sorted(by_group):
            if by_group[group] and len(chosen) < max_synth:
                chosen.append(by_group[group].pop(0))
    hand = [ex for ex in train if ex.origin != "synth"]
    return sorted(chosen + hand, key=lambda e: e.name) + seeds(examples)


def train_section(train: Sequence[DocExample]) -> SectionClassifier:
    # a text export that follows the content stream keeps a wrapped cell's pieces together, cell after
    # cell (seed 000): the line sequence the section model must read; the field tagger, which labels
    # within a line, keeps the reading-order streams (measured: its indicator spans were better so)
    docs = with_text_views(train, TEXT_VIEW_SHARE, file_order_streams=True)
    weights = [SEED_WEIGHT if d.origin == "seed" else 1.0 for d in docs]
    return SectionClassifier().fit([d.pages for d in docs], [d.labels for d in docs], doc_weights=weights,
                                   cap=SECTION_CAP)


def train_fields(train: Sequence[DocExample]) -> FieldTagger:
    docs = with_text_views(train, TEXT_VIEW_SHARE)
    pages = [_capped_pages(d) for d in docs]
    # the CRF takes no sample weights: real pages count FIELD_SEED_COPIES more times by repetition
    # (measured: seed 000's indicators, held out, 0.942 -> 0.960 with the other two seeds repeated twice)
    pages += [_capped_pages(d) for d in docs if d.origin == "seed"] * FIELD_SEED_COPIES
    return FieldTagger().fit(pages)


def _capped_pages(ex: DocExample, cap: int = 250) -> list[Page]:
    """Field training pages with at most `cap` lines per section label (synth table rows are alike)."""
    rng = np.random.RandomState(len(ex.name))
    out = []
    counts: Counter = Counter(ex.labels)
    keep_share = {lab: min(1.0, cap / n) for lab, n in counts.items()}
    for p in ex.pages:
        lines = [ln for ln in p.lines if rng.random_sample() < keep_share[ln.label or "other"]]
        out.append(Page(number=p.number, width=p.width, height=p.height, lines=lines))
    return out


def header_examples(docs: Sequence[DocExample]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    keys = contract_key_examples(config.SHARED_DIR / "contract" / "README.md")
    kinds = domain_title_examples(config.SHARED_DIR / "domain.md")
    for d in docs:
        for t in d.tables:
            if t.get("title"):
                kinds.append((t["title"], t["kind"]))
            for c in t.get("columns") or []:
                if c.get("header"):
                    keys.append((c["header"], c["key"]))
    return keys, kinds


def train_all(train: Sequence[DocExample]) -> TrainedModels:
    keys, kinds = header_examples(train)
    return TrainedModels(train_section(train), train_fields(train), HeaderModel.fit(keys, kinds))


# ------------------------------------------------------------------ scoring

def f1_per_label(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    out = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred))
        if tp + fp + fn:
            out[lab] = 2 * tp / (2 * tp + fp + fn)
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    conf, ok = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if not len(conf):
        return 0.0
    which = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[which == b].mean() - ok[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / len(conf))


def section_scores(model: SectionClassifier, docs: Sequence[DocExample]) -> tuple[dict[str, Any], list[list[str]]]:
    """Macro-F1 over the labels present, accuracy, per-label F1 and the ECE of the top probability."""
    gold, pred, preds, conf = [], [], [], []
    for d in docs:
        probs = model.predict_proba(unlabelled(d.pages))
        p = [model.labels[k] for k in probs.argmax(axis=1)]
        preds.append(p)
        gold.extend(d.labels)
        pred.extend(p)
        conf.extend(probs.max(axis=1).tolist())
    per = f1_per_label(gold, pred, SECTION_LABELS)
    correct = [g == p for g, p in zip(gold, pred)]
    return ({"lines": len(gold), "macro_f1": round(float(np.mean(list(per.values()))), 4) if per else 0.0,
             "accuracy": round(float(np.mean(correct)), 4) if gold else 0.0,
             "ece": round(expected_calibration_error(conf, correct), 4),
             "per_label_f1": {k: round(v, 4) for k, v in per.items()}}, preds)


def field_scores(model: FieldTagger, docs: Sequence[DocExample],
                 predicted_labels: Optional[Sequence[Sequence[str]]] = None) -> dict[str, Any]:
    """Exact span match (start, end, label) over all lines; section labels predicted when given."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for n, d in enumerate(docs):
        labels = iter(predicted_labels[n] if predicted_labels is not None else d.labels)
        for page in d.pages:
            test_page = Page(number=page.number, width=page.width, height=page.height,
                             lines=[Line(text=ln.text, page=ln.page, index=ln.index, bbox=ln.bbox, line_no=ln.line_no,
                                         size=ln.size, bold=ln.bold, label=next(labels)) for ln in page.lines])
            tagged = tag_fields(Document(doc_id="", source=d.name, format=d.format, pages=[test_page]), model)
            for ln, gold_line in zip(tagged.pages[0].lines, page.lines):
                got = {(s.start, s.end, s.label) for s in ln.spans}
                want = {(s.start, s.end, s.label) for s in gold_line.spans}
                for s in got & want:
                    tp[s[2]] += 1
                for s in got - want:
                    fp[s[2]] += 1
                for s in want - got:
                    fn[s[2]] += 1

    def f1(t: int, p: int, n: int) -> float:
        return round(2 * t / (2 * t + p + n), 4) if t + p + n else 0.0

    labels = sorted(set(tp) | set(fn))
    return {"span_f1": f1(sum(tp.values()), sum(fp.values()), sum(fn.values())),
            "per_label_f1": {lab: f1(tp[lab], fp[lab], fn[lab]) for lab in labels if tp[lab] + fn[lab] >= 5}}


def header_scores(model: HeaderModel, docs: Sequence[DocExample]) -> dict[str, Any]:
    keys, kinds = [], []
    for d in docs:
        for t in d.tables:
            if t.get("title"):
                kinds.append((t["title"], t["kind"]))
            for c in t.get("columns") or []:
                keys.append((c["header"], c["key"]))
    key_ok = [model.column_key(h)[0] == k or (k.startswith("extra:") and model.column_key(h)[0].startswith("extra:"))
              for h, k in keys]
    kind_ok = [got == k for (t, k), (got, _) in zip(kinds, model.table_kinds([t for t, _ in kinds]))]
    return {"column_key_accuracy": round(float(np.mean(key_ok)), 4) if key_ok else None, "columns": len(key_ok),
            "table_kind_accuracy": round(float(np.mean(kind_ok)), 4) if kind_ok else None, "tables": len(kind_ok)}


# ------------------------------------------------------------------ main

def evaluate_held_out(models: TrainedModels, examples: Sequence[DocExample], log) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for split in ("test_doc", "test_template"):
        docs = by_split(examples, split)
        if not docs:
            continue
        sec, preds = section_scores(models.sections, docs)
        metrics[split] = {"documents": len(docs), "section": sec,
                          "fields": field_scores(models.fields, docs, preds),
                          "headers": header_scores(models.headers, docs)}
        log(f"{split}: {len(docs)} docs, section macro-F1 {sec['macro_f1']:.3f}, "
            f"field span F1 {metrics[split]['fields']['span_f1']:.3f}, headers {metrics[split]['headers']}")
    return metrics


def leave_one_seed_out_metrics(examples: Sequence[DocExample], log) -> dict[str, Any]:
    train = [ex for ex in training_documents(examples) if ex.split != "seed"]
    out: dict[str, Any] = {}
    for held, others in leave_one_seed_out(examples):
        t0 = time.time()
        models = train_all(train + others)
        sec, preds = section_scores(models.sections, [held])
        out[held.name] = {"section": sec, "fields": field_scores(models.fields, [held], preds),
                          "fields_gold_sections": field_scores(models.fields, [held]),
                          "headers": header_scores(models.headers, [held])}
        log(f"seed {held.name} (leave-one-seed-out, {time.time() - t0:.0f}s): section macro-F1 {sec['macro_f1']:.3f} "
            f"acc {sec['accuracy']:.3f} ECE {sec['ece']:.3f}, field span F1 {out[held.name]['fields']['span_f1']:.3f} "
            f"(gold sections {out[held.name]['fields_gold_sections']['span_f1']:.3f}), headers {out[held.name]['headers']}")
        log("   per label: " + ", ".join(f"{k} {v:.2f}" for k, v in sec["per_label_f1"].items()))
    return out


def library_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in ("scikit-learn", "sklearn-crfsuite", "python-crfsuite", "jieba", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def build(annotation_dirs: Sequence[Path], out_dir: Path, loso: bool = True, log=print) -> dict[str, Any]:
    t0 = time.time()
    examples = load_examples(annotation_dirs)
    log(f"{len(examples)} annotated documents: {dict(Counter(e.split for e in examples))}")
    train = training_documents(examples)
    models = train_all(train)
    log(f"trained on {len(train)} documents in {time.time() - t0:.0f}s")
    out_dir.mkdir(parents=True, exist_ok=True)
    models.sections.save(out_dir)
    models.fields.save(out_dir)
    models.headers.save(out_dir)
    metrics = evaluate_held_out(models, examples, log)
    if loso and seeds(examples):
        metrics["seeds_leave_one_out"] = leave_one_seed_out_metrics(examples, log)
    manifest = {
        "name": MODEL_NAME, "version": MODEL_VERSION,
        "files": sorted(n for n in config.MODEL_FILES if (out_dir / n).exists()),
        "libraries": library_versions(),
        "settings": {"seed_weight": SEED_WEIGHT, "text_view_share": TEXT_VIEW_SHARE, "section_cap": SECTION_CAP,
                     "max_synth_docs": MAX_SYNTH_DOCS, "field_seed_copies": FIELD_SEED_COPIES},
        "trained_on_documents": sorted(e.name for e in train),
        "training_files": file_fingerprints(train),
        "held_out_files": file_fingerprints([e for e in examples if e.split in ("test_doc", "test_template")]),
        "metrics": metrics,
        "command": "python -m training.build_models " + " ".join(f"--annotations {a}" for a in annotation_dirs)
                   + f" --out {out_dir}",
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out_dir} in {time.time() - t0:.0f}s")
    return manifest


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.build_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", action="append", default=None,
                        help="annotation folder or file (repeatable; default: annotations/)")
    parser.add_argument("--out", default=str(config.MODELS_DIR), help="model folder to write (default: models/)")
    parser.add_argument("--no-loso", action="store_true", help="skip the leave-one-seed-out figures")
    args = parser.parse_args(argv)
    dirs = [Path(a) for a in (args.annotations or [config.ANNOTATIONS_DIR])]
    build(dirs, Path(args.out), loso=not args.no_loso)
    return 0


if __name__ == "__main__":
    sys.exit(main())
