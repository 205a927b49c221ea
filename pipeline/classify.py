"""Section classifier: every line -> one of SECTION_LABELS with probabilities.

A multinomial logistic regression over the sparse line features of pipeline.features (own
text, layout, repetition, neighbours in reading order), then a second pass that adds the first
pass's probabilities of the neighbouring lines and row mates as features, so that a line
agrees with its surroundings (a table's rows, a narrative paragraph). Logistic regression's
probabilities are close to calibrated; the held-out figures are in models/manifest.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from pipeline.encode import CONTEXT_STEPS, SectionEncoder
from pipeline.features import Features, PageOrder, document_line_features
from pipeline.linear import SoftmaxRegression, Vocabulary, array_text, load_arrays, save_arrays, text_array
from pipeline.model import SECTION_LABELS, Document, Line, Page

SECTION_FILE = "section.npz"
WINDOWS = (5, 15, 30)  # half-widths of the windows whose mean first-pass probabilities the second pass sees
PagesLike = Union[Document, Sequence[Page], Page]


def _pages(obj: PagesLike) -> list[Page]:
    if isinstance(obj, Document):
        return list(obj.pages)
    if isinstance(obj, Page):
        return [obj]
    return list(obj)


def _context_features(pages: Sequence[Page], probs: np.ndarray, labels: Sequence[str],
                      windows: Sequence[int] = WINDOWS) -> list[Features]:
    """First-pass probabilities of each line's reading-order neighbours and row mates.

    The training path; inference builds the same matrix with SectionEncoder.second_matrix."""
    out: list[Features] = []
    offset = 0
    for page in pages:
        n = len(page.lines)
        p = probs[offset:offset + n]
        po = PageOrder.of(page)
        order, pos, mates = po.order, po.position, po.mates
        for i in range(n):
            f: Features = {}
            for name, step, _ in CONTEXT_STEPS:
                q = pos[i] + step
                if 0 <= q < n:
                    for k, lab in enumerate(labels):
                        f[f"{name}={lab}"] = float(p[order[q], k])
            for half in windows:
                name = f"ctx_w{half}"
                lo, hi = max(0, pos[i] - half), min(n, pos[i] + half + 1)
                window = p[[order[q] for q in range(lo, hi) if q != pos[i]]]
                if len(window):
                    mean = window.mean(axis=0)
                    for k, lab in enumerate(labels):
                        f[f"{name}={lab}"] = float(mean[k])
            if mates[i]:
                mean = p[mates[i]].mean(axis=0)
                for k, lab in enumerate(labels):
                    f[f"ctx_row={lab}"] = float(mean[k])
            for k, lab in enumerate(labels):
                f[f"ctx_self={lab}"] = float(p[i, k])
            out.append(f)
        offset += n
    return out


class SectionClassifier:
    """Two-pass logistic regression over line features. Labels are SECTION_LABELS."""

    def __init__(self, c: float = 2.0, c_second: float = 1.0, max_iter: int = 400):
        self.c, self.c_second, self.max_iter = c, c_second, max_iter
        # sklearn's DictVectorizer / LogisticRegression while fitting; Vocabulary / SoftmaxRegression after
        self.vectorizer: Any = None
        self.first: Any = None
        self.vectorizer2: Any = None
        self.second: Any = None
        self.labels: list[str] = list(SECTION_LABELS)
        self.windows: tuple[int, ...] = WINDOWS
        self._encoder: Optional[SectionEncoder] = None

    # ---------------------------------------------------------------- training

    def fit(self, docs: Sequence[PagesLike], labels: Optional[Sequence[Sequence[str]]] = None,
            doc_weights: Optional[Sequence[float]] = None, cap: int = 150, min_df: int = 2,
            seed: int = 0) -> "SectionClassifier":
        """docs: one entry per document (its pages); labels: per document, one label per line in
        page/line order (default: the lines' own `label`). At most `cap` lines per label and document
        are kept (table rows dominate and are alike); `doc_weights` weight whole documents."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        doc_pages = [_pages(d) for d in docs]
        if labels is None:
            labels = [[ln.label or "other" for p in pages for ln in p.lines] for pages in doc_pages]
        weights = list(doc_weights) if doc_weights is not None else [1.0] * len(doc_pages)
        rng = np.random.RandomState(seed)
        feats, ys, ws, keep_idx = [], [], [], []
        for pages, labs, w in zip(doc_pages, labels, weights):
            flat_doc = [f for page in document_line_features(pages) for f in page]
            chosen = _capped_indices(list(labs), cap, rng)
            keep_idx.append(chosen)
            feats.append(flat_doc)
            ys.append([labs[i] for i in chosen])
            ws.append(w)
        sel = [[feats[d][i] for i in keep_idx[d]] for d in range(len(feats))]
        flat = [f for doc in sel for f in doc]
        y = np.array([lab for doc in ys for lab in doc])
        sw = np.array([ws[d] for d in range(len(sel)) for _ in sel[d]])
        self.labels = [lab for lab in SECTION_LABELS if lab in set(y)]
        keep = _frequent_keys(flat, min_df)
        self.vectorizer = DictVectorizer(sparse=True).fit([{k: v for k, v in f.items() if k in keep} for f in flat])
        self.first = LogisticRegression(C=self.c, tol=1e-3, max_iter=self.max_iter).fit(self.vectorizer.transform(flat), y,
                                                                               sample_weight=sw)
        # second pass trained on out-of-fold first-pass probabilities, as inference will see them
        oof = self._out_of_fold(feats, keep_idx, ys, ws)
        ctx: list[Features] = []
        for d, pages in enumerate(doc_pages):
            doc_ctx = self._second_inputs([pages], oof[d], feats[d])
            ctx.extend(doc_ctx[i] for i in keep_idx[d])
        self.vectorizer2 = DictVectorizer(sparse=True).fit(ctx)
        self.second = LogisticRegression(C=self.c_second, tol=1e-3, max_iter=self.max_iter).fit(
            self.vectorizer2.transform(ctx), y, sample_weight=sw)
        self.vectorizer, self.vectorizer2 = (Vocabulary.from_dict_vectorizer(self.vectorizer),
                                             Vocabulary.from_dict_vectorizer(self.vectorizer2))
        self.first, self.second = SoftmaxRegression.from_sklearn(self.first), SoftmaxRegression.from_sklearn(self.second)
        self._encoder = None
        return self

    def _out_of_fold(self, feats, keep_idx, ys, ws, folds: int = 3) -> list[np.ndarray]:
        """First-pass probabilities of every line of every document from a model that did not see it."""
        from sklearn.linear_model import LogisticRegression

        n_docs = len(feats)
        fold_of = [i % folds for i in range(n_docs)]
        out: list[Optional[np.ndarray]] = [None] * n_docs
        for k in sorted(set(fold_of)):
            train = [i for i in range(n_docs) if fold_of[i] != k]
            model = self.first
            if train and len({lab for i in train for lab in ys[i]}) > 1:
                Xtr = self.vectorizer.transform([feats[i][j] for i in train for j in keep_idx[i]])
                ytr = [lab for i in train for lab in ys[i]]
                wtr = [ws[i] for i in train for _ in ys[i]]
                model = LogisticRegression(C=self.c, tol=1e-3, max_iter=self.max_iter).fit(Xtr, ytr, sample_weight=wtr)
            for i in range(n_docs):
                if fold_of[i] == k:
                    out[i] = _aligned_proba(model, self.vectorizer.transform(feats[i]), self.labels)
        return [o for o in out if o is not None]

    def _second_inputs(self, doc_pages, first_probs: np.ndarray, flat: list[Features]) -> list[Features]:
        out: list[Features] = []
        offset = 0
        for pages in doc_pages:
            n = sum(len(p.lines) for p in pages)
            ctx = _context_features(pages, first_probs[offset:offset + n], self.labels, self.windows)
            out.extend(ctx)
            offset += n
        return [dict(c, **_shape_only(f)) for c, f in zip(out, flat)]

    # ---------------------------------------------------------------- inference

    @property
    def encoder(self) -> SectionEncoder:
        """Both passes' matrices without feature dicts, from the fitted vocabularies (same values)."""
        if self._encoder is None:
            self._encoder = self._build_encoder()
        return self._encoder

    def _build_encoder(self) -> SectionEncoder:
        return SectionEncoder(self.vectorizer.vocabulary_, self.vectorizer2.vocabulary_, self.labels, self.windows)

    def predict_proba(self, obj: PagesLike) -> np.ndarray:
        """(n_lines, n_labels) probabilities, lines in page/line order; columns are `self.labels`."""
        encoded = self.encoder.encode_pages(_pages(obj))
        if not encoded.n_lines:
            return np.zeros((0, len(self.labels)))
        first = _aligned_proba(self.first, self.encoder.first_matrix(encoded), self.labels)
        return _aligned_proba(self.second, self.encoder.second_matrix(encoded, first), self.labels)

    def predict(self, obj: PagesLike) -> list[str]:
        probs = self.predict_proba(obj)
        return [self.labels[k] for k in probs.argmax(axis=1)]

    # ---------------------------------------------------------------- persistence

    def save(self, model_dir: Path) -> Path:
        arrays = {"vectorizer": text_array(self.vectorizer.packed()), "vectorizer2": text_array(self.vectorizer2.packed()),
                  **self.first.arrays("first"), **self.second.arrays("second")}
        meta = {"labels": list(self.labels), "c": self.c, "c_second": self.c_second, "windows": list(self.windows)}
        return save_arrays(Path(model_dir) / SECTION_FILE, arrays, meta)

    @classmethod
    def load(cls, model_dir: Path) -> "SectionClassifier":
        arrays, meta = load_arrays(Path(model_dir) / SECTION_FILE)
        self = cls(c=meta["c"], c_second=meta["c_second"])
        self.labels = list(meta["labels"])
        self.windows = tuple(meta.get("windows", ()))
        self.vectorizer = Vocabulary.unpacked(array_text(arrays["vectorizer"]))
        self.vectorizer2 = Vocabulary.unpacked(array_text(arrays["vectorizer2"]))
        self.first = SoftmaxRegression.from_arrays(arrays, "first")
        self.second = SoftmaxRegression.from_arrays(arrays, "second")
        self._encoder = self._build_encoder()  # now, not on the first document
        return self


def _shape_only(f: Features) -> Features:
    """The own-line dense features (no words, no n-grams, no neighbours) kept in the second pass."""
    return {k: v for k, v in f.items() if ":" not in k and not k.startswith(("w=", "c="))}


def _capped_indices(labels: list[str], cap: int, rng: np.random.RandomState) -> list[int]:
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    chosen: list[int] = []
    for idx in by_label.values():
        chosen.extend(idx if len(idx) <= cap else rng.choice(idx, cap, replace=False).tolist())
    return sorted(chosen)


def _frequent_keys(flat: Sequence[Features], min_df: int) -> set[str]:
    counts: dict[str, int] = {}
    for f in flat:
        for k in f:
            counts[k] = counts.get(k, 0) + 1
    return {k for k, c in counts.items() if c >= min_df}


def _aligned_proba(model: Any, X, labels: Sequence[str]) -> np.ndarray:
    """Model probabilities with columns in `labels` order (a fold may lack a rare label)."""
    raw = model.predict_proba(X)
    out = np.zeros((raw.shape[0], len(labels)))
    index = {lab: k for k, lab in enumerate(labels)}
    for j, lab in enumerate(model.classes_):
        if lab in index:
            out[:, index[lab]] = raw[:, j]
    return out


# ------------------------------------------------------------------ stage

def label_lines(lines: Sequence[Line], probs: np.ndarray, labels: Sequence[str]) -> None:
    # rows as Python floats: the same values, without a numpy scalar per probability
    for ln, row, k in zip(lines, probs.tolist(), probs.argmax(axis=1).tolist()):
        ln.label, ln.label_prob = labels[k], row[k]
        ln.label_probs = {lab: round(p, 4) for lab, p in zip(labels, row) if p >= 0.001}


def classify(doc: Document, model: SectionClassifier) -> Document:
    """Fill Line.label, label_prob and label_probs of every line of the document."""
    lines = [ln for p in doc.pages for ln in p.lines]
    if lines:
        label_lines(lines, model.predict_proba(doc), model.labels)
    return doc
