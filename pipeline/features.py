"""Line features shared by the section classifier and the field tagger.

A line's features are a sparse dict (name -> value): its own text (jieba words, character
n-grams over a digit-masked text, digit/amount/code patterns, keyword flags, character-class
ratios, tab cells), its layout on a PDF page (relative position, width, relative font size,
bold, gaps, alignment, the other lines on the same visual row) with a neutral "no layout" flag
for text input, its repetition across the document (page headers repeat), and the features of
its neighbours in reading order under a prefix.

Everything here is relative (to the page size, the page's median font size and line height)
so that it carries over from the generator's PDFs to other producers' PDFs.
"""
from __future__ import annotations

import math
import re
from bisect import bisect_right
import statistics
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, NamedTuple, Optional, Sequence, TypeVar

from pipeline.model import Page

Features = dict[str, float]

# ------------------------------------------------------------------ text normalisation

_DIGIT_RE = re.compile(r"\d")
_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width digits and punctuation folded), whitespace runs kept as one space."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def mask_digits(text: str) -> str:
    return _DIGIT_RE.sub("0", text)


@lru_cache(maxsize=20_000)  # asked twice per line (counts, then features), and lines repeat
def repetition_key(text: str) -> str:
    """What stays the same when a page header repeats (page numbers and spaces vary)."""
    return mask_digits(_SPACE_RE.sub("", unicodedata.normalize("NFKC", text)))


# ------------------------------------------------------------------ caches

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used map of at most `size` items: repeated lines are computed once, and
    memory stays flat however long the batch."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> Optional[V]:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: K, item: V) -> None:
        self._items[key] = item
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# ------------------------------------------------------------------ word tokens

_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(60)
        jieba.initialize()
        _jieba_ready = True
    return jieba


def load_tokenizer() -> None:
    """Load jieba's dictionary now (about a second, once per process) rather than on the first line."""
    _jieba()


@lru_cache(maxsize=20_000)
def cjk_words(text: str) -> tuple[str, ...]:
    """jieba words of a CJK run (no HMM: deterministic, dictionary words only)."""
    return tuple(_jieba().cut(text, HMM=False))


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{_CJK}]")
# A token: a number (digits with dots/commas, optional sign/percent), a CJK run, a latin run,
# or a single other visible character.
TOKEN_RE = re.compile(rf"[-+]?\d[\d,.]*|[{_CJK}]+|[A-Za-z]+|\S")


def word_tokens(text: str) -> list[str]:
    """Bag of words of a line: jieba words, numbers reduced to their shape."""
    out: list[str] = []
    for m in TOKEN_RE.finditer(unicodedata.normalize("NFKC", text)):
        tok = m.group()
        if CJK_RE.match(tok):
            out.extend(cjk_words(tok))
        elif tok[0].isdigit() or tok[0] in "+-" and len(tok) > 1:
            out.append(number_shape(tok))
        else:
            out.append(tok)
    return out


def number_shape(tok: str) -> str:
    if re.fullmatch(r"\d{3}|\d{5}|\d{7}", tok):
        return f"<code{len(tok)}>"
    if re.fullmatch(r"[-+]?[\d,]*\d\.\d{2}", tok):
        return "<amount>"
    if tok.endswith("%"):
        return "<pct>"
    if re.fullmatch(r"(19|20)\d\d", tok):
        return "<year>"
    if re.fullmatch(r"\d{1,2}", tok):
        return "<small>"
    if re.fullmatch(r"\d{8,}", tok):
        return "<longcode>"
    return "<num>"


def char_ngrams(text: str, n_max: int = 3, limit: int = 40) -> list[str]:
    t = mask_digits(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)))[:limit]
    return [t[i:i + n] for n in range(1, n_max + 1) for i in range(len(t) - n + 1)]


# ------------------------------------------------------------------ shape of the text

