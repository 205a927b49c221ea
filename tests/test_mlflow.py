"""Retraining with MLflow: a real sqlite tracking store, real training on a small annotation subset.

Two models are trained (about 10 s each): a weak one on one generated document, a stronger one on
two generated documents and a seed. Both are scored on the same three held-out documents (two
test_doc, one test_template); on those the stronger one has the higher budget cell F1 and section
macro-F1, so it must take `champion` from the weak one, and the weak one must be refused.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline import config

mlflow = pytest.importorskip("mlflow")

SYNTH = config.ANNOTATIONS_DIR / "synth"
SEEDS = config.ANNOTATIONS_DIR / "seeds"
HELD_OUT_FILES = [SYNTH / "synth_0064_wps_unruled_yuan.jsonl", SYNTH / "synth_0074_henan_split_codes.jsonl",
                  SYNTH / "synth_0039_excel_column_major.jsonl"]
WEAK_TRAIN = [SYNTH / "synth_0011_word_three_line.jsonl"]
STRONG_TRAIN = [SYNTH / "synth_0044_henan_split_codes.jsonl", SYNTH / "synth_0076_wps_unruled_yuan.jsonl",
                SEEDS / "seed_002_chanhe_2022.jsonl"]
NAME = "budgetdoc"


def _folder(root: Path, name: str, files: list[Path]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite tracking store in a temp folder, the env pointing at it, the model cache isolated."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("BUDGETDOC_MODEL_CACHE", str(root / "cache"))
        yield {"root": root, "uri": uri,
               "held": _folder(root, "held", HELD_OUT_FILES),
               "weak": _folder(root, "weak", WEAK_TRAIN),
               "strong": _folder(root, "strong", STRONG_TRAIN)}


@pytest.fixture(scope="module")
def trained(store):
    """Weak model first (becomes champion: no champion yet), then the strong one (must take over)."""
    import contextlib
    import io

    from pipeline.cli import main
    from training.registry import version_by_alias

    outputs = {}
    for which in ("weak", "strong"):
        buf = io.StringIO()
        t0 = time.time()
        with contextlib.redirect_stdout(buf):
            code = main(["train", "--annotations", str(store[which]), str(store["held"]), "--tracking-uri",
                         store["uri"], "--experiment", "test-budgetdoc", "--promote", "--tag", f"fixture.model={which}",
                         "--run-name", f"train-{which}"])
        assert code == 0
        outputs[which] = buf.getvalue()
        outputs[which + "_seconds"] = time.time() - t0
        outputs[which + "_champion"] = str(version_by_alias(NAME, "champion").version)
        outputs[which + "_challenger"] = str(version_by_alias(NAME, "challenger").version)
    return outputs


def test_first_training_becomes_champion_and_better_one_takes_over(trained):
    assert trained["weak_challenger"] == "1" and trained["weak_champion"] == "1"
    assert "first promotion" in trained["weak"]
    assert trained["strong_challenger"] == "2"
    assert trained["strong_champion"] == "2", trained["strong"]
    assert "promoted budgetdoc version 2" in trained["strong"]


def test_run_logs_params_metrics_artifacts_and_model(store, trained):
    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version(NAME, "2")
    run = client.get_run(version.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["train.files"] == "3" and params["held_out.files"] == "3"
    assert len(params["held_out.sha256"]) == 64 and len(params["train.sha256"]) == 64
    assert params["model.fields"].startswith("FieldTagger")
    for key in ("held_out.budget_cell_f1", "held_out.section_macro_f1", "held_out.indicator_f1",
                "held_out.project_f1", "held_out.record_exact_match", "held_out.ece",
                "test_doc.budget_cell_f1", "test_template.budget_cell_f1",
                "held_out.section_f1.subject_row", "held_out.section_precision.subject_row",
                "held_out.section_recall.subject_row"):
        assert key in metrics, key
        assert 0.0 <= metrics[key] <= 1.0
    # per template (headline metrics): the held-out set has one document of each of three templates
    for template in ("wps_unruled_yuan", "henan_split_codes", "excel_column_major"):
        assert metrics[f"template.{template}.documents"] == 1
        assert 0.0 <= metrics[f"template.{template}.budget_cell_f1"] <= 1.0
    assert metrics["template.excel_column_major.budget_cell_f1"] == metrics["test_template.budget_cell_f1"]
    assert run.data.tags["fixture.model"] == "strong" and run.info.run_name == "train-strong"
    assert len(params["model.content_sha256"]) == 64
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/confusion_sections.png", "evaluation/reliability.png",
            "evaluation/errors_per_document.json"} <= artifacts
    local = Path(client.download_artifacts(run.info.run_id, "evaluation/confusion_sections.png",
                                           str(store["root"] / "dl")))
    assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # artifacts live beside the temp database, never in a ./mlruns file store
    assert run.info.artifact_uri.startswith((store["root"] / "mlartifacts").as_uri())


FRESH_EVALUATION = """
import json, sys
from pathlib import Path
from training.train import evaluate_and_log, flat_metrics
result, _ = evaluate_and_log(sys.argv[1], [Path(sys.argv[2])], "unused", None, log_run=False, log=lambda _: None)
print(json.dumps(flat_metrics(result)))
"""


def test_logged_metrics_match_a_separate_evaluation(store, trained):
    """The run's metrics equal a fresh process's evaluation of the registered model (and an evaluation run)."""
    import sys

    from mlflow import MlflowClient

    from training.train import evaluate_and_log

    run = MlflowClient().get_run(MlflowClient().get_model_version(NAME, "2").run_id)
    fresh = subprocess.run([sys.executable, "-c", FRESH_EVALUATION, f"models:/{NAME}/2", str(store["held"])],
                           capture_output=True, text=True, timeout=120, check=True)
    again = json.loads(fresh.stdout.strip().splitlines()[-1])
    compared = [k for k in again if not k.endswith("eval_seconds")]
    assert len(compared) > 50
    for key in compared:
        assert run.data.metrics[key] == pytest.approx(again[key], abs=1e-9), key
    _, eval_run_id = evaluate_and_log(f"models:/{NAME}@champion", [store["held"]], "test-budgetdoc", None,
                                      log=lambda _: None)
    eval_run = MlflowClient().get_run(eval_run_id)
    assert eval_run.data.tags["budgetdoc.run_type"] == "evaluation"
    assert eval_run.data.params["held_out.sha256"] == run.data.params["held_out.sha256"]
    assert eval_run.data.metrics["held_out.budget_cell_f1"] == pytest.approx(run.data.metrics["held_out.budget_cell_f1"])


def test_worse_challenger_is_refused_with_a_reason(store, trained, capsys):
    from mlflow import MlflowClient

    from pipeline.cli import main
    from training.registry import version_by_alias

    client = MlflowClient()
    weak = client.get_run(client.get_model_version(NAME, "1").run_id).data.metrics
    strong = client.get_run(client.get_model_version(NAME, "2").run_id).data.metrics
    assert strong["held_out.budget_cell_f1"] > weak["held_out.budget_cell_f1"]
    client.set_registered_model_alias(NAME, "challenger", "1")  # the weak version challenges again
    try:
        code = main(["promote", "--name", NAME, "--tracking-uri", store["uri"], "--annotations", str(store["held"])])
        out = capsys.readouterr().out
        assert code == 3
        assert "not promoted" in out and "budget cell F1 does not beat" in out
        assert str(version_by_alias(NAME, "champion").version) == "2"
        assert "refused" in client.get_model_version(NAME, "1").tags["promotion"]
    finally:
        client.set_registered_model_alias(NAME, "challenger", "2")


def test_runs_without_a_common_held_out_hash_are_re_evaluated(store, trained, capsys):
    """A version logged without the held-out hash (here: the champion's folder re-logged by hand) is
    compared by re-running both models on the current held-out files; equal models do not promote."""
    from mlflow import MlflowClient

    from pipeline.cli import main
    from training.mlflow_models import log_model_folder, resolve_model_dir

    client = MlflowClient()
    folder = resolve_model_dir(f"models:/{NAME}@champion")
    experiment = client.get_experiment_by_name("test-budgetdoc").experiment_id
    with mlflow.start_run(experiment_id=experiment, run_name="relogged-champion"):
        version = str(log_model_folder(folder, NAME).registered_model_version)
    client.set_registered_model_alias(NAME, "challenger", version)
    try:
        code = main(["promote", "--name", NAME, "--tracking-uri", store["uri"], "--annotations", str(store["held"])])
        out = capsys.readouterr().out
        assert code == 3, out
        assert "re-evaluated on the current held-out set" in out
        assert "budget cell F1 does not beat" in out  # same model, same figures: not better
    finally:
        client.set_registered_model_alias(NAME, "challenger", "2")


def test_report_logs_leave_one_seed_out_figures(store, trained, tmp_path, capsys):
    """`python -m training.report --log-mlflow` on a small corpus: the held-out groups scored by the
    champion, each seed by a model trained without it, every figure logged per group, the report
    files as artifacts, and the held-out hash equal to the training runs' (same held-out files)."""
    from mlflow import MlflowClient

    from training.mlflow_models import resolve_model_dir
    from training.report import main as report_main

    seeds = [SEEDS / "seed_001_yuanshi_2020.jsonl", SEEDS / "seed_002_chanhe_2022.jsonl"]
    corpus = _folder(tmp_path, "corpus", HELD_OUT_FILES + WEAK_TRAIN + seeds)
    model = resolve_model_dir(f"models:/{NAME}@champion")
    before = sorted(p.name for p in model.iterdir())
    out = tmp_path / "reports"
    code = report_main(["--annotations", str(corpus), "--model", str(model), "--out", str(out), "--log-mlflow",
                        "--experiment", "test-budgetdoc", "--tracking-uri", store["uri"]])
    assert code == 0
    run_id = capsys.readouterr().out.split("logged evaluation run ")[1].split()[0]
    assert sorted(p.name for p in model.iterdir()) == before  # no calibration written without the flag
    client = MlflowClient()
    run = client.get_run(run_id)
    metrics = run.data.metrics
    report = json.loads((out / "evaluation.json").read_text())
    for group, prefix in (("test_doc", "test_doc"), ("test_template", "test_template"),
                          ("seed:seed_001_yuanshi_2020", "seed_001_yuanshi_2020"),
                          ("seed:seed_002_chanhe_2022", "seed_002_chanhe_2022")):
        for key in ("budget_cell_f1", "section_macro_f1", "indicator_f1", "record_exact_match"):
            assert metrics[f"{prefix}.{key}"] == pytest.approx(report["headline"][group][key]), (prefix, key)
    assert "test_doc.ece" not in metrics  # NaN there: the calibrator is fitted on test_doc
    assert metrics["seed_002_chanhe_2022.documents"] == 1
    assert run.data.tags["budgetdoc.run_type"] == "evaluation"
    assert run.data.params["seeds.evaluation"] == "leave-one-seed-out"
    champion_run = client.get_run(client.get_model_version_by_alias(NAME, "champion").run_id)
    assert run.data.params["held_out.sha256"] == champion_run.data.params["held_out.sha256"]
    assert run.data.params["model.content_sha256"] == champion_run.data.params["model.content_sha256"]
    artifacts = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/evaluation.md", "report/evaluation.json", "report/reliability.png",
            "report/errors_per_document.json"} <= artifacts


