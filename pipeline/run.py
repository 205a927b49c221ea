"""Batch runner of `budgetdoc extract`: discover inputs, extract each, write documents.jsonl.

- Every input yields exactly one line of OUT/documents.jsonl, written and flushed as soon as the
  document is done, so a crash loses at most the documents in flight.
- Resumable: sources whose doc_id (sha256 of the bytes) is already in documents.jsonl are skipped;
  `force` redoes them (their old lines are removed first). A torn last line left by a crash is
  dropped on the next run. Identical files given twice are extracted once.
- A bug or a hang on one file never stops the batch: an exception in processing gives a failed
  document `internal_error`, a file over the time limit a failed document `timeout`.
- workers == 1 runs in this process (time limit by SIGALRM where available); workers > 1 runs a
  pool of spawned processes, each building its Processor once; a worker over the limit is killed
  and replaced.
- records.parquet is rewritten with the records of the whole documents.jsonl (pipeline.output), and
  the same rows as a partitioned folder records/part-NNNNN.parquet (a document's records never
  straddle two parts), which Spark/DuckDB/Ray read in parallel: the documents already in the file
  first, then each new one as it is written; both are swapped in at the end of the run.
- engine "ray" runs the same jobs on Ray Data instead (pipeline.ray_engine): same output files.
"""
from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from pathlib import Path

from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

from pipeline import config
from pipeline.extract import (
    INTERNAL_ERROR,
    TIMEOUT,
    document_id,
    failed_document,
    format_of,
    load_document,
)
from pipeline.model import Document
from pipeline.output import RecordsWriter, feed_documents, iter_documents, validate_contract

DOCUMENTS_FILE = "documents.jsonl"
RECORDS_FILE = "records.parquet"
RECORDS_PARTS_DIR = "records"  # the same rows as records.parquet, as part-NNNNN.parquet files
ENGINES = ("local", "ray")
RECORDS_PART_ROWS = 100_000  # rows per records/part-*.parquet (candidate for pipeline.config)
_MAX_GRACE_S = 5.0  # hard kill this long after the soft (in-worker) limit
BATCH_GC_THRESHOLD = 50_000  # new container objects between two collections while extracting


class DocumentProcessor(Protocol):
    """pipeline.process.Processor's interface (`name`/`version` attributes are read if present)."""

    def process(self, doc: Document) -> Document: ...


ProcessorFactory = Callable[[Path], DocumentProcessor]


class ExtractError(RuntimeError):
    """The run itself cannot proceed (e.g. the models cannot be loaded); not a per-file problem."""


class FileTimeout(BaseException):
    """Raised by the alarm; a BaseException so that readers' `except Exception` cannot swallow it."""


@dataclass(frozen=True)
class Job:
    path: Path
    doc_id: str


# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------


@dataclass
class RunSummary:
    out_dir: Path
    status: Counter = field(default_factory=Counter)
    error_codes: Counter = field(default_factory=Counter)
    pages: int = 0
    records: int = 0
    failed_checks: int = 0
    skipped: int = 0
    duplicates: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0
    parquet_rows: Optional[int] = None
    ray_nodes: Optional[int] = None  # engine "ray": how many cluster nodes extracted documents

    @property
    def documents(self) -> int:
        return sum(self.status.values())

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def add(self, contract: dict[str, Any]) -> None:
        self.status[contract["status"]] += 1
        self.error_codes.update(e["code"] for e in contract.get("errors", []))
        self.pages += contract.get("pages") or 0
        self.records += len(contract.get("records", []))
        self.failed_checks += count_failed_checks(contract)

    def render(self) -> str:
        failed_codes = ", ".join(f"{code} {n}" for code, n in sorted(self.error_codes.items()))
        lines = [
            f"extracted {self.documents} document(s) in {self.seconds:.1f} s: "
            f"{self.status['ok']} ok, {self.status['partial']} partial, {self.status['failed']} failed",
            f"  pages {self.pages} · records {self.records} · failed checks {self.failed_checks} · "
            f"{self.pages_per_second:.1f} pages/s",
        ]
        if failed_codes:
            lines.append(f"  errors: {failed_codes}")
        if self.ray_nodes is not None:
            lines.append(f"  ray: documents extracted on {self.ray_nodes} node(s) of the cluster")
        if self.skipped:
            lines.append(f"  skipped {self.skipped} already in {self.out_dir / DOCUMENTS_FILE} (--force redoes them)")
        if self.duplicates:
            lines.append(f"  skipped {self.duplicates} duplicate input(s) (same bytes as another input)")
        if self.missing:
            lines.append(f"  not found: {', '.join(self.missing)}")
        outputs = str(self.out_dir / DOCUMENTS_FILE)
        if self.parquet_rows is not None:
            outputs += (f", {self.out_dir / RECORDS_FILE} ({self.parquet_rows} rows, also as "
                        f"{self.out_dir / RECORDS_PARTS_DIR}/part-*.parquet)")
        lines.append(f"  output: {outputs}")
        return "\n".join(lines)