CODE_RE = re.compile(r"^\d{3,7}$")
AMOUNT_RE = re.compile(r"^-?[\d,]*\d\.\d{1,2}$")
INT_RE = re.compile(r"^-?\d+$")
PCT_RE = re.compile(r"\d(\.\d+)?\s*%")
CODE_THEN_TEXT_RE = re.compile(r"^\d{3,7}\s*[^\d\s.]")
ENUM_CN_RE = re.compile(r"^[一二三四五六七八九十]+[、.．]")
ENUM_PAREN_RE = re.compile(r"^[(（][一二三四五六七八九十\d]+[)）]")
ENUM_NUM_RE = re.compile(r"^\d{1,2}[、.．](?!\d)")
PART_RE = re.compile(r"^第[一二三四五六七八九十\d]+(部分|章|节)")
PAGE_NO_RE = re.compile(r"^(第\s*\d+\s*页.*|[-—]?\s*\d{1,3}\s*[-—]?|\d+\s*/\s*\d+)$")
COMPARISON_RE = re.compile(r"[≥≤><=]")
# an indicator's target value: "≥95%", "≤10天", "100%", "20530 人", "合理", "有所提高"
TARGET_RE = re.compile(r"^([≥≤<>=]\s*)?\d+(\.\d+)?\s*(%|天|人|个|次|家|户|项|元|万元|小时|分钟|年|月|日|辆|人次)?$"
                       r"|^(合理|科学|健全|真实|有效|相关|达标|及时|完成|有所提高|显著提高|明显改善|全覆盖|提高|改善)")

KEYWORDS: tuple[str, ...] = (
    "合计", "总计", "小计", "单位", "万元", "预算年度", "指标", "表", "项目", "科目", "编码", "名称",
    "注", "空表", "目录", "栏次", "绩效", "目标", "说明", "收入", "支出", "其中", "部门", "年度",
    "金额", "预算数", "类", "款", "项", "序号", "满意度", "说明：", "万元。", "情况", "主要",
)


def _ratio(count: int, total: int) -> float:
    return count / total if total else 0.0


def _bucket(value: float, edges: Sequence[float]) -> int:
    """Index of the first edge above `value` (edges ascending); len(edges) if none is."""
    return bisect_right(edges, value)


