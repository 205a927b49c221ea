"""`budgetdoc extract --engine ray`: the batch of pipeline.run on Ray Data, on this machine or a cluster.

The driver (this process) plans the jobs exactly as the local engine does (discovery, resume by
doc_id, --force, duplicates), then builds a Ray dataset of (path, doc_id) rows and maps it with
`ExtractBatch`, a callable class: Ray Data runs it on an actor pool, each actor building one
Processor (in a child process, see ExtractBatch) and turning each path into its contract with
`pipeline.run.extract_one`, the very function the local engine uses, so the records are the same. The contracts stream back to the
driver, which appends them to documents.jsonl as they arrive (resume works as with the local
engine) and writes the Parquet views at the end.

On a cluster (`address="auto"` or "HOST:6379" from a cluster node, typically inside
`ray job submit`; Ray Data does not work over Ray Client `ray://` addresses), every node needs
budgetdoc installed and must see the input paths at the same place (shared storage). The model
files travel with the actors (a few MB), so --model need only exist on the driver.

The per-file time limit, and crash containment, are those of the local pool (soft limit in the
worker, hard kill after it).
"""
from __future__ import annotations

import json
import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from pipeline.run import ExtractError, Job, ProcessorFactory, WorkerPool, _build_processor

RAY_INSTALL = "pip install -e '.[ray]'  (or: pip install 'ray[data]>=2.30')"
CPUS_PER_ACTOR = 1.0


def import_ray() -> Any:
    """The ray module, or an ExtractError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (ray without the [data] extra has no ray.data deps)
    except ImportError as exc:
        raise ExtractError(f"--engine ray needs Ray Data, which is not installed ({exc}): {RAY_INSTALL}") from exc
    return ray


def read_model_files(model_dir: Path) -> dict[str, bytes]:
    """Every file of the model folder (flat), to ship to actors that may not see the driver's disk."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ExtractError(f"could not load the models from {model_dir} (no such folder); check --model, "
                           "or train them with `budgetdoc train`")
    return {p.name: p.read_bytes() for p in sorted(model_dir.iterdir()) if p.is_file()}


def write_model_files(files: dict[str, bytes], name: str) -> Path:
    """A local model folder holding `files`, named like the driver's (factories may read the name).

    Its place is derived from the content, so every actor of a node (and every later run with the
    same models) shares one copy, and nothing piles up in the temp folder when Ray kills actors.
    """
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(file_name.encode() + b"\0" + hashlib.sha256(files[file_name]).digest())
    folder = Path(tempfile.gettempdir()) / f"budgetdoc-models-{digest.hexdigest()[:16]}" / name
    if all((folder / file_name).is_file() for file_name in files):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, data in files.items():
        partial = folder / f".{file_name}.{os.getpid()}.partial"  # actors of one node may race here
        partial.write_bytes(data)
        os.replace(partial, folder / file_name)
    return folder