def count_failed_checks(contract: dict[str, Any]) -> int:
    """Distinct failed checks of a document (one check is attached to each record it involves)."""
    failed = {
        (c.get("name"), c.get("detail", ""))
        for record in contract.get("records", [])
        for c in record.get("checks", [])
        if not c.get("ok", True)
    }
    return len(failed)


# ---------------------------------------------------------------------------------------------
# Inputs and the output file
# ---------------------------------------------------------------------------------------------


def discover_inputs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files to extract (folders searched recursively for supported suffixes), and missing paths.

    A file named explicitly is taken whatever its suffix (it becomes `unsupported_format` if
    need be); inside folders, hidden files and Office lock files (~$x.docx) are ignored.
    """
    found: list[Path] = []
    missing: list[str] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = _folder_files(path)
        elif path.is_file():
            candidates = [path]
        else:
            missing.append(str(path))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found, missing


def _folder_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith((".", "~$")):
                continue
            path = Path(root) / name
            if format_of(path) is not None:
                files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def prepare_output(documents_jsonl: Path, redo_ids: set[str]) -> set[str]:
    """doc_ids already done; drops torn lines and the lines of `redo_ids` from the file first."""
    if not documents_jsonl.exists():
        return set()
    kept: list[str] = []
    done: set[str] = set()
    dropped = False
    with open(documents_jsonl, encoding="utf-8") as handle:
        for raw in handle:
            doc_id = _doc_id_of(raw)
            if doc_id is None or doc_id in redo_ids or doc_id in done:
                dropped = dropped or bool(raw.strip())
                continue
            done.add(doc_id)
            kept.append(raw if raw.endswith("\n") else raw + "\n")
    if dropped:
        rewritten = documents_jsonl.with_name(documents_jsonl.name + ".partial")
        rewritten.write_text("".join(kept), encoding="utf-8")
        os.replace(rewritten, documents_jsonl)
    return done


def _doc_id_of(raw: str) -> Optional[str]:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError:
        return None
    doc_id = doc.get("doc_id") if isinstance(doc, dict) else None
    return doc_id if isinstance(doc_id, str) else None


# ---------------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------------


def default_processor_factory(model_dir: Path) -> DocumentProcessor:
    from pipeline.process import Processor  # heavy (models); imported only when a run starts

    return Processor(model_dir)


def extract_one(job: Job, processor: DocumentProcessor, timeout_s: Optional[float]) -> dict[str, Any]:
    """Contract dict of one file; never raises for a problem of that file."""
    try:
        with time_limit(timeout_s):
            doc = load_document(job.path)
            doc.model_name, doc.model_version = model_of(processor)
            if doc.status != "failed":
                doc = _process_safely(doc, processor)
            contract = doc.to_contract()
    except FileTimeout:
        return timeout_contract(job, timeout_s, model_of(processor))
    except Exception as exc:  # to_contract on a mangled Document: still one line for the file
        return _failed(job, INTERNAL_ERROR, _describe_exception(exc), model_of(processor)).to_contract()
    try:
        problems = contract_problems(contract)
    except OSError as exc:  # the schema itself is missing: say so instead of killing the worker
        message = (f"the output could not be checked: the contract schema cannot be read ({exc}); set "
                   "BUDGETDOC_SHARED to the folder holding contract/document.schema.json")
        return _failed(job, INTERNAL_ERROR, message, model_of(processor)).to_contract()
    if problems:
        shown = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
        message = (f"the extracted output broke the contract ({len(problems)} problem(s): {shown}); "
                   "this is a bug in budgetdoc: please report it with the file")
        return _failed(job, INTERNAL_ERROR, message, model_of(processor)).to_contract()
    return contract


def contract_problems(contract: dict[str, Any]) -> list[str]:
    """validate_contract's verdict. A compiled validator (fastjsonschema, when installed) accepts a
    valid document about ten times faster than jsonschema; jsonschema still words every problem."""
    fast = _compiled_contract_check()
    if fast is not None:
        try:
            fast(contract)
            return []
        except Exception:  # fastjsonschema.JsonSchemaException, or any surprise: ask jsonschema
            pass
    return validate_contract(contract)


@lru_cache(maxsize=1)
def _compiled_contract_check() -> Optional[Callable[[dict[str, Any]], Any]]:
    try:
        import fastjsonschema

        schema = json.loads(Path(config.CONTRACT_SCHEMA).read_text(encoding="utf-8"))
        return fastjsonschema.compile(schema)
    except Exception:  # not installed, or a schema it cannot compile: jsonschema alone
        return None


def _process_safely(doc: Document, processor: DocumentProcessor) -> Document:
    try:
        return processor.process(doc)
    except Exception as exc:
        # a half-processed Document may be inconsistent: keep only what loading established
        failed = Document(doc_id=doc.doc_id, source=doc.source, format=doc.format, page_count=doc.page_count,
                          errors=list(doc.errors), model_name=doc.model_name, model_version=doc.model_version)
        return failed.fail(INTERNAL_ERROR, _describe_exception(exc))


def model_of(processor: DocumentProcessor) -> tuple[str, str]:
    """(name, version) of the Processor's models: documents it never processes carry them too."""
    default = Document(doc_id="", source="", format="txt")
    return (str(getattr(processor, "name", default.model_name)),
            str(getattr(processor, "version", default.model_version)))


