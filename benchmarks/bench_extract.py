"""Speed, accuracy and memory of `budgetdoc extract` on a fixed generated corpus.

    python benchmarks/bench_extract.py               # 200 generated PDFs (about 2,600 pages)
    python benchmarks/bench_extract.py --docs 60     # the first 60 of them

The corpus is rendered once (`budgetdoc synth`, fixed seed) into --cache and reused. Measured per
page, in wall and in CPU time (the latter robust to other load on a shared machine): PyMuPDF's
bare page.get_text("dict") (the floor: reading the PDF at all); `budgetdoc extract` end to end
(a fresh process: start-up and model loading included; also without that one-off start-up) on
one worker and on --workers, and with --ray on the Ray engine; the pdfplumber +
regular-expression extractor a user would otherwise write (benchmarks/pdfplumber_baseline.py),
one core. Budget cell F1 against the generated gold for both (training.evaluate.budget_cells).
Peak RSS of every extraction process, sampled through the whole batch, with its peak in the
second and last quarter of the run (flat = no growth). One worker's stages in CPU time. Prints
Markdown tables and writes them to --results.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
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

def generator_fingerprint() -> str:
    """Hash of the generator's code: a corpus rendered by another version is not reused."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "training" / "synth").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def build_corpus(cache: Path, docs: int, seed: int) -> list[Path]:
    """The first `docs` PDFs (by name) of the cached corpus for `seed` and this generator, rendering it if short."""
    folder = cache / f"corpus-seed{seed}-{generator_fingerprint()}"
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
    startup_cpu_s: float = 0.0
    cpu_seconds: Optional[float] = None  # CPU time (user + system) of the run's processes

    @property
    def cpu_per_page(self) -> Optional[float]:
        return self.cpu_seconds / self.pages if self.cpu_seconds is not None else None

    @property
    def s_per_page(self) -> float:
        return self.seconds / self.pages

    @property
    def steady_s_per_page(self) -> float:
        return (self.seconds - self.startup_s) / self.pages


STARTUP_PROBE = ("import time; t = time.perf_counter(); from pipeline.run import default_processor_factory; "
                 "from pipeline import config; default_processor_factory(config.MODELS_DIR); "
                 "print(time.perf_counter() - t)")


def time_startup() -> tuple[float, float]:
    """Seconds (wall, CPU) a fresh worker spends importing budgetdoc and loading the shipped models."""
    started, cpu_started = time.perf_counter(), children_cpu()
    probe = subprocess.run([sys.executable, "-c", STARTUP_PROBE], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True)
    float(probe.stdout.strip().splitlines()[-1])  # the probe did load the models
    return time.perf_counter() - started, children_cpu() - cpu_started


def time_floor(pdfs: list[Path], pages: int) -> Run:
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in pdfs:
        with pymupdf.open(path) as pdf:
            for page in pdf:
                page.get_text("dict")
    return Run("PyMuPDF get_text(\"dict\") (floor)", time.perf_counter() - started, pages,
               cpu_seconds=time.process_time() - cpu_started)


def children_cpu() -> float:
    """CPU seconds of this process's waited-for descendants (a pool's workers count once their
    parent has waited for them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_budgetdoc(pdfs: list[Path], pages: int, workers: int, engine: str = "local") -> tuple[Run, Path]:
    out = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-{workers}w-"))
    listing = out / "inputs"
    listing.mkdir()
    for pdf in pdfs:  # one folder of links: the command line stays short for 200 files
        (listing / pdf.name).symlink_to(pdf)
    command = [sys.executable, "-m", "pipeline.cli", "extract", str(listing), "--out", str(out / "result"),
               "--workers", str(workers), "--quiet", "--engine", engine]
    started, cpu_started = time.perf_counter(), children_cpu()
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
    # Ray's actors are the raylet's children, not ours: their CPU time is not seen here
    cpu = children_cpu() - cpu_started if engine == "local" else None
    return Run(label, seconds, pages, rss=trace if engine == "local" else None, cpu_seconds=cpu), out / "result"


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


@dataclass
class StageTimes:
    """Seconds per stage of budgetdoc's extraction over the corpus, in this process (one core)."""
    seconds: dict[str, float]
    pages: int


