"""The fast inference paths give exactly what the reference (training) paths give.

- SectionEncoder's two matrices equal DictVectorizer.transform of the dict features, value for
  value, for the shipped models and for a model fitted here (any trained vocabulary);
- FieldTagger.tag_lines (crfsuite's tagger directly, tags cached per token key and line context)
  equals sklearn-crfsuite's predict + predict_marginals, the first time and from the cache; texts
  with equal token keys have equal features;
- run.contract_problems (compiled validator first) agrees with output.validate_contract;
- the layout features the encoder computes with numpy over a page equal features.page_context_features;
- RecordsWriter, writing records.parquet and its parts in one pass, gives what writing each alone does;
- the header model's cached predictions equal fresh ones; the nearest-row search by bisection
  picks the row min() picks, ties included.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import config
from pipeline.classify import SectionClassifier, _aligned_proba
from pipeline.extract import load_document
from pipeline.features import PageOrder, document_line_features, page_context_features, repetition_counts
from pipeline.fields import FieldTagger, in_reading_order, spans_from_tags
from pipeline.model import Page
from pipeline.output import RecordsWriter, validate_contract
from pipeline.process import Processor
from pipeline.run import contract_problems
from training.datasets import load_example
from training.synth import generate

SEED_TEXT = sorted(config.SEEDS_DIR.glob("001_*.txt"))[0]
ANNOTATED = sorted((config.ANNOTATIONS_DIR / "synth").glob("*.jsonl"))[:3]

pytestmark = pytest.mark.skipif(not (config.MODELS_DIR / "manifest.json").exists(), reason="no shipped models")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[list[Page]]:
    """Pages of two generated PDFs (different templates) and of a real seed disclosure as text."""
    folder = tmp_path_factory.mktemp("speed_corpus")
    pdfs = generate(2, folder, seed=7, progress=False)
    return [load_document(path).pages for path in pdfs + [SEED_TEXT]]


@pytest.fixture(scope="module")
def shipped() -> SectionClassifier:
    return SectionClassifier.load(config.MODELS_DIR)


@pytest.fixture(scope="module")
def fitted_here() -> SectionClassifier:
    """A classifier trained on a few annotated documents: another vocabulary than the shipped one."""
    examples = [load_example(path) for path in ANNOTATED]
    return SectionClassifier(max_iter=30).fit([ex.pages for ex in examples], min_df=1)


def _assert_same_matrix(fast, reference) -> None:
    assert fast.shape == reference.shape
    difference = (fast != reference)
    assert difference.nnz == 0, f"{difference.nnz} cells differ"
    assert fast.has_sorted_indices  # the order DictVectorizer gives: same sums, same floats


@pytest.mark.parametrize("model_name", ["shipped", "fitted_here"])
def test_encoder_matrices_equal_dict_vectorizer(model_name: str, request: pytest.FixtureRequest,
                                                documents: list[list[Page]]) -> None:
    from sklearn.feature_extraction import DictVectorizer

    model: SectionClassifier = request.getfixturevalue(model_name)
    vectorizers = []
    for vocabulary in (model.vectorizer, model.vectorizer2):  # scikit-learn's own, as it was fitted
        fitted = DictVectorizer(sparse=True)
        fitted.feature_names_, fitted.vocabulary_ = list(vocabulary.feature_names_), dict(vocabulary.vocabulary_)
        vectorizers.append(fitted)
    for pages in documents:
        flat = [f for page in document_line_features(pages) for f in page]
        encoded = model.encoder.encode_pages(pages)
        first_reference = vectorizers[0].transform(flat)
        _assert_same_matrix(model.encoder.first_matrix(encoded), first_reference)
        first = _aligned_proba(model.first, first_reference, model.labels)
        second_reference = vectorizers[1].transform(model._second_inputs([pages], first, flat))
        second_fast = model.encoder.second_matrix(encoded, first)
        _assert_same_matrix(second_fast, second_reference)
        assert second_reference.nnz > 20 * len(flat)  # context features really were compared
        np.testing.assert_array_equal(model.predict_proba(pages),
                                      _aligned_proba(model.second, second_reference, model.labels))


def test_matrices_equal_when_sorted_instead_of_put_together_in_order(shipped: SectionClassifier,
                                                                      documents: list[list[Page]]) -> None:
    """A vocabulary not in name order (not DictVectorizer's) makes the encoder sort the matrices."""
    sorting = copy.copy(shipped.encoder)
    sorting._first_blocks = sorting._second_blocks = None
    for pages in documents:
        encoded = shipped.encoder.encode_pages(pages)
        first = shipped.encoder.first_matrix(encoded)
        _assert_same_matrix(sorting.first_matrix(encoded), first)
        probs = _aligned_proba(shipped.first, first, shipped.labels)
        _assert_same_matrix(sorting.second_matrix(encoded, probs), shipped.encoder.second_matrix(encoded, probs))


def test_encoder_cache_gives_the_same_rows_the_second_time(shipped: SectionClassifier,
                                                           documents: list[list[Page]]) -> None:
    pages = documents[0]
    again = shipped.predict_proba(pages)  # every text of the document is now cached
    np.testing.assert_array_equal(shipped.predict_proba(pages), again)


def test_field_tagger_equals_sklearn_crfsuite(shipped: SectionClassifier, documents: list[list[Page]]) -> None:
    import sklearn_crfsuite

    tagger = FieldTagger.load(config.MODELS_DIR)
    crf = sklearn_crfsuite.CRF(model_filename=str(config.MODELS_DIR / "fields.crfsuite"))
    for pages in documents:
        probs = shipped.predict_proba(pages)
        lines = [ln for page in pages for ln in page.lines]
        for ln, row in zip(lines, probs):
            ln.label = shipped.labels[int(row.argmax())]
        for page in pages:
            ordered = in_reading_order(page)
            sequences = list(tagger.line_sequences(ordered, page.width))
            features = [f for _, _, f in sequences]
            tags = crf.predict(features)
            marginals = crf.predict_marginals(features)
            reference = {id(ln): spans_from_tags(tokens, tg, [m[t] for m, t in zip(mg, tg)])
                         for (ln, tokens, _), tg, mg in zip(sequences, tags, marginals)}
            for attempt in ("computed", "cached"):
                got = tagger.tag_lines(ordered, page.width)
                want = [reference.get(id(ln), []) for ln in ordered]
                assert got == want, f"{attempt} tags differ on page {page.number}"
    assert len(tagger._tagged) > 100  # the second round really came from the cache


def test_texts_with_equal_token_keys_get_equal_features(documents: list[list[Page]]) -> None:
    """The tagger's cache shares tags between texts with equal TokenStatics.key: their features and
    token offsets must be equal (a feature computed from something the key leaves out breaks this)."""
    from pipeline.fields import line_text, with_line_context

    texts = {ln.text for pages in documents for page in pages for ln in page.lines}
    for seed in sorted(config.SEEDS_DIR.glob("*.txt")):
        texts.update(ln.text for page in load_document(seed).pages for ln in page.lines)
    groups: dict[tuple, list[str]] = {}
    for text in sorted(texts):
        groups.setdefault(line_text(text).statics.key, []).append(text)
    shared = [group for group in groups.values() if len(group) > 1]
    assert sum(len(group) for group in shared) > 200  # the key really lets texts share tags
    context = {"sec": "subject_row", "ncells": "3", "x0b": "2", "prev": "num/1", "next": "none", "prev_sec": "none"}
    for group in shared:
        first = line_text(group[0])
        want = (with_line_context(first.statics, context), [(t.start, t.end) for t in first.tokens])
        for text in group[1:]:
            other = line_text(text)
            assert (with_line_context(other.statics, context), [(t.start, t.end) for t in other.tokens]) == want, \
                (group[0], text)


def test_contract_problems_agree_with_validate_contract(documents: list[list[Page]], tmp_path: Path) -> None:
    processor = Processor(config.MODELS_DIR)
    doc = processor.process(load_document(SEED_TEXT))
    valid = doc.to_contract()
    assert valid["records"] and contract_problems(valid) == validate_contract(valid) == []
    breakages = [
        lambda d: d["records"][0].__setitem__("subject_code", "12a"),
        lambda d: d["records"][0].__setitem__("confidence", 1.5),
        lambda d: d.__setitem__("unit", "元元"),
        lambda d: d["records"][0].pop("checks"),
        lambda d: d.__setitem__("pages", -1),
    ]
    for breakage in breakages:
        broken = copy.deepcopy(valid)
        breakage(broken)
        problems = contract_problems(broken)
        assert problems and problems == validate_contract(broken)


def _entry_set(lines: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> list[tuple[int, int, float]]:
    return sorted(zip(lines.tolist(), cols.tolist(), vals.tolist()))


def _odd_pages(page: Page) -> list[Page]:
    """Variants of a page the generator rarely makes: no font size, one line, a line's twin."""
    no_size = dataclasses.replace(page, lines=[dataclasses.replace(ln, size=None if k % 3 else 0.0)
                                               for k, ln in enumerate(page.lines)])
    twins = dataclasses.replace(page, lines=page.lines + page.lines[:2])
    return [no_size, dataclasses.replace(page, lines=page.lines[:1]), twins]


def test_layout_encoder_equals_page_context_features(shipped: SectionClassifier,
                                                     documents: list[list[Page]]) -> None:
    encoder = shipped.encoder
    compared = 0
    for pages in documents:
        for n_pages in (1, len(pages)):  # rep_share only for documents of three pages or more
            counts = repetition_counts(pages)
            for page in [p for page in pages for p in [page] + _odd_pages(page)]:
                po = PageOrder.of(page)
                fast = encoder._layout.entries(page, po, counts, n_pages)
                if fast is None:  # text input: the dict code serves it
                    assert not page.lines or not all(ln.bbox for ln in page.lines)
                    continue
                reference = encoder._context_entries(page_context_features(page, counts, n_pages, po))
                assert _entry_set(*fast) == _entry_set(*reference), f"page {page.number}"
                compared += 1
    assert compared > 20


def _contracts(n_docs: int, records_each: int) -> list[dict]:
    """Contract-like documents with `records_each` budget lines each (what record_rows reads)."""
    return [{"doc_id": f"d{d}", "source": f"d{d}.pdf", "status": "ok", "tables": [{"table_id": "t1", "kind": "k"}],
             "records": [{"record_id": f"r{r}", "type": "budget_line", "table_id": "t1", "page": 1, "line": r,
                          "confidence": 0.5, "values": {"amount": float(r)}, "checks": []}
                         for r in range(records_each * (d % 3))]}  # some documents without records
            for d in range(n_docs)]


@pytest.mark.parametrize("rows_per_part", [7, 100_000])
def test_records_writer_one_pass_equals_each_alone(tmp_path: Path, rows_per_part: int) -> None:
    docs = _contracts(12, 4)
    both = RecordsWriter(tmp_path / "both.parquet", tmp_path / "both", rows_per_part=rows_per_part, batch_rows=5)
    file_only = RecordsWriter(tmp_path / "file.parquet", batch_rows=5)
    parts_only = RecordsWriter(parts_dir=tmp_path / "parts", rows_per_part=rows_per_part, batch_rows=5)
    for doc in docs:
        for writer in (both, file_only, parts_only):
            writer.add(doc)
    assert both.close() == file_only.close() == parts_only.close() == sum(len(d["records"]) for d in docs)
    assert (tmp_path / "both.parquet").read_bytes() == (tmp_path / "file.parquet").read_bytes()
    names = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "both").iterdir()) and len(names) == both.parts
    assert len(names) == (1 if rows_per_part > 1000 else 4)
    for name in names:
        assert (tmp_path / "both" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()
    whole = pq.read_table(tmp_path / "both.parquet")
    assert pa.concat_tables([pq.read_table(tmp_path / "both" / name) for name in names]).equals(whole)
    assert not list(tmp_path.glob("*.partial"))


def test_header_model_cache_gives_the_fresh_predictions():
    from pipeline.header_model import HeaderModel

    model_dir = config.MODELS_DIR
    cached, fresh = HeaderModel.load(model_dir), HeaderModel.load(model_dir)
    headers = [("合计", "合计"), ("基本支出", "本年支出 基本支出"), ("数量", "数量"), ("合计", "合计"),
               ("一般公共预算", "采购金额 一般公共预算")]
    titles = ["部门预算收支总表", "政府采购预算表", "部门预算收支总表"]
    first = cached.column_keys(headers)
    assert cached.column_keys(headers) == first  # now from the cache
    assert [fresh.column_keys([h])[0] for h in headers] == first
    assert cached.table_kinds(titles) == cached.table_kinds(titles) == [fresh.table_kinds([t])[0] for t in titles]


def test_nearest_row_by_bisection_is_the_one_min_picks():
    from pipeline.layout import _nearest_center

    rng = np.random.RandomState(7)
    for _ in range(300):
        centers = sorted(float(v) for v in rng.randint(0, 40, size=rng.randint(1, 12)))  # with repeats
        for y in [float(v) / 2 for v in range(-4, 90)]:
            expected = min(range(len(centers)), key=lambda i: abs(centers[i] - y))
            assert _nearest_center(centers, y) == expected, (centers, y)


def test_a_long_lines_words_weigh_less_and_the_encoder_weighs_them_the_same():
    """Past FULL_WORDS distinct words (FULL_NGRAMS n-grams) each weighs sqrt(full / n): a row whose cell
    explains an indicator at length must not outvote its shape and neighbours by sheer word count."""
    from pipeline.features import FULL_NGRAMS, FULL_WORDS, text_features

    short = text_features("项目支出")
    assert {v for k, v in short.items() if k.startswith(("w=", "c="))} == {1.0}
    long_text = "\t\t管理制度健全性\t健全\t部门（单位）为加强预算管理，规范财务行为而制定的管理制度是否健全完整，用以反映和考核"
    long = text_features(long_text)
    words = [v for k, v in long.items() if k.startswith("w=")]
    grams = [v for k, v in long.items() if k.startswith("c=")]
    assert len(words) > FULL_WORDS and len(grams) > FULL_NGRAMS
    assert words == pytest.approx([(FULL_WORDS / len(words)) ** 0.5] * len(words))
    assert grams == pytest.approx([(FULL_NGRAMS / len(grams)) ** 0.5] * len(grams))
    encoder = SectionClassifier.load(config.MODELS_DIR).encoder
    cols, vals = encoder.encode_text(long_text)
    by_column = dict(zip(cols, vals))
    for key, value in long.items():
        column = encoder.base.get(key)
        if column is not None:
            assert by_column[column] == pytest.approx(value)