def test_extract_with_registered_champion(store, trained, tmp_path, capsys):
    from pipeline.cli import main

    seed = config.SEEDS_DIR / "001_f49da458a1f6b9c9.txt"
    if not seed.exists():
        pytest.skip("seed text missing")
    out = tmp_path / "out"
    code = main(["extract", str(seed), "--out", str(out), "--model", f"models:/{NAME}@champion", "--quiet"])
    assert code == 0, capsys.readouterr()
    doc = json.loads((out / "documents.jsonl").read_text().splitlines()[0])
    assert doc["status"] in ("ok", "partial")
    assert doc["model"]["name"] == NAME and doc["model"]["version"].startswith("run-")
    assert doc["records"], "the champion found no records in a real disclosure"


def test_pyfunc_model_predicts_contract_json(store, trained):
    from training.mlflow_models import INPUT_EXAMPLE_TEXT

    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    import pandas as pd

    out = model.predict(pd.DataFrame({"text": [INPUT_EXAMPLE_TEXT]}))
    assert list(out.columns) == ["document", "status", "records"]
    doc = json.loads(out["document"][0])
    assert doc["format"] == "txt" and doc["status"] == out["status"][0]
    assert model.metadata.signature.inputs.input_names() == ["text"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


@pytest.fixture(scope="module")
def server(store, trained):
    from training.tracking import server_command

    port = _free_port()
    log = open(store["root"] / "server.log", "w")
    proc = subprocess.Popen(server_command(store["uri"], "127.0.0.1", port), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("mlflow server did not start:\n" + (store["root"] / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def test_server_rest_api_lists_the_runs(server):
    from mlflow import MlflowClient

    found = json.loads(urllib.request.urlopen(
        server + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=test-budgetdoc", timeout=10).read())
    runs = _post(server + "/api/2.0/mlflow/runs/search", {"experiment_ids": [found["experiment"]["experiment_id"]]})
    listed = {r["info"]["run_id"] for r in runs["runs"]}
    champion_run = MlflowClient().get_model_version_by_alias(NAME, "champion").run_id
    assert champion_run in listed
    alias = json.loads(urllib.request.urlopen(
        server + f"/api/2.0/mlflow/registered-models/alias?name={NAME}&alias=champion", timeout=10).read())
    assert alias["model_version"]["version"] == "2"
    assert b"<html" in urllib.request.urlopen(server + "/", timeout=10).read().lower()


def test_ui_screenshot_in_headless_chromium(server, tmp_path):
    """The runs table of the experiment renders in a headless browser (a real page, not an error)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    shot = tmp_path / "ui.png"
    from mlflow import MlflowClient

    experiment = MlflowClient().get_experiment_by_name("test-budgetdoc").experiment_id
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                    "--virtual-time-budget=15000", f"--screenshot={shot}", server + f"/#/experiments/{experiment}/runs"],
                   check=True, timeout=120, capture_output=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_ui_command_serves_the_store_and_leaves_no_server_when_stopped(tmp_path):
    port = _free_port()
    ui = subprocess.Popen(["budgetdoc", "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'ui.db'}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert ui.poll() is None, ui.stdout.read()
                assert time.time() < deadline, "the UI never answered"
                time.sleep(0.5)
        ui.send_signal(signal.SIGTERM)  # a plain kill, as a job runner or `kill PID` sends it
        ui.wait(timeout=30)
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the MLflow server outlived `budgetdoc ui`")
    finally:
        if ui.poll() is None:
            ui.kill()
