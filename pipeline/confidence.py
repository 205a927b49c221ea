"""Accounting checks attached to records, and record confidence (Document in, Document out).

A record's raw score combines its field confidences (models' probabilities) with the checks
that involve it; a failed check lowers it, nothing is repaired. The raw score is then mapped to
a probability of the record being right by a calibrator fitted on held-out annotated documents
(`models/calibration.json`, isotonic steps); without one the raw score is reported.
"""
from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Optional

from pipeline.checks import results_by_record, run_checks
from pipeline.model import Check, Document, Record

FAILED_CHECK_FACTOR = 0.35
PASSED_CHECK_BONUS = 0.15  # pulls the score toward 1: an identity that holds is evidence


def raw_score(record: Record) -> float:
    probs = [p for p in record.field_confidence.values() if p is not None] or [0.5]
    base = math.exp(sum(math.log(max(p, 1e-6)) for p in probs) / len(probs))  # geometric mean
    base = min(base, min(probs) ** 0.5)
    failed = [c for c in record.checks if not c.ok]
    passed = [c for c in record.checks if c.ok]
    if failed:
        base *= FAILED_CHECK_FACTOR ** min(len(failed), 2)
    elif passed:
        base = base + (1 - base) * PASSED_CHECK_BONUS
    return max(0.0, min(1.0, base))


class Calibrator:
    """Monotone step map from raw score to empirical correctness (fitted by training)."""

    def __init__(self, thresholds: list[float], values: list[float]):
        self.thresholds, self.values = thresholds, values

    @classmethod
    def load(cls, model_dir: Path) -> Optional["Calibrator"]:
        path = Path(model_dir) / "calibration.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(data["thresholds"], data["values"])

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / "calibration.json").write_text(json.dumps({"thresholds": self.thresholds, "values": self.values}))

    @classmethod
    def fit(cls, scores: list[float], correct: list[bool]) -> "Calibrator":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, [float(c) for c in correct])
        return cls([float(x) for x in iso.X_thresholds_], [float(y) for y in iso.y_thresholds_])

    def __call__(self, score: float) -> float:
        if not self.thresholds:
            return score
        i = bisect.bisect_right(self.thresholds, score)
        if i == 0:
            return self.values[0]
        if i >= len(self.thresholds):
            return self.values[-1]
        x0, x1 = self.thresholds[i - 1], self.thresholds[i]
        y0, y1 = self.values[i - 1], self.values[i]
        return y0 + (y1 - y0) * (score - x0) / (x1 - x0) if x1 > x0 else y1


def attach_checks(doc: Document) -> Document:
    contract = doc.to_contract()
    results = run_checks(contract["tables"], contract["records"])
    by_record = results_by_record(results)
    for rec in doc.records:
        rec.checks = [Check(name=r.name, ok=r.ok, detail=r.detail) for r in by_record.get(rec.record_id, [])]
    return doc


def score_records(doc: Document, calibrator: Optional[Calibrator] = None) -> Document:
    for rec in doc.records:
        rec.raw_score = raw_score(rec)
        rec.confidence = calibrator(rec.raw_score) if calibrator else rec.raw_score
    return doc
