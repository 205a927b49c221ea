"""The section classifier's two feature matrices, built straight from the lines.

At inference the classifier used to build one feature dict per line (its own features plus four
neighbours' under a prefix, some 300 keys) and hand them to sklearn's DictVectorizer; that was
most of the extraction time. `SectionEncoder` gives the very same matrices (same columns, same
values, canonical CSR) without those dicts:

- a line's own features (text, layout, repetition) are encoded once against a "base" index, the
  feature names that some column of either pass is made of; names in no column are never kept;
- a neighbour's prefixed features (`p1:…`, `n1:…`, `p2:…`, `n2:…`) are the neighbour's base
  entries moved to the prefixed column, with numpy over the whole document;
- the encoded text features are cached per text (page furniture, table headers and row titles
  repeat), in a bounded cache so that memory stays flat over a batch;
- the second pass's context features (neighbours' first-pass probabilities, window and row
  means) are computed with numpy on the probability matrix, summing in the same order as the
  dict code did, so even the floats are identical.

It is built from the fitted vectorizers' vocabularies, so it serves any trained model; training
keeps using the dict features and DictVectorizer (tests/test_speed_equivalence.py checks that
both give equal matrices).
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from pipeline.features import (
    NEIGHBOURS,
    BoundedCache,
    PageOrder,
    char_ngrams,
    page_context_features,
    repetition_counts,
    shape_features,
    word_tokens,
)
from pipeline.model import Page

TEXT_CACHE_SIZE = 8192  # encoded texts kept (about 1 KB each)
_NEIGHBOUR_STEPS = tuple((name, step) for name, step, _ in NEIGHBOURS)
# the second pass's neighbours: (feature name, step in reading order, the first pass's prefix for that step)
CONTEXT_STEPS: tuple[tuple[str, int, str], ...] = tuple((f"ctx_{name}", step, name) for name, step in _NEIGHBOUR_STEPS)


@dataclass
class EncodedPages:
    """The document's lines encoded on the base index, with what the second pass reuses."""

    orders: list[PageOrder]
    offsets: list[int]          # index of each page's first line among the document's lines
    rows: np.ndarray            # entry -> line (document order)
    cols: np.ndarray            # entry -> base column
    vals: np.ndarray            # entry -> value
    neighbour: dict[str, np.ndarray]  # prefix -> line's neighbour in reading order (-1: none)
    n_lines: int

    def reading_places(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The document's lines page by page in reading order, and for each place the first place
        of its page and the place after its page's last."""
        lines = np.concatenate([np.asarray(po.order, dtype=np.int64) + offset
                                for po, offset in zip(self.orders, self.offsets)] or [np.zeros(0, dtype=np.int64)])
        sizes = np.array([len(po.order) for po in self.orders], dtype=np.int64)
        starts = np.asarray(self.offsets, dtype=np.int64)
        return lines, np.repeat(starts, sizes), np.repeat(starts + sizes, sizes)


class SectionEncoder:
    """Feature matrices of both passes for fitted vocabularies (see the module docstring)."""

    def __init__(self, first_vocabulary: Mapping[str, int], second_vocabulary: Mapping[str, int],
                 labels: Sequence[str], windows: Sequence[int], text_cache_size: int = TEXT_CACHE_SIZE):
        self.labels = list(labels)
        self.windows = tuple(windows)
        self.n_first, self.n_second = len(first_vocabulary), len(second_vocabulary)
        base: dict[str, int] = {}
        own: dict[int, int] = {}
        moved: dict[str, dict[int, int]] = {name: {} for name, _, _ in NEIGHBOURS}
        self.none_column: dict[str, int] = {}
        keeps_words = {name: keep for name, _, keep in NEIGHBOURS}
        for key, column in first_vocabulary.items():
            prefix, sep, rest = key.partition(":")
            if sep and prefix in keeps_words:
                if rest == "none":
                    self.none_column[prefix] = column
                elif not (rest.startswith("c=") or (rest.startswith("w=") and not keeps_words[prefix])):
                    moved[prefix][base.setdefault(rest, len(base))] = column
                # other prefixed names are never produced (the dict code drops them too)
            else:
                own[base.setdefault(key, len(base))] = column
        self.context_columns: dict[str, list[int]] = {}
        second_own: dict[int, int] = {}
        context_names = {name for name, _, _ in CONTEXT_STEPS} | {f"ctx_w{h}" for h in self.windows} | {"ctx_row", "ctx_self"}
        for name in context_names:
            self.context_columns[name] = [second_vocabulary.get(f"{name}={lab}", -1) for lab in self.labels]
        context_keys = {f"{name}={lab}" for name in context_names for lab in self.labels}
        for key, column in second_vocabulary.items():
            if key in context_keys:
                continue
            if ":" not in key and not key.startswith(("w=", "c=")):  # classify._shape_only
                second_own[base.setdefault(key, len(base))] = column
        self.base = base
        self.word_columns = {k[2:]: c for k, c in base.items() if k.startswith("w=")}
        self.gram_columns = {k[2:]: c for k, c in base.items() if k.startswith("c=")}
        self.own_map = self._column_map(own)
        self.moved_map = {name: self._column_map(m) for name, m in moved.items()}
        self.second_map = self._column_map(second_own)
        self._texts: BoundedCache[str, tuple[tuple[int, ...], Sequence[float]]] = BoundedCache(text_cache_size)

    def _column_map(self, mapping: dict[int, int]) -> np.ndarray:
        out = np.full(len(self.base), -1, dtype=np.int64)
        for b, c in mapping.items():
            out[b] = c
        return out

    # ------------------------------------------------------------------ own features

    def encode_text(self, text: str) -> tuple[tuple[int, ...], Sequence[float]]:
        """features.text_features(text) on the base index (names in no column dropped)."""
        cached = self._texts.get(text)
        if cached is not None:
            return cached
        base = self.base
        cols: list[int] = []
        vals: list[float] = []
        for k, v in shape_features(text).items():
            c = base.get(k)
            if c is not None:
                cols.append(c)
                vals.append(v)
        # words and n-grams are binary and a repeat sets the same key again: one entry each
        seen: set[int] = set()
        words = self.word_columns
        for w in word_tokens(text):
            c = words.get(w)
            if c is not None and c not in seen and w.strip():
                seen.add(c)
        grams = self.gram_columns
        for g in char_ngrams(text):
            c = grams.get(g)
            if c is not None:
                seen.add(c)
        cols.extend(seen)
        vals.extend([1.0] * len(seen))
        item = (tuple(cols), array("d", vals))  # compact: the column ints are the index's own objects
        self._texts.put(text, item)
        return item

    def encode_pages(self, pages: Sequence[Page]) -> EncodedPages:
        counts = repetition_counts(pages)
        base_get = self.base.get
        encode_text = self.encode_text
        per_line: list[int] = []  # entries of each line
        cols: list[int] = []
        vals: list[float] = []
        add_col, add_val = cols.append, vals.append
        orders: list[PageOrder] = []
        offsets: list[int] = []
        neighbour: dict[str, list[np.ndarray]] = {name: [] for name, _ in _NEIGHBOUR_STEPS}
        offset = 0
        for page in pages:
            po = PageOrder.of(page)
            orders.append(po)
            offsets.append(offset)
            if page.lines:
                for ln, context in zip(page.lines, page_context_features(page, counts, len(pages), po)):
                    text_cols, text_vals = encode_text(ln.text)
                    cols.extend(text_cols)
                    vals.extend(text_vals)
                    n_before = len(cols)
                    for k, v in context.items():
                        c = base_get(k)
                        if c is not None:
                            add_col(c)
                            add_val(v)
                    per_line.append(len(text_cols) + len(cols) - n_before)
                n = len(page.lines)
                order = np.asarray(po.order, dtype=np.int64)
                position = np.empty(n, dtype=np.int64)
                position[order] = np.arange(n)
                for name, step in _NEIGHBOUR_STEPS:
                    q = position + step
                    valid = (q >= 0) & (q < n)
                    neighbour[name].append(np.where(valid, order[np.clip(q, 0, n - 1)] + offset, -1))
            offset += len(page.lines)
        return EncodedPages(
            orders=orders, offsets=offsets,
            rows=np.repeat(np.arange(offset, dtype=np.int64), per_line), cols=np.asarray(cols, dtype=np.int64),
            vals=np.asarray(vals, dtype=np.float64),
            neighbour={name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
                       for name, parts in neighbour.items()},
            n_lines=offset)

    # ------------------------------------------------------------------ matrices

    def first_matrix(self, enc: EncodedPages) -> sp.csr_array:
        """What vectorizer.transform(document_line_features(pages), flattened) gives."""
        n = enc.n_lines
        parts_r, parts_c, parts_v = [], [], []

        def add(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
            keep = (rows >= 0) & (cols >= 0)
            parts_r.append(rows[keep])
            parts_c.append(cols[keep])
            parts_v.append(vals[keep])

        add(enc.rows, self.own_map[enc.cols], enc.vals)
        for name, _ in _NEIGHBOUR_STEPS:
            nb = enc.neighbour[name]
            seen_by = np.full(n, -1, dtype=np.int64)  # line -> the line whose `name` neighbour it is
            has = nb >= 0
            seen_by[nb[has]] = np.nonzero(has)[0]
            add(seen_by[enc.rows], self.moved_map[name][enc.cols], enc.vals)
            if name in self.none_column:
                lonely = np.nonzero(~has)[0]
                add(lonely, np.full(len(lonely), self.none_column[name]), np.ones(len(lonely)))
        return _csr(parts_r, parts_c, parts_v, (n, self.n_first))

    def second_matrix(self, enc: EncodedPages, first: np.ndarray) -> sp.csr_array:
        """What the second vectorizer gives for classify's second-pass dicts."""
        n = enc.n_lines
        parts_r, parts_c, parts_v = [], [], []
        n_labels = len(self.labels)

        def add_block(name: str, values: np.ndarray, present: np.ndarray) -> None:
            columns = np.asarray(self.context_columns[name], dtype=np.int64)
            known = columns >= 0
            lines = np.nonzero(present)[0]
            if not len(lines) or not known.any():
                return
            parts_r.append(np.repeat(lines, known.sum()))
            parts_c.append(np.tile(columns[known], len(lines)))
            parts_v.append(values[lines][:, known].ravel())

        for name, _, prefix in CONTEXT_STEPS:
            nb = enc.neighbour[prefix]
            add_block(name, first[np.maximum(nb, 0)], nb >= 0)
        for half in self.windows:
            means, present = self._window_means(enc, first, half)
            add_block(f"ctx_w{half}", means, present)
        means, present = self._row_means(enc, first)
        add_block("ctx_row", means, present)
        add_block("ctx_self", first, np.ones(n, dtype=bool))
        columns = self.second_map[enc.cols]
        keep = columns >= 0
        parts_r.append(enc.rows[keep])
        parts_c.append(columns[keep])
        parts_v.append(enc.vals[keep])
        assert first.shape == (n, n_labels)
        return _csr(parts_r, parts_c, parts_v, (n, self.n_second))

    @staticmethod
    def _window_means(enc: EncodedPages, first: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean first-pass probabilities of the lines within `half` places of a line in its page's
        reading order, the line itself left out; summed in reading order as numpy's mean over the
        rows does, so the values are the dict code's to the last bit."""
        lines, lo, hi = enc.reading_places()
        in_order = first[lines]
        places = np.arange(len(lines))
        sums = np.zeros_like(first)
        counts = np.zeros(len(lines), dtype=np.int64)
        for d in range(-half, half + 1):
            if d == 0:
                continue
            q = places + d
            valid = (q >= lo) & (q < hi)
            sums[valid] += in_order[q[valid]]
            counts[valid] += 1
        present = counts > 0
        means = np.zeros_like(first)
        means[present] = sums[present] / counts[present][:, None]
        out, out_present = np.zeros_like(first), np.zeros(len(first), dtype=bool)
        out[lines], out_present[lines] = means, present
        return out, out_present

    @staticmethod
    def _row_means(enc: EncodedPages, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean first-pass probabilities of each line's row mates, summed in row_mates' order."""
        mates = [m for po in enc.orders for m in po.mates]
        line_offsets = [offset for po, offset in zip(enc.orders, enc.offsets) for _ in po.mates]
        width = max((len(m) for m in mates), default=0)
        sums = np.zeros_like(first)
        counts = np.array([len(m) for m in mates], dtype=np.int64)
        if width:
            padded = np.full((len(mates), width), -1, dtype=np.int64)
            for i, m in enumerate(mates):
                if m:
                    padded[i, :len(m)] = m
                    padded[i, :len(m)] += line_offsets[i]
            for t in range(width):
                has = padded[:, t] >= 0
                sums[has] += first[padded[has, t]]
        present = counts > 0
        means = np.zeros_like(first)
        means[present] = sums[present] / counts[present][:, None]
        return means, present


def _csr(rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray], shape: tuple[int, int]) -> sp.csr_array:
    """Canonical CSR (sorted columns, as DictVectorizer returns) from disjoint entries."""
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    matrix = sp.csr_array((v, (r, c)), shape=shape)
    matrix.sort_indices()
    return matrix
