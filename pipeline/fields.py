"""Field tagger: character spans of a line -> FIELD_LABELS (subject_code, amount, level3, ...).

Each line is cut into tokens with character offsets (tab-separated cells, then numbers, CJK
words from jieba, latin runs and single punctuation characters), tagged BIO by a linear-chain
CRF (sklearn-crfsuite) whose features are the token, its shape, its neighbours, its cell index
and the line's section label and layout. Spans are maximal B/I runs; a span's probability is
the smallest marginal probability of its tokens' tags. Amount spans carry no key here: table
assembly assigns the column key from geometry.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional, Sequence

from pipeline.features import (
    AMOUNT_RE, CJK_RE, CODE_RE, TARGET_RE, TOKEN_RE, BoundedCache, cjk_words, number_shape, reading_order,
)
from pipeline.model import FIELD_LABELS, Document, Line, Page, Span

FIELDS_FILE = "fields.crfsuite"
TEXT_CACHE_SIZE = 4096  # texts whose tokens and token features are kept (lines repeat)
TAGGED_CACHE_SIZE = 32768  # (TokenStatics.key, line context) whose spans are kept (a few hundred bytes each)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    cell: int


def tokenize(text: str) -> list[Token]:
    """Tokens with offsets into `text`; `cell` is the index of the tab-separated cell."""
    tokens: list[Token] = []
    offset = 0
    for cell_index, cell in enumerate(text.split("\t")):
        for m in TOKEN_RE.finditer(cell):
            tok = m.group()
            start = offset + m.start()
            if CJK_RE.match(tok):
                pos = start
                for word in cjk_words(tok):
                    tokens.append(Token(pos, pos + len(word), word, cell_index))
                    pos += len(word)
            else:
                tokens.append(Token(start, start + len(tok), tok, cell_index))
        offset += len(cell) + 1
    return tokens


# ------------------------------------------------------------------ features

def _shape(tok: str) -> str:
    if tok[0].isdigit() or (tok[0] in "+-" and len(tok) > 1):
        return number_shape(tok)
    if CJK_RE.match(tok):
        return "cjk"
    if tok.isascii() and tok.isalpha():
        return "latin"
    return "punct"


def _word(tok: str) -> str:
    if tok[0].isdigit():
        return number_shape(tok)
    return tok if len(tok) <= 6 else tok[:2] + "…" + tok[-2:]


def _line_shape(line: Optional[Line]) -> str:
    """What a neighbouring line is, in a word: its first token's shape and its token count."""
    if line is None:
        return "none"
    return line_text(line.text).shape


def _text_shape(text: str) -> str:
    toks = TOKEN_RE.findall(text)
    if not toks:
        return "empty"
    return f"{_shape(toks[0])}/{min(len(toks), 4)}"


def _line_context(line: Line, page_width: float, prev: Optional[Line] = None,
                  nxt: Optional[Line] = None, prev_shape: Optional[str] = None,
                  next_shape: Optional[str] = None) -> dict[str, float | str]:
    """The line's section, cells and place, and what its neighbours are (`prev_shape`/`next_shape`:
    _line_shape of prev/nxt when the caller has them)."""
    f: dict[str, float | str] = {"sec": line.label or "none"}
    n_cells = line.text.count("\t") + 1
    f["ncells"] = str(min(n_cells, 12))
    if line.bbox and page_width:
        f["x0b"] = str(int(line.bbox[0] / page_width * 10))
    else:
        f["x0b"] = "text"
    # a lone "05" is a code part after "210 / 12" fragments and a row number after a name
    f["prev"] = prev_shape if prev_shape is not None else _line_shape(prev)
    f["next"] = next_shape if next_shape is not None else _line_shape(nxt)
    f["prev_sec"] = (prev.label or "none") if prev is not None else "none"
    return f


def _cell_kinds(text: str) -> list[str]:
    """A coarse reading of each tab cell: what an indicator or budget column holds."""
    kinds = []
    for cell in text.split("\t"):
        c = cell.strip()
        if not c:
            kinds.append("empty")
        elif TARGET_RE.match(c):
            kinds.append("target")
        elif AMOUNT_RE.match(c.replace(" ", "")):
            kinds.append("amount")
        elif CODE_RE.match(c):
            kinds.append("code")
        elif CJK_RE.search(c):
            kinds.append("cjk_long" if len(c) > 25 else "cjk_mid" if len(c) > 10 else "cjk_short")
        else:
            kinds.append("other")
    return kinds


