"""`--engine ray` gives the local engine's documents and records, on real generated PDFs and a seed.

Skipped when Ray Data is not installed (`pip install -e '.[ray]'`). One Ray instance (2 CPUs) is
started for the module and reused by every run, so the module stays around a minute.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("ray.data", reason="Ray Data not installed: pip install -e '.[ray]'")

import ray  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.cli import main  # noqa: E402
from pipeline.extract import CORRUPT_FILE  # noqa: E402
from pipeline.run import (  # noqa: E402
    DOCUMENTS_FILE, RECORDS_FILE, RECORDS_PARTS_DIR, ExtractError, RunSummary, extract_paths, load_results,
    write_records_parts,
)
from training.synth import generate  # noqa: E402

SEED_TEXT = sorted((config.SHARED_DIR / "seeds").glob("001_*.txt"))[0]


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three generated PDFs, a real seed disclosure as text, and a truncated PDF among them."""
    folder = tmp_path_factory.mktemp("ray_corpus")
    pdfs = generate(3, folder, seed=31, progress=False)
    for annotation in folder.glob("*.jsonl"):
        annotation.unlink()
    shutil.copy(SEED_TEXT, folder / SEED_TEXT.name)
    (folder / "corrupt.pdf").write_bytes(pdfs[0].read_bytes()[:2000])
    return folder


@pytest.fixture(scope="module")
def local_out(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local_out")
    extract_paths([corpus], out, model=str(config.MODELS_DIR), workers=1, progress=False)
    return out


@dataclass
class RayRuns:
    out: Path
    first: RunSummary
    second: RunSummary
    lines_after_first: list[str]


@pytest.fixture(scope="module")
def ray_runs(corpus: Path, ray_instance, tmp_path_factory: pytest.TempPathFactory) -> RayRuns:
    """Two Ray runs into one folder: the PDFs first, then the whole folder (only the seed is new)."""
    out = tmp_path_factory.mktemp("ray_out")
    first = extract_paths(sorted(corpus.glob("*.pdf")), out, model=str(config.MODELS_DIR), workers=2,
                          progress=False, engine="ray")
    lines_after_first = (out / DOCUMENTS_FILE).read_text(encoding="utf-8").splitlines()
    second = extract_paths([corpus], out, model=str(config.MODELS_DIR), workers=2, progress=False, engine="ray")
    return RayRuns(out, first, second, lines_after_first)


@pytest.fixture(scope="module")
def ray_out(ray_runs: RayRuns) -> Path:
    return ray_runs.out


def _by_doc_id(out: Path) -> dict[str, dict]:
    return {doc["doc_id"]: doc for doc in load_results(out)}


def _sorted_rows(table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda row: (row["doc_id"], row["record_id"]))


def test_ray_engine_gives_the_local_engines_documents(local_out: Path, ray_out: Path):
    local, on_ray = _by_doc_id(local_out), _by_doc_id(ray_out)
    assert set(local) == set(on_ray) and len(local) == 5
    assert sum(len(doc["records"]) for doc in local.values()) > 50  # real extraction, not empty documents
    for doc_id, doc in local.items():
        assert on_ray[doc_id] == doc, f"{doc['source']} differs between engines"


def test_ray_engine_parquet_rows_match_the_local_engines(local_out: Path, ray_out: Path):
    local_rows = _sorted_rows(pq.read_table(local_out / RECORDS_FILE))
    assert local_rows == _sorted_rows(pq.read_table(ray_out / RECORDS_FILE))
    assert local_rows == _sorted_rows(pq.read_table(ray_out / RECORDS_PARTS_DIR))
    assert sorted(p.name for p in (ray_out / RECORDS_PARTS_DIR).iterdir()) == ["part-00000.parquet"]


def test_records_parts_split_between_documents_and_hold_every_row(local_out: Path, tmp_path: Path):
    rows = _sorted_rows(pq.read_table(local_out / RECORDS_FILE))
    parts = write_records_parts(local_out / DOCUMENTS_FILE, tmp_path / "records", rows_per_part=100)
    files = sorted((tmp_path / "records").iterdir())
    assert parts == len(files) >= 3
    assert _sorted_rows(pq.read_table(tmp_path / "records")) == rows
    docs_per_part = [set(pq.read_table(f).column("doc_id").to_pylist()) for f in files]
    assert all(a.isdisjoint(b) for i, a in enumerate(docs_per_part) for b in docs_per_part[i + 1:])


def test_a_corrupt_file_among_good_ones_fails_alone_on_ray(ray_out: Path, corpus: Path):
    docs = {Path(doc["source"]).name: doc for doc in load_results(ray_out)}
    corrupt = docs.pop("corrupt.pdf")
    assert corrupt["status"] == "failed" and CORRUPT_FILE in [e["code"] for e in corrupt["errors"]]
    assert all(doc["status"] in ("ok", "partial") and doc["records"] for doc in docs.values())
    assert any(doc["format"] == "txt" for doc in docs.values())


def test_a_second_ray_run_resumes_and_only_does_new_files(ray_runs: RayRuns, corpus: Path):
    assert (ray_runs.first.documents, ray_runs.first.skipped) == (4, 0)
    assert (ray_runs.second.documents, ray_runs.second.skipped) == (1, 4)
    lines = (ray_runs.out / DOCUMENTS_FILE).read_text(encoding="utf-8").splitlines()
    assert lines[: len(ray_runs.lines_after_first)] == ray_runs.lines_after_first and len(lines) == 5
    assert json.loads(lines[-1])["source"] == str(corpus / SEED_TEXT.name)


def test_models_that_cannot_load_stop_a_ray_run_before_it_starts(corpus: Path, tmp_path: Path):
    (tmp_path / "no_models").mkdir()
    with pytest.raises(ExtractError, match="could not load the models"):
        extract_paths([corpus], tmp_path / "out", model=str(tmp_path / "no_models"), progress=False, engine="ray")


def test_cli_rejects_an_address_without_the_ray_engine(corpus: Path, tmp_path: Path, capsys):
    assert main(["extract", str(corpus), "--out", str(tmp_path), "--address", "auto", "--quiet"]) == 2
    assert "--address is for --engine ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["extract", str(corpus), "--out", str(tmp_path), "--engine", "spark"])


def test_a_ray_client_address_is_refused_with_what_to_do_instead(corpus: Path, tmp_path: Path):
    with pytest.raises(ExtractError, match="ray job submit"):
        extract_paths([corpus], tmp_path / "out", model=str(config.MODELS_DIR), progress=False, engine="ray",
                      address="ray://head:10001")