def shape_features(text: str) -> Features:
    """Patterns of one line's own text (no words): what kind of string it is."""
    raw = text
    t = normalize(text)
    f: Features = {}
    n = len(t) or 1
    compact = t.replace(" ", "")
    digits = sum(map(str.isdigit, compact))
    cjk = len(CJK_RE.findall(compact))
    punct = sum([category[0] == "P" for category in map(unicodedata.category, compact)])
    latin = sum(map(str.isalpha, filter(str.isascii, compact)))
    f["r_digit"] = _ratio(digits, len(compact))
    f["r_cjk"] = _ratio(cjk, len(compact))
    f["r_punct"] = _ratio(punct, len(compact))
    f["r_latin"] = _ratio(latin, len(compact))
    f["len_log"] = math.log1p(len(compact)) / 5.0
    f[f"len_b={_bucket(len(compact), (2, 4, 7, 12, 20, 35, 60))}"] = 1.0
    f["lead_space"] = float(raw[:1].isspace() and raw[:1] != "\t")
    cells = raw.split("\t")
    filled = [c.strip() for c in cells if c.strip()]
    f["tabbed"] = float(len(cells) > 1)
    f[f"cells_b={_bucket(len(cells), (2, 3, 4, 6, 9, 13))}"] = 1.0
    f[f"filled_b={_bucket(len(filled), (2, 3, 4, 6, 9))}"] = 1.0
    if len(cells) > 1:
        f["cells_empty_r"] = _ratio(len(cells) - len(filled), len(cells))
        f["cells_amount_r"] = _ratio(sum(bool(AMOUNT_RE.match(c)) for c in filled), len(filled))
        f["cells_num_r"] = _ratio(sum(bool(re.fullmatch(r"[-\d.,%]+", c)) for c in filled), len(filled))
        f["cells_code_first"] = float(bool(filled) and bool(CODE_RE.match(filled[0])))
        f["cells_any_code"] = float(any(CODE_RE.match(c) for c in filled))
        f["cells_cjk_r"] = _ratio(sum(bool(CJK_RE.search(c)) for c in filled), len(filled))
        f["first_cell_empty"] = float(not cells[0].strip())
        lead = next((k for k, c in enumerate(cells) if c.strip()), len(cells))
        f[f"lead_empty_b={_bucket(lead, (1, 2, 4, 7))}"] = 1.0
        f["cells_target"] = min(sum(bool(TARGET_RE.match(c)) for c in filled), 3) / 3.0
        f["cells_long"] = float(any(len(c) > 25 for c in filled))
        f["cells_short_cjk"] = min(sum(bool(CJK_RE.search(c)) and len(c) <= 12 for c in filled), 4) / 4.0
    pieces = t.split(" ")
    f["spaces_b"] = min(len(pieces) - 1, 6) / 6.0
    f["num_pieces_r"] = _ratio(sum(bool(re.fullmatch(r"[-\d.,%]+", p)) for p in pieces), len(pieces))
    f["amount_pieces"] = min(sum(bool(AMOUNT_RE.match(p)) for p in pieces + cells), 8) / 8.0
    for name, rx in (("is_code", CODE_RE), ("is_amount", AMOUNT_RE), ("is_int", INT_RE)):
        f[name] = float(bool(rx.match(compact)))
    if CODE_RE.match(compact):
        f[f"code_len={len(compact)}"] = 1.0
    f["is_zero"] = float(compact in {"0", "0.00", "-", "—", "0.0"})
    f["has_pct"] = float(bool(PCT_RE.search(t)))
    f["has_cmp"] = float(bool(COMPARISON_RE.search(t)))
    f["code_then_text"] = float(bool(CODE_THEN_TEXT_RE.match(t)))
    f["enum_cn"] = float(bool(ENUM_CN_RE.match(t)))
    f["enum_paren"] = float(bool(ENUM_PAREN_RE.match(t)))
    f["enum_num"] = float(bool(ENUM_NUM_RE.match(t)))
    f["part"] = float(bool(PART_RE.match(t)))
    f["page_no"] = float(bool(PAGE_NO_RE.match(t)) and not CODE_RE.match(compact))
    f["ends_colon"] = float(t.endswith((":", "：")))
    f["ends_period"] = float(t.endswith(("。", "；", ";")))
    f["ends_biao"] = float(compact.endswith("表"))
    f["has_period"] = float("。" in t)
    f["has_comma"] = float("，" in t or "," in re.sub(r"\d,\d", "", t))
    f["starts_zhu"] = float(compact.startswith(("注", "备注", "说明")))
    f["unit_line"] = float(bool(re.search(r"单位\s*[:：]\s*(万元|元|千元|亿元)", t)))
    f["has_year"] = float(bool(re.search(r"(19|20)\d\d\s*年", t)))
    f["wanyuan_fact"] = float(bool(re.search(r"\d\s*(万元|元)", t)))
    for kw in KEYWORDS:
        if kw in compact:
            f["kw=" + kw] = 1.0
    return f


# a long line's many words and n-grams would outvote its shape and its neighbours (a table row whose
# cell explains an indicator at length reads as prose): past these counts, each weighs 1/sqrt(excess)
FULL_WORDS = 6
FULL_NGRAMS = 40


def lexical_weight(n_distinct: int, full: int) -> float:
    return 1.0 if n_distinct <= full else math.sqrt(full / n_distinct)


def text_features(text: str, with_ngrams: bool = True) -> Features:
    f = shape_features(text)
    words = set(filter(str.strip, word_tokens(text)))
    weight = lexical_weight(len(words), FULL_WORDS)
    for w in words:
        f["w=" + w] = weight
    if with_ngrams:
        grams = set(char_ngrams(text))
        weight = lexical_weight(len(grams), FULL_NGRAMS)
        for g in grams:
            f["c=" + g] = weight
    return f


