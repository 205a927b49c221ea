"""The inference pipeline: one Processor holds the loaded models and runs every stage.

    load_document -> classify -> tag_fields -> detect_metadata -> assemble -> attach_checks -> score
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

from pipeline.assemble import RuleHeaderModel, assemble
from pipeline.confidence import Calibrator, attach_checks, score_records
from pipeline.metadata import detect_metadata
from pipeline.extract import NOT_A_DISCLOSURE
from pipeline.model import Document


class ModelsMissing(RuntimeError):
    pass


class Processor:
    def __init__(self, model_dir: str | Path):
        from pipeline.classify import SectionClassifier
        from pipeline.features import load_tokenizer
        from pipeline.fields import FieldTagger
        from pipeline.header_model import KEYS_FILE, HeaderModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "manifest.json").exists():
            raise ModelsMissing(
                f"no models in {self.model_dir} (manifest.json missing): pass --model with a model folder, "
                "or rebuild the shipped ones with `python -m training.build_models`")
        if (self.model_dir / "section.skops").exists() and not (self.model_dir / "section.npz").exists():
            raise ModelsMissing(
                f"{self.model_dir} holds models in the .skops format of budgetdoc before 2026-12; retrain it "
                "with `budgetdoc train` (or `python -m training.build_models --out DIR`) to get .npz files")
        manifest = json.loads((self.model_dir / "manifest.json").read_text())
        self.name = manifest.get("name", "budgetdoc-default")
        self.version = str(manifest.get("version", "0"))
        self.sections = SectionClassifier.load(self.model_dir)
        self.fields = FieldTagger.load(self.model_dir)
        load_tokenizer()  # part of start-up, like the models
        self.headers = HeaderModel.load(self.model_dir) if (self.model_dir / KEYS_FILE).exists() else RuleHeaderModel()
        self.calibrator = Calibrator.load(self.model_dir)

    def process(self, doc: Document, timings: Optional[dict[str, float]] = None,
                clock: Callable[[], float] = time.perf_counter) -> Document:
        """Run every stage on the document; `timings` (stage -> seconds of `clock`) is added to when given."""
        doc.model_name, doc.model_version = self.name, self.version
        if doc.status == "failed":
            return doc
        from pipeline.classify import classify
        from pipeline.fields import tag_fields

        stages: tuple[tuple[str, Callable[[Document], object]], ...] = (
            ("classify", lambda d: classify(d, self.sections)),
            ("fields", lambda d: tag_fields(d, self.fields)),
            ("metadata", detect_metadata),  # before assembly: a department-wide performance table is about the department
            ("assemble", lambda d: assemble(d, self.headers)),
            ("checks", attach_checks),
            ("scores", lambda d: score_records(d, self.calibrator)),
        )
        for name, stage in stages:
            started = clock()
            stage(doc)
            if timings is not None:
                timings[name] = timings.get(name, 0.0) + clock() - started
        if not doc.records and doc.status == "ok":
            doc.warn("no_records", "no budget tables, indicators or figures were found in this document")
        elif not doc.department.name and doc.fiscal_year is None and all(e.code != NOT_A_DISCLOSURE for e in doc.errors):
            # every disclosure names its department and its year somewhere (title, cover, table heads)
            doc.warn(NOT_A_DISCLOSURE, "no department and no fiscal year were found anywhere in the text: it is "
                     "probably not a department's budget or final-accounts disclosure (its records are kept); "
                     "check that it is the right file")
        return doc
