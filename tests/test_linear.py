"""pipeline.linear: numpy inference of scikit-learn's linear models, bit for bit, without importing it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline import config
from pipeline.linear import SoftmaxRegression, Vocabulary, load_arrays, save_arrays, text_array
from pipeline.process import ModelsMissing, Processor


def _data(n_classes: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = sparse.random(300, 40, density=0.2, format="csr", random_state=rng) * 3.0
    y = np.array([f"c{k}" for k in rng.randint(0, n_classes, 300)])
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_softmax_regression_gives_sklearns_probabilities_exactly(n_classes: int) -> None:
    X, y = _data(n_classes)
    fitted = LogisticRegression(C=2.0, max_iter=500).fit(X, y)
    ours = SoftmaxRegression.from_sklearn(fitted)
    X_new, _ = _data(n_classes, seed=1)
    assert np.array_equal(ours.predict_proba(X_new), fitted.predict_proba(X_new))
    assert list(ours.classes_) == list(fitted.classes_)


def test_vocabulary_transforms_as_dict_vectorizer() -> None:
    rows = [{"a": 1.0, "b": 2.5, "kind": "x"}, {"zz": 1.0, "b": -1.0}, {}, {"kind": "y", "a": 3.0}]
    fitted = DictVectorizer(sparse=True).fit(rows[:2] + [{"kind": "y", "c": 1.0}])
    ours = Vocabulary.from_dict_vectorizer(fitted)
    new_rows = rows + [{"unknown": 1.0, "c": 4.0, "kind": "never-seen"}]
    want, got = fitted.transform(new_rows), ours.transform(new_rows)
    assert got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
    assert np.array_equal(got.data, want.data)
    assert Vocabulary.unpacked(ours.packed()).vocabulary_ == fitted.vocabulary_


def test_model_archives_are_byte_reproducible_and_never_pickled(tmp_path: Path) -> None:
    X, y = _data(4)
    model = SoftmaxRegression.from_sklearn(LogisticRegression(max_iter=300).fit(X, y))
    arrays = {**model.arrays("m"), "names": text_array("甲\x1f乙")}
    a = save_arrays(tmp_path / "a.npz", arrays, {"c": 1.0, "labels": ["x", "标签"]})
    b = save_arrays(tmp_path / "b.npz", arrays, {"labels": ["x", "标签"], "c": 1.0})
    assert a.read_bytes() == b.read_bytes()
    loaded, meta = load_arrays(a)
    assert meta == {"c": 1.0, "labels": ["x", "标签"]}
    assert np.array_equal(SoftmaxRegression.from_arrays(loaded, "m").predict_proba(X), model.predict_proba(X))
    # an object array would need pickle to load: refused
    np.savez(tmp_path / "evil.npz", meta=text_array("{}"), payload=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError):
        load_arrays(tmp_path / "evil.npz")


def test_inference_never_imports_scikit_learn(tmp_path: Path) -> None:
    seed = sorted(config.SEEDS_DIR.glob("001_*.txt"))[0]
    code = (
        "import sys\n"
        "from pipeline.extract import load_document\n"
        "from pipeline.process import Processor\n"
        f"doc = Processor({str(config.MODELS_DIR)!r}).process(load_document({str(seed)!r}))\n"
        "records = len(doc.records)\n"
        "assert records > 50, records\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'sklearn_crfsuite', 'skops'))\n"
        "print('loaded:', loaded)\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=config.REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "loaded: []" in done.stdout


def test_a_model_folder_of_the_old_skops_format_says_to_retrain(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "section.skops").write_bytes(b"old")
    with pytest.raises(ModelsMissing, match="budgetdoc train"):
        Processor(tmp_path)
