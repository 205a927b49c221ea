"""Retraining: the same annotations give the same models in any process, and a few annotated
documents of a template the model does badly on raise its score there (two comparable MLflow runs).

Both tests train real models on one or two generated documents (about 20-40 s per training).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import config

pytest.importorskip("mlflow")

SYNTH = config.ANNOTATIONS_DIR / "synth"
REPRO_TRAIN = [SYNTH / "synth_0011_word_three_line.jsonl", SYNTH / "synth_0044_henan_split_codes.jsonl"]
WEAK_BASELINE_TRAIN = [SYNTH / "synth_0080_henan_split_codes.jsonl"]  # a self-evaluation report: no budget tables
WEAK_TEMPLATE = "excel_column_major"
WEAK_EVALUATED = [SYNTH / "synth_0039_excel_column_major.jsonl"]


def _folder(root: Path, files: list[Path]) -> Path:
    root.mkdir(parents=True)
    for f in files:
        shutil.copy(f, root / f.name)
    return root


def _train_in_fresh_process(annotations: Path, out: Path, hash_seed: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    return subprocess.Popen([sys.executable, "-m", "training.build_models", "--annotations", str(annotations),
                             "--out", str(out), "--no-loso"], env=env, cwd=config.REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_training_is_reproducible_across_processes(tmp_path):
    """Two trainings in separate interpreters with different string hashing give the same models:
    the same bytes in every model file, the same predictions."""
    from pipeline.classify import SectionClassifier
    from training.datasets import load_example, unlabelled
    from training.mlflow_models import model_digest

    annotations = _folder(tmp_path / "ann", REPRO_TRAIN)
    procs = {seed: _train_in_fresh_process(annotations, tmp_path / f"model_{seed}", seed) for seed in ("1", "2")}
    for seed, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    a, b = tmp_path / "model_1", tmp_path / "model_2"
    digest_a, digest_b = model_digest(a), model_digest(b)
    assert set(digest_a) == {*config.MODEL_FILES, "all"}
    assert digest_a == digest_b
    for name in config.MODEL_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # the digest tells models apart: the shipped models were trained on other documents
    assert model_digest(config.MODELS_DIR)["all"] != digest_a["all"]
    pages = unlabelled(load_example(SYNTH / "synth_0039_excel_column_major.jsonl").pages)
    probs_a = SectionClassifier.load(a).predict_proba(pages)
    probs_b = SectionClassifier.load(b).predict_proba(pages)
    assert probs_a.shape[0] > 100
    assert np.array_equal(probs_a, probs_b)


def test_added_documents_of_a_weak_template_raise_its_score(tmp_path):
    """The retraining benchmark on a tiny scale: baseline trained on one henan self-evaluation report, scored on a
    held-out excel_column_major document; one generated excel document added as a new annotation
    folder raises that template's figures. Both runs are in one experiment with the same metrics."""
    from mlflow import MlflowClient

    annotations = _folder(tmp_path / "ann", WEAK_BASELINE_TRAIN + WEAK_EVALUATED)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    results = tmp_path / "retrain_results.md"
    done = subprocess.run([sys.executable, str(config.REPO_ROOT / "benchmarks" / "retrain_weak_template.py"),
                           "--template", WEAK_TEMPLATE, "--annotations", str(annotations), "--documents", "1",
                           "--tracking-uri", uri,
                           "--experiment", "test-retrain", "--results", str(results)],
                          capture_output=True, text=True, timeout=900, cwd=config.REPO_ROOT)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("test-retrain")
    runs = {r.data.tags["retrain.role"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"baseline", "with_added"}
    base, added = runs["baseline"], runs["with_added"]
    assert base.data.tags["budgetdoc.run_type"] == added.data.tags["budgetdoc.run_type"] == "train"
    assert base.data.params["held_out.sha256"] == added.data.params["held_out.sha256"]
    assert int(added.data.params["train.files"]) == int(base.data.params["train.files"]) + 1
    assert base.data.params["retrain.added_files"] == "none"
    assert added.data.params["retrain.added_files"].endswith(f"_{WEAK_TEMPLATE}.jsonl")
    assert set(base.data.metrics) == set(added.data.metrics)  # comparable side by side
    before, after = base.data.metrics, added.data.metrics
    prefix = f"template.{WEAK_TEMPLATE}."
    assert before[prefix + "documents"] == after[prefix + "documents"] == 1
    assert after[prefix + "budget_cell_f1"] > before[prefix + "budget_cell_f1"] + 0.1
    assert after[prefix + "section_macro_f1"] > before[prefix + "section_macro_f1"]
    table = results.read_text(encoding="utf-8")
    cell_row = next(line for line in table.splitlines() if line.startswith(f"| {prefix}budget_cell_f1 |"))
    assert f"{before[prefix + 'budget_cell_f1']:.4f} | {after[prefix + 'budget_cell_f1']:.4f}" in cell_row


def _benchmark_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("retrain_weak_template",
                                                  config.REPO_ROOT / "benchmarks" / "retrain_weak_template.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_a_seed_cut_in_two_keeps_every_line_record_and_table(tmp_path):
    """The benchmark's real-document mode: seed_000 cut before its third table into an added part
    (split train) and a scored rest (split test_doc); nothing lost or shared, both parts valid but
    for the seed-split rule."""
    from training.annotations import load_annotation, validate_paths

    bench = _benchmark_module()
    source = config.ANNOTATIONS_DIR / "seeds" / "seed_000_pingxiang_2022.jsonl"
    added, rest, pages = bench.split_seed_annotation(source, 2, tmp_path / "added", tmp_path / "rest")
    whole, first, second = load_annotation(source), load_annotation(added), load_annotation(rest)
    assert (first.split, second.split) == ("train", "test_doc")
    assert first.template == second.template == whole.template
    def lines(doc) -> list[int]:
        return [ln.line_no for _, ln in doc.iter_lines()]

    assert lines(first) + lines(second) == lines(whole)
    assert max(lines(first)) < min(lines(second))
    assert len(first.records) + len(second.records) == len(whole.records) and first.records and second.records
    assert [t["table_id"] for t in first.tables] == ["t01", "t02"]
    assert {t["table_id"] for t in first.tables} | {t["table_id"] for t in second.tables} == \
        {t["table_id"] for t in whole.tables}
    assert 5 <= pages <= 20  # a handful of printed pages (each starts with the repeated page header)
    problems, files = validate_paths([added, rest])
    assert files == 2
    assert problems and all(bench.SEED_SPLIT_RULE in p for p in problems)
