"""Configuration in one place: paths and defaults every stage and command reads."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# ../shared beside the checkout holds the contract and the seed disclosures.
SHARED_DIR = Path(os.environ.get("BUDGETDOC_SHARED", REPO_ROOT.parent / "shared"))
CONTRACT_SCHEMA = SHARED_DIR / "contract" / "document.schema.json"
SEEDS_DIR = SHARED_DIR / "seeds"

MODELS_DIR = Path(os.environ.get("BUDGETDOC_MODELS", REPO_ROOT / "models"))
ANNOTATIONS_DIR = REPO_ROOT / "annotations"
SAMPLES_DIR = REPO_ROOT / "samples"

# MLflow: embedded SQLite store and local artifact folder unless told otherwise.
DEFAULT_TRACKING_URI = f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
DEFAULT_ARTIFACT_ROOT = REPO_ROOT / "mlartifacts"

# Extraction limits.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PAGES = 2000
PER_FILE_TIMEOUT_S = 300

SUPPORTED_SUFFIXES = {".pdf": "pdf", ".txt": "txt", ".md": "md", ".html": "html", ".htm": "html", ".docx": "docx"}

SYNTH_SEED = 20261123
