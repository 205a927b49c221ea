"""A budgetdoc model folder as an MLflow pyfunc model, and `models:/NAME@alias` back to a folder.

The folder (config.MODEL_FILES, manifest.json, optional calibration.json) is logged unchanged as
the pyfunc's artifact `model_dir`: plain arrays and the CRF file, no pickle of estimators. The pyfunc reads disclosure text:
input a DataFrame with a `text` column (one disclosure per row, as a text file would hold it),
output one row per input with the contract JSON of the document, its status and record count.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import mlflow.pyfunc
import pandas as pd

from pipeline import config

MODEL_DIR_ARTIFACT = "model_dir"
MODELS_URI_PREFIX = "models:/"


def default_cache_dir() -> Path:
    """Downloaded registry models: one folder per store, name and version, reused when present."""
    return Path(os.environ.get("BUDGETDOC_MODEL_CACHE", Path.home() / ".cache" / "budgetdoc" / "models"))

INPUT_EXAMPLE_TEXT = ("2022年部门预算公开\n部门预算收支总表\n单位：万元\n"
                      "项目\t预算数\t项目\t预算数\n一、一般公共预算拨款收入\t120.50\t一、社会保障和就业支出\t120.50\n"
                      "收入总计\t120.50\t支出总计\t120.50")


def document_from_text(text: str, source: str = "pyfunc-input"):
    """A text disclosure as the extractor would read it from a .txt file."""
    from pipeline.extract import read_text
    from pipeline.model import Document

    data = text.encode("utf-8")
    result = read_text(data, config.MAX_PAGES)
    return Document(doc_id=hashlib.sha256(data).hexdigest(), source=source, format="txt", pages=result.pages)


class BudgetdocPyfunc(mlflow.pyfunc.PythonModel):
    """Runs the whole pipeline (Processor) over each input text."""

    def load_context(self, context) -> None:
        from pipeline.process import Processor

        self.processor = Processor(context.artifacts[MODEL_DIR_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: Optional[dict[str, Any]] = None) -> pd.DataFrame:
        rows = []
        for n, text in enumerate(model_input["text"].astype(str)):
            doc = self.processor.process(document_from_text(text, source=f"pyfunc-input-{n}"))
            contract = doc.to_contract()
            rows.append({"document": json.dumps(contract, ensure_ascii=False), "status": contract["status"],
                         "records": len(contract["records"])})
        return pd.DataFrame(rows, columns=["document", "status", "records"])


def model_signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(inputs=Schema([ColSpec("string", "text")]),
                          outputs=Schema([ColSpec("string", "document"), ColSpec("string", "status"),
                                          ColSpec("long", "records")]))


def pip_requirements() -> list[str]:
    """Pinned from the running environment so logging never has to load the model to infer them."""
    from importlib import metadata

    out = []
    for dist in ("mlflow", "scikit-learn", "sklearn-crfsuite", "python-crfsuite", "jieba", "pymupdf",
                 "numpy", "pandas", "scipy"):
        try:
            out.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return out


def log_model_folder(model_dir: Path, registered_name: Optional[str], artifact_name: str = "model"):
    """Log the folder as a pyfunc model in the active run (registered when a name is given); ModelInfo."""
    return mlflow.pyfunc.log_model(
        name=artifact_name,
        python_model=BudgetdocPyfunc(),
        artifacts={MODEL_DIR_ARTIFACT: str(model_dir)},
        signature=model_signature(),
        input_example=pd.DataFrame({"text": [INPUT_EXAMPLE_TEXT]}),
        pip_requirements=pip_requirements(),
        registered_model_name=registered_name,
    )


# ------------------------------------------------------------------ what a model folder holds

def model_digest(model_dir: Path) -> dict[str, str]:
    """sha256 per model file and `all` over them: equal digests mean equal models (the files are
    byte-reproducible: the .npz archives carry fixed timestamps)."""
    out: dict[str, str] = {}
    for name in config.MODEL_FILES:
        path = Path(model_dir) / name
        if path.exists():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    total = hashlib.sha256()
    for name, digest in sorted(out.items()):
        total.update(f"{name}={digest};".encode())
    out["all"] = total.hexdigest()
    return out


# ------------------------------------------------------------------ models:/NAME@alias -> folder

def is_registry_uri(model: str) -> bool:
    return str(model).startswith(MODELS_URI_PREFIX)


def _model_folder_in(downloaded: Path) -> Path:
    """The budgetdoc folder inside a downloaded pyfunc model (its `model_dir` artifact)."""
    import yaml

    mlmodel = yaml.safe_load((downloaded / "MLmodel").read_text())
    artifacts = mlmodel["flavors"]["python_function"].get("artifacts") or {}
    rel = artifacts.get(MODEL_DIR_ARTIFACT, {}).get("path")
    if rel is None:
        raise ValueError(f"{downloaded} is not a budgetdoc model (no '{MODEL_DIR_ARTIFACT}' artifact in MLmodel)")
    return downloaded / rel


def registry_version(uri: str):
    """The ModelVersion a `models:/NAME@alias` or `models:/NAME/VERSION` URI points to."""
    from mlflow import MlflowClient

    ref = uri[len(MODELS_URI_PREFIX):]
    client = MlflowClient()
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return client.get_model_version_by_alias(name, alias)
    name, _, version = ref.partition("/")
    if not version:
        raise ValueError(f"{uri}: name a version or an alias (models:/NAME@champion, models:/NAME/3)")
    return client.get_model_version(name, version)


def resolve_model_dir(model: str, cache_dir: Optional[Path] = None) -> Path:
    """A model folder for `model`: a path as given, or a registry URI downloaded once into the cache."""
    if not is_registry_uri(model):
        return Path(model)
    version = registry_version(model)
    store = hashlib.sha256(mlflow.get_tracking_uri().encode("utf-8")).hexdigest()[:12]
    target = (cache_dir or default_cache_dir()) / store / version.name / str(version.version)
    if not (target / "MLmodel").exists():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        mlflow.artifacts.download_artifacts(artifact_uri=f"{MODELS_URI_PREFIX}{version.name}/{version.version}",
                                            dst_path=str(partial))
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return _model_folder_in(target)
