"""The inference half of the linear models, in numpy: no scikit-learn import at inference.

scikit-learn fits (LogisticRegression, DictVectorizer, in training); the fitted models are then
held as `SoftmaxRegression` and `Vocabulary`, which compute `predict_proba` and `transform` with
the same operations in the same order as scikit-learn, so the probabilities are bit-identical
(tests/test_linear.py). The reason is start-up: importing scikit-learn pulls in scipy.stats and
pandas, about 1.5 s per worker, a tenth of a one-worker run over 200 PDFs.

Model files are .npz archives of plain arrays, read with `allow_pickle=False` (a model file
cannot run code), written with fixed zip timestamps so that the same model gives the same bytes.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from scipy import sparse

_NAME_SEP = "\x1f"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class Vocabulary:
    """A fitted DictVectorizer(sparse=True)'s `transform`: feature dicts -> CSR rows."""

    feature_names_: list[str]

    def __post_init__(self) -> None:
        self.vocabulary_ = {name: i for i, name in enumerate(self.feature_names_)}

    @classmethod
    def from_dict_vectorizer(cls, vectorizer: Any) -> "Vocabulary":
        return cls(list(vectorizer.feature_names_))

    def transform(self, rows: Iterable[Mapping[str, Any]]) -> sparse.csr_matrix:
        vocab = self.vocabulary_
        indices: list[int] = []
        values: list[float] = []
        indptr = [0]
        for row in rows:
            for name, value in row.items():
                if isinstance(value, str):  # DictVectorizer's one-hot of string values
                    name, value = f"{name}={value}", 1.0
                column = vocab.get(name)
                if column is not None:
                    indices.append(column)
                    values.append(float(value))
            indptr.append(len(indices))
        matrix = sparse.csr_matrix((np.array(values, dtype=np.float64), np.array(indices, dtype=np.intc),
                                    np.array(indptr, dtype=np.intc)), shape=(len(indptr) - 1, len(vocab)))
        matrix.sort_indices()
        return matrix

    def packed(self) -> str:
        if any(_NAME_SEP in n for n in self.feature_names_):
            raise ValueError("a feature name contains the separator")
        return _NAME_SEP.join(self.feature_names_)

    @classmethod
    def unpacked(cls, packed: str) -> "Vocabulary":
        return cls(packed.split(_NAME_SEP) if packed else [])


@dataclass
class SoftmaxRegression:
    """A fitted LogisticRegression's `predict_proba` (multinomial softmax; binary: the logistic)."""

    classes_: np.ndarray
    coef_: np.ndarray
    intercept_: np.ndarray

    @classmethod
    def from_sklearn(cls, model: Any) -> "SoftmaxRegression":
        return cls(np.asarray(model.classes_), np.asarray(model.coef_, dtype=np.float64),
                   np.asarray(model.intercept_, dtype=np.float64))

    def decision_function(self, X: Any) -> np.ndarray:
        scores = X @ self.coef_.T + self.intercept_
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = np.asarray(self.decision_function(X))
        if len(self.classes_) <= 2:
            from scipy.special import expit

            expit(scores, out=scores)
            return np.vstack([1 - scores, scores]).T
        scores -= scores.max(axis=1).reshape((-1, 1))
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape((-1, 1))
        return scores

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.classes": self.classes_.astype(str), f"{prefix}.coef": self.coef_,
                f"{prefix}.intercept": self.intercept_}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> "SoftmaxRegression":
        return cls(arrays[f"{prefix}.classes"], arrays[f"{prefix}.coef"], arrays[f"{prefix}.intercept"])


def text_array(text: str) -> np.ndarray:
    """A string as UTF-8 bytes (a '<U' array would take four bytes per character)."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def array_text(array: np.ndarray) -> str:
    return array.tobytes().decode("utf-8")


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
    """An .npz archive of `arrays` plus `meta` (JSON), byte-reproducible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {"meta": text_array(json.dumps(meta, ensure_ascii=False, sort_keys=True)), **arrays}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(members):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(members[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)
    return path


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta) of an archive written by save_arrays; never unpickles."""
    with np.load(Path(path), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(array_text(arrays.pop("meta")))
    return arrays, meta