def time_stages(pdfs: list[Path], pages: int) -> StageTimes:
    """Where one worker's time goes: the local engine's per-file work, stage by stage, in CPU time
    (robust to other load on the machine; models loaded and jieba initialised beforehand, and the
    garbage collector set as in a worker)."""
    from pipeline import config
    from pipeline.extract import load_document
    from pipeline.process import Processor
    from pipeline.run import batch_gc, contract_problems

    processor = Processor(config.MODELS_DIR)
    seconds: dict[str, float] = {}

    def timed(name: str, started: float) -> float:
        now = time.process_time()
        seconds[name] = seconds.get(name, 0.0) + now - started
        return now

    with batch_gc():
        for path in pdfs:
            started = time.process_time()
            doc = load_document(path)
            timed("read PDF into lines (load_document)", started)
            processor.process(doc, seconds, clock=time.process_time)
            started = time.process_time()
            contract = doc.to_contract()
            started = timed("to_contract", started)
            contract_problems(contract)
            started = timed("contract validation", started)
            json.dumps(contract, ensure_ascii=False)
            timed("JSON line", started)
    return StageTimes(seconds, pages)


def time_pdfplumber(pdfs: list[Path], pages: int) -> Run:
    from pdfplumber_baseline import extract_pdf

    tally = Tally()
    seconds = cpu = 0.0
    for pdf in pdfs:
        started, cpu_started = time.perf_counter(), time.process_time()
        out = extract_pdf(str(pdf))
        seconds += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        gold = load_annotation(pdf.with_suffix(".jsonl"))  # scoring is not timed
        tally.add(budget_cells(gold.records, gold.tables), budget_cells(out["records"], out["tables"]))
    return Run("pdfplumber extract_tables + regex (baseline)", seconds, pages, cell_f1=tally.f1, cpu_seconds=cpu)


# ------------------------------------------------------------------------------------ report