@dataclass(frozen=True)
class TokenStatics:
    """The part of a line's token features that depends on its text alone (cached per text)."""

    heads: tuple[dict[str, float | str], ...]   # per token: bias … has_dot, in feature order
    spaces: tuple[tuple[bool, bool], ...]       # per token: a space before it / after it in its cell
    kinds: tuple[Optional[tuple[str, str, str, str]], ...]  # cellkind, prevcell, nextcell, filled_before
    ndigits: tuple[Optional[str], ...]
    tails: tuple[dict[str, float | str], ...]   # per token: the neighbouring tokens' features
    # What the features above are computed from: token offsets and cells, what each token's text
    # gives (word, shape, length, digits, dot) and the cell kinds. Texts with equal keys get the
    # same features, hence the same tags and spans in the same line context ("56.30", "41.07").
    key: tuple

    @classmethod
    def of(cls, tokens: Sequence[Token], cell_kinds: Sequence[str] = ()) -> "TokenStatics":
        heads, spaces, kinds, ndigits, tails = [], [], [], [], []
        n = len(tokens)
        cell_tokens: dict[int, int] = {}
        for t in tokens:
            cell_tokens[t.cell] = cell_tokens.get(t.cell, 0) + 1
        seen_in_cell: dict[int, int] = {}
        filled_before = [0]  # per cell: filled cells before it
        for kind in cell_kinds:
            filled_before.append(filled_before[-1] + (kind != "empty"))
        words = [_word(t.text) for t in tokens]
        shapes = [_shape(t.text) for t in tokens]
        for i, t in enumerate(tokens):
            k = seen_in_cell.get(t.cell, 0)
            seen_in_cell[t.cell] = k + 1
            heads.append({
                "bias": 1.0,
                "w": words[i],
                "shape": shapes[i],
                "len": _NUMERALS[min(len(t.text), 8)],
                "cell": _NUMERALS[min(t.cell, 15)],
                "cell_first": float(k == 0),
                "cell_last": float(k == cell_tokens[t.cell] - 1),
                "cell_alone": float(cell_tokens[t.cell] == 1),
                "line_first": float(i == 0),
                "line_last": float(i == n - 1),
                "digits_only": float(bool(_DIGITS_RE.fullmatch(t.text))),
                "has_dot": float("." in t.text),
            })
            spaces.append((i > 0 and tokens[i - 1].cell == t.cell and tokens[i - 1].end < t.start,
                           i + 1 < n and tokens[i + 1].cell == t.cell and t.end < tokens[i + 1].start))
            if t.cell < len(cell_kinds):
                kinds.append((cell_kinds[t.cell], cell_kinds[t.cell - 1] if t.cell > 0 else "none",
                              cell_kinds[t.cell + 1] if t.cell + 1 < len(cell_kinds) else "none",
                              _NUMERALS[min(filled_before[t.cell], 8)]))
            else:
                kinds.append(None)
            ndigits.append(_NUMERALS[min(len(_NON_DIGIT_RE.sub("", t.text)), 12)] if t.text[0].isdigit() else None)
            tail: dict[str, float | str] = {}
            for step, w_name, shape_name, samecell_name, none_name in _TAIL_NAMES:
                j = i + step
                if 0 <= j < n:
                    tail[w_name] = words[j]
                    tail[shape_name] = shapes[j]
                    tail[samecell_name] = float(tokens[j].cell == t.cell)
                else:
                    tail[none_name] = 1.0
            tails.append(tail)
        key = (tuple((t.start, t.end, t.cell, head["w"], head["shape"], head["len"], head["digits_only"], head["has_dot"], nd)
                     for t, head, nd in zip(tokens, heads, ndigits)), tuple(cell_kinds))
        return cls(tuple(heads), tuple(spaces), tuple(kinds), tuple(ndigits), tuple(tails), key)


# the neighbouring tokens a token's features name: (step, names of its word, shape, same cell, absence)
_TAIL_NAMES = tuple((step, f"{name}:w", f"{name}:shape", f"{name}:samecell", f"{name}:none")
                    for name, step in (("-1", -1), ("+1", 1), ("-2", -2), ("+2", 2)))