# ------------------------------------------------------------------ layout

@dataclass
class PageGeometry:
    """Page-level references for relative layout features."""

    width: float
    height: float
    median_size: float
    median_height: float

    @classmethod
    def of(cls, page: Page) -> "PageGeometry":
        boxes = [ln.bbox for ln in page.lines if ln.bbox]
        sizes = [ln.size for ln in page.lines if ln.size]
        heights = [b[3] - b[1] for b in boxes if b[3] > b[1]]
        width = page.width or (max(b[2] for b in boxes) if boxes else 1.0)
        height = page.height or (max(b[3] for b in boxes) if boxes else 1.0)
        return cls(width=max(width, 1.0), height=max(height, 1.0),
                   median_size=statistics.median(sizes) if sizes else 10.0,
                   median_height=statistics.median(heights) if heights else 10.0)


def has_layout(page: Page) -> bool:
    return any(ln.bbox for ln in page.lines)


def reading_order(page: Page) -> list[int]:
    """Indices of the page's lines top to bottom, left to right (PDF); file order for text."""
    if not has_layout(page):
        return sorted(range(len(page.lines)), key=lambda i: (page.lines[i].line_no or 0, i))
    geo = PageGeometry.of(page)
    band = max(geo.median_height * 0.5, 1.0)

    def key(i: int) -> tuple[float, float]:
        b = page.lines[i].bbox or (0.0, 0.0, 0.0, 0.0)
        return (round(((b[1] + b[3]) / 2) / band), b[0])

    return sorted(range(len(page.lines)), key=key)


def row_mates(page: Page) -> list[list[int]]:
    """For each line, the other lines whose vertical centre lies within its height (same visual row)."""
    out: list[list[int]] = [[] for _ in page.lines]
    boxes = [(i, ln.bbox) for i, ln in enumerate(page.lines) if ln.bbox]
    boxes.sort(key=lambda t: t[1][1])
    for a in range(len(boxes)):
        i, bi = boxes[a]
        ci = (bi[1] + bi[3]) / 2
        for b in range(a + 1, len(boxes)):
            j, bj = boxes[b]
            if bj[1] > bi[3]:
                break
            cj = (bj[1] + bj[3]) / 2
            if bi[1] <= cj <= bi[3] or bj[1] <= ci <= bj[3]:
                out[i].append(j)
                out[j].append(i)
    return out


@dataclass
class RowFacts:
    """Per line of a page, what its row mates' features ask of its text (computed once per page)."""

    amount: list[bool]
    code: list[bool]
    cjk: list[bool]

    @classmethod
    def of(cls, page: Page) -> "RowFacts":
        texts = [normalize(ln.text).replace(" ", "") for ln in page.lines]
        return cls(amount=[bool(AMOUNT_RE.match(t)) for t in texts], code=[bool(CODE_RE.match(t)) for t in texts],
                   cjk=[bool(CJK_RE.search(t)) for t in texts])


class Buckets(NamedTuple):
    """A bucketed feature: the name of each bucket (bisect_right(edges, value) is its index)."""

    names: tuple[str, ...]
    edges: tuple[float, ...]

    @classmethod
    def of(cls, name: str, edges: tuple[float, ...]) -> "Buckets":
        return cls(tuple(f"{name}={k}" for k in range(len(edges) + 1)), edges)


SIZE_B = Buckets.of("size_b", (0.85, 0.97, 1.05, 1.25, 1.6))
Y_B = Buckets.of("y_b", (0.06, 0.12, 0.25, 0.5, 0.75, 0.9, 0.95))
X0_B = Buckets.of("x0_b", (0.08, 0.15, 0.3, 0.5, 0.7))
W_B = Buckets.of("w_b", (0.03, 0.08, 0.15, 0.3, 0.5, 0.7))
GAP_PREV_B = Buckets.of("gap_prev_b", (-0.5, 0.3, 0.8, 1.5, 3.0))
GAP_NEXT_B = Buckets.of("gap_next_b", (-0.5, 0.3, 0.8, 1.5, 3.0))
ROW_N_B = Buckets.of("row_n_b", (1, 2, 3, 5, 8))
BLANK_BEFORE_B = Buckets.of("blank_before", (1, 2))
REP_B = Buckets.of("rep_b", (2, 3, 5, 10))


