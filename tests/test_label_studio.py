"""The Label Studio loop: suggest -> tasks -> (Label Studio) -> export -> import.

- Round trip: every annotated page of annotations/seeds (text) and annotations/synth (PDF)
  becomes a task and comes back from an export-shaped task identical, byte for byte; a
  generated PDF is rendered for real page images and placed beside the imported file so the
  validator compares the lines with the PDF.
- Import: validated, all or nothing; conflicts reported; malformed or partial exports refused
  with messages that name the task, the line and the fix.
- Suggest: ranking with diversity, tasks with predictions, page images, on real inputs and models.
- A real Label Studio (BUDGETDOC_LABEL_STUDIO=/path/to/bin/label-studio, set by .ci/run) on
  loopback: projects with our labeling configs, the suggested tasks imported through its REST API,
  read back, annotated through the API, exported and imported.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from pipeline import config
from pipeline.cli import main as cli_main
from pipeline.model import FIELD_LABELS, SECTION_LABELS
from training.annotations import validate_paths
from training.label_studio import labeling_config_path
from training.label_studio.importer import ImportFailed, import_export
from training.label_studio.render import page_image, render_page_png
from training.label_studio.suggest import PageCandidate, RunDocument, choose, suggest
from training.label_studio.tasks import (
    FIELD, KEY, SECTION, TABLE, TABLES, PageImage, build_task, page_from_task,
)
from training.synth import render_document

REPO = Path(__file__).resolve().parent.parent
SEED_ANNOTATIONS = sorted((REPO / "annotations" / "seeds").glob("*.jsonl"))
SYNTH_ANNOTATIONS = sorted((REPO / "annotations" / "synth").glob("*.jsonl"))
LABEL_STUDIO_ENV = "BUDGETDOC_LABEL_STUDIO"


def read_annotation(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    return rows[0], rows[1:]


def placeholder_image(page: dict[str, Any]) -> PageImage:
    """Geometry only: the conversion needs the image size, not its pixels."""
    return PageImage(url="data:image/png;base64,", width=int(page["width"] * 2), height=int(page["height"] * 2))


def as_export(tasks: list[dict[str, Any]], first_id: int = 1) -> list[dict[str, Any]]:
    """Tasks as Label Studio's JSON export gives them back: ids, timestamps, annotation metadata."""
    out = []
    for n, task in enumerate(copy.deepcopy(tasks), start=first_id):
        task["id"] = n
        task["annotations"] = [{"id": 1000 + n, "completed_by": 1, "was_cancelled": False, "ground_truth": False,
                                "created_at": "2026-01-05T10:00:00.000000Z", "updated_at": "2026-01-05T10:00:00.000000Z",
                                "lead_time": 12.5, "task": n, "project": 1, **a} for a in task.get("annotations", [])]
        task["predictions"] = list(range(len(task.get("predictions", []))))
        task.update({"drafts": [], "meta": {}, "inner_id": n, "total_annotations": len(task["annotations"])})
        out.append(json.loads(json.dumps(task)))
    return out


def annotated_from_prediction(task: dict[str, Any]) -> dict[str, Any]:
    """What an annotator submits after accepting the prediction and deleting the amount spans the
    model left without a column key (the format needs one)."""
    results = task["predictions"][0]["result"]
    keyed = {r["id"] for r in results if r["from_name"] == KEY}
    kept = [r for r in results if not (r["from_name"] == FIELD and r["value"]["labels"] == ["amount"]
                                       and r["id"] not in keyed)]
    return {**task, "annotations": [{"result": copy.deepcopy(kept)}]}


