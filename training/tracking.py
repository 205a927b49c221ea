"""Where MLflow runs go: a local SQLite store plus a local artifact folder unless told otherwise.

Precedence: an explicit `--tracking-uri`, then the MLFLOW_TRACKING_URI environment variable, then
pipeline/config.py's DEFAULT_TRACKING_URI (sqlite `mlflow.db`, artifacts under
DEFAULT_ARTIFACT_ROOT). The plain file store (`./mlruns`) is never used: it is deprecated for the
model registry and would silently appear in whatever folder the command ran from.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse

from pipeline import config


# The MLflow 3 UI opens an experiment on its runs table (not the GenAI traces page) with this tag.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


class TrackingError(RuntimeError):
    pass


def resolve_tracking_uri(explicit: Optional[str] = None) -> str:
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI") or config.DEFAULT_TRACKING_URI
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        raise TrackingError(f"tracking URI {uri!r} is a plain folder (MLflow file store); use a database "
                            f"such as sqlite:///path/mlflow.db or a server URL http://host:port")
    return uri


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a sqlite:/// URI, None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(unquote(uri[len("sqlite:///"):]))


def artifact_root_for(uri: str) -> Optional[Path]:
    """Local artifact folder for a store: the configured one for the default database, a folder
    beside any other sqlite file, None for a server (it chooses its own)."""
    db = sqlite_path(uri)
    if db is None:
        return None
    if uri == config.DEFAULT_TRACKING_URI:
        return Path(config.DEFAULT_ARTIFACT_ROOT)
    return db.parent / "mlartifacts"


def use_tracking(explicit: Optional[str] = None) -> str:
    """Point mlflow at the store (creating the sqlite folder on first use); returns the URI."""
    import mlflow

    uri = resolve_tracking_uri(explicit)
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str, uri: str) -> str:
    """The experiment's id, creating it with its artifacts under the store's artifact folder."""
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        if EXPERIMENT_KIND_TAG not in found.tags:
            mlflow.MlflowClient().set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return found.experiment_id
    root = artifact_root_for(uri)
    location = None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        location = (root.resolve() / name).as_uri()
    return mlflow.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})


def server_command(uri: str, host: str, port: int) -> list[str]:
    """`mlflow server` over the given store, bound to host:port."""
    import sys

    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host,
           "--port", str(port), "--workers", "1"]
    root = artifact_root_for(uri)
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        cmd += ["--default-artifact-root", root.resolve().as_uri()]
    return cmd