def layout_features(page: Page, geo: PageGeometry, i: int, order_pos: dict[int, int], order: list[int],
                    mates: list[list[int]], x0_counts: Counter, facts: "RowFacts | None" = None) -> Features:
    ln = page.lines[i]
    if not ln.bbox:
        f: Features = {"no_layout": 1.0}
        if ln.line_no is not None:
            pos = order_pos[i]
            prev_no = page.lines[order[pos - 1]].line_no if pos > 0 else None
            gap = (ln.line_no - prev_no - 1) if prev_no is not None else 0
            f[BLANK_BEFORE_B.names[min(max(gap, 0), 2)]] = 1.0
        return f
    x0, y0, x1, y1 = ln.bbox
    W, H = geo.width, geo.height
    median_size = geo.median_size
    rel = (ln.size or median_size) / median_size
    f = {
        "x0": x0 / W, "x1": x1 / W, "xc": (x0 + x1) / 2 / W, "y": (y0 + y1) / 2 / H, "w": (x1 - x0) / W,
        "h_rel": min((y1 - y0) / geo.median_height, 4.0) / 4.0,
        "size_rel": min(rel, 3.0) / 3.0,
        "bold": float(ln.bold),
        "landscape": float(W > H),
        SIZE_B.names[bisect_right(SIZE_B.edges, rel)]: 1.0,
        Y_B.names[bisect_right(Y_B.edges, (y0 + y1) / 2 / H)]: 1.0,
        X0_B.names[bisect_right(X0_B.edges, x0 / W)]: 1.0,
        W_B.names[bisect_right(W_B.edges, (x1 - x0) / W)]: 1.0,
        "centered": float(abs((x0 + x1) / 2 - W / 2) < 0.04 * W and (x1 - x0) < 0.8 * W),
    }
    pos = order_pos[i]
    lines = page.lines
    other = lines[order[pos - 1]].bbox if pos > 0 else None
    if other is None:
        f["gap_prev_none"] = 1.0
    else:
        f[GAP_PREV_B.names[bisect_right(GAP_PREV_B.edges, (y0 - other[3]) / geo.median_height)]] = 1.0
    other = lines[order[pos + 1]].bbox if pos + 1 < len(order) else None
    if other is None:
        f["gap_next_none"] = 1.0
    else:
        f[GAP_NEXT_B.names[bisect_right(GAP_NEXT_B.edges, (other[1] - y1) / geo.median_height)]] = 1.0
    f["x0_aligned"] = min(x0_counts[round(x0 / 3)] / max(len(lines), 1) * 5, 1.0)
    row = mates[i]
    f[ROW_N_B.names[bisect_right(ROW_N_B.edges, len(row))]] = 1.0
    if row:
        facts = facts or RowFacts.of(page)
        f["row_amount_r"] = _ratio(sum([facts.amount[j] for j in row]), len(row))
        f["row_code"] = float(any([facts.code[j] for j in row]))
        f["row_cjk_r"] = _ratio(sum([facts.cjk[j] for j in row]), len(row))
        lefts = [lines[j].bbox[0] for j in row]  # type: ignore[index]
        f["row_leftmost"] = float(x0 <= min(lefts))
        f["row_rightmost"] = float(x0 >= max(lefts))
    return f


# ------------------------------------------------------------------ document context

SHORT_WORDS_RE = re.compile(f"^[{_CJK}]{{1,5}}$")