_NUMERALS = tuple(str(k) for k in range(16))  # str(k) of the small counts features name
_DIGITS_RE = re.compile(r"\d+")
_NON_DIGIT_RE = re.compile(r"\D")


def token_features(tokens: Sequence[Token], line_ctx: dict[str, float | str],
                   cell_kinds: Sequence[str] = ()) -> list[dict[str, float | str]]:
    return with_line_context(TokenStatics.of(tokens, cell_kinds), line_ctx)


def with_line_context(statics: TokenStatics, line_ctx: dict[str, float | str]) -> list[dict[str, float | str]]:
    """Each token's CRF features: its text's statics with the line's section and layout added."""
    sec = line_ctx["sec"]
    # a space separates cells only where a row has no tabs, and only in table rows
    space_kind = f"{sec}|{'tabbed' if line_ctx['ncells'] != '1' else 'plain'}"
    line_items = {f"line:{k}": v for k, v in line_ctx.items()}
    out: list[dict[str, float | str]] = []
    for head, (before, after), kind, ndigits, tail in zip(statics.heads, statics.spaces, statics.kinds,
                                                          statics.ndigits, statics.tails):
        f = dict(head)
        if before:
            f["space_before"] = space_kind
        if after:
            f["space_after"] = space_kind
        if kind is not None:
            f["cellkind"] = kind[0]
            f["sec_cellkind"] = f"{sec}|{kind[0]}"
            f["prevcell"], f["nextcell"], f["filled_before"] = kind[1], kind[2], kind[3]
        if ndigits is not None:
            f["ndigits"] = ndigits
        f.update(line_items)
        f["sec_shape"] = f"{sec}|{head['shape']}"
        f["sec_cell"] = f"{sec}|{head['cell']}"
        f.update(tail)
        out.append(f)
    return out


@dataclass(frozen=True)
class LineText:
    """What the tagger derives from a line's text alone: tokens, cell kinds, token statics."""

    tokens: tuple[Token, ...]
    statics: TokenStatics
    shape: str  # _line_shape of a line with this text


@lru_cache(maxsize=TEXT_CACHE_SIZE)
def line_text(text: str) -> LineText:
    tokens = tokenize(text)
    return LineText(tuple(tokens), TokenStatics.of(tokens, _cell_kinds(text)), _text_shape(text))


# ------------------------------------------------------------------ BIO

def bio_tags(tokens: Sequence[Token], spans: Sequence[Span]) -> list[str]:
    """Gold BIO tags of tokens: a token belongs to the span containing its first character."""
    tags = ["O"] * len(tokens)
    for s in spans:
        if s.label not in FIELD_LABELS:
            continue
        first = True
        for i, t in enumerate(tokens):
            if s.start <= t.start < s.end:
                tags[i] = ("B-" if first else "I-") + s.label
                first = False
    return tags


def spans_from_tags(tokens: Sequence[Token], tags: Sequence[str], probs: Sequence[float]) -> list[Span]:
    spans: list[Span] = []
    cur: Optional[list] = None  # [label, start, end, prob]
    for t, tag, p in zip(tokens, tags, probs):
        if tag == "O":
            cur = None
            continue
        kind, label = tag.split("-", 1)
        if kind == "I" and cur is not None and cur[0] == label:
            cur[2], cur[3] = t.end, min(cur[3], p)
            spans[-1] = Span(cur[1], cur[2], label, prob=round(cur[3], 4))
        else:
            cur = [label, t.start, t.end, p]
            spans.append(Span(t.start, t.end, label, prob=round(p, 4)))
    return spans


# ------------------------------------------------------------------ model

