"""The fast inference paths give exactly what the reference (training) paths give.

- SectionEncoder's two matrices equal DictVectorizer.transform of the dict features, value for
  value, for the shipped models and for a model fitted here (any trained vocabulary);
- FieldTagger.tag_lines (crfsuite's tagger directly, tags cached per text and line context)
  equals sklearn-crfsuite's predict + predict_marginals, the first time and from the cache;
- run.contract_problems (compiled validator first) agrees with output.validate_contract.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.classify import SectionClassifier, _aligned_proba
from pipeline.extract import load_document
from pipeline.features import document_line_features
from pipeline.fields import FieldTagger, in_reading_order, spans_from_tags
from pipeline.model import Page
from pipeline.output import validate_contract
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
    model: SectionClassifier = request.getfixturevalue(model_name)
    for pages in documents:
        flat = [f for page in document_line_features(pages) for f in page]
        encoded = model.encoder.encode_pages(pages)
        first_reference = model.vectorizer.transform(flat)
        _assert_same_matrix(model.encoder.first_matrix(encoded), first_reference)
        first = _aligned_proba(model.first, first_reference, model.labels)
        second_reference = model.vectorizer2.transform(model._second_inputs([pages], first, flat))
        second_fast = model.encoder.second_matrix(encoded, first)
        _assert_same_matrix(second_fast, second_reference)
        assert second_reference.nnz > 20 * len(flat)  # context features really were compared
        np.testing.assert_array_equal(model.predict_proba(pages),
                                      _aligned_proba(model.second, second_reference, model.labels))


def test_encoder_cache_gives_the_same_rows_the_second_time(shipped: SectionClassifier,
                                                           documents: list[list[Page]]) -> None:
    pages = documents[0]
    again = shipped.predict_proba(pages)  # every text of the document is now cached
    np.testing.assert_array_equal(shipped.predict_proba(pages), again)


def test_field_tagger_equals_sklearn_crfsuite(shipped: SectionClassifier, documents: list[list[Page]]) -> None:
    tagger = FieldTagger.load(config.MODELS_DIR)
    for pages in documents:
        probs = shipped.predict_proba(pages)
        lines = [ln for page in pages for ln in page.lines]
        for ln, row in zip(lines, probs):
            ln.label = shipped.labels[int(row.argmax())]
        for page in pages:
            ordered = in_reading_order(page)
            sequences = list(tagger.line_sequences(ordered, page.width))
            features = [f for _, _, f in sequences]
            tags = tagger.crf.predict(features)
            marginals = tagger.crf.predict_marginals(features)
            reference = {id(ln): spans_from_tags(tokens, tg, [m[t] for m, t in zip(mg, tg)])
                         for (ln, tokens, _), tg, mg in zip(sequences, tags, marginals)}
            for attempt in ("computed", "cached"):
                got = tagger.tag_lines(ordered, page.width)
                want = [reference.get(id(ln), []) for ln in ordered]
                assert got == want, f"{attempt} tags differ on page {page.number}"
    assert len(tagger._tagged) > 100  # the second round really came from the cache


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
