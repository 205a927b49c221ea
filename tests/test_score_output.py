"""`python -m training.score_output`: what an extract run wrote, scored against annotations."""
from __future__ import annotations

import json

from pipeline import config
from pipeline.run import extract_paths
from training.score_output import main, score
from training.synth import generate


def test_an_extract_run_is_scored_against_its_documents_annotations(tmp_path, capsys):
    pdfs = generate(1, tmp_path / "pdf", seed=31337, annotations_out=tmp_path / "ann", progress=False)
    extract_paths(pdfs, tmp_path / "out", model=str(config.MODELS_DIR), workers=1, progress=False)
    result = score(tmp_path / "out", tmp_path / "ann")
    assert result["documents"] == 1
    assert result["budget_cell_f1"] > 0.9 and result["metadata_right"] == 1
    assert main([str(tmp_path / "out"), str(tmp_path / "ann")]) == 0
    assert "1 documents: budget cell F1" in capsys.readouterr().out

    # a wrong figure in the output is counted as wrong
    doc = json.loads((tmp_path / "out" / "documents.jsonl").read_text(encoding="utf-8"))
    line = next(r for r in doc["records"] if r["type"] == "budget_line" and r["values"])
    key = next(k for k, v in line["values"].items() if v)
    line["values"][key] += 1
    (tmp_path / "out" / "documents.jsonl").write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    assert score(tmp_path / "out", tmp_path / "ann")["budget_cell_f1"] < result["budget_cell_f1"]


def test_no_matching_annotation_is_an_error(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "documents.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "ann").mkdir()
    assert main([str(tmp_path / "out"), str(tmp_path / "ann")]) == 1
    assert "no document" in capsys.readouterr().err


def test_by_stem_scores_a_document_converted_to_another_format(tmp_path):
    """A seed's .txt annotation scores the same document extracted from another file type (here the
    text itself renamed .md): only with --by-stem."""
    seed = sorted(config.SEEDS_DIR.glob("001_*.txt"))[0]
    converted = tmp_path / "in" / f"{seed.stem}.md"
    converted.parent.mkdir()
    converted.write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    extract_paths([converted], tmp_path / "out", model=str(config.MODELS_DIR), workers=1, progress=False)
    annotations = config.ANNOTATIONS_DIR / "seeds"
    assert score(tmp_path / "out", annotations)["documents"] == 0
    result = score(tmp_path / "out", annotations, by_stem=True)
    assert result["documents"] == 1 and result["budget_cell_f1"] > 0.9