class FieldTagger:
    def __init__(self, c1: float = 0.05, c2: float = 0.05, max_iterations: int = 80):
        self.c1, self.c2, self.max_iterations = c1, c2, max_iterations
        self.crf = None  # sklearn-crfsuite's CRF while training (it owns the model file it trained into)
        self.model_path: Optional[Path] = None
        self.tagger = None  # crfsuite's Tagger over model_path: inference needs no scikit-learn import
        # (text, line context) -> its spans as (start, end, label, prob): a line's features, hence
        # its tags, are a function of these alone, and headers, row titles and page furniture repeat
        self._tagged: BoundedCache[tuple, tuple[tuple[int, int, str, float], ...]] = BoundedCache(TAGGED_CACHE_SIZE)

    @staticmethod
    def line_inputs(lines: Sequence[Line], page_width: float = 0.0) -> Iterator[tuple[Line, LineText, dict]]:
        """(line, its text's tokens and statics, its line context) per line with tokens."""
        texts = [line_text(ln.text) for ln in lines]
        last = len(lines) - 1
        for k, (ln, text) in enumerate(zip(lines, texts)):
            if text.tokens:
                prev, prev_shape = (lines[k - 1], texts[k - 1].shape) if k > 0 else (None, "none")
                nxt, next_shape = (lines[k + 1], texts[k + 1].shape) if k < last else (None, "none")
                yield ln, text, _line_context(ln, page_width, prev, nxt, prev_shape, next_shape)

    @classmethod
    def line_sequences(cls, lines: Sequence[Line], page_width: float = 0.0):
        """(line, tokens, token features) per non-empty line; neighbours are the adjacent lines given."""
        for ln, text, ctx in cls.line_inputs(lines, page_width):
            yield ln, list(text.tokens), with_line_context(text.statics, ctx)

    def fit(self, docs_pages: Sequence[Sequence["PageLike"]]) -> "FieldTagger":
        """Train on pages whose lines carry their (gold) section label and spans."""
        import sklearn_crfsuite

        X, y = [], []
        for pages in docs_pages:
            for page in pages:
                for ln, tokens, feats in self.line_sequences(in_reading_order(page), page.width):
                    X.append(feats)
                    y.append(bio_tags(tokens, ln.spans))
        # no model_filename: crfsuite trains into a temporary file that `save` copies
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=self.c1, c2=self.c2,
                                        max_iterations=self.max_iterations, all_possible_transitions=True)
        self.crf.fit(X, y)
        self.model_path, self.tagger = Path(self.crf.modelfile.name), self.crf.tagger_
        self._tagged = BoundedCache(TAGGED_CACHE_SIZE)
        return self

    def tag_line(self, line: Line, page_width: float = 0.0) -> list[Span]:
        return self.tag_lines([line], page_width)[0]

    def tag_lines(self, lines: Sequence[Line], page_width: float = 0.0) -> list[list[Span]]:
        out: list[list[Span]] = [[] for _ in lines]
        index = {id(ln): k for k, ln in enumerate(lines)}
        # crfsuite's tagger directly: one set() per line serves Viterbi and the marginals of the
        # chosen tags (sklearn-crfsuite sets every line twice and computes every label's marginal)
        tagger = self.tagger
        for ln, text, ctx in self.line_inputs(lines, page_width):
            key = (text.statics.key, *ctx.values())
            spans = self._tagged.get(key)
            if spans is None:
                tagger.set(with_line_context(text.statics, ctx))
                tags = tagger.tag()
                marginals = [tagger.marginal(tag, i) for i, tag in enumerate(tags)]
                spans = tuple((s.start, s.end, s.label, s.prob) for s in spans_from_tags(text.tokens, tags, marginals))
                self._tagged.put(key, spans)
            out[index[id(ln)]] = [Span(start, end, label, prob=prob) for start, end, label, prob in spans]
        return out

    def save(self, model_dir: Path) -> Path:
        target = Path(model_dir) / FIELDS_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.model_path, target)
        return target

    @classmethod
    def load(cls, model_dir: Path) -> "FieldTagger":
        import pycrfsuite

        self = cls()
        self.model_path = Path(model_dir) / FIELDS_FILE
        self.tagger = pycrfsuite.Tagger()
        self.tagger.open(str(self.model_path))
        return self


def in_reading_order(page: Page) -> list[Line]:
    return [page.lines[i] for i in reading_order(page)]


PageLike = object  # a pipeline.model.Page (pages of DocExample); kept loose for typing


def tag_fields(doc: Document, model: FieldTagger) -> Document:
    """Fill Line.spans (with probabilities) of every line of the document."""
    for page in doc.pages:
        ordered = in_reading_order(page)
        for ln, spans in zip(ordered, model.tag_lines(ordered, page.width)):
            ln.spans = spans
    return doc
