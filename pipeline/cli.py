"""`budgetdoc` command line. Each subcommand is a thin shell over one module function."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from pipeline import config

REGISTRY_URI_PREFIX = "models:/"  # training.mlflow_models.MODELS_URI_PREFIX

EPILOG = """\
examples:
  budgetdoc extract samples/ --out out/            extract every disclosure under samples/
  budgetdoc extract pdfs/ --out out/ --engine ray --address auto --workers 0
                                                   the same on the Ray cluster of this node
  budgetdoc synth 20 --out /tmp/synth --seed 7     render 20 annotated disclosure PDFs
  budgetdoc annotations validate annotations/      check annotation files
  budgetdoc suggest out/ -n 50 --out ls/           the 50 pages of a run most worth annotating, as
                                                   Label Studio tasks (ls/pdf/tasks.json, ls/text/tasks.json)
  budgetdoc annotations import export.json         a Label Studio JSON export -> annotations/imported/
  budgetdoc train                                  retrain the models from annotations/
  budgetdoc evaluate                               score the shipped models on held-out documents
  budgetdoc promote                                make the challenger champion if it is better
  budgetdoc ui                                     browse and compare runs at http://127.0.0.1:5000
"""


def _model_or_none(command: str, model: str):
    """The model folder a --model value names, or None after one clear line (registry unreachable,
    unknown alias): never a traceback."""
    try:
        return _resolve_model(model)
    except Exception as exc:
        print(f"budgetdoc {command}: cannot load model {model}: {exc}", file=sys.stderr)
        return None


def resolve_workers(requested: Optional[int], engine: str) -> int:
    """--workers as given, else all of this machine's cores (local) or as many actors as the Ray
    cluster's CPUs allow (ray, 0); 0 or less on the local engine means all cores too."""
    if engine == "ray":
        return 0 if requested is None else requested
    if requested is None or requested <= 0:
        return os.cpu_count() or 1
    return requested


