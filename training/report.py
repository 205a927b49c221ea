"""The quality report: every headline figure, measured only on documents the models never saw.

    python -m training.report [--annotations annotations] [--model models] [--out reports]

- generated documents of the `test_doc` split (templates seen in training, documents not) and of
  the `test_template` split (a template never seen) are run through the shipped models;
- each real seed is run through models trained without it (leave-one-seed-out: synth train
  split + the other two seeds), so no figure on a seed comes from a model that saw it;
- record confidence is calibrated on the `test_doc` records (isotonic, `models/calibration.json`
  with --write-calibration) and its expected calibration error is measured on the other groups.
Writes OUT/evaluation.md, OUT/evaluation.json, OUT/reliability.png and OUT/errors_per_document.json;
with --log-mlflow also one MLflow evaluation run with every group's figures (`test_doc.*`,
`test_template.*`, `seed_000_pingxiang_2022.*`, ...) and those files as artifacts.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline import config
from pipeline.confidence import Calibrator
from pipeline.process import Processor
from training.evaluate import (GroupScore, HEADLINE, expected_calibration_error, format_table, reliability_plot,
                               run_on, score_document)

SEED_FOLD_NAME = "budgetdoc-seed-fold"
REPORT_FILES = ("evaluation.md", "evaluation.json", "reliability.png", "errors_per_document.json")


def _train_without(held_name: str, examples, out_dir: Path, shipped: Path) -> Path:
    """Models trained on the synth train split and the seeds other than `held_name`."""
    from training.build_models import train_all, training_documents

    train = training_documents([e for e in examples if e.name != held_name])
    models = train_all(train)
    out_dir.mkdir(parents=True, exist_ok=True)
    models.sections.save(out_dir)
    models.fields.save(out_dir)
    models.headers.save(out_dir)
    (out_dir / "manifest.json").write_text(json.dumps({
        "name": SEED_FOLD_NAME, "version": f"without-{held_name}",
        "trained_on_documents": sorted(e.name for e in train)}, ensure_ascii=False))
    if (shipped / "calibration.json").exists():
        shutil.copy(shipped / "calibration.json", out_dir / "calibration.json")
    return out_dir


def run_report(annotation_dirs: list[Path], model_dir: Path, out_dir: Path, write_calibration: bool,
               log=print) -> dict[str, Any]:
    from training.annotations import load_corpus
    from training.datasets import load_examples

    t0 = time.time()
    corpus = load_corpus(annotation_dirs)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, GroupScore] = {}

    shipped = Processor(model_dir)
    trained_on = set(json.loads((model_dir / "manifest.json").read_text()).get("trained_on_documents", []))
    for split in ("test_doc", "test_template"):
        docs = [d for d in corpus if d.split == split]
        leaked = [d.doc_name for d in docs if d.doc_name in trained_on or d.path.stem in trained_on]
        if leaked:
            raise SystemExit(f"held-out documents were used in training: {leaked[:5]}")
        group = groups.setdefault(split, GroupScore(name=split))
        for ann in docs:
            score_document(group, ann, run_on(shipped, ann))
        log(f"{split}: {len(docs)} documents scored ({time.time() - t0:.0f}s)")

    seeds = [d for d in corpus if d.split == "seed"]
    if seeds:
        examples = load_examples(annotation_dirs)
        with tempfile.TemporaryDirectory() as tmp:
            for ann in seeds:
                held = next(e.name for e in examples if e.path is not None and Path(e.path).stem == ann.path.stem)
                fold_dir = _train_without(held, examples, Path(tmp) / ann.path.stem, model_dir)
                group = groups.setdefault(f"seed:{ann.doc_name}", GroupScore(name=ann.doc_name))
                score_document(group, ann, run_on(Processor(fold_dir), ann))
                log(f"seed {ann.doc_name}: scored by a model trained without it ({time.time() - t0:.0f}s)")

    calib_group = groups.get("test_doc")
    calibrator = None
    if calib_group and calib_group.raw_scores:
        calibrator = Calibrator.fit(calib_group.raw_scores, calib_group.correct, calib_group.record_types)
        if write_calibration:
            calibrator.save(model_dir)
            log(f"wrote {model_dir / 'calibration.json'} (fitted on {len(calib_group.raw_scores)} test_doc records)")

    rows: dict[str, dict[str, float]] = {}
    all_conf, all_correct = [], []
    for name, group in groups.items():
        metrics = group.metrics()
        if calibrator is not None:
            calibrated = [calibrator(s, t) for s, t in zip(group.raw_scores, group.record_types)]
            metrics["ece"] = expected_calibration_error(calibrated, group.correct)
            if name != "test_doc":  # the calibrator was fitted there: its ECE is not a figure
                all_conf += calibrated
                all_correct += group.correct
        rows[name] = metrics
    if calibrator is not None and "test_doc" in rows:
        rows["test_doc"]["ece"] = float("nan")
    reliability_plot(all_conf, all_correct, out_dir / "reliability.png",
                     title="record confidence on test_template + seeds")
    table = format_table(rows, HEADLINE)
    report = {
        "headline": rows,
        "ece_pooled_test_template_and_seeds": expected_calibration_error(all_conf, all_correct),
        "model": str(model_dir),
        "seconds": round(time.time() - t0, 1),
    }
    (out_dir / "evaluation.json").write_text(json.dumps(report, ensure_ascii=False, indent=1, default=float))
    (out_dir / "errors_per_document.json").write_text(json.dumps(
        {name: g.per_document for name, g in groups.items()}, ensure_ascii=False, indent=1))
    (out_dir / "evaluation.md").write_text(
        "# budgetdoc evaluation\n\n"
        f"Command: `python -m training.report --model {model_dir}`\n\n{table}\n\n"
        f"Pooled ECE (test_template + seeds, calibrated on test_doc): "
        f"{report['ece_pooled_test_template_and_seeds']:.3f}\n", encoding="utf-8")
    log(table)
    log(f"pooled ECE (test_template + seeds): {report['ece_pooled_test_template_and_seeds']:.3f}")
    return report


# ------------------------------------------------------------------ MLflow

def metric_group_name(group: str) -> str:
    """A report group as a metric prefix: `seed:seed_000_x` -> `seed_000_x` (MLflow names take no colon)."""
    name = group.split(":", 1)[1] if group.startswith("seed:") else group
    return re.sub(r"[^\w.\- /]", "_", name)


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    """`<group>.<metric>` for every group of the report (NaN figures left out: test_doc's ECE is the
    calibrator's own fit), plus the pooled ECE."""
    out: dict[str, float] = {}
    for group, metrics in report["headline"].items():
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not math.isnan(float(value)):
                out[f"{metric_group_name(group)}.{key}"] = float(value)
    out["ece_pooled_test_template_and_seeds"] = float(report["ece_pooled_test_template_and_seeds"])
    out["report_seconds"] = float(report["seconds"])
    return out


def log_report_run(report: dict[str, Any], annotation_dirs: list[Path], model_dir: Path, out_dir: Path,
                   experiment: str, tracking_uri: str | None = None) -> str:
    """Log the report as one evaluation run: per-group metrics, the held-out hash of test_doc +
    test_template (the same param as `budgetdoc train` runs, so they compare), the report files
    as artifacts under `report/`. Returns the run id."""
    import mlflow

    from training.annotations import load_corpus
    from training.mlflow_models import model_digest
    from training.tracking import ensure_experiment, use_tracking
    from training.train import HELD_OUT, HELD_OUT_HASH_PARAM, held_out_fingerprint

    uri = use_tracking(tracking_uri)
    experiment_id = ensure_experiment(experiment, uri)
    corpus = load_corpus(annotation_dirs)
    held = held_out_fingerprint([d for d in corpus if d.split in HELD_OUT])
    manifest = json.loads((model_dir / "manifest.json").read_text())
    with mlflow.start_run(experiment_id=experiment_id, run_name=time.strftime("report-%Y%m%d-%H%M%S")) as run:
        mlflow.set_tags({"budgetdoc.run_type": "evaluation", "budgetdoc.evaluation": "report (seeds leave-one-seed-out)",
                         "budgetdoc.model_dir": str(model_dir)})
        mlflow.log_params({
            "model": str(model_dir), "model.name": manifest.get("name"), "model.version": manifest.get("version"),
            "model.content_sha256": model_digest(model_dir)["all"],
            HELD_OUT_HASH_PARAM: held["sha256"], "held_out.files": held["files"], "held_out.bytes": held["bytes"],
            "seeds": ", ".join(sorted(d.doc_name for d in corpus if d.split == "seed")) or "none",
            "seeds.evaluation": "leave-one-seed-out",
            "annotations": ", ".join(map(str, annotation_dirs)),
        })
        mlflow.log_metrics(report_metrics(report))
        for name in REPORT_FILES:
            if (out_dir / name).exists():
                mlflow.log_artifact(str(out_dir / name), artifact_path="report")
        return run.info.run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", action="append", default=None, help="annotation folders (default: annotations/)")
    parser.add_argument("--model", default=str(config.MODELS_DIR), help="model folder (default: models/)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "reports"), help="report folder (default: reports/)")
    parser.add_argument("--write-calibration", action="store_true",
                        help="save the calibrator fitted on test_doc into the model folder")
    parser.add_argument("--log-mlflow", action="store_true",
                        help="also log the figures (per group, seeds leave-one-seed-out) and the report files "
                        "as an MLflow evaluation run")
    parser.add_argument("--experiment", default="budgetdoc", help="MLflow experiment with --log-mlflow (default %(default)s)")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the local sqlite mlflow.db)")
    args = parser.parse_args(argv)
    dirs = [Path(a) for a in (args.annotations or [config.ANNOTATIONS_DIR])]
    report = run_report(dirs, Path(args.model), Path(args.out), args.write_calibration)
    if args.log_mlflow:
        run_id = log_report_run(report, dirs, Path(args.model), Path(args.out), args.experiment, args.tracking_uri)
        print(f"logged evaluation run {run_id} in experiment '{args.experiment}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
