"""`budgetdoc extract --engine ray`: the batch of pipeline.run on Ray Data, on this machine or a cluster.

The driver (this process) plans the jobs exactly as the local engine does (discovery, resume by
doc_id, --force, duplicates), then builds a Ray dataset of (path, doc_id) rows and maps it with
`ExtractBatch`, a callable class: Ray Data runs it on an actor pool, each actor building one
Processor (in a child process, see ExtractBatch) and turning each path into its contract with
`pipeline.run.extract_one`, the very function the local engine uses, so the records are the
same. The contracts stream back to the driver, which appends them to documents.jsonl as they
arrive (resume works as with the local engine) and writes the Parquet views at the end.

On a cluster (`address="auto"` or "HOST:6379" from a cluster node, typically inside
`ray job submit`; Ray Data does not work over Ray Client `ray://` addresses), every node needs
budgetdoc installed and must see the input paths at the same place (shared storage); the rows
carry absolute paths, since actors do not share the driver's working directory, and each
contract gets back the source as given. The model files (a few MB) and the output contract's
schema travel with the actors, so --model and ../shared need only exist on the driver. Each row
also names the node that extracted it (the summary reports how many did).

The per-file time limit, and crash containment, are those of the local pool (soft limit in the
worker, hard kill after it).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from pipeline import config
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
    """A local model folder holding `files`, named like the driver's (factories may read the name)."""
    return _local_copy(files, "budgetdoc-models", name)


def _local_copy(files: dict[str, bytes], kind: str, name: str) -> Path:
    """A folder holding `files` (relative paths) under the temp folder.

    Its place is derived from the content, so every actor of a node (and every later run with the
    same files) shares one copy, and nothing piles up in the temp folder when Ray kills actors.
    """
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(file_name.encode() + b"\0" + hashlib.sha256(files[file_name]).digest())
    folder = Path(tempfile.gettempdir()) / f"{kind}-{digest.hexdigest()[:16]}" / name
    if all((folder / file_name).is_file() for file_name in files):
        return folder
    for file_name, data in files.items():
        target = folder / file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")  # actors of one node may race here
        partial.write_bytes(data)
        os.replace(partial, target)
    return folder


def read_contract_schema() -> bytes:
    """The output contract's JSON schema, which every actor validates its documents against."""
    path = Path(config.CONTRACT_SCHEMA)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"the output contract schema {path} cannot be read ({exc.strerror or exc}); set "
                           "BUDGETDOC_SHARED to the folder holding contract/document.schema.json") from exc


def use_contract_schema(schema: bytes) -> None:
    """Make the driver's contract schema the one this process's children validate against.

    A node whose budgetdoc has no shared folder beside it (installed from a wheel, or a
    `ray job submit --working-dir` copy) gets the driver's copy; one that has it keeps it.
    """
    current = Path(config.CONTRACT_SCHEMA)
    if current.is_file() and current.read_bytes() == schema:
        return
    relative = Path(config.CONTRACT_SCHEMA).relative_to(config.SHARED_DIR)
    shared = _local_copy({relative.as_posix(): schema}, "budgetdoc-shared", "shared")
    os.environ["BUDGETDOC_SHARED"] = str(shared)  # read by pipeline.config in the spawned worker


class ExtractBatch:
    """Ray Data map_batches class: a batch of paths in, their contracts out.

    Ray calls it outside the actor's main thread, where the alarm-based time limit cannot work,
    so each actor drives a one-process pipeline.run.WorkerPool: the Processor lives in that child
    (built once), and a file over the limit, or one that kills the process, costs that file only,
    exactly as with the local engine.
    """

    def __init__(self, model_files: dict[str, bytes], model_name: str, timeout_s: float,
                 factory: ProcessorFactory, contract_schema: bytes) -> None:
        use_contract_schema(contract_schema)  # before the worker process is spawned
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
        node = import_ray().get_runtime_context().get_node_id()
        return {"doc_id": [c["doc_id"] for c in contracts],
                "contract": [json.dumps(c, ensure_ascii=False) for c in contracts],
                "node": [node] * len(contracts)}

    def __del__(self) -> None:
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()


def actor_pool(ray: Any, workers: int, jobs: int) -> Any:
    """Fixed pool of `workers` actors; workers <= 0: autoscale from 1 up to what the cluster allows.

    An actor takes its next file only when it is idle (one task in flight): files differ a lot in
    size, and a file queued behind a long one would wait while another actor has nothing to do.
    """
    sizes: dict[str, Any] = {"size": min(workers, jobs)} if workers > 0 else {"min_size": 1, "max_size": None}
    if "max_tasks_in_flight_per_actor" in inspect.signature(ray.data.ActorPoolStrategy).parameters:
        sizes["max_tasks_in_flight_per_actor"] = 1
    return ray.data.ActorPoolStrategy(**sizes)


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


class RayResults:
    """The contracts of a Ray run as they arrive (order not kept), noting the nodes that made them."""

    def __init__(self, ray: Any, dataset: Any, sources: dict[str, str]) -> None:
        self._ray, self._dataset, self._sources = ray, dataset, sources
        self.nodes: set[str] = set()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for row in self._dataset.iter_rows():
                contract = json.loads(row["contract"])
                contract["source"] = self._sources.get(contract["doc_id"], contract["source"])
                self.nodes.add(str(row["node"]))
                yield contract
        except self._ray.exceptions.RayError as exc:
            # per-file problems never get here (extract_one contains them): this is the run failing,
            # most often the actors unable to load the models
            raise ExtractError(f"the Ray job failed: {_root_message(exc)}") from exc


@contextmanager
def ray_results(jobs: list[Job], model_dir: Path, workers: int, timeout_s: Optional[float],
                factory: ProcessorFactory, address: Optional[str], progress: bool = False,
                ) -> Iterator[RayResults]:
    """Contracts of `jobs` computed on Ray, as they complete (order not kept)."""
    _build_processor(factory, model_dir)  # models that cannot load: the local engine's clear error, before Ray starts
    model_files = read_model_files(model_dir)
    contract_schema = read_contract_schema()
    with ray_session(address, workers) as ray:
        _quiet_progress(ray, progress)
        # actors do not share the driver's working directory: they open absolute paths, and each
        # contract gets back the source as the user gave it
        rows = [{"path": str(job.path.absolute()), "doc_id": job.doc_id} for job in jobs]
        sources = {job.doc_id: str(job.path) for job in jobs}
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)) if _has_override(ray) \
            else ray.data.from_items(rows, parallelism=len(rows))
        mapped = dataset.map_batches(
            ExtractBatch,
            fn_constructor_kwargs={"model_files": model_files, "model_name": Path(model_dir).name,
                                   "timeout_s": timeout_s, "factory": factory,
                                   "contract_schema": contract_schema},
            batch_size=1,  # one file per call: files differ a lot in size, so balance file by file
            batch_format="numpy",
            compute=actor_pool(ray, workers, len(jobs)),
            num_cpus=CPUS_PER_ACTOR,
        )
        yield RayResults(ray, mapped, sources)


def _has_override(ray: Any) -> bool:
    return "override_num_blocks" in inspect.signature(ray.data.from_items).parameters


def _root_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    useful = [line for line in text if "ExtractError" in line or "could not load" in line]
    return (useful[-1] if useful else (text[-1] if text else type(exc).__name__)).strip()
