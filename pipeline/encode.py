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
from itertools import chain
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import scipy.sparse as sp

from pipeline.features import (
    FULL_NGRAMS,
    FULL_WORDS,
    GAP_NEXT_B,
    GAP_PREV_B,
    NEIGHBOURS,
    REP_B,
    ROW_N_B,
    SIZE_B,
    W_B,
    X0_B,
    Y_B,
    BoundedCache,
    Buckets,
    PageGeometry,
    PageOrder,
    RowFacts,
    char_ngrams,
    lexical_weight,
    page_context_features,
    repetition_counts,
    repetition_key,
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
        renumber = _in_name_order(base)
        base = {name: renumber[b] for name, b in base.items()}
        own = {renumber[b]: c for b, c in own.items()}
        moved = {name: {renumber[b]: c for b, c in m.items()} for name, m in moved.items()}
        second_own = {renumber[b]: c for b, c in second_own.items()}
        self.base = base
        self.word_columns = {k[2:]: c for k, c in base.items() if k.startswith("w=")}
        self.gram_columns = {k[2:]: c for k, c in base.items() if k.startswith("c=")}
        self.own_map = self._column_map(own)
        self.moved_map = {name: self._column_map(m) for name, m in moved.items()}
        self.second_map = self._column_map(second_own)
        self._texts: BoundedCache[str, tuple[Sequence[int], Sequence[float]]] = BoundedCache(text_cache_size)
        self._layout = LayoutEncoder(base)
        # where each neighbour's prefixed columns and each context block lie: rows are then put
        # together already in column order (see _gathered_csr); None when a vocabulary is not in
        # name order (not DictVectorizer's): the matrices are sorted instead
        self._first_blocks = _prefix_ranges(first_vocabulary, [f"{name}:" for name, _ in _NEIGHBOUR_STEPS])
        self._second_blocks = _prefix_ranges(second_vocabulary, [f"{name}=" for name in self.context_columns])

    def _column_map(self, mapping: dict[int, int]) -> np.ndarray:
        out = np.full(len(self.base), -1, dtype=np.int64)
        for b, c in mapping.items():
            out[b] = c
        return out

    # ------------------------------------------------------------------ own features

    def encode_text(self, text: str) -> tuple[Sequence[int], Sequence[float]]:
        """features.text_features(text) on the base index (names in no column dropped)."""
        cached = self._texts.get(text)
        if cached is not None:
            return cached
        base = self.base
        cols: list[int] = []
        vals: list[float] = []
        shape = shape_features(text)
        for column, value in zip(map(base.get, shape), shape.values()):
            if column is not None:
                cols.append(column)
                vals.append(value)
        # a repeat sets the same key again: one entry each, weighed by how many distinct ones the line has
        for tokens, columns, full in ((set(filter(str.strip, word_tokens(text))), self.word_columns, FULL_WORDS),
                                      (set(char_ngrams(text)), self.gram_columns, FULL_NGRAMS)):
            weight = lexical_weight(len(tokens), full)
            seen = set(map(columns.get, tokens))
            seen.discard(None)
            cols.extend(seen)
            vals.extend([weight] * len(seen))
        item = (array("q", cols), array("d", vals))  # compact, and copied into a document's arrays at C speed
        self._texts.put(text, item)
        return item

    def encode_pages(self, pages: Sequence[Page]) -> EncodedPages:
        counts = repetition_counts(pages)
        encode_text = self.encode_text
        text_entries: list[int] = []  # text entries of each line
        cols = array("q")
        vals = array("d")
        context: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (line, column, value) per page
        orders: list[PageOrder] = []
        offsets: list[int] = []
        neighbour: dict[str, list[np.ndarray]] = {name: [] for name, _ in _NEIGHBOUR_STEPS}
        offset = 0
        for page in pages:
            po = PageOrder.of(page)
            orders.append(po)
            offsets.append(offset)
            if page.lines:
                for ln in page.lines:
                    text_cols, text_vals = encode_text(ln.text)
                    cols.extend(text_cols)
                    vals.extend(text_vals)
                    text_entries.append(len(text_cols))
                page_context = self._layout.entries(page, po, counts, len(pages))
                if page_context is None:  # lines without a box (text input): the dict code
                    page_context = self._context_entries(page_context_features(page, counts, len(pages), po))
                lines, page_cols, page_vals = page_context
                context.append((lines + offset, page_cols, page_vals))
                n = len(page.lines)
                order = np.asarray(po.order, dtype=np.int64)
                position = np.empty(n, dtype=np.int64)
                position[order] = np.arange(n)
                for name, step in _NEIGHBOUR_STEPS:
                    q = position + step
                    valid = (q >= 0) & (q < n)
                    neighbour[name].append(np.where(valid, order[np.clip(q, 0, n - 1)] + offset, -1))
            offset += len(page.lines)
        rows = np.concatenate([np.repeat(np.arange(offset, dtype=np.int64), text_entries)] + [c[0] for c in context])
        col_array = np.concatenate([np.frombuffer(cols, dtype=np.int64) if cols else np.zeros(0, dtype=np.int64)]
                                   + [c[1] for c in context])
        val_array = np.concatenate([np.frombuffer(vals, dtype=np.float64) if vals else np.zeros(0)]
                                   + [c[2] for c in context])
        # each line's entries in base order, which is name order, hence every pass's column order
        in_order = np.argsort(rows * len(self.base) + col_array, kind="stable")
        return EncodedPages(
            orders=orders, offsets=offsets,
            rows=rows[in_order], cols=col_array[in_order], vals=val_array[in_order],
            neighbour={name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
                       for name, parts in neighbour.items()},
            n_lines=offset)

    def _context_entries(self, contexts: Sequence[Mapping[str, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(line, base column, value) of feature dicts, one per line of a page."""
        base_get = self.base.get
        lines, cols, vals = array("q"), array("q"), array("d")
        for i, features in enumerate(contexts):
            for name, value in features.items():
                column = base_get(name)
                if column is not None:
                    lines.append(i)
                    cols.append(column)
                    vals.append(value)
        return (np.frombuffer(lines, dtype=np.int64) if lines else np.zeros(0, dtype=np.int64),
                np.frombuffer(cols, dtype=np.int64) if cols else np.zeros(0, dtype=np.int64),
                np.frombuffer(vals, dtype=np.float64) if vals else np.zeros(0))

    # ------------------------------------------------------------------ matrices

    def first_matrix(self, enc: EncodedPages) -> sp.csr_array:
        """What vectorizer.transform(document_line_features(pages), flattened) gives."""
        if self._first_blocks is None:
            return self._first_matrix_sorted(enc)
        n = enc.n_lines
        pool = _Pool()
        own = self.own_map[enc.cols]
        keep = own >= 0
        own_segments = pool.segmented(enc.rows[keep], own[keep], enc.vals[keep], self._first_blocks, n)
        slices: list[tuple[np.ndarray, np.ndarray]] = [own_segments[0]]
        for k, (prefix, _, _) in enumerate(self._first_blocks):
            name = prefix[:-1]
            moved = self.moved_map[name][enc.cols]
            keep = moved >= 0
            starts, lengths = pool.per_line(enc.rows[keep], moved[keep], enc.vals[keep], n)
            nb = enc.neighbour[name]
            has = nb >= 0
            neighbour = np.maximum(nb, 0)
            block_starts, block_lengths = np.where(has, starts[neighbour], 0), np.where(has, lengths[neighbour], 0)
            if name in self.none_column:  # no neighbour: the one `prefix:none` entry
                block_starts = np.where(has, block_starts, pool.single(self.none_column[name], 1.0))
                block_lengths = np.where(has, block_lengths, 1)
            slices += [(block_starts, block_lengths), own_segments[k + 1]]
        return pool.gathered_csr(slices, (n, self.n_first))

    def _first_matrix_sorted(self, enc: EncodedPages) -> sp.csr_array:
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
        if self._second_blocks is None:
            return self._second_matrix_sorted(enc, first)
        n = enc.n_lines
        assert first.shape == (n, len(self.labels))
        blocks = self._context_blocks(enc, first)
        pool = _Pool()
        own = self.second_map[enc.cols]
        keep = own >= 0
        own_segments = pool.segmented(enc.rows[keep], own[keep], enc.vals[keep], self._second_blocks, n)
        slices: list[tuple[np.ndarray, np.ndarray]] = [own_segments[0]]
        for k, (prefix, _, _) in enumerate(self._second_blocks):
            values, present = blocks[prefix[:-1]]
            columns = np.asarray(self.context_columns[prefix[:-1]], dtype=np.int64)
            known = np.nonzero(columns >= 0)[0]
            known = known[np.argsort(columns[known])]  # the block's labels in column order
            slices += [pool.dense_rows(values[:, known], columns[known], present), own_segments[k + 1]]
        return pool.gathered_csr(slices, (n, self.n_second))

    def _context_blocks(self, enc: EncodedPages, first: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per context feature block: its values per line (columns: labels) and which lines have it."""
        n = enc.n_lines
        blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, _, prefix in CONTEXT_STEPS:
            nb = enc.neighbour[prefix]
            blocks[name] = (first[np.maximum(nb, 0)], nb >= 0)
        for half in self.windows:
            blocks[f"ctx_w{half}"] = self._window_means(enc, first, half)
        blocks["ctx_row"] = self._row_means(enc, first)
        blocks["ctx_self"] = (first, np.ones(n, dtype=bool))
        return blocks

    def _second_matrix_sorted(self, enc: EncodedPages, first: np.ndarray) -> sp.csr_array:
        n = enc.n_lines
        assert first.shape == (n, len(self.labels))
        parts_r, parts_c, parts_v = [], [], []
        for name, (values, present) in self._context_blocks(enc, first).items():
            columns = np.asarray(self.context_columns[name], dtype=np.int64)
            known = columns >= 0
            lines = np.nonzero(present)[0]
            if not len(lines) or not known.any():
                continue
            parts_r.append(np.repeat(lines, known.sum()))
            parts_c.append(np.tile(columns[known], len(lines)))
            parts_v.append(values[lines][:, known].ravel())
        columns = self.second_map[enc.cols]
        keep = columns >= 0
        parts_r.append(enc.rows[keep])
        parts_c.append(columns[keep])
        parts_v.append(enc.vals[keep])
        return _csr(parts_r, parts_c, parts_v, (n, self.n_second))

    @staticmethod
    def _window_means(enc: EncodedPages, first: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean first-pass probabilities of the lines within `half` places of a line in its page's
        reading order, the line itself left out; summed in reading order as numpy's mean over the
        rows does, so the values are the dict code's to the last bit (places outside the page add
        an exact 0.0, which changes no sum)."""
        lines, lo, hi = enc.reading_places()
        n = len(lines)
        in_order = np.vstack([first[lines], np.zeros((1, first.shape[1]))])  # row n: zeros
        places = np.arange(n)
        sums = np.zeros_like(first)
        taken = np.empty_like(first)
        for d in range(-half, half + 1):
            if d == 0:
                continue
            q = places + d
            np.take(in_order, np.where((q >= lo) & (q < hi), q, n), axis=0, out=taken)
            sums += taken
        counts = np.minimum(hi - 1, places + half) - np.maximum(lo, places - half)  # the line itself left out
        present = counts > 0
        means = np.zeros_like(first)
        means[present] = sums[present] / counts[present][:, None]
        out, out_present = np.zeros_like(first), np.zeros(len(first), dtype=bool)
        out[lines], out_present[lines] = means, present
        return out, out_present

    @staticmethod
    def _row_means(enc: EncodedPages, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean first-pass probabilities of each line's row mates, summed in row_mates' order (a
        line with fewer mates than the widest row adds exact zeros, which change no sum)."""
        n = enc.n_lines
        mates = [m for po in enc.orders for m in po.mates]
        counts = np.fromiter(map(len, mates), dtype=np.int64, count=n)
        total = int(counts.sum())
        sums = np.zeros_like(first)
        if total:
            page_sizes = [len(po.mates) for po in enc.orders]
            line_offsets = np.repeat(np.asarray(enc.offsets, dtype=np.int64), page_sizes)
            flat = np.fromiter(chain.from_iterable(mates), dtype=np.int64, count=total)
            flat += np.repeat(line_offsets, counts)
            place = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            padded = np.full((n, int(counts.max())), n, dtype=np.int64)  # n: the row of zeros
            padded[np.repeat(np.arange(n), counts), place] = flat
            with_zeros = np.vstack([first, np.zeros((1, first.shape[1]))])
            for t in range(padded.shape[1]):
                sums += with_zeros[padded[:, t]]
        present = counts > 0
        means = np.zeros_like(first)
        means[present] = sums[present] / counts[present][:, None]
        return means, present


_LAYOUT_NAMES = ("x0", "x1", "xc", "y", "w", "h_rel", "size_rel", "bold", "landscape", "centered", "gap_prev_none",
                 "gap_next_none", "x0_aligned", "row_amount_r", "row_code", "row_cjk_r", "row_leftmost",
                 "row_rightmost", "rep_share", "bias")
_LAYOUT_BUCKETS = (SIZE_B, Y_B, X0_B, W_B, GAP_PREV_B, GAP_NEXT_B, ROW_N_B, REP_B)


class LayoutEncoder:
    """features.page_context_features of a PDF page (layout, repetition, bias) on the base index,
    computed with numpy over the page's lines instead of one dict per line: the same entries and,
    expression for expression, the same floats (tests/test_speed_equivalence.py compares them)."""

    def __init__(self, base: Mapping[str, int]):
        self.column = {name: base.get(name, -1) for name in _LAYOUT_NAMES}
        self.bucket_columns = {b.names: np.array([base.get(name, -1) for name in b.names], dtype=np.int64)
                               for b in _LAYOUT_BUCKETS}

    def entries(self, page: Page, po: PageOrder, counts: Mapping[str, int], n_pages: int
                ) -> Optional[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(line, base column, value) of every line's context features; None when a line has no box."""
        lines = page.lines
        n = len(lines)
        boxes = [ln.bbox for ln in lines]
        if not n or not all(boxes):
            return None
        geo = PageGeometry.of(page)
        W, H = geo.width, geo.height
        x0, y0, x1, y1 = np.array(boxes, dtype=np.float64).T
        rel = np.array([ln.size or geo.median_size for ln in lines], dtype=np.float64) / geo.median_size
        out = _Entries(n, self.column, self.bucket_columns)
        out.values("x0", x0 / W)
        out.values("x1", x1 / W)
        out.values("xc", (x0 + x1) / 2 / W)
        out.values("y", (y0 + y1) / 2 / H)
        out.values("w", (x1 - x0) / W)
        out.values("h_rel", np.minimum((y1 - y0) / geo.median_height, 4.0) / 4.0)
        out.values("size_rel", np.minimum(rel, 3.0) / 3.0)
        out.values("bold", np.array([float(ln.bold) for ln in lines]))
        out.values("landscape", np.full(n, float(W > H)))
        out.bucket(SIZE_B, rel)
        out.bucket(Y_B, (y0 + y1) / 2 / H)
        out.bucket(X0_B, x0 / W)
        out.bucket(W_B, (x1 - x0) / W)
        out.values("centered", ((np.abs((x0 + x1) / 2 - W / 2) < 0.04 * W) & ((x1 - x0) < 0.8 * W)).astype(np.float64))
        order = np.asarray(po.order, dtype=np.int64)
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        has_prev, has_next = position > 0, position < n - 1
        prev, nxt = order[np.maximum(position - 1, 0)], order[np.minimum(position + 1, n - 1)]
        out.bucket(GAP_PREV_B, (y0 - y1[prev]) / geo.median_height, has_prev)
        out.values("gap_prev_none", np.ones(n), ~has_prev)
        out.bucket(GAP_NEXT_B, (y0[nxt] - y1) / geo.median_height, has_next)
        out.values("gap_next_none", np.ones(n), ~has_next)
        _, x0_key, x0_count = np.unique(np.rint(x0 / 3), return_inverse=True, return_counts=True)
        out.values("x0_aligned", np.minimum(x0_count[x0_key] / n * 5, 1.0))
        self._row_mates(out, page, po, x0)
        repeats = np.array([counts.get(repetition_key(ln.text), 1) for ln in lines], dtype=np.int64)
        out.bucket(REP_B, repeats)
        if n_pages > 2:
            out.values("rep_share", np.minimum(repeats / n_pages, 1.0))
        out.values("bias", np.ones(n))
        return out.arrays()

    @staticmethod
    def _row_mates(out: "_Entries", page: Page, po: PageOrder, x0: np.ndarray) -> None:
        """row_n_b, and what the row mates of a line that has some are (layout_features' `row`)."""
        n = len(page.lines)
        sizes = np.fromiter(map(len, po.mates), dtype=np.int64, count=n)
        out.bucket(ROW_N_B, sizes)
        has = sizes > 0
        if not has.any():
            return
        facts = RowFacts.of(page)
        mates = np.fromiter(chain.from_iterable(po.mates), dtype=np.int64, count=int(sizes.sum()))
        owner = np.repeat(np.arange(n), sizes)

        def mates_with(flags: list[bool]) -> np.ndarray:
            return np.bincount(owner, weights=np.asarray(flags, dtype=np.float64)[mates], minlength=n)

        out.values("row_amount_r", mates_with(facts.amount) / np.maximum(sizes, 1), has)
        out.values("row_code", (mates_with(facts.code) > 0).astype(np.float64), has)
        out.values("row_cjk_r", mates_with(facts.cjk) / np.maximum(sizes, 1), has)
        starts = (np.cumsum(sizes) - sizes)[has]
        lefts = x0[mates]
        leftmost, rightmost = np.zeros(n), np.zeros(n)
        leftmost[has] = np.minimum.reduceat(lefts, starts)
        rightmost[has] = np.maximum.reduceat(lefts, starts)
        out.values("row_leftmost", (x0 <= leftmost).astype(np.float64), has)
        out.values("row_rightmost", (x0 >= rightmost).astype(np.float64), has)


class _Entries:
    """(line, base column, value) entries of a page's features, feature by feature."""

    def __init__(self, n: int, column: Mapping[str, int], bucket_columns: Mapping[tuple[str, ...], np.ndarray]):
        self.n, self.column, self.bucket_columns = n, column, bucket_columns
        self.lines: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.every_line = np.arange(n, dtype=np.int64)

    def values(self, name: str, values: np.ndarray, where: Optional[np.ndarray] = None) -> None:
        column = self.column[name]
        if column < 0:
            return
        lines = self.every_line if where is None else np.nonzero(where)[0]
        self.lines.append(lines)
        self.cols.append(np.full(len(lines), column, dtype=np.int64))
        self.vals.append(values[lines])

    def bucket(self, buckets: Buckets, values: np.ndarray, where: Optional[np.ndarray] = None) -> None:
        lines = self.every_line if where is None else np.nonzero(where)[0]
        columns = self.bucket_columns[buckets.names][np.searchsorted(buckets.edges, values[lines], side="right")]
        known = columns >= 0
        self.lines.append(lines[known])
        self.cols.append(columns[known])
        self.vals.append(np.ones(int(known.sum())))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.concatenate(self.lines), np.concatenate(self.cols), np.concatenate(self.vals)


def _csr(rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray], shape: tuple[int, int]) -> sp.csr_array:
    """Canonical CSR (sorted columns, as DictVectorizer returns) from disjoint entries."""
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    matrix = sp.csr_array((v, (r, c)), shape=shape)
    matrix.sort_indices()
    return matrix


def _in_name_order(index: dict[str, int]) -> dict[int, int]:
    """Old id -> new id that numbers the names of `index` in sorted order."""
    return {index[name]: new for new, name in enumerate(sorted(index))}


def _prefix_ranges(vocabulary: Mapping[str, int], prefixes: Sequence[str]) -> Optional[list[tuple[str, int, int]]]:
    """(prefix, first column, last column) of each prefix some name has, by first column, if the
    vocabulary numbers its names in sorted order (as DictVectorizer does): the names of a prefix
    are then one run of columns. None otherwise."""
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    if any(a >= b for a, b in zip(names, names[1:])):
        return None
    ranges = []
    for prefix in prefixes:
        columns = [c for name, c in vocabulary.items() if name.startswith(prefix)]
        if columns:
            ranges.append((prefix, min(columns), max(columns)))
    return sorted(ranges, key=lambda r: r[1])


class _Pool:
    """Entries (column, value) that rows of a CSR matrix are put together from, slice by slice.

    Every slice holds entries in column order and a row's slices are taken in column order, so the
    rows come out sorted, as DictVectorizer gives them, without sorting."""

    def __init__(self) -> None:
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._size = 0

    def _add(self, cols: np.ndarray, vals: np.ndarray) -> int:
        start = self._size
        self._cols.append(cols)
        self._vals.append(vals)
        self._size += len(cols)
        return start

    def single(self, column: int, value: float) -> int:
        """Position of one entry."""
        return self._add(np.array([column], dtype=np.int64), np.array([value]))

    def per_line(self, lines: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and length of each line's entries (`lines` ascending, columns in order per line)."""
        lengths = np.bincount(lines, minlength=n)
        start = self._add(cols, vals)
        return start + np.cumsum(lengths) - lengths, lengths

    def segmented(self, lines: np.ndarray, cols: np.ndarray, vals: np.ndarray, blocks: list[tuple[str, int, int]],
                  n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per line, its entries before the first block, between the first and the second, …, after
        the last (`lines` ascending, columns in order per line, none inside a block)."""
        segments = len(blocks) + 1
        segment = np.searchsorted(np.array([lo for _, lo, _ in blocks], dtype=np.int64), cols, side="right")
        lengths = np.bincount(lines * segments + segment, minlength=n * segments)
        starts = self._add(cols, vals) + np.cumsum(lengths) - lengths
        lengths, starts = lengths.reshape(n, segments), starts.reshape(n, segments)
        return [(starts[:, k], lengths[:, k]) for k in range(segments)]

    def dense_rows(self, values: np.ndarray, columns: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A block of one value per column for each line where `present` holds."""
        width = len(columns)
        lines = np.nonzero(present)[0]
        start = self._add(np.tile(columns, len(lines)), values[lines].ravel())
        rank = np.cumsum(present) - 1
        return (np.where(present, start + rank * width, 0), np.where(present, width, 0))

    def gathered_csr(self, slices: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int]) -> sp.csr_array:
        """The matrix whose row i is its slices (start[i], length[i]), one after the other."""
        starts = np.stack([s for s, _ in slices], axis=1).ravel()
        lengths = np.stack([l for _, l in slices], axis=1).ravel()
        ends = np.cumsum(lengths)
        nnz = int(ends[-1]) if len(ends) else 0
        # int32 indices when they fit, as scipy would make them (it would copy int64 ones)
        index_type = np.int32 if max(nnz, shape[1]) < np.iinfo(np.int32).max else np.int64
        taken = np.arange(nnz, dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
        cols = np.concatenate(self._cols).astype(index_type, copy=False)[taken] if self._cols else np.zeros(0, dtype=index_type)
        vals = np.concatenate(self._vals)[taken] if self._vals else np.zeros(0)
        indptr = np.zeros(shape[0] + 1, dtype=index_type)
        np.cumsum(lengths.reshape(shape[0], len(slices)).sum(axis=1), out=indptr[1:])
        matrix = sp.csr_array((vals, cols, indptr), shape=shape)
        matrix.has_sorted_indices = True
        return matrix
