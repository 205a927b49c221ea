"""Trained header models used by table assembly.

- column keys: a printed column header (its leaf cell and the full text with its parent
  headers, e.g. ("合计", "本年收入 合计")) -> a canonical key of COLUMN_KEYS or "extra";
- table kinds: a table title (optionally followed by header text) -> one of TABLE_KINDS.

Both are logistic regressions over character n-grams (leaf, parent and whole text kept apart)
plus the rule answer of pipeline.header_rules as one more feature, so the model learns where
the rules are right. Training text: the tables[] of the annotation headers, the key list of the
output contract and the title variants of the domain notes.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from pipeline import header_rules as hr
from pipeline.linear import SoftmaxRegression, Vocabulary, array_text, load_arrays, save_arrays, text_array
from pipeline.model import COLUMN_KEYS, TABLE_KINDS

KEYS_FILE = "header_keys.npz"
KINDS_FILE = "table_kind.npz"
EXTRA = "extra"
_SEP_RE = re.compile(r"\s*/\s*|\s+")


def clean(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"\s+", "", t).replace("(", "（").replace(")", "）")


def split_header(full: str) -> tuple[str, str]:
    """(parent, leaf) of a header printed with its parents ("本年收入 合计", "事业收入/小计")."""
    parts = [p for p in _SEP_RE.split(unicodedata.normalize("NFKC", full or "").strip()) if p]
    if len(parts) <= 1:
        return "", clean(full)
    return clean("".join(parts[:-1])), clean(parts[-1])


def _grams(prefix: str, text: str, n_max: int = 3) -> dict[str, float]:
    f: dict[str, float] = {}
    padded = f"^{text}$"
    for n in range(1, n_max + 1):
        for i in range(len(padded) - n + 1):
            f[f"{prefix}{padded[i:i + n]}"] = 1.0
    return f


def key_features(leaf: str, full: str) -> dict[str, float]:
    lf = clean(leaf)
    parent = ""
    fl = clean(full)
    if fl.endswith(lf) and fl != lf:
        parent = fl[: len(fl) - len(lf)]
    f = {"bias": 1.0}
    f.update(_grams("L:", lf))
    if parent:
        f.update(_grams("P:", parent[-8:], 2))
    rule = _rule_key(leaf, full)
    f["R:" + rule] = 1.0
    f["has_parent"] = float(bool(parent))
    if parent:
        # what the parent heading alone would be, and with the leaf's own reading: "事业收入/小计",
        # "上年结转结余/一般公共预算" (a fund type under a carry-over heading is not that fund)
        parent_key = _rule_key(parent, parent)
        leaf_key = _rule_key(leaf, leaf)
        f["PK:" + parent_key] = 1.0
        f[f"PK&LK:{parent_key}|{leaf_key}"] = 1.0
        f[f"PK&R:{parent_key}|{rule}"] = 1.0
    return f


def _rule_key(leaf: str, full: str) -> str:
    key = hr.column_key(leaf, full)
    return EXTRA if key.startswith("extra:") else key


_TITLE_NOISE = re.compile(r"^[\d一二三四五六七八九十]+[、.．]|^附表\s*\d+|(19|20)\d\d\s*年(度)?")


def title_features(title: str) -> dict[str, float]:
    t = clean(_TITLE_NOISE.sub("", unicodedata.normalize("NFKC", title or "")))
    t = re.sub(r"\d", "0", t)
    f = {"bias": 1.0}
    f.update(_grams("T:", t[:40]))
    f["R:" + hr.table_kind_rules(title or "")] = 1.0
    return f


class _TextClassifier:
    """Feature dicts -> logistic regression with labelled probabilities (fitted with scikit-learn,
    held as pipeline.linear's numpy equivalents)."""

    def __init__(self, c: float):
        self.c = c
        self.vectorizer: Optional[Vocabulary] = None
        self.model: Optional[SoftmaxRegression] = None

    def fit(self, feats: list[dict[str, float]], labels: list[str], weights: Optional[list[float]] = None):
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = DictVectorizer(sparse=True).fit(feats)
        model = LogisticRegression(C=self.c, max_iter=2000).fit(vectorizer.transform(feats), labels, sample_weight=weights)
        self.vectorizer, self.model = Vocabulary.from_dict_vectorizer(vectorizer), SoftmaxRegression.from_sklearn(model)
        return self

    def predict(self, feats: list[dict[str, float]]) -> list[tuple[str, float]]:
        if not feats:
            return []
        probs = self.model.predict_proba(self.vectorizer.transform(feats))
        best = probs.argmax(axis=1)
        return [(str(self.model.classes_[k]), float(p[k])) for k, p in zip(best, probs)]

    def save(self, path: Path) -> Path:
        return save_arrays(path, {"vectorizer": text_array(self.vectorizer.packed()), **self.model.arrays("model")},
                           {"c": self.c})

    @classmethod
    def load(cls, path: Path) -> "_TextClassifier":
        arrays, meta = load_arrays(path)
        self = cls(meta["c"])
        self.vectorizer = Vocabulary.unpacked(array_text(arrays["vectorizer"]))
        self.model = SoftmaxRegression.from_arrays(arrays, "model")
        return self


PREDICTION_CACHE_SIZE = 20_000
UNSURE_KEY_PROB = 0.5  # below it, a column key the header rules give wins over the model's


class HeaderModel:
    """column_keys / table_kinds as table assembly calls them (see pipeline.assemble.HeaderModel)."""

    def __init__(self, keys: Optional[_TextClassifier] = None, kinds: Optional[_TextClassifier] = None):
        self.keys = keys
        self.kinds = kinds

    # ---------------------------------------------------------------- training

    @classmethod
    def fit(cls, key_examples: Sequence[tuple[str, str]], kind_examples: Sequence[tuple[str, str]],
            c: float = 10.0) -> "HeaderModel":
        """key_examples: (printed header with parents, key or "extra:…"); kind_examples: (title, kind)."""
        kf, kl, kw = [], [], []
        for (header, key), n in _counted(key_examples).items():
            parent, leaf = split_header(header)
            kf.append(key_features(leaf, (parent + leaf)))
            kl.append(EXTRA if key.startswith("extra") else key)
            kw.append(1.0 + np.log(n))
        tf, tl, tw = [], [], []
        for (title, kind), n in _counted(kind_examples).items():
            tf.append(title_features(title))
            tl.append(kind)
            tw.append(1.0 + np.log(n))
        return cls(_TextClassifier(c).fit(kf, kl, kw), _TextClassifier(c).fit(tf, tl, tw))

    # ---------------------------------------------------------------- inference

    def column_keys(self, headers: list[tuple[str, str]]) -> list[tuple[str, float]]:
        """(leaf, full) per column -> (canonical key or "extra:<header>", probability)."""
        cache = self._key_cache()
        todo = list(dict.fromkeys(h for h in headers if h not in cache))
        for (leaf, full), (key, p) in zip(todo, self.keys.predict([key_features(leaf, full) for leaf, full in todo])):
            rule = _rule_key(leaf, full)
            if p < UNSURE_KEY_PROB and rule != EXTRA:  # the model is unsure: a canonical key the rules give wins
                key = rule
            elif clean(leaf) in ("合计", "小计") and rule not in (EXTRA, "total"):
                # a subtotal sums what its parent heading names (上年结转结余/合计 is the carry-over):
                # the rules read the parent, the model has seen few parents over a 合计
                key = rule
            if key == EXTRA:
                key = hr.extra_key(leaf, full)
            cache[(leaf, full)] = (key, p)
        return [cache[h] for h in headers]

    def _key_cache(self) -> dict[tuple[str, str], tuple[str, float]]:
        # the same few hundred headers recur in every document of a batch; bounded all the same
        cache = self.__dict__.setdefault("_keys_seen", {})
        if len(cache) > PREDICTION_CACHE_SIZE:
            cache.clear()
        return cache

    def column_key(self, header: str) -> tuple[str, float]:
        """One header as printed, parents first ("本年收入 小计", "其中：财政拨款")."""
        parent, leaf = split_header(header)
        return self.column_keys([(leaf, parent + leaf)])[0]

    def table_kinds(self, titles: list[str]) -> list[tuple[str, float]]:
        cache = self.__dict__.setdefault("_kinds_seen", {})
        if len(cache) > PREDICTION_CACHE_SIZE:
            cache.clear()
        todo = list(dict.fromkeys(t for t in titles if t not in cache))
        cache.update(zip(todo, self.kinds.predict([title_features(t) for t in todo])))
        return [cache[t] for t in titles]

    # ---------------------------------------------------------------- persistence

    def save(self, model_dir: Path) -> list[Path]:
        return [self.keys.save(Path(model_dir) / KEYS_FILE), self.kinds.save(Path(model_dir) / KINDS_FILE)]

    @classmethod
    def load(cls, model_dir: Path) -> "HeaderModel":
        return cls(_TextClassifier.load(Path(model_dir) / KEYS_FILE), _TextClassifier.load(Path(model_dir) / KINDS_FILE))


def _counted(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for p in pairs:
        out[p] = out.get(p, 0) + 1
    return out


# ------------------------------------------------------------------ training text from the docs

def contract_key_examples(contract_readme: Path) -> list[tuple[str, str]]:
    """(printed example, key) from the key table of the contract README."""
    out: list[tuple[str, str]] = []
    for line in Path(contract_readme).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(`[^|]+)\|\s*([^|]+)\|", line)
        if not m:
            continue
        keys = re.findall(r"`([a-z_]+)`", m.group(1))
        examples = [e.strip() for e in re.sub(r"\(.*?\)", "", m.group(2)).split("/" if len(keys) > 1 else ",")]
        if len(keys) > 1:
            out.extend((ex, k) for k, ex in zip(keys, examples) if ex and k in COLUMN_KEYS)
        else:
            out.extend((ex, keys[0]) for ex in examples if ex and keys[0] in COLUMN_KEYS)
    return out


def domain_title_examples(domain_md: Path) -> list[tuple[str, str]]:
    """(title, kind) from the table of typical titles in the domain notes."""
    out: list[tuple[str, str]] = []
    for line in Path(domain_md).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*\|\s*`([a-z_]+)`\s*\|\s*([^|]+)\|", line)
        if m and m.group(1) in TABLE_KINDS:
            out.extend((t.strip(), m.group(1)) for t in m.group(2).split(",") if t.strip() and "anything" not in t)
    return out
