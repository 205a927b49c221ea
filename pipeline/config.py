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
# What a model folder holds besides manifest.json and the optional calibration.json.
MODEL_FILES = ("section.npz", "fields.crfsuite", "header_keys.npz", "table_kind.npz")
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

# `budgetdoc suggest`: what makes a page worth annotating (training/label_studio/suggest.py).
SUGGEST_CONFIDENCE_WEIGHT = 1.0  # x (1 - mean record confidence of the page)
SUGGEST_FAILED_CHECK_WEIGHT = 0.25  # per failed check on the page's records, at most 4 counted
SUGGEST_EXTRA_COLUMN_WEIGHT = 0.25  # per extra:<header> column (a header the model could not map), at most 4
SUGGEST_UNREAD_TABLE_WEIGHT = 0.75  # a page without records but with table-looking lines
SUGGEST_UNREAD_TABLE_MIN_LINES = 3  # ... at least this many lines with two or more amounts
SUGGEST_PARTIAL_WEIGHT = 0.25  # the document's status is partial
SUGGEST_DOC_DECAY = 0.5  # each page already chosen from the same document halves the next one's gain
SUGGEST_GROUP_DECAY = 0.8  # ... and the same department / layout lowers it this much per page
SUGGEST_IMAGE_ZOOM = 2.0  # PDF page images at 144 dpi
