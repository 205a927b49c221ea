"""Label Studio in the annotation loop: extract -> suggest -> annotate -> import -> train.

- `suggest`: ranks the pages of an extract run by how much annotating them would help and writes
  Label Studio tasks (one task = one page) with the model's predictions pre-filled.
- `tasks`: annotation page (annotations/README.md) <-> Label Studio task, lossless both ways.
- `importer`: a Label Studio JSON export -> annotation files, validated, all or nothing.
- `labeling_config_pdf.xml`, `labeling_config_text.xml`: the two labeling interfaces
  (PDF pages: page image with a box per line; text pages: the page's text).
"""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def labeling_config_path(fmt: str) -> Path:
    """The labeling config for tasks of one annotation format (`pdf` or `txt`)."""
    return CONFIG_DIR / ("labeling_config_pdf.xml" if fmt == "pdf" else "labeling_config_text.xml")
