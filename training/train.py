"""`budgetdoc train` and `budgetdoc evaluate`: train, score on held-out documents, log to MLflow.

train: every annotation file under the given folders is read (new files need no code change);
the models are trained on the `train` split plus the seeds (training/build_models.py), the
end-to-end pipeline is run over the held-out splits (test_doc, test_template), and ONE MLflow
run records params, metrics, plots, the per-document error report and the model folder as a
registered pyfunc model whose new version gets the alias `challenger`.
evaluate: the same held-out figures for an existing model folder or `models:/NAME@alias`,
logged as an evaluation run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pipeline import config
from pipeline.model import SECTION_LABELS
from training.evaluate import GroupScore, HEADLINE, format_table, reliability_plot, run_on, score_document

HELD_OUT = ("test_doc", "test_template")
POOLED = "held_out"
TEMPLATE_PREFIX = "template."  # per-template metrics: template.<name>.<headline metric>
DEFAULT_REGISTERED_NAME = "budgetdoc"
CHALLENGER, CHAMPION = "challenger", "champion"
# Metrics promotion compares (pooled over both held-out splits).
CELL_F1 = f"{POOLED}.budget_cell_f1"
SECTION_MACRO_F1 = f"{POOLED}.section_macro_f1"
HELD_OUT_HASH_PARAM = "held_out.sha256"

Log = Callable[[str], None]


# ------------------------------------------------------------------ held-out evaluation

@dataclass
class HeldOutResult:
    groups: dict[str, GroupScore] = field(default_factory=dict)  # test_doc, test_template, held_out
    templates: dict[str, GroupScore] = field(default_factory=dict)  # the same documents by template
    seconds: float = 0.0

    @property
    def pooled(self) -> GroupScore:
        return self.groups[POOLED]


def held_out_documents(annotation_dirs: Sequence[Path]):
    from training.annotations import load_corpus

    return [d for d in load_corpus(annotation_dirs) if d.split in HELD_OUT]


def held_out_fingerprint(docs) -> dict[str, Any]:
    """sha256 over the held-out files' names and bytes: equal hashes mean the same held-out set."""
    h = hashlib.sha256()
    size = 0
    for d in sorted(docs, key=lambda d: Path(d.path).name):
        data = Path(d.path).read_bytes()
        size += len(data)
        h.update(Path(d.path).name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return {"sha256": h.hexdigest(), "files": len(docs), "bytes": size}


def evaluate_model_dir(model_dir: Path, docs, log: Log = print) -> HeldOutResult:
    """Run the end-to-end pipeline over every held-out document and score it per split and pooled."""
    from pipeline.process import Processor

    t0 = time.time()
    processor = Processor(model_dir)
    result = HeldOutResult()
    pooled = result.groups.setdefault(POOLED, GroupScore(name=POOLED))
    for ann in docs:
        doc = run_on(processor, ann)
        score_document(result.groups.setdefault(ann.split, GroupScore(name=ann.split)), ann, doc)
        score_document(pooled, ann, doc)
        score_document(result.templates.setdefault(ann.template, GroupScore(name=ann.template)), ann, doc)
    result.seconds = time.time() - t0
    log(f"scored {len(docs)} held-out documents in {result.seconds:.1f}s")
    return result


def evaluate_in_fresh_process(model_dir: Path, annotation_dirs: Sequence[Path], log: Log = print) -> HeldOutResult:
    """evaluate_model_dir in a new interpreter, as `budgetdoc evaluate` runs it: the logged figures
    are what any later evaluation of the same model and files reports. (Scoring in the training
    process gives the same documents, byte for byte, on the full held-out set; a difference seen
    once came from pipeline code edited between the two runs, which a long-running process does
    not reload.)"""
    import pickle
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.pkl"
        cmd = [sys.executable, "-m", "training.train", "--evaluate-to", str(out), str(model_dir),
               *map(str, annotation_dirs)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"held-out evaluation failed:\n{done.stderr[-3000:]}")
        result = pickle.loads(out.read_bytes())
    log(f"scored {result.pooled.documents} held-out documents in {result.seconds:.1f}s (fresh process)")
    return result


def section_precision_recall(group: GroupScore) -> dict[str, float]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = [lab for lab in SECTION_LABELS if lab in set(group.section_true)]
    if not labels:
        return {}
    p, r, _, _ = precision_recall_fscore_support(group.section_true, group.section_pred, labels=labels,
                                                 zero_division=0)
    out = {}
    for lab, prec, rec in zip(labels, p, r):
        out[f"section_precision.{lab}"] = float(prec)
        out[f"section_recall.{lab}"] = float(rec)
    return out


def flat_metrics(result: HeldOutResult) -> dict[str, float]:
    """`<group>.<metric>` for every group, per-label section precision/recall/F1 included, and
    `template.<name>.<metric>` (headline metrics only) for every held-out template."""
    out: dict[str, float] = {}
    for name, group in result.groups.items():
        values = {**group.metrics(), **section_precision_recall(group)}
        out.update({f"{name}.{k}": float(v) for k, v in values.items()})
    for name, group in sorted(result.templates.items()):
        values = group.metrics()
        out.update({f"{TEMPLATE_PREFIX}{name}.{k}": float(values[k]) for k in HEADLINE if k in values})
    out["held_out.eval_seconds"] = round(result.seconds, 2)
    return out


def headline_rows(result: HeldOutResult) -> dict[str, dict[str, float]]:
    order = [g for g in (*HELD_OUT, POOLED) if g in result.groups]
    rows = {g: result.groups[g].metrics() for g in order}
    rows.update({f"template:{name}": group.metrics() for name, group in sorted(result.templates.items())})
    return rows


def confusion_plot(group: GroupScore, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = [lab for lab in SECTION_LABELS if lab in set(group.section_true) | set(group.section_pred)]
    fig, ax = plt.subplots(figsize=(8, 7), dpi=100)
    ConfusionMatrixDisplay.from_predictions(group.section_true, group.section_pred, labels=labels, ax=ax,
                                            xticks_rotation=60, colorbar=False, normalize="true",
                                            values_format=".2f")
    ax.set_title(f"section labels, held-out lines (rows: gold, normalised), {len(group.section_true)} lines")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_artifacts(result: HeldOutResult, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pooled = result.pooled
    errors = folder / "errors_per_document.json"
    errors.write_text(json.dumps({g: s.per_document for g, s in result.groups.items() if g != POOLED},
                                 ensure_ascii=False, indent=1), encoding="utf-8")
    table = folder / "evaluation.md"
    table.write_text(format_table(headline_rows(result), HEADLINE) + "\n", encoding="utf-8")
    return [confusion_plot(pooled, folder / "confusion_sections.png"),
            reliability_plot(pooled.confidences, pooled.correct, folder / "reliability.png",
                             title="record confidence, held-out documents"),
            errors, table]


# ------------------------------------------------------------------ training

def annotation_params(examples, train, held_docs) -> tuple[dict[str, Any], dict[str, Any]]:
    """Short params (hashes, counts, sizes) and the full per-file fingerprints for an artifact."""
    from training.datasets import file_fingerprints

    train_files = file_fingerprints(train)
    h = hashlib.sha256()
    for f in sorted(train_files, key=lambda f: f["file"]):
        h.update(f"{f['file']}\0{f['sha256']}".encode("utf-8"))
    held = held_out_fingerprint(held_docs)
    params = {
        "annotations.documents": len(examples),
        "train.sha256": h.hexdigest(), "train.files": len(train_files),
        "train.bytes": sum(f["bytes"] for f in train_files),
        HELD_OUT_HASH_PARAM: held["sha256"], "held_out.files": held["files"], "held_out.bytes": held["bytes"],
    }
    for split in ("train", *HELD_OUT, "seed"):
        params[f"split.{split}"] = sum(e.split == split for e in examples)
    detail = {"training_files": train_files, "held_out_files": file_fingerprints([e for e in examples if e.split in HELD_OUT])}
    return params, detail


def model_params(models) -> dict[str, Any]:
    from training import build_models as bm

    s, f = models.sections, models.fields
    return {
        "model.sections": f"{type(s).__name__}({type(s.first).__name__} + {type(s.second).__name__})",
        "model.sections.C": s.c, "model.sections.C_second": s.c_second, "model.sections.windows": str(s.windows),
        "model.fields": f"{type(f).__name__}(CRF lbfgs)", "model.fields.c1": f.c1, "model.fields.c2": f.c2,
        "model.fields.max_iterations": f.max_iterations,
        "model.headers": f"{type(models.headers).__name__}({type(models.headers.keys).__name__})",
        "features.seed_weight": bm.SEED_WEIGHT, "features.text_view_share": bm.TEXT_VIEW_SHARE,
        "features.section_cap": bm.SECTION_CAP, "features.max_synth_docs": bm.MAX_SYNTH_DOCS,
        "features.field_seed_copies": bm.FIELD_SEED_COPIES,
    }


def save_model_folder(models, train, examples, out_dir: Path, registered_name: str, run_id: str) -> None:
    from training.build_models import library_versions
    from training.datasets import file_fingerprints

    out_dir.mkdir(parents=True, exist_ok=True)
    models.sections.save(out_dir)
    models.fields.save(out_dir)
    models.headers.save(out_dir)
    manifest = {
        "name": registered_name, "version": f"run-{run_id[:8]}", "mlflow_run_id": run_id,
        "files": sorted(n for n in config.MODEL_FILES if (out_dir / n).exists()),
        "libraries": library_versions(),
        "trained_on_documents": sorted(e.name for e in train),
        "training_files": file_fingerprints(train),
        "held_out_files": file_fingerprints([e for e in examples if e.split in HELD_OUT]),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


@dataclass
class TrainOutcome:
    run_id: str
    version: Optional[str]
    metrics: dict[str, float]
    result: HeldOutResult
    seconds: dict[str, float]


def train_and_log(annotation_dirs: Sequence[Path], experiment: str, tracking_uri: Optional[str],
                  out_dir: Optional[Path], registered_name: str, log: Log = print,
                  tags: Optional[dict[str, str]] = None, run_name: Optional[str] = None,
                  max_synth_docs: Optional[int] = None) -> TrainOutcome:
    """`tags` are added to the run's; `max_synth_docs` overrides how many generated train-split
    documents are used (build_models.MAX_SYNTH_DOCS, templates taken in turn)."""
    import mlflow

    from training import build_models as bm
    from training.build_models import train_all, training_documents
    from training.datasets import load_examples
    from training.mlflow_models import log_model_folder, model_digest
    from training.registry import set_alias
    from training.tracking import ensure_experiment, use_tracking

    uri = use_tracking(tracking_uri)
    experiment_id = ensure_experiment(experiment, uri)
    seconds: dict[str, float] = {}
    t0 = time.time()
    examples = load_examples(annotation_dirs)
    held_docs = held_out_documents(annotation_dirs)
    if not held_docs:
        raise SystemExit("no held-out documents (split test_doc or test_template) under "
                         + ", ".join(map(str, annotation_dirs)))
    seconds["load"] = time.time() - t0
    max_synth = bm.MAX_SYNTH_DOCS if max_synth_docs is None else max_synth_docs
    train = training_documents(examples, max_synth=max_synth)
    log(f"{len(examples)} annotated documents; training on {len(train)}, {len(held_docs)} held out")
    with mlflow.start_run(experiment_id=experiment_id,
                          run_name=run_name or time.strftime("train-%Y%m%d-%H%M%S")) as run:
        run_id = run.info.run_id
        mlflow.set_tags({"budgetdoc.run_type": "train", "budgetdoc.annotations": ", ".join(map(str, annotation_dirs)),
                         **(tags or {})})
        t = time.time()
        models = train_all(train)
        seconds["train"] = time.time() - t
        log(f"trained in {seconds['train']:.0f}s")
        params, detail = annotation_params(examples, train, held_docs)
        mlflow.log_params({**params, **model_params(models), "features.max_synth_docs": max_synth})
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(out_dir) if out_dir else Path(tmp) / "model"
            if folder.exists() and any(folder.iterdir()) and not (folder / "manifest.json").exists():
                raise SystemExit(f"--out {folder} exists and is not a model folder; choose an empty folder")
            save_model_folder(models, train, examples, folder, registered_name, run_id)
            # equal digests = equal models
            mlflow.log_param("model.content_sha256", model_digest(folder)["all"])
            result = evaluate_in_fresh_process(folder, annotation_dirs, log)
            seconds["evaluate"] = result.seconds
            metrics = flat_metrics(result)
            mlflow.log_metrics(metrics)
            reports = Path(tmp) / "reports"
            for path in write_artifacts(result, reports):
                mlflow.log_artifact(str(path), artifact_path="evaluation")
            (reports / "annotations.json").write_text(json.dumps(detail, ensure_ascii=False, indent=1))
            mlflow.log_artifact(str(reports / "annotations.json"), artifact_path="evaluation")
            t = time.time()
            info = log_model_folder(folder, registered_name)
            seconds["log_model"] = time.time() - t
        version = str(info.registered_model_version) if info.registered_model_version is not None else None
        if version is not None:
            set_alias(registered_name, CHALLENGER, version)
        seconds["total"] = time.time() - t0
        mlflow.log_metrics({f"seconds.{k}": round(v, 2) for k, v in seconds.items()})
    log(format_table(headline_rows(result), HEADLINE))
    log(f"MLflow run {run_id} in experiment '{experiment}' ({uri})")
    if version is not None:
        log(f"registered {registered_name} version {version} -> alias '{CHALLENGER}' (models:/{registered_name}@{CHALLENGER})")
    return TrainOutcome(run_id, version, metrics, result, seconds)


def annotation_dirs_of(args: argparse.Namespace) -> list[Path]:
    return [Path(p) for p in (getattr(args, "annotations", None) or [config.ANNOTATIONS_DIR])]


def key_values(pairs: Optional[Sequence[str]]) -> dict[str, str]:
    """--tag values ["k=v", ...] -> {k: v}; a pair without '=' is refused."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--tag {pair!r}: expected KEY=VALUE")
        out[key] = value
    return out


def train_main(args: argparse.Namespace) -> int:
    from training.registry import promote

    outcome = train_and_log(annotation_dirs_of(args), args.experiment, args.tracking_uri,
                            Path(args.out) if args.out else None, args.name,
                            tags=key_values(getattr(args, "tag", None)), run_name=getattr(args, "run_name", None),
                            max_synth_docs=getattr(args, "max_synth_docs", None))
    print(f"times: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items()))
    if args.promote:
        decision = promote(args.name, annotation_dirs_of(args), tracking_uri=args.tracking_uri)
        print(decision.render())
    return 0


# ------------------------------------------------------------------ evaluate

def evaluate_and_log(model: str, annotation_dirs: Sequence[Path], experiment: str, tracking_uri: Optional[str],
                     log_run: bool = True, log: Log = print) -> tuple[HeldOutResult, Optional[str]]:
    import mlflow

    from training.mlflow_models import is_registry_uri, resolve_model_dir
    from training.tracking import ensure_experiment, use_tracking

    uri = None
    if log_run or is_registry_uri(model):
        uri = use_tracking(tracking_uri)
    model_dir = resolve_model_dir(model)
    docs = held_out_documents(annotation_dirs)
    if not docs:
        raise SystemExit("no held-out documents (split test_doc or test_template) under "
                         + ", ".join(map(str, annotation_dirs)))
    result = evaluate_model_dir(model_dir, docs, log)
    if not log_run:
        return result, None
    experiment_id = ensure_experiment(experiment, uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name=time.strftime("evaluate-%Y%m%d-%H%M%S")) as run:
        mlflow.set_tags({"budgetdoc.run_type": "evaluation", "budgetdoc.model": model,
                         "budgetdoc.model_dir": str(model_dir)})
        held = held_out_fingerprint(docs)
        mlflow.log_params({HELD_OUT_HASH_PARAM: held["sha256"], "held_out.files": held["files"],
                           "held_out.bytes": held["bytes"], "model": model})
        mlflow.log_metrics(flat_metrics(result))
        with tempfile.TemporaryDirectory() as tmp:
            for path in write_artifacts(result, Path(tmp)):
                mlflow.log_artifact(str(path), artifact_path="evaluation")
        return result, run.info.run_id


def seed_rows(model: str, annotation_dirs: Sequence[Path]) -> dict[str, dict[str, float]]:
    """Printed only (never logged): a seed is a fair figure only when the model did not train on it."""
    from pipeline.process import Processor
    from training.annotations import load_corpus
    from training.evaluate import evaluate
    from training.mlflow_models import resolve_model_dir

    seeds = [d for d in load_corpus(annotation_dirs) if d.split == "seed"]
    if not seeds:
        return {}
    model_dir = resolve_model_dir(model)
    trained_on = set(json.loads((model_dir / "manifest.json").read_text()).get("trained_on_documents", []))
    groups = evaluate(Processor(model_dir), seeds, group_by="doc")
    return {f"seed:{g}" + (" (in training!)" if g in trained_on else ""): s.metrics() for g, s in groups.items()}


def evaluate_main(args: argparse.Namespace) -> int:
    dirs = annotation_dirs_of(args)
    result, run_id = evaluate_and_log(args.model, dirs, args.experiment, args.tracking_uri,
                                      log_run=not args.no_log)
    rows = {**headline_rows(result), **seed_rows(args.model, dirs)}
    table = format_table(rows, HEADLINE)
    print(table)
    if run_id:
        print(f"logged evaluation run {run_id} in experiment '{args.experiment}'")
    if args.report:
        Path(args.report).write_text(f"# budgetdoc evaluation\n\nmodel: {args.model}\n\n{table}\n")
    return 0


def _evaluate_to_file(argv: list[str]) -> int:
    """`python -m training.train --evaluate-to OUT.pkl MODEL_DIR ANNOTATION_DIR...` (used by training)."""
    import pickle

    from training import train as module  # not __main__'s copy: the pickle must name training.train classes

    out, model_dir, *dirs = argv
    result = module.evaluate_model_dir(Path(model_dir), module.held_out_documents([Path(d) for d in dirs]),
                                       log=lambda _: None)
    Path(out).write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--evaluate-to"]:
        sys.exit(_evaluate_to_file(sys.argv[2:]))
    sys.exit("usage: budgetdoc train | budgetdoc evaluate")
