"""The table assembly alone: records rebuilt from the gold section labels and field spans.

    python -m training.assembly_ceiling [--annotations DIR ...] [--model models/]

For every held-out split (test_doc, test_template, each seed) the annotated pages keep their
gold labels and spans; only metadata detection, table assembly (with the model folder's header
model for column keys and table kinds) and the checks run. The gap between these figures and
training/report.py's is the section classifier's and field tagger's share of the errors.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from pipeline import config
from pipeline.assemble import assemble
from pipeline.header_model import HeaderModel
from pipeline.metadata import detect_metadata
from pipeline.model import Document
from training.annotations import AnnotatedDocument, load_corpus
from training.evaluate import HELD_OUT_SPLITS, Tally, budget_cells, format_table, indicator_tuples, project_names


def assembled_from_gold(ann: AnnotatedDocument, headers: HeaderModel) -> dict:
    doc = Document(doc_id=ann.header["source_sha256"], source=ann.header["source"], format=ann.format,
                   pages=ann.to_model_pages())
    detect_metadata(doc)
    assemble(doc, headers)
    return doc.to_contract()


def ceiling(corpus: list[AnnotatedDocument], headers: HeaderModel) -> dict[str, dict[str, float]]:
    groups: dict[str, dict[str, Tally]] = {}
    for ann in corpus:
        if ann.split not in HELD_OUT_SPLITS:
            continue
        group = f"seed:{ann.doc_name}" if ann.split == "seed" else ann.split
        tallies = groups.setdefault(group, {"budget_cell_f1": Tally(), "indicator_f1": Tally(), "project_f1": Tally()})
        out = assembled_from_gold(ann, headers)
        tallies["budget_cell_f1"].add(budget_cells(ann.records, ann.tables), budget_cells(out["records"], out["tables"]))
        tallies["indicator_f1"].add(indicator_tuples(ann.records), indicator_tuples(out["records"]))
        tallies["project_f1"].add(project_names(ann.records), project_names(out["records"]))
    return {g: {k: t.f1 for k, t in tallies.items()} for g, tallies in sorted(groups.items())}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.assembly_ceiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", action="append", default=None, help="annotation folders (default: annotations/)")
    parser.add_argument("--model", default=str(config.MODELS_DIR), help="model folder whose header model is used")
    args = parser.parse_args(argv)
    corpus = load_corpus([Path(a) for a in (args.annotations or [config.ANNOTATIONS_DIR])])
    rows = ceiling(corpus, HeaderModel.load(Path(args.model)))
    print(format_table(rows, ["budget_cell_f1", "indicator_f1", "project_f1"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