def _describe_exception(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return (f"processing crashed ({type(exc).__name__}: {exc}{where}); this is a bug in budgetdoc: "
            "please report it with the file")


def _failed(job: Job, code: str, message: str, model: tuple[str, str]) -> Document:
    doc = failed_document(job.path, job.doc_id, code, message)
    doc.model_name, doc.model_version = model
    return doc


def timeout_contract(job: Job, timeout_s: Optional[float], model: tuple[str, str]) -> dict[str, Any]:
    return _failed(job, TIMEOUT, f"extraction took longer than the limit of {timeout_s or 0:g} s and was "
                   "stopped; retry with a larger --timeout or split the file", model).to_contract()


@contextmanager
def time_limit(seconds: Optional[float]) -> Iterator[None]:
    """Raise FileTimeout in the block after `seconds` (main thread on POSIX; else no limit)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise FileTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------------------------
# Many files: in process, or a pool of spawned workers
# ---------------------------------------------------------------------------------------------


@contextmanager
def batch_gc() -> Iterator[None]:
    """Python's cyclic garbage collector set for a long batch, as it was afterwards.

    What exists when the batch starts (models, jieba's dictionary) is set aside for good, and a
    collection comes every 50,000 new container objects instead of 700: a document allocates
    millions of objects and hardly any cycles, and the default collections cost a worker about
    a tenth of its time (more as the caches of pipeline.encode and pipeline.fields fill up).
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BATCH_GC_THRESHOLD, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def _run_serial(jobs: list[Job], processor: DocumentProcessor, timeout_s: float) -> Iterator[dict[str, Any]]:
    with batch_gc():
        for job in jobs:
            yield extract_one(job, processor, timeout_s)


def _worker_main(conn: Connection, factory: ProcessorFactory, model_dir: Path, timeout_s: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        processor = factory(model_dir)
    except BaseException:
        conn.send(("init_error", traceback.format_exc()))
        return
    conn.send(("ready", model_of(processor)))
    with batch_gc():
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            conn.send(("done", extract_one(job, processor, timeout_s)))


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    job: Optional[Job] = None
    started: float = 0.0


class WorkerPool:
    """Spawned workers, one job each at a time, over their own pipe (killing one harms no other)."""

    def __init__(self, workers: int, factory: ProcessorFactory, model_dir: Path, timeout_s: float):
        self._context = multiprocessing.get_context("spawn")
        self._factory = factory
        self._model_dir = model_dir
        self._timeout_s = timeout_s
        self._hard_limit_s = (timeout_s + min(_MAX_GRACE_S, max(1.0, 0.2 * timeout_s))
                              if timeout_s and timeout_s > 0 else math.inf)
        self._queue: deque[Job] = deque()
        self._model = model_of(object())  # replaced by the workers' own on "ready"
        self._slots: list[Optional[_Slot]] = [self._start() for _ in range(workers)]

    def _start(self) -> _Slot:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(target=_worker_main, name="budgetdoc-worker", daemon=True,
                                        args=(child_end, self._factory, self._model_dir, self._timeout_s))
        process.start()
        child_end.close()
        return _Slot(process=process, conn=parent_end)

    def _replace(self, index: int) -> None:
        slot = self._slots[index]
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(timeout=5)
        slot.conn.close()
        self._slots[index] = self._start() if self._queue else None  # no work left: no new worker

    def run(self, jobs: list[Job]) -> Iterator[dict[str, Any]]:
        self._queue.extend(jobs)
        while self._queue or any(slot.job for slot in self._live()):
            for slot in self._live():
                if slot.ready and slot.job is None and self._queue:
                    self._assign(slot, self._queue.popleft())
            wait([s.conn for s in self._live()] + [s.process.sentinel for s in self._live()], timeout=0.25)
            for index, slot in enumerate(self._slots):
                if slot is not None:
                    yield from self._collect(index)

    def _assign(self, slot: _Slot, job: Job) -> None:
        try:
            slot.conn.send(job)
        except OSError:  # the worker died while idle: the job waits for its replacement
            self._queue.appendleft(job)
            return
        slot.job, slot.started = job, time.monotonic()

    def _live(self) -> list[_Slot]:
        return [slot for slot in self._slots if slot is not None]

    def has_workers(self) -> bool:
        """False once every worker was killed with no work left (a later run() would have none)."""
        return bool(self._live())

    def _collect(self, index: int) -> Iterator[dict[str, Any]]:
        slot = self._slots[index]
        kind, payload = self._receive(slot)
        if kind == "init_error":
            raise ExtractError(f"a worker could not load the models from {self._model_dir}:\n{payload}")
        if kind == "ready":
            slot.ready = True
            self._model = payload
        elif kind == "done":
            if slot.job is not None:
                slot.job = None
                yield payload
        elif kind == "died":
            if not slot.ready:
                raise ExtractError(f"a worker exited while loading the models (exit code "
                                   f"{slot.process.exitcode})")
            if slot.job is not None:
                yield _failed(slot.job, INTERNAL_ERROR, "the worker process died while extracting this file "
                              f"(exit code {slot.process.exitcode}); this is a bug in budgetdoc or the PDF "
                              "library: please report it with the file", self._model).to_contract()
            self._replace(index)
        elif slot.job is not None and time.monotonic() - slot.started > self._hard_limit_s:
            yield timeout_contract(slot.job, self._timeout_s, self._model)
            self._replace(index)

    @staticmethod
    def _receive(slot: _Slot) -> tuple[str, Any]:
        """The worker's next message, ("died", None) once its pipe is closed, ("", None) if none yet."""
        if not slot.conn.poll():
            return "", None
        try:
            return slot.conn.recv()
        except (EOFError, OSError):
            slot.process.join(timeout=5)
            return "died", None

    def close(self) -> None:
        for slot in self._live():
            try:
                slot.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 5
        for slot in self._live():
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(timeout=5)
            slot.conn.close()


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def plan_jobs(sources: list[Path], done: set[str], force: bool, summary: RunSummary) -> list[Job]:
    """Jobs for the sources not done yet (all with force), identical files once."""
    jobs: list[Job] = []
    planned: set[str] = set()
    for path in sources:
        doc_id = document_id(path)
        if doc_id in planned:
            summary.duplicates += 1
        elif doc_id in done and not force:
            summary.skipped += 1
        else:
            planned.add(doc_id)
            jobs.append(Job(path=path, doc_id=doc_id))
    return jobs


def extract_paths(paths: list[Path], out_dir: Path, model: str, workers: int = 1, force: bool = False,
                  timeout_s: float = config.PER_FILE_TIMEOUT_S, progress: bool = True,
                  processor_factory: ProcessorFactory = default_processor_factory,
                  engine: str = "local", address: Optional[str] = None) -> RunSummary:
    """Extract every disclosure under `paths` into out_dir/documents.jsonl and records.parquet.

    engine "local" runs in this process or a local pool of `workers`; engine "ray" runs on Ray Data
    (pipeline.ray_engine) at `address` (None: a Ray instance on this machine), `workers` actors
    (0: as many as the cluster's CPUs allow). Both write the same documents.jsonl and Parquet.
    """
    if engine not in ENGINES:
        raise ExtractError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if address and engine != "ray":
        raise ExtractError("--address is for --engine ray")
    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    documents_jsonl = out_dir / DOCUMENTS_FILE
    summary = RunSummary(out_dir=out_dir)

    sources, summary.missing = discover_inputs([Path(p) for p in paths])
    done = prepare_output(documents_jsonl, redo_ids=set())
    jobs = plan_jobs(sources, done, force, summary)
    if force:
        prepare_output(documents_jsonl, redo_ids={job.doc_id for job in jobs})

    if not jobs and not documents_jsonl.exists():
        summary.seconds = time.monotonic() - started
        return summary
    records = _records_writer(documents_jsonl, out_dir)
    try:
        if jobs and engine == "ray":
            from pipeline.ray_engine import ray_results  # Ray is an optional extra

            with ray_results(jobs, Path(model), workers, timeout_s, processor_factory, address) as results:
                write_results(results, len(jobs), documents_jsonl, progress, summary, records.add)
                summary.ray_nodes = len(results.nodes)
        elif jobs:
            _run_jobs(jobs, documents_jsonl, Path(model), workers, timeout_s, progress, processor_factory, summary,
                      records.add)
    except BaseException:
        records.abort()
        raise
    summary.parquet_rows = records.close()
    summary.seconds = time.monotonic() - started
    return summary


def _records_writer(documents_jsonl: Path, out_dir: Path) -> RecordsWriter:
    """records.parquet and its parts, fed first with the documents already in documents.jsonl (a
    resumed run's), then with each new document as it is written: documents.jsonl is read once."""
    records = RecordsWriter(out_dir / RECORDS_FILE, out_dir / RECORDS_PARTS_DIR, rows_per_part=RECORDS_PART_ROWS)
    return feed_documents(records, documents_jsonl) if documents_jsonl.exists() else records


def _build_processor(factory: ProcessorFactory, model_dir: Path) -> DocumentProcessor:
    try:
        return factory(model_dir)
    except Exception as exc:
        raise ExtractError(f"could not load the models from {model_dir} ({type(exc).__name__}: {exc}); "
                           "check --model, or train them with `budgetdoc train`") from exc


def _run_jobs(jobs: list[Job], documents_jsonl: Path, model_dir: Path, workers: int, timeout_s: float,
              progress: bool, factory: ProcessorFactory, summary: RunSummary,
              on_written: Callable[[dict[str, Any]], None] = lambda contract: None) -> None:
    pool: Optional[WorkerPool] = None
    if workers > 1:
        pool = WorkerPool(min(workers, len(jobs)), factory, model_dir, timeout_s)
        results = pool.run(jobs)
    else:
        results = _run_serial(jobs, _build_processor(factory, model_dir), timeout_s)
    try:
        write_results(results, len(jobs), documents_jsonl, progress, summary, on_written)
    finally:
        if pool is not None:
            pool.close()


def write_results(results: Iterable[dict[str, Any]], total: int, documents_jsonl: Path, progress: bool,
                  summary: RunSummary, on_written: Callable[[dict[str, Any]], None] = lambda contract: None) -> None:
    """Append each contract to documents.jsonl as it arrives (flushed), counting it in the summary
    and handing it to `on_written` (the Parquet writer)."""
    from tqdm import tqdm

    started = time.monotonic()
    bar = tqdm(total=total, unit="file", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        with open(documents_jsonl, "a", encoding="utf-8") as out:
            for contract in results:
                out.write(json.dumps(contract, ensure_ascii=False) + "\n")
                out.flush()
                summary.add(contract)
                on_written(contract)
                bar.update(1)
                elapsed = time.monotonic() - started
                bar.set_postfix(pages_s=f"{summary.pages / elapsed:.1f}" if elapsed > 0 else "-",
                                failed=summary.status["failed"], refresh=False)
    finally:
        bar.close()


def write_records_parts(documents_jsonl: Path, parts_dir: Path, rows_per_part: int = RECORDS_PART_ROWS) -> int:
    """Rewrite parts_dir as part-NNNNN.parquet files of about rows_per_part rows; returns the part count.

    Rows are streamed in small batches (memory stays flat however large the run); a part is closed
    only between documents. Built beside the folder and swapped in, so readers never see a
    half-written set of parts.
    """
    writer = feed_documents(RecordsWriter(parts_dir=parts_dir, rows_per_part=rows_per_part), documents_jsonl)
    writer.close()
    return writer.parts


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    """Every document of out_dir/documents.jsonl (for tests and evaluation)."""
    path = Path(out_dir) / DOCUMENTS_FILE
    return list(iter_documents(path)) if path.exists() else []
