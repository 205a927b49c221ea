"""Speed, accuracy and memory of `budgetdoc extract` on a fixed generated corpus.

    python benchmarks/bench_extract.py               # 200 generated PDFs (about 2,600 pages)
    python benchmarks/bench_extract.py --docs 60     # the first 60 of them

The corpus is rendered once (`budgetdoc synth`, fixed seed) into --cache and reused. Measured per
page, in this run (also without the one-off start-up: imports and model loading): PyMuPDF's bare page.get_text("dict") (the floor: reading the PDF at all);
`budgetdoc extract` end to end (a fresh process: start-up and model loading included) on one
worker and on --workers; the pdfplumber + regular-expression extractor a user would otherwise
write (benchmarks/pdfplumber_baseline.py), one core. Budget cell F1 against the generated gold
for both (training.evaluate.budget_cells). Peak RSS of every extraction process, sampled through
the whole batch, with its peak in the first and last quarter of the run (flat = no growth).
Prints a Markdown table and writes it to --results.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import psutil
import pymupdf

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

from training.annotations import load_annotation  # noqa: E402
from training.evaluate import Tally, budget_cells  # noqa: E402

DEFAULT_DOCS = 200
DEFAULT_SEED = 2024
SAMPLE_EVERY_S = 0.25
GIB = 1024 ** 3
TARGET_FLOOR_RATIO = 10.0   # end to end on one core <= 10x the floor per page
TARGET_BASELINE_SPEEDUP = 5.0  # >= 5x faster than pdfplumber
TARGET_RSS_BYTES = 1 * GIB
FLAT_GROWTH = 0.10  # peak RSS growth from the 2nd to the last quarter of the run still called flat


# ------------------------------------------------------------------------------------ corpus

def build_corpus(cache: Path, docs: int, seed: int) -> list[Path]:
    """The first `docs` PDFs (by name) of the cached corpus for `seed`, rendering it if short."""
    folder = cache / f"corpus-seed{seed}"
    pdfs = sorted(folder.glob("*.pdf"))
    if len(pdfs) < docs:
        print(f"rendering {docs} PDFs into {folder} (once; about 0.6 s each)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pipeline.cli", "synth", str(docs), "--out", str(folder),
                        "--seed", str(seed), "--quiet"], check=True, cwd=REPO_ROOT)
        pdfs = sorted(folder.glob("*.pdf"))
    return pdfs[:docs]


def page_count(pdfs: list[Path]) -> int:
    total = 0
    for path in pdfs:
        with pymupdf.open(path) as pdf:
            total += pdf.page_count
    return total


# ------------------------------------------------------------------------------------ memory

@dataclass
class RssTrace:
    """RSS samples of each watched process: pid -> [(seconds since start, bytes)]."""
    samples: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    seconds: float = 0.0

    def peak(self) -> int:
        return max((rss for trace in self.samples.values() for _, rss in trace), default=0)

    def quarter_peaks(self) -> tuple[int, int]:
        """Highest RSS of any worker in the second and in the last quarter of the run.

        The first quarter holds start-up (imports, models): growth there is loading, not a leak.
        """
        quarter = self.seconds / 4
        second = [rss for trace in self.samples.values() for t, rss in trace if quarter <= t <= 2 * quarter]
        last = [rss for trace in self.samples.values() for t, rss in trace if t >= self.seconds - quarter]
        return max(second, default=0), max(last, default=0)


class RssSampler(threading.Thread):
    """Samples the RSS of the processes `select` picks under a root process until stopped."""

    def __init__(self, root: psutil.Process, select: Callable[[psutil.Process, list[psutil.Process]], list[psutil.Process]]):
        super().__init__(daemon=True)
        self.root, self.select = root, select
        self.trace = RssTrace()
        self._stop_event = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.monotonic() - self._t0
            try:
                children = self.root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for process in self.select(self.root, children):
                try:
                    self.trace.samples.setdefault(process.pid, []).append((now, process.memory_info().rss))
                except psutil.NoSuchProcess:
                    pass
            self._stop_event.wait(SAMPLE_EVERY_S)

    def stop(self) -> RssTrace:
        self.trace.seconds = time.monotonic() - self._t0
        self._stop_event.set()
        self.join()
        return self.trace


def extraction_processes(root: psutil.Process, children: list[psutil.Process]) -> list[psutil.Process]:
    """The processes holding a Processor: the spawned pool workers, or the CLI itself (1 worker)."""
    workers = []
    for child in children:
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                workers.append(child)
        except psutil.NoSuchProcess:
            pass
    return workers or [root]


# ------------------------------------------------------------------------------------ runs

@dataclass
class Run:
    name: str
    seconds: float
    pages: int
    rss: Optional[RssTrace] = None
    cell_f1: Optional[float] = None
    startup_s: float = 0.0  # of `seconds`: interpreter, imports and models, paid once per worker

    @property
    def s_per_page(self) -> float:
        return self.seconds / self.pages

    @property
    def steady_s_per_page(self) -> float:
        return (self.seconds - self.startup_s) / self.pages


STARTUP_PROBE = ("import time; t = time.perf_counter(); from pipeline.run import default_processor_factory; "
                 "from pipeline import config; default_processor_factory(config.MODELS_DIR); "
                 "print(time.perf_counter() - t)")


def time_startup() -> float:
    """Seconds a fresh worker spends importing budgetdoc and loading the shipped models."""
    started = time.perf_counter()
    probe = subprocess.run([sys.executable, "-c", STARTUP_PROBE], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True)
    float(probe.stdout.strip().splitlines()[-1])  # the probe did load the models
    return time.perf_counter() - started


def time_floor(pdfs: list[Path], pages: int) -> Run:
    started = time.perf_counter()
    for path in pdfs:
        with pymupdf.open(path) as pdf:
            for page in pdf:
                page.get_text("dict")
    return Run("PyMuPDF get_text(\"dict\") (floor)", time.perf_counter() - started, pages)


def time_budgetdoc(pdfs: list[Path], pages: int, workers: int, engine: str = "local") -> tuple[Run, Path]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-{workers}w-"))
    listing = out / "inputs"
    listing.mkdir()
    for pdf in pdfs:  # one folder of links: the command line stays short for 200 files
        (listing / pdf.name).symlink_to(pdf)
    command = [sys.executable, "-m", "pipeline.cli", "extract", str(listing), "--out", str(out / "result"),
               "--workers", str(workers), "--quiet", "--engine", engine]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = RssSampler(psutil.Process(process.pid), extraction_processes)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    trace = sampler.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    print(stdout.strip(), file=sys.stderr)
    label = f"budgetdoc, {engine} engine, {workers} worker{'s' if workers > 1 else ''}"
    return Run(label, seconds, pages, rss=trace if engine == "local" else None), out / "result"


def budgetdoc_f1(result_dir: Path, pdfs: list[Path]) -> float:
    by_name = {}
    with open(result_dir / "documents.jsonl", encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            by_name[Path(doc["source"]).name] = doc
    tally = Tally()
    for pdf in pdfs:
        gold = load_annotation(pdf.with_suffix(".jsonl"))
        doc = by_name.get(pdf.name, {"records": [], "tables": []})
        tally.add(budget_cells(gold.records, gold.tables), budget_cells(doc["records"], doc["tables"]))
    return tally.f1


def time_pdfplumber(pdfs: list[Path], pages: int) -> Run:
    from pdfplumber_baseline import extract_pdf

    tally = Tally()
    seconds = 0.0
    for pdf in pdfs:
        started = time.perf_counter()
        out = extract_pdf(str(pdf))
        seconds += time.perf_counter() - started
        gold = load_annotation(pdf.with_suffix(".jsonl"))  # scoring is not timed
        tally.add(budget_cells(gold.records, gold.tables), budget_cells(out["records"], out["tables"]))
    return Run("pdfplumber extract_tables + regex (baseline)", seconds, pages, cell_f1=tally.f1)


# ------------------------------------------------------------------------------------ report

def mib(n: int) -> str:
    return f"{n / 1024 ** 2:,.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def render(args: argparse.Namespace, docs: int, pages: int, floor: Run, one: Run, many: Run,
           plumber: Optional[Run], ray_run: Optional[Run]) -> str:
    floor_ratio = one.s_per_page / floor.s_per_page
    lines = [
        f"# Extraction benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Corpus: {docs} generated PDFs, {pages} pages (`budgetdoc synth`, seed {args.seed}). "
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average at the end {os.getloadavg()[0]:.1f} (shared machine: times are noisy). "
        f"Command: `{' '.join(['python', 'benchmarks/bench_extract.py'] + sys.argv[1:])}`",
        "",
        "| run | s / page | pages / s | × floor | s / page after start-up | × floor | cell F1 | "
        "peak RSS per worker (2nd ¼ → last ¼ of the run) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in [floor, one, many] + [r for r in (ray_run, plumber) if r]:
        rss = "-"
        if run.rss:
            first, last = run.rss.quarter_peaks()
            rss = f"{mib(run.rss.peak())} ({mib(first)} → {mib(last)})"
        f1 = f"{run.cell_f1:.3f}" if run.cell_f1 is not None else "-"
        lines.append(f"| {run.name} | {run.s_per_page:.4f} | {1 / run.s_per_page:.1f} | "
                     f"{run.s_per_page / floor.s_per_page:.1f} | {run.steady_s_per_page:.4f} | "
                     f"{run.steady_s_per_page / floor.s_per_page:.1f} | {f1} | {rss} |")
    peak = max(one.rss.peak(), many.rss.peak())
    lines += ["", "| target | measured | verdict |", "| --- | --- | --- |",
              f"| end to end on one worker ≤ {TARGET_FLOOR_RATIO:g}× the floor per page | {floor_ratio:.1f}× "
              f"({one.steady_s_per_page / floor.s_per_page:.1f}× after start-up of {one.startup_s:.1f} s) | "
              f"{verdict(floor_ratio <= TARGET_FLOOR_RATIO)} |",
              f"| {many.name}: speed-up over one worker | {one.seconds / many.seconds:.2f}× | - |"]
    if plumber:
        speedup = plumber.s_per_page / one.s_per_page
        lines += [f"| ≥ {TARGET_BASELINE_SPEEDUP:g}× faster than pdfplumber (one core each) | "
                  f"{speedup:.2f}× ({'faster' if speedup >= 1 else 'slower'}) | "
                  f"{verdict(speedup >= TARGET_BASELINE_SPEEDUP)} |",
                  f"| higher budget cell F1 than pdfplumber | {many.cell_f1:.3f} vs {plumber.cell_f1:.3f} | "
                  f"{verdict(many.cell_f1 > plumber.cell_f1)} |"]
    lines.append(f"| peak RSS per worker ≤ 1 GiB | {mib(peak)} | {verdict(peak <= TARGET_RSS_BYTES)} |")
    for run in (one, many):
        first, last = run.rss.quarter_peaks()
        grown = (last - first) / first if first else 0.0
        lines.append(f"| memory flat over the batch ({run.name}; ≤ {FLAT_GROWTH:.0%} growth) | "
                     f"{mib(first)} → {mib(last)} ({grown:+.1%}) | {verdict(grown <= FLAT_GROWTH)} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="documents (default %(default)s, ~13 pages each)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed (default %(default)s)")
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="corpus cache folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers of the parallel run (default: all CPUs)")
    parser.add_argument("--ray", action="store_true", help="also time --engine ray with --workers actors")
    parser.add_argument("--no-baseline", action="store_true", help="skip pdfplumber (pip install pdfplumber)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results.md", help="Markdown output")
    args = parser.parse_args(argv)

    pdfs = build_corpus(args.cache, args.docs, args.seed)
    pages = page_count(pdfs)
    print(f"corpus: {len(pdfs)} PDFs, {pages} pages", file=sys.stderr)
    floor = time_floor(pdfs, pages)
    startup = time_startup()
    one, one_out = time_budgetdoc(pdfs, pages, workers=1)
    many, many_out = time_budgetdoc(pdfs, pages, workers=args.workers)
    one.startup_s = many.startup_s = startup  # the pool's workers start in parallel
    many.cell_f1 = one.cell_f1 = budgetdoc_f1(many_out, pdfs)
    ray_run = time_budgetdoc(pdfs, pages, workers=args.workers, engine="ray")[0] if args.ray else None
    plumber = None if args.no_baseline else time_pdfplumber(pdfs, pages)
    report = render(args, len(pdfs), pages, floor, one, many, plumber, ray_run)
    print(report)
    args.results.write_text(report, encoding="utf-8")
    for result in (one_out, many_out):
        shutil.rmtree(result.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