def repetition_counts(pages: Sequence[Page]) -> Counter:
    """How many pages (text: how many times in the file) each repetition key occurs.

    In a text file without pages a few characters of a wrapped cell ("单位", "盖地区") recur in every
    table that lists the same items: they are not repeated page furniture, so they count once."""
    counts: Counter = Counter()
    multi_page = len(pages) > 1
    for page in pages:
        keys = [repetition_key(ln.text) for ln in page.lines]
        if not multi_page:
            keys = [k for k in keys if not SHORT_WORDS_RE.match(k)]
        counts.update(set(keys) if multi_page else keys)
    return counts


def repetition_features(text: str, counts: Counter, n_pages: int) -> Features:
    c = counts.get(repetition_key(text), 1)
    f: Features = {REP_B.names[bisect_right(REP_B.edges, c)]: 1.0}
    if n_pages > 2:
        f["rep_share"] = min(c / n_pages, 1.0)
    return f


# ------------------------------------------------------------------ putting it together

# neighbours in reading order whose features a line sees: (prefix, step, with their words);
# character n-grams are never passed on
NEIGHBOURS: tuple[tuple[str, int, bool], ...] = (("p1", -1, True), ("n1", 1, True), ("p2", -2, False), ("n2", 2, False))
NEIGHBOUR_KEYS = tuple(name for name, _, _ in NEIGHBOURS)


@dataclass
class PageOrder:
    """One page's reading order and visual rows, computed once for every stage that needs them."""

    order: list[int]            # line indices in reading order
    position: dict[int, int]    # line index -> its place in `order`
    mates: list[list[int]]      # per line, the other lines of its visual row (PDF only)

    @classmethod
    def of(cls, page: Page) -> "PageOrder":
        order = reading_order(page)
        mates = row_mates(page) if has_layout(page) else [[] for _ in page.lines]
        return cls(order=order, position={i: p for p, i in enumerate(order)}, mates=mates)


def _prefixed(prefix: str, f: Features, keep_words: bool) -> Features:
    out: Features = {}
    for k, v in f.items():
        if k.startswith("c="):
            continue
        if k.startswith("w=") and not keep_words:
            continue
        out[f"{prefix}:{k}"] = v
    return out


def page_context_features(page: Page, counts: Counter, n_pages: int, po: "PageOrder | None" = None,
                          ) -> list[Features]:
    """Each line's layout, repetition and bias features: its own features less its text's."""
    po = po or PageOrder.of(page)
    geo = PageGeometry.of(page)
    x0_counts = Counter(round(ln.bbox[0] / 3) for ln in page.lines if ln.bbox)
    facts = RowFacts.of(page) if any(po.mates) else None
    out: list[Features] = []
    for i, ln in enumerate(page.lines):
        f = layout_features(page, geo, i, po.position, po.order, po.mates, x0_counts, facts)
        f.update(repetition_features(ln.text, counts, n_pages))
        f["bias"] = 1.0
        out.append(f)
    return out


def page_line_features(page: Page, counts: Counter, n_pages: int) -> list[Features]:
    """Features of every line of one page, neighbours included (in reading order)."""
    if not page.lines:
        return []
    po = PageOrder.of(page)
    own = [text_features(ln.text) for ln in page.lines]
    base: list[Features] = []
    for f_text, f_context in zip(own, page_context_features(page, counts, n_pages, po)):
        f = dict(f_text)
        f.update(f_context)
        base.append(f)
    out: list[Features] = []
    for i in range(len(page.lines)):
        pos = po.position[i]
        f = dict(base[i])
        for name, step, keep_words in NEIGHBOURS:
            q = pos + step
            if 0 <= q < len(po.order):
                f.update(_prefixed(name, base[po.order[q]], keep_words=keep_words))
            else:
                f[f"{name}:none"] = 1.0
        out.append(f)
    return out


def document_line_features(pages: Sequence[Page]) -> list[list[Features]]:
    counts = repetition_counts(pages)
    return [page_line_features(p, counts, len(pages)) for p in pages]
