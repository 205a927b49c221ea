"""Text views of generated PDFs (training/datasets.py): every character and span carried over, rows
and wrapped cells printed the way the view promises."""
from __future__ import annotations

from collections import Counter

import pytest

from pipeline import config
from training.datasets import load_example, plain_view, tabbed_view, with_text_views

SYNTH = config.ANNOTATIONS_DIR / "synth"


def _example(pattern: str):
    files = sorted(SYNTH.glob(pattern))
    if not files:
        pytest.skip(f"no {pattern} in annotations/synth")
    return load_example(files[0])


def _spans_text(ex) -> Counter:
    return Counter((ln.text[s.start:s.end], s.label) for ln in ex.lines for s in ln.spans)


@pytest.mark.parametrize("make", [plain_view, lambda ex: tabbed_view(ex, aligned=True, whole_rows=True)])
def test_views_keep_every_character_and_span(make) -> None:
    ex = _example("synth_*_hebei_grid_narrow.jsonl")
    view = make(ex)
    assert len(view.pages) == 1 and all(ln.bbox is None for ln in view.lines)
    original = Counter("".join(ln.text for ln in ex.lines))
    printed = Counter("".join(ln.text for ln in view.lines).replace("\t", "").replace(" ", ""))
    original.pop(" ", None)
    assert printed == original
    assert _spans_text(view) == _spans_text(ex)
    assert all(ln.label for ln in view.lines)


def test_plain_view_prints_wrapped_cells_line_by_line_and_short_rows_joined() -> None:
    ex = _example("synth_*_hebei_grid_narrow.jsonl")  # narrow cells: names wrap
    view = plain_view(ex)
    texts = [ln.text for ln in view.lines]
    assert any(t.startswith("栏次 1 2 3") for t in texts)  # the index row, one line
    fragments = {ln.text for ln in ex.lines if ln.label == "subject_row" and len(ln.text) <= 4}
    assert sum(t in fragments for t in texts) > 10  # wrapped name fragments stay lines of their own
    numbers = [ln.line_no for ln in view.lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert any(b - a > 1 for a, b in zip(numbers, numbers[1:]))  # blank lines between some


def test_whole_rows_view_prints_a_wrapped_body_row_on_one_line() -> None:
    ex = _example("synth_*_wps_unruled_yuan.jsonl")
    rows = {(ex.line_tables[k], r) for k, r in ex.line_rows.items()}
    view = tabbed_view(ex, aligned=True, whole_rows=True)
    body = [ln for ln in view.lines if ln.label in ("subject_row", "indicator_row")]
    assert len(body) <= len(rows) + 5  # one line per body row (a row split by a page break: two)
    wrapped = [ln for ln in ex.lines if ln.label == "indicator_row" and len(ln.text) > 12]
    assert wrapped and all(any(w.text in b.text for b in body) for w in wrapped)


def test_every_template_gets_every_view() -> None:
    from training.datasets import load_examples

    examples = [ex for ex in load_examples([SYNTH]) if ex.split == "train"]
    views = Counter((v.template, v.view) for v in with_text_views(examples, 1.0) if v.view != "original")
    for template in {ex.template for ex in examples}:
        assert {view for t, view in views if t == template} == {"stream", "whole_rows", "tabbed", "plain"}


def test_file_order_stream_keeps_a_wrapped_cells_pieces_together() -> None:
    from training.datasets import stream_view

    ex = _example("synth_*_hebei_grid_narrow.jsonl")  # written row by row, cell by cell (seed 000's producer)
    by_reading, by_file = stream_view(ex), stream_view(ex, file_order=True)
    assert by_file.view == "stream_file_order" and by_reading.view == "stream"
    assert Counter(ln.text for ln in by_file.lines) == Counter(ln.text for ln in by_reading.lines)

    def name_runs(view) -> int:
        """Runs of two or more consecutive name pieces (short CJK subject_row lines)."""
        is_piece = [ln.label == "subject_row" and 0 < len(ln.text) <= 3 and not any(c.isdigit() for c in ln.text)
                    for ln in view.lines]
        return sum(a and b for a, b in zip(is_piece, is_piece[1:]))

    # in reading order a wrapped name's pieces are interleaved with the amounts printed beside them
    assert name_runs(by_file) > 2 * name_runs(by_reading)
    views = {v.view for v in with_text_views([ex], 1.0, file_order_streams=True)}
    assert "stream_file_order" in views and "stream" not in views


def test_whole_rows_view_labels_a_wide_tables_project_row_an_indicator_row() -> None:
    """A row of a wide targets table prints its project cells beside its indicator cells; joined into
    one line it is an indicator row (the seeds' convention, and that of a PDF line holding both),
    however many characters the project's code and name have."""
    from training.datasets import load_examples

    examples = [ex for ex in load_examples([SYNTH]) if ex.format == "pdf"
                and any(s.label == "project_code" for ln in ex.lines for s in ln.spans)]
    mixed = []
    for ex in examples:
        for ln in tabbed_view(ex, aligned=True, whole_rows=True).lines:
            labels = {s.label for s in ln.spans}
            if "project_code" in labels and labels & {"level3", "target"}:
                mixed.append(ln)
    assert len(mixed) >= 10
    assert {ln.label for ln in mixed} == {"indicator_row"}
