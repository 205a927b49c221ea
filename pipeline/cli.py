"""`budgetdoc` command line. Each subcommand is a thin shell over one module function."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import config

EPILOG = """\
examples:
  budgetdoc extract samples/ --out out/            extract every disclosure under samples/
  budgetdoc synth 20 --out /tmp/synth --seed 7     render 20 annotated disclosure PDFs
  budgetdoc annotations validate annotations/      check annotation files
  budgetdoc train                                  retrain the models from annotations/
  budgetdoc evaluate                               score the shipped models on held-out documents
"""


def _cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.run import ExtractError, extract_paths

    try:
        summary = extract_paths(
            [Path(p) for p in args.paths],
            Path(args.out),
            model=args.model,
            workers=args.workers,
            force=args.force,
            timeout_s=args.timeout,
            progress=not args.quiet,
        )
    except ExtractError as exc:
        print(f"budgetdoc extract: {exc}", file=sys.stderr)
        return 2
    print(summary.render())
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from training.synth import generate

    out = Path(args.out)
    written = generate(args.n, out, seed=args.seed, annotations_out=Path(args.annotations_out) if args.annotations_out else None,
                       progress=not args.quiet)
    print(f"wrote {len(written)} PDFs and their annotations to {out}")
    return 0


def _cmd_annotations_validate(args: argparse.Namespace) -> int:
    from training.annotations import validate_paths

    problems, n_files = validate_paths([Path(p) for p in args.paths])
    for p in problems:
        print(p, file=sys.stdout)
    if problems:
        print(f"{len(problems)} problem(s) in {n_files} file(s)", file=sys.stderr)
        return 1
    print(f"{n_files} annotation file(s) valid")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from training.train import train_main

    return train_main(args)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_main

    return evaluate_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="budgetdoc",
        description="Turn Chinese department budget disclosures (部门预算公开, PDF or text) into "
        "checked, structured budget records with a confidence per field and record.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("extract", help="extract budget records from PDFs / text files / folders",
                       description="Read disclosures (files or folders, recursively: .pdf .txt .md .html .docx) "
                       "and write OUT/documents.jsonl (one contract object per input) and OUT/records.parquet. "
                       "Bad files become documents with status 'failed' and an error code; the batch goes on.")
    p.add_argument("paths", nargs="+", help="files or folders to read")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--model", default=str(config.MODELS_DIR),
                   help="model folder to load (default: the shipped models/)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--force", action="store_true", help="redo documents already present in the output")
    p.add_argument("--timeout", type=float, default=config.PER_FILE_TIMEOUT_S,
                   help=f"per-file time limit in seconds (default {config.PER_FILE_TIMEOUT_S})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser("synth", help="render realistic disclosure PDFs with their annotations",
                       description="Render N budget-disclosure PDFs with PyMuPDF and write one annotation file "
                       "(annotations/README.md format) per PDF. Same --seed, same files.")
    p.add_argument("n", type=int, help="number of documents")
    p.add_argument("--out", required=True, help="folder for the PDFs (and annotations unless --annotations-out)")
    p.add_argument("--seed", type=int, default=config.SYNTH_SEED, help="random seed (default %(default)s)")
    p.add_argument("--annotations-out", default=None, help="write the .jsonl annotations here instead")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("annotations", help="work with annotation files")
    asub = p.add_subparsers(dest="annotations_command", metavar="ACTION")
    asub.required = True
    v = asub.add_parser("validate", help="check annotation files; prints file:line: reason per problem",
                        description="Check annotation JSONL files against the format of annotations/README.md. "
                        "Exit status 1 when any problem is found.")
    v.add_argument("paths", nargs="+", help="files or folders")
    v.set_defaults(func=_cmd_annotations_validate)

    p = sub.add_parser("train", help="train every model from annotation folders")
    p.add_argument("--annotations", nargs="*", default=None, help="annotation folders (default: annotations/)")
    p.add_argument("--out", default=None, help="write the trained models here (default: a run folder)")
    p.add_argument("--experiment", default="budgetdoc", help="MLflow experiment name")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: local sqlite mlflow.db)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a model on held-out annotated documents")
    p.add_argument("--model", default=str(config.MODELS_DIR), help="model folder (default: shipped models/)")
    p.add_argument("--annotations", nargs="*", default=None, help="annotation folders (default: annotations/)")
    p.add_argument("--report", default=None, help="write a Markdown report here")
    p.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