class ExtractBatch:
    """Ray Data map_batches class: a batch of paths in, their contracts out.

    Ray calls it outside the actor's main thread, where the alarm-based time limit cannot work,
    so each actor drives a one-process pipeline.run.WorkerPool: the Processor lives in that child
    (built once), and a file over the limit, or one that kills the process, costs that file only,
    exactly as with the local engine.
    """

    def __init__(self, model_files: dict[str, bytes], model_name: str, timeout_s: float,
                 factory: ProcessorFactory) -> None:
        self.model_dir = write_model_files(model_files, model_name)
        self.timeout_s = timeout_s
        self.factory = factory
        self.pool = self._new_pool()

    def _new_pool(self) -> WorkerPool:
        return WorkerPool(1, self.factory, self.model_dir, self.timeout_s)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        jobs = [Job(path=Path(str(path)), doc_id=str(doc_id)) for path, doc_id in zip(batch["path"], batch["doc_id"])]
        if not self.pool.has_workers():  # its worker was killed on the previous batch's last file
            self.pool = self._new_pool()
        contracts = list(self.pool.run(jobs))
        return {"doc_id": [c["doc_id"] for c in contracts],
                "contract": [json.dumps(c, ensure_ascii=False) for c in contracts]}

    def __del__(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()


def actor_pool(ray: Any, workers: int, jobs: int) -> Any:
    """Fixed pool of `workers` actors; workers <= 0: autoscale from 1 up to what the cluster allows."""
    if workers > 0:
        return ray.data.ActorPoolStrategy(size=min(workers, jobs))
    return ray.data.ActorPoolStrategy(min_size=1, max_size=None)


@contextmanager
def ray_session(address: Optional[str], workers: int) -> Iterator[Any]:
    """Connected Ray: reuses an initialised one; starts (and later stops) its own otherwise."""
    ray = import_ray()
    if address and address.startswith("ray://"):
        # Ray Data's executor needs a full driver: over Ray Client it fails deep inside Ray
        # (ray-project/ray#48682), so say what works instead
        raise ExtractError(
            f"Ray Data cannot run over Ray Client ({address}). Run the command on the cluster as a Ray job: "
            "ray job submit --address http://HEAD:8265 -- budgetdoc extract INPUTS --out OUT --engine ray "
            "--address auto (inputs and OUT on storage the cluster sees), or run it on the head node "
            "with --address auto")
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False,
                               "include_dashboard": False}
    if address:
        options["address"] = address
    else:  # a private instance ("local": never a cluster left running by `ray start`), with at least
        # one CPU per actor, or the pool would wait forever for resources
        options["address"] = "local"
        options["num_cpus"] = max(workers, os.cpu_count() or 1)
    try:
        ray.init(**options)
    except Exception as exc:  # ConnectionError, RuntimeError, …: all mean no cluster to run on
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ExtractError(f"could not start or reach {where} ({type(exc).__name__}: {exc})") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def _quiet_progress(ray: Any, progress: bool) -> None:
    context = ray.data.DataContext.get_current()
    # our own tqdm bar counts files; Ray's per-operator bars would interleave with it
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = progress


@contextmanager
def ray_results(jobs: list[Job], model_dir: Path, workers: int, timeout_s: Optional[float],
                factory: ProcessorFactory, address: Optional[str], progress: bool = False,
                ) -> Iterator[Iterator[dict[str, Any]]]:
    """Contracts of `jobs` computed on Ray, as they complete (order not kept)."""
    _build_processor(factory, model_dir)  # models that cannot load: the local engine's clear error, before Ray starts
    model_files = read_model_files(model_dir)
    with ray_session(address, workers) as ray:
        _quiet_progress(ray, progress)
        rows = [{"path": str(job.path), "doc_id": job.doc_id} for job in jobs]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)) if _has_override(ray) \
            else ray.data.from_items(rows, parallelism=len(rows))
        mapped = dataset.map_batches(
            ExtractBatch,
            fn_constructor_kwargs={"model_files": model_files, "model_name": Path(model_dir).name,
                                   "timeout_s": timeout_s, "factory": factory},
            batch_size=1,  # one file per call: files differ a lot in size, so balance file by file
            batch_format="numpy",
            compute=actor_pool(ray, workers, len(jobs)),
            num_cpus=CPUS_PER_ACTOR,
        )
        yield _contracts(ray, mapped)


def _has_override(ray: Any) -> bool:
    import inspect

    return "override_num_blocks" in inspect.signature(ray.data.from_items).parameters


def _contracts(ray: Any, dataset: Any) -> Iterator[dict[str, Any]]:
    try:
        for row in dataset.iter_rows():
            yield json.loads(row["contract"])
    except ray.exceptions.RayError as exc:
        # per-file problems never get here (extract_one contains them): this is the run failing,
        # most often the actors unable to load the models
        raise ExtractError(f"the Ray job failed: {_root_message(exc)}") from exc


def _root_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    useful = [line for line in text if "ExtractError" in line or "could not load" in line]
    return (useful[-1] if useful else (text[-1] if text else type(exc).__name__)).strip()