def write_export(tmp_path: Path, tasks: list[dict[str, Any]], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------ labeling configs

@pytest.mark.parametrize("fmt", ["pdf", "txt"])
def test_labeling_config_offers_every_label_of_the_format(fmt):
    root = ET.parse(labeling_config_path(fmt)).getroot()
    controls = {el.get("name"): el for el in root.iter() if el.get("toName")}
    assert set(controls) == {SECTION, TABLE, FIELD, KEY, TABLES}
    assert [lab.get("value") for lab in controls[SECTION]] == list(SECTION_LABELS)
    assert [lab.get("value") for lab in controls[FIELD]] == list(FIELD_LABELS)
    assert controls[SECTION].tag == ("RectangleLabels" if fmt == "pdf" else "Labels")
    assert controls[TABLE].get("perRegion") == "true" and controls[KEY].get("perRegion") == "true"
    objects = {el.get("name"): el.tag for el in root.iter() if el.tag in ("Image", "Text")}
    assert objects == ({"page": "Image", "text": "Text"} if fmt == "pdf" else {"text": "Text"})


# ------------------------------------------------------------------ round trip

def test_round_trip_is_lossless_on_every_annotated_page():
    pages = 0
    spans_with_key = 0
    for path in SEED_ANNOTATIONS + SYNTH_ANNOTATIONS:
        header, page_rows = read_annotation(path)
        tasks = [build_task(header, page, image=placeholder_image(page) if header["format"] == "pdf" else None)
                 for page in page_rows]
        for page, task in zip(page_rows, as_export(tasks)):
            back = page_from_task(task)
            assert back is not None and back.header == header
            # byte for byte: same keys, same order, same values (label, table_id, row, spans with
            # labels and keys, bbox / line_no, text, font, records)
            assert json.dumps(back.page, ensure_ascii=False) == json.dumps(page, ensure_ascii=False), \
                f"{path.name} page {page['page']}"
            spans_with_key += sum("key" in s for ln in back.page["lines"] for s in ln["spans"])
            pages += 1
    assert pages > 1000 and spans_with_key > 30000  # every page of both folders went through


def test_regions_drawn_by_hand_map_back_by_geometry():
    """Label Studio may give regions new ids: lines are found from the boxes and offsets alone."""
    rng = random.Random(7)
    for path in SYNTH_ANNOTATIONS[:6] + SEED_ANNOTATIONS:
        header, page_rows = read_annotation(path)
        for page in page_rows:
            task = as_export([build_task(header, page, image=placeholder_image(page) if header["format"] == "pdf"
                                         else None)])[0]
            new_ids: dict[str, str] = {}
            for r in task["annotations"][0]["result"]:
                r["id"] = new_ids.setdefault(r["id"], "".join(rng.choice("abcdefghijkLMNOP_-0123") for _ in range(10)))
            assert page_from_task(task).page == page


@pytest.fixture(scope="module")
def rendered_synth(tmp_path_factory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    """synth_0005 re-rendered byte for byte from the fixed seed, with its committed annotation."""
    spec, pdf, _, _ = render_document(5, config.SYNTH_SEED)
    header, page_rows = read_annotation(REPO / "annotations" / "synth" / f"{spec.doc_name}.jsonl")
    assert hashlib.sha256(pdf).hexdigest() == header["source_sha256"]
    folder = tmp_path_factory.mktemp("synth")
    path = folder / header["source"]
    path.write_bytes(pdf)
    return path, header, page_rows


def gold_tasks(pdf_path: Path, header: dict[str, Any], page_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    tasks = []
    with pymupdf.open(str(pdf_path)) as pdf:
        for page in page_rows:
            png, width, height = render_page_png(pdf, page["page"], zoom=1.0)
            tasks.append(build_task(header, page, image=page_image(png, width, height, "x.png", None)))
    return tasks


def test_rendered_pdf_pages_import_to_the_committed_annotation(rendered_synth, tmp_path):
    pdf_path, header, page_rows = rendered_synth
    tasks = gold_tasks(pdf_path, header, page_rows)
    first = tasks[0]
    assert first["data"]["image"].startswith("data:image/png;base64,")
    assert abs(first["data"]["budgetdoc"]["image"]["width"] - page_rows[0]["width"]) <= 1  # zoom 1: a pixel a point
    out = tmp_path / "imported"
    out.mkdir()
    shutil.copy(pdf_path, out / pdf_path.name)  # beside the file: the validator checks every line against the PDF
    report = import_export(write_export(tmp_path, as_export(tasks)), out, annotation_roots=[out])
    written = out / f"{header['doc_name']}.jsonl"
    assert [f.path for f in report.files] == [written] and report.imported == len(page_rows)
    assert validate_paths([written]) == ([], 1)
    got_header, got_pages = read_annotation(written)
    assert got_pages == page_rows and got_header == header


# ------------------------------------------------------------------ import: merge, conflicts, errors

@pytest.fixture()
def seed_tasks() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    header, page_rows = read_annotation(REPO / "annotations" / "seeds" / "seed_001_yuanshi_2020.jsonl")
    return header, page_rows, as_export([build_task(header, p) for p in page_rows])


def test_import_merges_pages_and_leaves_identical_ones_alone(rendered_synth, tmp_path):
    pdf_path, header, page_rows = rendered_synth
    tasks = as_export(gold_tasks(pdf_path, header, page_rows))
    out = tmp_path / "out"
    import_export(write_export(tmp_path, tasks[:3], "first.json"), out, annotation_roots=[out])
    target = out / f"{header['doc_name']}.jsonl"
    assert [p["page"] for p in read_annotation(target)[1]] == [1, 2, 3]
    before = target.read_bytes()
    again = import_export(write_export(tmp_path, tasks[:3], "again.json"), out, annotation_roots=[out])
    assert again.files[0].unchanged == [1, 2, 3] and not again.files[0].changed
    assert target.read_bytes() == before
    more = import_export(write_export(tmp_path, tasks[2:5], "more.json"), out, annotation_roots=[out])
    assert more.files[0].added == [4, 5] and more.files[0].unchanged == [3]
    on_new_pages = [t for t in header["tables"] if set(t["pages"]) & {4, 5}]
    assert on_new_pages and more.files[0].tables_added == [t["table_id"] for t in on_new_pages]
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[1:4] == before.decode("utf-8").splitlines()[1:4]  # pages 1-3 byte for byte
    got_header, got_pages = read_annotation(target)
    on_first_pages = [t for t in header["tables"] if set(t["pages"]) & {1, 2, 3}]
    assert got_pages == page_rows[:5] and got_header == {**header, "tables": on_first_pages + on_new_pages}


def test_conflicting_page_is_reported_and_nothing_is_written(seed_tasks, tmp_path):
    header, page_rows, tasks = seed_tasks
    original = REPO / "annotations" / "seeds" / "seed_001_yuanshi_2020.jsonl"
    copy_dir = tmp_path / "annotations"
    copy_dir.mkdir()
    target = copy_dir / original.name
    shutil.copy(original, target)
    before = target.read_bytes()
    edited = copy.deepcopy(tasks)
    region = next(r for r in edited[0]["annotations"][0]["result"]
                  if r["from_name"] == SECTION and r["value"]["labels"] == ["subject_row"])
    region["value"]["labels"] = ["note"]
    export = write_export(tmp_path, edited)
    with pytest.raises(ImportFailed) as failed:
        import_export(export, tmp_path / "imported", annotation_roots=[copy_dir])
    assert failed.value.conflicts
    message = "\n".join(failed.value.problems)
    assert str(target) in message and "label 'subject_row' -> 'note'" in message and "--overwrite" in message
    assert target.read_bytes() == before and not (tmp_path / "imported").exists()
    assert cli_main(["annotations", "import", str(export), "--out", str(tmp_path / "imported"),
                     "--annotations", str(copy_dir)]) == 1
    assert target.read_bytes() == before
    report = import_export(export, tmp_path / "imported", annotation_roots=[copy_dir], overwrite=True)
    assert report.files[0].path == target and report.files[0].replaced == [1]
    assert sum(ln["label"] == "note" for ln in read_annotation(target)[1][0]["lines"]) == \
        sum(ln["label"] == "note" for ln in page_rows[0]["lines"]) + 1


def _drop_section_region(task: dict[str, Any]) -> None:
    results = task["annotations"][0]["result"]
    victim = next(r["id"] for r in results if r["from_name"] == SECTION)
    task["annotations"][0]["result"] = [r for r in results if r["id"] != victim]


def _cross_line_field(task: dict[str, Any]) -> None:
    field = next(r for r in task["annotations"][0]["result"] if r["from_name"] == FIELD)
    field["value"]["end"] = field["value"]["start"] + 400


def _amount_without_key(task: dict[str, Any]) -> None:
    results = task["annotations"][0]["result"]
    key = next(r for r in results if r["from_name"] == KEY)
    results.remove(key)


def _bad_table_field(task: dict[str, Any]) -> None:
    next(r for r in task["annotations"][0]["result"] if r["from_name"] == TABLE)["value"]["text"] = ["t02 eleven"]


def _bad_tables_box(task: dict[str, Any]) -> None:
    box = next(r for r in task["annotations"][0]["result"] if r["from_name"] == TABLES)
    box["value"]["text"] = ['{"table_id": "t01", "kind": "revenue_expenditure_summary", "title": "x", "columns": [']


def _undeclared_table(task: dict[str, Any]) -> None:
    next(r for r in task["annotations"][0]["result"] if r["from_name"] == TABLE)["value"]["text"] = ["t99 0"]


def _unknown_label(task: dict[str, Any]) -> None:
    next(r for r in task["annotations"][0]["result"] if r["from_name"] == SECTION)["value"]["labels"] = ["heading"]


def _lost_budgetdoc_data(task: dict[str, Any]) -> None:
    del task["data"]["budgetdoc"]["lines"]


@pytest.mark.parametrize("break_task, expected", [
    (_drop_section_region, "has no section label"),
    (_cross_line_field, "must not cross a line break"),
    (_amount_without_key, "has no column key: type it in the span's key field"),
    (_bad_table_field, "the row must be a 0-based integer"),
    (_bad_tables_box, "tables field line 1 is not one JSON object"),
    (_undeclared_table, "table_id 't99' is not declared in the document header"),
    (_unknown_label, "unknown section label 'heading'"),
    (_lost_budgetdoc_data, "data.budgetdoc is incomplete"),
])
def test_broken_task_is_refused_with_a_clear_message_and_nothing_is_written(seed_tasks, rendered_synth, tmp_path,
                                                                              break_task, expected):
    """One good document and one broken task in the same export: neither is written."""
    _, _, tasks = seed_tasks
    pdf_path, header, page_rows = rendered_synth
    good = as_export(gold_tasks(pdf_path, header, page_rows[:2]), first_id=10)
    broken = copy.deepcopy(tasks)
    break_task(broken[0])
    out = tmp_path / "out"
    with pytest.raises(ImportFailed) as failed:
        import_export(write_export(tmp_path, good + broken), out, annotation_roots=[out])
    message = "\n".join(failed.value.problems)
    assert expected in message
    assert "task 1" in message  # the broken task is named
    assert not out.exists() or not any(out.iterdir())


def test_partial_and_foreign_exports_are_refused(tmp_path, seed_tasks):
    _, _, tasks = seed_tasks
    text = json.dumps(tasks, ensure_ascii=False)
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ImportFailed, match="not valid JSON .*cut-short download"):
        import_export(cut, tmp_path / "out", annotation_roots=[])
    json_min = write_export(tmp_path, [{"id": 1, "text": "…", "section": [{"start": 0, "end": 3}]}], "min.json")
    with pytest.raises(ImportFailed, match="not a task written by `budgetdoc suggest`"):
        import_export(json_min, tmp_path / "out", annotation_roots=[])
    no_annotations = copy.deepcopy(tasks)
    del no_annotations[0]["annotations"]
    with pytest.raises(ImportFailed, match="export the project as JSON"):
        import_export(write_export(tmp_path, no_annotations, "csvlike.json"), tmp_path / "out", annotation_roots=[])
    assert not (tmp_path / "out").exists()


def test_unannotated_and_cancelled_tasks_are_skipped(seed_tasks, tmp_path):
    _, _, tasks = seed_tasks
    pending = copy.deepcopy(tasks[0])
    pending["id"] = 2
    pending["annotations"] = []
    cancelled = copy.deepcopy(tasks[0])
    cancelled["id"] = 3
    cancelled["annotations"][0]["was_cancelled"] = True
    export = write_export(tmp_path, [pending, cancelled])
    report = import_export(export, tmp_path / "out", annotation_roots=[])
    assert report.imported == 0 and report.not_annotated == [2, 3]
    assert cli_main(["annotations", "import", str(export), "--out", str(tmp_path / "out"),
                     "--annotations", str(tmp_path / "out")]) == 1  # nothing imported is not a success
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_last_updated_annotation_of_a_task_is_imported(seed_tasks, tmp_path):
    """Label Studio marks annotations imported with a task as ground truth; a reviewer's later one wins."""
    header, page_rows, tasks = seed_tasks
    task = copy.deepcopy(tasks[0])
    gold = task["annotations"][0]
    gold["ground_truth"] = True
    review = copy.deepcopy(gold)
    review.update({"id": 2001, "ground_truth": False, "updated_at": "2026-01-06T09:00:00.000000Z"})
    region = next(r for r in review["result"] if r["from_name"] == SECTION and r["value"]["labels"] == ["narrative"])
    region["value"]["labels"] = ["other"]
    task["annotations"] = [gold, review]
    report = import_export(write_export(tmp_path, [task]), tmp_path / "out", annotation_roots=[])
    assert [p.annotation_id for p in report.several] == [2001]
    assert "2 annotations, imported the last updated one (#2001)" in report.render()
    _, pages = read_annotation(tmp_path / "out" / f"{header['doc_name']}.jsonl")
    labels = [ln["label"] for ln in pages[0]["lines"]]
    assert labels.count("narrative") == [ln["label"] for ln in page_rows[0]["lines"]].count("narrative") - 1


def test_same_page_annotated_twice_differently_is_refused(seed_tasks, tmp_path):
    _, _, tasks = seed_tasks
    twice = copy.deepcopy(tasks) + copy.deepcopy(tasks)
    twice[1]["id"] = 2
    region = next(r for r in twice[1]["annotations"][0]["result"] if r["from_name"] == SECTION)
    region["value"]["labels"] = ["other" if region["value"]["labels"] != ["other"] else "note"]
    with pytest.raises(ImportFailed, match="annotated differently in tasks 1 and 2"):
        import_export(write_export(tmp_path, twice), tmp_path / "out", annotation_roots=[])


def test_imported_documents_are_always_in_the_training_set(suggested, tmp_path):
    """Generated documents are capped (templates in turn); pages annotated by hand never are."""
    from training.build_models import training_documents
    from training.datasets import load_examples

    tasks = [annotated_from_prediction(t) for d in ("pdf", "text")
             for t in json.loads((suggested / d / "tasks.json").read_text(encoding="utf-8"))]
    out = tmp_path / "imported"
    import_export(write_export(tmp_path, as_export(tasks)), out, annotation_roots=[out])
    examples = load_examples([REPO / "annotations", out])
    chosen = training_documents(examples, max_synth=5)
    imported = {ex.name for ex in examples if ex.origin == "label_studio"}
    assert len(imported) == 2 and imported <= {ex.name for ex in chosen}
    assert sum(ex.origin == "synth" for ex in chosen) == 5


def test_tables_field_edits_the_header(seed_tasks, tmp_path):
    header, page_rows, tasks = seed_tasks
    edited = copy.deepcopy(tasks)
    box = next(r for r in edited[0]["annotations"][0]["result"] if r["from_name"] == TABLES)
    tables = [json.loads(t) for t in box["value"]["text"][0].splitlines()]
    tables[0]["kind"] = "fiscal_summary"
    box["value"]["text"] = ["\n".join(json.dumps(t, ensure_ascii=False) for t in tables)]
    out = tmp_path / "out"
    import_export(write_export(tmp_path, edited), out, annotation_roots=[out])
    got, _ = read_annotation(out / f"{header['doc_name']}.jsonl")
    assert got["tables"][0]["kind"] == "fiscal_summary" and got["tables"][0]["pages"] == header["tables"][0]["pages"]
    assert got["tables"][1:] == header["tables"][1:]


# ------------------------------------------------------------------ suggest

def test_choose_spreads_pages_over_documents_departments_and_layouts():
    docs = {name: RunDocument(contract={"doc_id": name, "department": {"name": dept}, "source": name},
                              path=Path(name), fmt="pdf", layout=layout)
            for name, dept, layout in (("a", "x", "l1"), ("b", "x", "l1"), ("c", "y", "l2"))}
    candidates = []
    for name, scores in (("a", [2.0, 1.9, 1.8, 1.7, 1.6, 1.5]), ("b", [0.9, 0.8]), ("c", [0.5, 0.4])):
        for page, score in enumerate(scores, start=1):
            candidates.append(PageCandidate(run_doc=docs[name], page=page, lines=5, score=score))
    chosen = choose(candidates, 6)
    per_doc = {name: sum(c.run_doc.doc_id == name for c in chosen) for name in docs}
    assert per_doc["a"] <= 3  # ceil(6 / 3) + 1: no 6 pages of one document
    assert per_doc["b"] >= 1 and per_doc["c"] >= 1
    assert chosen[0].run_doc.doc_id == "a" and chosen[0].page == 1
    assert choose(candidates, 0) == [] and len(choose(candidates, 100)) == len(candidates)


@pytest.fixture(scope="module")
def suggested(tmp_path_factory) -> Path:
    """A run over one generated PDF and one real seed text, and the suggested tasks of its pages."""
    from pipeline.run import extract_paths

    folder = tmp_path_factory.mktemp("suggest")
    inputs = folder / "inputs"
    inputs.mkdir()
    shutil.copy(REPO / "samples" / "sample_0002_word_three_line.pdf", inputs)
    shutil.copy(next(config.SEEDS_DIR.glob("001_*.txt")), inputs)
    extract_paths([inputs], folder / "run", model=str(config.MODELS_DIR), progress=False)
    result = suggest(folder / "run", 5, folder / "ls", config.MODELS_DIR, annotation_roots=[], progress=False)
    assert len(result.chosen) == 5
    return folder / "ls"


def test_suggest_writes_tasks_with_predictions_and_page_images(suggested):
    pdf_tasks = json.loads((suggested / "pdf" / "tasks.json").read_text(encoding="utf-8"))
    text_tasks = json.loads((suggested / "text" / "tasks.json").read_text(encoding="utf-8"))
    assert len(pdf_tasks) == 4 and len(text_tasks) == 1  # ceil(5 / 2) + 1 = 4 pages of one document at most
    assert (suggested / "pdf" / "labeling_config.xml").read_text() == labeling_config_path("pdf").read_text()
    ranked = (suggested / "suggestions.tsv").read_text(encoding="utf-8").splitlines()
    assert len(ranked) == 6 and ranked[0].startswith("rank\t")
    for task in pdf_tasks + text_tasks:
        meta = task["data"]["budgetdoc"]
        prediction = task["predictions"][0]
        assert 0.0 <= prediction["score"] <= 1.0 and meta["why"]["score"] >= 0
        assert "annotations" not in task  # nothing annotated yet: the model's reading is a prediction
        labels = [r for r in prediction["result"] if r["from_name"] == SECTION]
        assert len(labels) == len(meta["lines"]) and all(0 <= r["score"] <= 1 for r in labels)
        assert meta["document"]["origin"] == "label_studio" and meta["document"]["split"] == "train"
    for task in pdf_tasks:
        meta = task["data"]["budgetdoc"]
        png = suggested / "pdf" / "pages" / f"{meta['document']['doc_name']}_p{meta['page']['page']:03d}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pix = pymupdf.Pixmap(str(png))
        assert (pix.width, pix.height) == (meta["image"]["width"], meta["image"]["height"])
        assert task["data"]["image"].startswith("data:image/png;base64,")
        assert all(r["type"] == "rectanglelabels" for r in task["predictions"][0]["result"] if r["from_name"] == SECTION)
    keyed = sum(r["from_name"] == KEY for t in pdf_tasks + text_tasks for r in t["predictions"][0]["result"])
    amounts = sum(r["from_name"] == FIELD and r["value"]["labels"] == ["amount"]
                  for t in pdf_tasks + text_tasks for r in t["predictions"][0]["result"])
    assert amounts and keyed / amounts > 0.8  # most amount spans come with the model's column key


def test_accepted_predictions_import_as_valid_annotations(suggested, tmp_path):
    tasks = [annotated_from_prediction(t) for d in ("pdf", "text")
             for t in json.loads((suggested / d / "tasks.json").read_text(encoding="utf-8"))]
    out = tmp_path / "imported"
    report = import_export(write_export(tmp_path, as_export(tasks)), out, annotation_roots=[out])
    assert report.imported == 5 and len(report.files) == 2
    assert validate_paths([out]) == ([], 2)


def test_suggest_leaves_annotated_pages_out_unless_asked(tmp_path):
    from pipeline.run import extract_paths

    seed = next(config.SEEDS_DIR.glob("001_*.txt"))
    extract_paths([seed], tmp_path / "run", model=str(config.MODELS_DIR), progress=False)
    roots = [REPO / "annotations" / "seeds"]
    result = suggest(tmp_path / "run", 3, tmp_path / "ls", config.MODELS_DIR, roots, progress=False)
    assert result.chosen == [] and result.already_annotated == 1
    result = suggest(tmp_path / "run", 3, tmp_path / "ls", config.MODELS_DIR, roots, include_annotated=True,
                     progress=False)
    task = json.loads((tmp_path / "ls" / "text" / "tasks.json").read_text(encoding="utf-8"))[0]
    header, page_rows = read_annotation(REPO / "annotations" / "seeds" / "seed_001_yuanshi_2020.jsonl")
    assert task["data"]["budgetdoc"]["document"] == header  # reviewing the gold: its header, its annotation
    back = page_from_task(as_export([task])[0])
    assert back.page == page_rows[0]
    report = import_export(write_export(tmp_path, as_export([task])), tmp_path / "imported", annotation_roots=roots)
    assert report.files[0].path == roots[0] / "seed_001_yuanshi_2020.jsonl" and report.files[0].unchanged == [1]


# ------------------------------------------------------------------ a real Label Studio

class LabelStudio:
    """REST client (urllib: the project needs no Label Studio package) of a server started here."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def call(self, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Token {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode('utf-8', 'replace')[:2000]}")
        return json.loads(raw) if raw else None

    def project(self, title: str, label_config: str) -> int:
        return self.call("POST", "/api/projects", {"title": title, "label_config": label_config})["id"]

    def tasks(self, project: int) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/tasks?project={project}&page_size=1000&fields=all")["tasks"]

    def export(self, project: int) -> list[dict[str, Any]]:
        return self.call("GET", f"/api/projects/{project}/export?exportType=JSON&download_all_tasks=true")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    binary = os.environ.get(LABEL_STUDIO_ENV)
    if not binary:
        pytest.skip(f"{LABEL_STUDIO_ENV} is not set (.ci/run sets it to a Label Studio in .ci/.venv-label-studio)")
    data_dir = tmp_path_factory.mktemp("label_studio")
    port, token = _free_port(), "budgetdoc-test-token-0123456789"
    env = {**os.environ, "LABEL_STUDIO_SENTRY_DSN": "", "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
           "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false", "LOG_LEVEL": "WARNING"}
    log = open(data_dir / "server.log", "wb")
    server = subprocess.Popen(
        [binary, "start", "--internal-host", "127.0.0.1", "-p", str(port), "--no-browser", "--data-dir", str(data_dir),
         "--username", "annotator@example.com", "--password", "budgetdoc-test-password", "--user-token", token,
         "--enable-legacy-api-token"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180  # 30 s on 2 idle cores; migrations of a fresh database are most of it
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if json.loads(response.read()).get("status") == "UP":
                        break
            except (OSError, ValueError):
                pass
            if server.poll() is not None or time.time() > deadline:
                log.flush()
                tail = (data_dir / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Label Studio did not come up on {url} (exit {server.poll()}):\n{tail}")
            time.sleep(1)
        yield LabelStudio(url, token)
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()


@pytest.mark.slow
def test_label_studio_takes_suggested_tasks_and_gives_back_importable_annotations(label_studio, suggested, tmp_path):
    exports = []
    for fmt_dir in ("pdf", "text"):
        sent = json.loads((suggested / fmt_dir / "tasks.json").read_text(encoding="utf-8"))
        project = label_studio.project(f"budgetdoc {fmt_dir}",
                                       (suggested / fmt_dir / "labeling_config.xml").read_text(encoding="utf-8"))
        summary = label_studio.call("POST", f"/api/projects/{project}/import", sent)
        assert (summary["task_count"], summary["prediction_count"]) == (len(sent), len(sent))
        stored = sorted(label_studio.tasks(project), key=lambda t: t["id"])
        assert [t["data"] for t in stored] == [t["data"] for t in sent]  # text, image, budgetdoc data intact
        predictions = label_studio.call("GET", f"/api/predictions?project={project}")
        by_task = {p["task"]: p for p in predictions}
        for task, original in zip(stored, sent):
            assert by_task[task["id"]]["result"] == original["predictions"][0]["result"]
            assert by_task[task["id"]]["score"] == pytest.approx(original["predictions"][0]["score"])
        # annotate through the API as the labeling UI does: the prediction accepted, keyless amounts
        # removed, and on the first task one line relabelled
        for n, (task, original) in enumerate(zip(stored, sent)):
            result = annotated_from_prediction(original)["annotations"][0]["result"]
            if n == 0:
                region = next(r for r in result if r["from_name"] == SECTION)
                region["value"][region["type"]] = ["note"]
            label_studio.call("POST", f"/api/tasks/{task['id']}/annotations", {"result": result, "lead_time": 3.0})
        export = label_studio.export(project)
        assert len(export) == len(sent) and all(len(t["annotations"]) == 1 for t in export)
        exports.extend(export)
    path = write_export(tmp_path, exports)
    out = tmp_path / "imported"
    report = import_export(path, out, annotation_roots=[out])
    assert report.imported == 5
    assert validate_paths([out]) == ([], 2)
    first_pdf = exports[0]["data"]["budgetdoc"]
    header, pages = read_annotation(out / f"{first_pdf['document']['doc_name']}.jsonl")
    page = next(p for p in pages if p["page"] == first_pdf["page"]["page"])
    assert page["lines"][0]["label"] == "note"
    assert [ln["text"] for ln in page["lines"]] == [ln["text"] for ln in first_pdf["lines"]]


@pytest.mark.slow
def test_label_studio_round_trip_of_gold_annotations_is_lossless(label_studio, rendered_synth, tmp_path):
    pdf_path, header, page_rows = rendered_synth
    seed_header, seed_pages = read_annotation(REPO / "annotations" / "seeds" / "seed_002_chanhe_2022.jsonl")
    exports = []
    for title, config_fmt, tasks in (("gold pdf", "pdf", gold_tasks(pdf_path, header, page_rows)),
                                     ("gold text", "txt", [build_task(seed_header, p) for p in seed_pages])):
        project = label_studio.project(title, labeling_config_path(config_fmt).read_text(encoding="utf-8"))
        summary = label_studio.call("POST", f"/api/projects/{project}/import", tasks)
        assert (summary["task_count"], summary["annotation_count"]) == (len(tasks), len(tasks))
        exports.extend(label_studio.export(project))
    out = tmp_path / "imported"
    out.mkdir()
    shutil.copy(pdf_path, out / pdf_path.name)  # the validator compares every line with the PDF
    import_export(write_export(tmp_path, exports), out, annotation_roots=[out])
    assert read_annotation(out / f"{header['doc_name']}.jsonl") == (header, page_rows)
    assert read_annotation(out / f"{seed_header['doc_name']}.jsonl") == (seed_header, seed_pages)
    assert validate_paths([out]) == ([], 2)