def mib(n: int) -> str:
    return f"{n / 1024 ** 2:,.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def render(args: argparse.Namespace, docs: int, pages: int, floor: Run, one: Run, many: Run,
           plumber: Optional[Run], ray_run: Optional[Run], stages: Optional[StageTimes] = None) -> str:
    floor_ratio = one.s_per_page / floor.s_per_page
    lines = [
        f"# Extraction benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Corpus: {docs} generated PDFs, {pages} pages (`budgetdoc synth`, seed {args.seed}). "
        f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average at the end {os.getloadavg()[0]:.1f} (shared machine: times are noisy). "
        f"Command: `{' '.join(['python', 'benchmarks/bench_extract.py'] + sys.argv[1:])}`",
        "",
        "| run | s / page | pages / s | × floor | s / page after start-up | × floor | CPU s / page | "
        "× floor (CPU) | cell F1 | peak RSS per worker (2nd ¼ → last ¼ of the run) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in [floor, one, many] + [r for r in (ray_run, plumber) if r]:
        rss = "-"
        if run.rss:
            first, last = run.rss.quarter_peaks()
            rss = f"{mib(run.rss.peak())} ({mib(first)} → {mib(last)})"
        f1 = f"{run.cell_f1:.3f}" if run.cell_f1 is not None else "-"
        cpu = (f"{run.cpu_per_page:.4f} | {run.cpu_per_page / floor.cpu_per_page:.1f}"
               if run.cpu_per_page is not None and floor.cpu_per_page else "- | -")
        lines.append(f"| {run.name} | {run.s_per_page:.4f} | {1 / run.s_per_page:.1f} | "
                     f"{run.s_per_page / floor.s_per_page:.1f} | {run.steady_s_per_page:.4f} | "
                     f"{run.steady_s_per_page / floor.s_per_page:.1f} | {cpu} | {f1} | {rss} |")
    peak = max(one.rss.peak(), many.rss.peak())
    lines += ["", "| target | measured | verdict |", "| --- | --- | --- |",
              f"| end to end on one worker ≤ {TARGET_FLOOR_RATIO:g}× the floor per page | {floor_ratio:.1f}× "
              f"({one.steady_s_per_page / floor.s_per_page:.1f}× after start-up of {one.startup_s:.1f} s; "
              f"in CPU time {one.cpu_per_page / floor.cpu_per_page:.1f}×) | "
              f"{verdict(floor_ratio <= TARGET_FLOOR_RATIO)} |",
              f"| {many.name}: speed-up over one worker | {one.seconds / many.seconds:.2f}× | - |"]
    if plumber:
        speedup = plumber.s_per_page / one.s_per_page
        lines += [f"| ≥ {TARGET_BASELINE_SPEEDUP:g}× faster than pdfplumber (one core each) | "
                  f"{speedup:.2f}× ({'faster' if speedup >= 1 else 'slower'}; in CPU time "
                  f"{plumber.cpu_per_page / one.cpu_per_page:.2f}×) | "
                  f"{verdict(speedup >= TARGET_BASELINE_SPEEDUP)} |",
                  f"| higher budget cell F1 than pdfplumber | {many.cell_f1:.3f} vs {plumber.cell_f1:.3f} | "
                  f"{verdict(many.cell_f1 > plumber.cell_f1)} |"]
    lines.append(f"| peak RSS per worker ≤ 1 GiB | {mib(peak)} | {verdict(peak <= TARGET_RSS_BYTES)} |")
    for run in (one, many):
        first, last = run.rss.quarter_peaks()
        grown = (last - first) / first if first else 0.0
        lines.append(f"| memory flat over the batch ({run.name}; ≤ {FLAT_GROWTH:.0%} growth) | "
                     f"{mib(first)} → {mib(last)} ({grown:+.1%}) | {verdict(grown <= FLAT_GROWTH)} |")
    if stages:
        lines += render_stages(stages, floor, one)
    return "\n".join(lines) + "\n"


def render_stages(stages: StageTimes, floor: Run, one: Run) -> list[str]:
    """CPU time per page of each stage, the start-up and the rest of the 1-worker CLI run."""
    total = one.cpu_per_page
    per_page = {name: s / stages.pages for name, s in stages.seconds.items()}
    startup = one.startup_cpu_s / one.pages
    rest = total - startup - sum(per_page.values())
    lines = ["", "Where one worker's time goes, in CPU time (the stages: the same files in the benchmark's "
             "process; start-up: a fresh process loading the models; the total: the 1-worker run above):", "",
             "| stage | CPU ms / page | share | × floor (CPU) |", "| --- | ---: | ---: | ---: |"]
    rows = list(per_page.items()) + [("start-up (imports, models, jieba) spread over the batch", startup),
                                     ("rest of the CLI run (hashing, JSON writing, Parquet, progress)", rest)]
    for name, value in rows:
        lines.append(f"| {name} | {1000 * value:.2f} | {value / total:.0%} | {value / floor.cpu_per_page:.1f} |")
    lines.append(f"| total (1-worker run) | {1000 * total:.2f} | 100% | {total / floor.cpu_per_page:.1f} |")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="documents (default %(default)s, ~13 pages each)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed (default %(default)s)")
    parser.add_argument("--cache", type=Path, default=BENCH_DIR / ".cache", help="corpus cache folder")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers of the parallel run (default: all CPUs)")
    parser.add_argument("--ray", action="store_true", help="also time --engine ray with --workers actors")
    parser.add_argument("--no-baseline", action="store_true", help="skip pdfplumber (pip install pdfplumber)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage timing of one worker")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results.md", help="Markdown output")
    args = parser.parse_args(argv)

    pdfs = build_corpus(args.cache, args.docs, args.seed)
    pages = page_count(pdfs)
    print(f"corpus: {len(pdfs)} PDFs, {pages} pages", file=sys.stderr)
    floor = time_floor(pdfs, pages)
    startup, startup_cpu = time_startup()
    one, one_out = time_budgetdoc(pdfs, pages, workers=1)
    many, many_out = time_budgetdoc(pdfs, pages, workers=args.workers)
    one.startup_s = many.startup_s = startup  # the pool's workers start in parallel
    one.startup_cpu_s = many.startup_cpu_s = startup_cpu
    many.cell_f1 = one.cell_f1 = budgetdoc_f1(many_out, pdfs)
    ray_run = time_budgetdoc(pdfs, pages, workers=args.workers, engine="ray")[0] if args.ray else None
    plumber = None if args.no_baseline else time_pdfplumber(pdfs, pages)
    stages = None if args.no_stages else time_stages(pdfs, pages)
    report = render(args, len(pdfs), pages, floor, one, many, plumber, ray_run, stages)
    print(report)
    args.results.write_text(report, encoding="utf-8")
    for result in (one_out, many_out):
        shutil.rmtree(result.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
