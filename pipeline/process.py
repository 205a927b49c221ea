"""The inference pipeline: one Processor holds the loaded models and runs every stage.

    load_document -> classify -> tag_fields -> assemble -> detect_metadata -> attach_checks -> score
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.assemble import RuleHeaderModel, assemble
from pipeline.confidence import Calibrator, attach_checks, score_records
from pipeline.metadata import detect_metadata
from pipeline.model import Document


class ModelsMissing(RuntimeError):
    pass


class Processor:
    def __init__(self, model_dir: str | Path):
        from pipeline.classify import SectionClassifier
        from pipeline.fields import FieldTagger
        from pipeline.header_model import HeaderModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "manifest.json").exists():
            raise ModelsMissing(
                f"no models in {self.model_dir} (manifest.json missing): pass --model with a model folder, "
                "or rebuild the shipped ones with `python -m training.build_models`")
        manifest = json.loads((self.model_dir / "manifest.json").read_text())
        self.name = manifest.get("name", "budgetdoc-default")
        self.version = str(manifest.get("version", "0"))
        self.sections = SectionClassifier.load(self.model_dir)
        self.fields = FieldTagger.load(self.model_dir)
        self.headers = HeaderModel.load(self.model_dir) if (self.model_dir / "header_keys.skops").exists() else RuleHeaderModel()
        self.calibrator = Calibrator.load(self.model_dir)

    def process(self, doc: Document) -> Document:
        doc.model_name, doc.model_version = self.name, self.version
        if doc.status == "failed":
            return doc
        from pipeline.classify import classify
        from pipeline.fields import tag_fields

        classify(doc, self.sections)
        tag_fields(doc, self.fields)
        detect_metadata(doc)  # before assembly: a department-wide performance table is about the department
        assemble(doc, self.headers)
        attach_checks(doc)
        score_records(doc, self.calibrator)
        if not doc.records and doc.status == "ok":
            doc.warn("no_records", "no budget tables, indicators or figures were found in this document")
        return doc
