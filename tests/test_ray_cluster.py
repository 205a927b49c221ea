"""`--engine ray --address HOST:PORT` on a two-node cluster: the work spreads over both nodes and
the documents are the local engine's.

The cluster is two raylets on this machine (ray.cluster_utils.Cluster, one CPU each), reached
by its GCS address as `budgetdoc extract --address` would. Skipped without Ray Data.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="Ray Data not installed: pip install -e '.[ray]'")

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.run import extract_paths, load_results  # noqa: E402
from training.synth import generate  # noqa: E402

SEED_TEXT = sorted(config.SEEDS_DIR.glob("002_*.txt"))[0]


@pytest.fixture(scope="module")
def two_nodes():
    if ray.is_initialized():  # another module's instance: this test needs its own cluster
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster_corpus")
    generate(3, folder, seed=41, progress=False)
    for annotation in folder.glob("*.jsonl"):
        annotation.unlink()
    shutil.copy(SEED_TEXT, folder / SEED_TEXT.name)
    return folder


def test_two_nodes_share_the_files_and_give_the_local_documents(two_nodes: Cluster, corpus: Path, tmp_path: Path):
    local = extract_paths([corpus], tmp_path / "local", model=str(config.MODELS_DIR), progress=False)
    on_cluster = extract_paths([corpus], tmp_path / "cluster", model=str(config.MODELS_DIR), workers=2,
                               progress=False, engine="ray", address=two_nodes.address)
    assert len(two_nodes.list_all_nodes()) == 2
    assert on_cluster.ray_nodes == 2  # an actor on each node extracted files
    assert on_cluster.documents == local.documents == 4 and on_cluster.status["ok"] == 4
    local_docs = {doc["doc_id"]: doc for doc in load_results(tmp_path / "local")}
    cluster_docs = {doc["doc_id"]: doc for doc in load_results(tmp_path / "cluster")}
    assert cluster_docs == local_docs
    assert sum(len(doc["records"]) for doc in cluster_docs.values()) > 50
