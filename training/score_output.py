"""Score a `budgetdoc extract` output folder against annotation files of the same documents.

    python -m training.score_output OUT_DIR ANNOTATIONS_DIR

Documents are matched by file name (the annotation's `source` against the output's `source`;
with --by-stem by name without suffix, to score a document converted to another format);
prints budget cell, indicator and project F1 and how many documents have their metadata
(department, year, unit, kind) right. Unlike `budgetdoc evaluate`, which runs the model itself
on the held-out splits, this scores what an extract run wrote, whatever the split.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.annotations import load_annotation
from training.evaluate import Tally, budget_cells, indicator_tuples, norm, project_names


def score(out_dir: Path, annotations: Path, by_stem: bool = False) -> dict[str, float]:
    def key(source: str) -> str:
        return Path(source).stem if by_stem else Path(source).name

    written = {key(d["source"]): d for d in map(json.loads, (out_dir / "documents.jsonl").open(encoding="utf-8"))}
    cells, indicators, projects = Tally(), Tally(), Tally()
    scored = metadata_right = 0
    for path in sorted(Path(annotations).rglob("*.jsonl")):
        ann = load_annotation(path)
        doc = written.get(key(ann.header["source"]))
        if doc is None:
            continue
        scored += 1
        cells.add(budget_cells(ann.records, ann.tables), budget_cells(doc["records"], doc["tables"]))
        indicators.add(indicator_tuples(ann.records), indicator_tuples(doc["records"]))
        projects.add(project_names(ann.records), project_names(doc["records"]))
        metadata_right += (norm(doc["department"]["name"]) == norm(ann.department.get("name"))
                           and doc["fiscal_year"] == ann.fiscal_year and doc["unit"] == ann.unit
                           and doc["doc_kind"] == ann.doc_kind)
    return {"documents": scored, "budget_cell_f1": cells.f1, "indicator_f1": indicators.f1,
            "project_f1": projects.f1, "metadata_right": metadata_right}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="a `budgetdoc extract --out` folder")
    parser.add_argument("annotations", type=Path, help="folder of annotation .jsonl files")
    parser.add_argument("--by-stem", action="store_true",
                        help="match file names without their suffix (a .txt annotation scores the same document as .pdf)")
    args = parser.parse_args(argv)
    result = score(args.out_dir, args.annotations, by_stem=args.by_stem)
    if not result["documents"]:
        print(f"no document of {args.out_dir} has an annotation in {args.annotations}", file=sys.stderr)
        return 1
    print(f"{result['documents']} documents: budget cell F1 {result['budget_cell_f1']:.3f}, indicator F1 "
          f"{result['indicator_f1']:.3f}, project F1 {result['project_f1']:.3f}, metadata right on "
          f"{result['metadata_right']}/{result['documents']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
