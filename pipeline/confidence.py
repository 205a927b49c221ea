"""Accounting checks attached to records, and record confidence (Document in, Document out).

A record's raw score combines its field confidences (models' probabilities) with the checks
that involve it; a failed check lowers it, nothing is repaired. The raw score is then mapped to
a probability of the record being right by a calibrator fitted on held-out annotated documents
(`models/calibration.json`, isotonic steps per record type); without one the raw score is reported.
"""
from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Optional

from pipeline.checks import attach_to_records, run_checks
from pipeline.model import Document, Record

FAILED_CHECK_FACTOR = 0.35
# A part of a failed sum whose row is blank throughout cannot explain the failure (seed 000's
# 支出总表: one item's 32.00 read into the wrong column failed its total, and 26 blank items with it)
NOT_IMPLICATED_FACTOR = 0.9
PASSED_CHECK_BONUS = 0.15  # pulls the score toward 1: an identity that holds is evidence


def raw_score(record: Record) -> float:
    probs = [p for p in record.field_confidence.values() if p is not None] or [0.5]
    base = math.exp(sum(math.log(max(p, 1e-6)) for p in probs) / len(probs))  # geometric mean
    base = min(base, min(probs) ** 0.5)
    failed = [c for c in record.checks if not c.ok]
    implicated = [c for c in failed if c.implicated]
    passed = [c for c in record.checks if c.ok]
    if implicated:
        base *= FAILED_CHECK_FACTOR ** min(len(implicated), 2)
    elif failed:
        base *= NOT_IMPLICATED_FACTOR
    elif passed:
        base = base + (1 - base) * PASSED_CHECK_BONUS
    return max(0.0, min(1.0, base))


MIN_TYPE_RECORDS = 200  # a record type with fewer fitting records is mapped by the map of all records


class Calibrator:
    """Monotone step maps from raw score to empirical correctness (fitted on held-out documents).

    One map per record type with enough fitting records, one over all records for the rest: a raw
    score means a different thing per type. A low score on a budget line mostly comes from a
    failed identity (about half of those lines are wrong); on an indicator or project from the
    tagger's unsure tags on long cells (such records were all right on the held-out sets)."""

    def __init__(self, thresholds: list[float], values: list[float],
                 by_type: Optional[dict[str, tuple[list[float], list[float]]]] = None):
        self.thresholds, self.values = thresholds, values
        self.by_type = by_type or {}

    @classmethod
    def load(cls, model_dir: Path) -> Optional["Calibrator"]:
        path = Path(model_dir) / "calibration.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        by_type = {t: (m["thresholds"], m["values"]) for t, m in data.get("by_type", {}).items()}
        return cls(data["thresholds"], data["values"], by_type)

    def save(self, model_dir: Path) -> None:
        data = {"thresholds": self.thresholds, "values": self.values,
                "by_type": {t: {"thresholds": x, "values": y} for t, (x, y) in self.by_type.items()}}
        (Path(model_dir) / "calibration.json").write_text(json.dumps(data))

    @staticmethod
    def _isotonic(scores: list[float], correct: list[bool]) -> tuple[list[float], list[float]]:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, [float(c) for c in correct])
        return [float(x) for x in iso.X_thresholds_], [float(y) for y in iso.y_thresholds_]

    @classmethod
    def fit(cls, scores: list[float], correct: list[bool], types: Optional[list[str]] = None,
            min_type_records: int = MIN_TYPE_RECORDS) -> "Calibrator":
        by_type = {}
        for t in sorted(set(types or [])):
            idx = [i for i, ti in enumerate(types or []) if ti == t]
            if len(idx) >= min_type_records:
                by_type[t] = cls._isotonic([scores[i] for i in idx], [correct[i] for i in idx])
        return cls(*cls._isotonic(scores, correct), by_type)

    def __call__(self, score: float, record_type: Optional[str] = None) -> float:
        thresholds, values = self.by_type.get(record_type or "", (self.thresholds, self.values))
        return _step(thresholds, values, score)


def _step(thresholds: list[float], values: list[float], score: float) -> float:
    """The isotonic map at `score`, linear between its thresholds and flat beyond them."""
    if not thresholds:
        return score
    i = bisect.bisect_right(thresholds, score)
    if i == 0:
        return values[0]
    if i >= len(thresholds):
        return values[-1]
    x0, x1 = thresholds[i - 1], thresholds[i]
    y0, y1 = values[i - 1], values[i]
    return y0 + (y1 - y0) * (score - x0) / (x1 - x0) if x1 > x0 else y1


def attach_checks(doc: Document) -> Document:
    contract = doc.to_contract()
    for rec in doc.records:
        rec.checks = []
    attach_to_records(doc.records, run_checks(contract["tables"], contract["records"]))
    return doc


def score_records(doc: Document, calibrator: Optional[Calibrator] = None) -> Document:
    for rec in doc.records:
        rec.raw_score = raw_score(rec)
        rec.confidence = calibrator(rec.raw_score, rec.type) if calibrator else rec.raw_score
    return doc