def _cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.run import ExtractError, extract_paths

    model = _model_or_none("extract", args.model)
    if model is None:
        return 2
    try:
        summary = extract_paths(
            [Path(p) for p in args.paths],
            Path(args.out),
            model=model,
            workers=resolve_workers(args.workers, args.engine),
            force=args.force,
            timeout_s=args.timeout,
            progress=not args.quiet,
            engine=args.engine,
            address=args.address,
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


def _cmd_suggest(args: argparse.Namespace) -> int:
    from training.label_studio.suggest import SuggestError, suggest

    model = _model_or_none("suggest", args.model)
    if model is None:
        return 2
    try:
        result = suggest(Path(args.run_dir), args.n, Path(args.out), Path(model),
                         [Path(p) for p in args.annotations], include_annotated=args.include_annotated,
                         zoom=args.zoom, image_url_prefix=args.image_url_prefix, progress=not args.quiet)
    except SuggestError as exc:
        print(f"budgetdoc suggest: {exc}", file=sys.stderr)
        return 2
    print(result.render())
    return 0 if result.chosen else 1


def _cmd_annotations_import(args: argparse.Namespace) -> int:
    from training.label_studio.importer import ImportFailed, import_export

    try:
        report = import_export(Path(args.export), Path(args.out), [Path(p) for p in args.annotations],
                               overwrite=args.overwrite, dry_run=args.dry_run)
    except ImportFailed as exc:
        for problem in exc.problems:
            print(problem)
        what = "conflict(s) with existing annotations" if exc.conflicts else "problem(s)"
        print(f"{len(exc.problems)} {what}: nothing was written", file=sys.stderr)
        return 1
    print(report.render())
    if not report.imported:
        print("nothing imported: no task has a submitted annotation", file=sys.stderr)
        return 1
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from training.train import train_main
    from training.tracking import TrackingError

    try:
        return train_main(args)
    except TrackingError as exc:
        print(f"budgetdoc train: {exc}", file=sys.stderr)
        return 2


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from training.train import evaluate_main
    from training.tracking import TrackingError

    try:
        return evaluate_main(args)
    except TrackingError as exc:
        print(f"budgetdoc evaluate: {exc}", file=sys.stderr)
        return 2


def _cmd_promote(args: argparse.Namespace) -> int:
    from training.registry import promote_main
    from training.tracking import TrackingError

    try:
        return promote_main(args)
    except TrackingError as exc:
        print(f"budgetdoc promote: {exc}", file=sys.stderr)
        return 2


def _cmd_ui(args: argparse.Namespace) -> int:
    import os
    import signal
    import subprocess

    from training.tracking import server_command, use_tracking

    uri = use_tracking(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        print(f"the tracking store is already a server: open {uri}")
        return 0
    cmd = server_command(uri, args.host, args.port)
    print(f"MLflow UI over {uri}: http://{args.host}:{args.port}  (Ctrl-C stops it)\n"
          f"runs of an experiment: http://{args.host}:{args.port}/#/experiments/<id>/runs; tick two runs, "
          "then Compare", flush=True)
    # the server runs in a process group of its own (mlflow starts uvicorn workers): stopping
    # `budgetdoc ui` by Ctrl-C or by a plain kill stops the whole group, leaving no server behind
    server = subprocess.Popen(cmd, start_new_session=True)

    def stop(*_: object) -> None:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


def _wrapped(text: str) -> str:
    """A description for a parser whose epilog keeps its line breaks (RawDescriptionHelpFormatter)."""
    import textwrap

    return textwrap.fill(text, width=100)


def _resolve_model(model: str) -> str:
    """A `models:/NAME@alias` registry URI becomes the downloaded model folder; paths pass through."""
    # training.mlflow_models imports MLflow and pandas (over a second): only for a registry URI
    if not str(model).startswith(REGISTRY_URI_PREFIX):
        return model
    from training.mlflow_models import resolve_model_dir
    from training.tracking import use_tracking

    use_tracking(None)
    return str(resolve_model_dir(model))


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
                   help="model folder to load, or a registered model models:/NAME@alias "
                   "(e.g. models:/budgetdoc@champion; MLFLOW_TRACKING_URI or the local mlflow.db) "
                   "(default: the shipped models/)")
    p.add_argument("--workers", type=int, default=None,
                   help=f"parallel worker processes, each loading the models once (default: all {os.cpu_count() or 1} "
                   "cores of this machine; never more than there are files; 1 = in this process); with --engine ray "
                   "the number of Ray actors (default 0 = as many as the cluster's CPUs allow)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine's processes (default); ray: Ray Data actors, on this machine "
                   "or the cluster at --address (needs pip install 'budgetdoc[ray]')")
    p.add_argument("--address", default=None,
                   help="Ray cluster to run on with --engine ray: auto (the cluster of this node) or HOST:6379; "
                   "from outside the cluster use `ray job submit` (Ray Data cannot run over ray:// clients). "
                   "Default: start Ray on this machine")
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
    i = asub.add_parser(
        "import", help="turn a Label Studio JSON export into annotation files (validated, all or nothing)",
        description=_wrapped("Read a Label Studio export (Export > JSON) of tasks written by `budgetdoc suggest` and write "
        "one annotation file per document (annotations/README.md format): the file that already holds the document "
        "under the annotation folders, else OUT/<doc_name>.jsonl. Tasks without a submitted annotation are skipped. "
        "A page or table the file already holds with other content is a conflict: reported with what differs, exit "
        "status 1, nothing written (--overwrite replaces). Every file is validated before any is written."),
        epilog="examples:\n  budgetdoc annotations import ~/Downloads/project-1-at-2026-01-05.json\n"
        "  budgetdoc annotations import export.json --dry-run          check only\n"
        "  budgetdoc annotations import export.json --out more_annotations/ --annotations annotations/ more_annotations/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("export", help="the JSON file exported from Label Studio (format JSON, not JSON-MIN)")
    i.add_argument("--out", default=str(config.ANNOTATIONS_DIR / "imported"),
                   help="folder for documents not annotated anywhere yet (default: annotations/imported)")
    i.add_argument("--annotations", nargs="+", default=[str(config.ANNOTATIONS_DIR)],
                   help="annotation folders searched for a file of the same document (default: annotations/)")
    i.add_argument("--overwrite", action="store_true", help="replace pages and tables that differ instead of stopping")
    i.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    i.set_defaults(func=_cmd_annotations_import)

    p = sub.add_parser(
        "suggest", help="pick the pages of an extract run most worth annotating; write Label Studio tasks",
        description=_wrapped("Rank the pages of an extract run (RUN_DIR/documents.jsonl) by how much annotating them would "
        "help: low record confidence, failed checks, unknown (extra:) columns, pages with table-looking lines but no "
        "records, partial documents; pick N with diversity across documents, departments and layouts; run the "
        "model again on those documents and write one Label Studio task per page with its predictions pre-filled: "
        "OUT/pdf/ (page images, tasks.json, labeling_config.xml) and OUT/text/ (tasks.json, labeling_config.xml), "
        "one Label Studio project each. Pages already annotated under --annotations are left out."),
        epilog="examples:\n  budgetdoc extract samples/ --out run/ && budgetdoc suggest run/ -n 50 --out ls/\n"
        "  then in Label Studio: Create Project > Labeling Setup > Code: paste ls/pdf/labeling_config.xml;\n"
        "  Import: ls/pdf/tasks.json; label; Export > JSON; budgetdoc annotations import <export>.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="output folder of `budgetdoc extract` (holds documents.jsonl)")
    p.add_argument("-n", type=int, default=50, help="number of pages to suggest (default %(default)s)")
    p.add_argument("--out", required=True, help="folder for the tasks (created if missing)")
    p.add_argument("--model", default=str(config.MODELS_DIR),
                   help="model folder or models:/NAME@alias for the predictions (default: the shipped models/; "
                   "use the model the run was extracted with)")
    p.add_argument("--annotations", nargs="*", default=[str(config.ANNOTATIONS_DIR)],
                   help="annotation folders: pages annotated there are not suggested (default: annotations/)")
    p.add_argument("--include-annotated", action="store_true",
                   help="suggest annotated pages too; their task carries the annotation to review beside the prediction")
    p.add_argument("--zoom", type=float, default=config.SUGGEST_IMAGE_ZOOM,
                   help="page image scale, 1.0 = 72 dpi (default %(default)s)")
    p.add_argument("--image-url-prefix", default=None,
                   help="refer to the page images as PREFIX + file name (e.g. Label Studio local-files serving: "
                   "'/data/local-files/?d=ls/pdf/pages/') instead of embedding them in tasks.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_suggest)

    tracking_help = "MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the local sqlite mlflow.db)"
    p = sub.add_parser("train", help="train every model from annotation folders and log one MLflow run",
                       description="Train the section, field and header models from every annotation file under "
                       "the folders, score the end-to-end pipeline on the held-out splits (test_doc, test_template), "
                       "log params, metrics, plots and the model to MLflow, and register the model version with "
                       "the alias 'challenger'.")
    p.add_argument("--annotations", nargs="*", default=None, help="annotation folders (default: annotations/)")
    p.add_argument("--out", default=None, help="also keep the trained model folder here (default: only in MLflow)")
    p.add_argument("--experiment", default="budgetdoc", help="MLflow experiment name (default %(default)s)")
    p.add_argument("--tracking-uri", default=None, help=tracking_help)
    p.add_argument("--name", default="budgetdoc", help="registered model name (default %(default)s)")
    p.add_argument("--promote", action="store_true", help="then promote the new version to 'champion' if it is better")
    p.add_argument("--tag", action="append", default=None, metavar="KEY=VALUE", help="add a tag to the run (repeatable)")
    p.add_argument("--run-name", default=None, help="MLflow run name (default: train-<date>-<time>)")
    p.add_argument("--max-synth-docs", type=int, default=None,
                   help="generated train-split documents used at most, templates in turn (default 30)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a model on held-out annotated documents (logged as an MLflow run)")
    p.add_argument("--model", default=str(config.MODELS_DIR),
                   help="model folder or models:/NAME@alias (default: shipped models/)")
    p.add_argument("--annotations", nargs="*", default=None, help="annotation folders (default: annotations/)")
    p.add_argument("--report", default=None, help="write a Markdown report here")
    p.add_argument("--experiment", default="budgetdoc", help="MLflow experiment name (default %(default)s)")
    p.add_argument("--tracking-uri", default=None, help=tracking_help)
    p.add_argument("--no-log", action="store_true", help="print the figures only, log no MLflow run")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("promote", help="move the 'champion' alias to the 'challenger' if it is better",
                       description="Promote the registered model's 'challenger' to 'champion' when its held-out "
                       "budget cell F1 beats the champion's and its section macro-F1 is not worse (same held-out set; "
                       "re-evaluated when the logged sets differ). The first challenger always becomes champion. "
                       "Exit status 3 when the challenger is refused.")
    p.add_argument("--name", default="budgetdoc", help="registered model name (default %(default)s)")
    p.add_argument("--annotations", nargs="*", default=None,
                   help="annotation folders for a re-evaluation (default: annotations/)")
    p.add_argument("--tracking-uri", default=None, help=tracking_help)
    p.set_defaults(func=_cmd_promote)

    p = sub.add_parser("ui", help="start the MLflow UI over the tracking store",
                       description="Run `mlflow server` on 127.0.0.1 over the tracking store and print its URL.")
    p.add_argument("--port", type=int, default=5000, help="port (default %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="interface (default %(default)s: this machine only)")
    p.add_argument("--tracking-uri", default=None, help=tracking_help)
    p.set_defaults(func=_cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
