"""Model registry aliases: every trained version becomes `challenger`; `champion` moves only on merit.

Rule: the challenger replaces the champion when its held-out budget cell F1 is higher and its
held-out section macro-F1 is not lower, both measured on the same held-out set. When the two runs
logged the same held-out hash, their logged metrics are compared; otherwise both models are
re-evaluated on the current held-out files. With no champion yet, the challenger is promoted.
Stages are deprecated in MLflow 3: aliases only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from training.train import (CELL_F1, CHALLENGER, CHAMPION, HELD_OUT_HASH_PARAM, SECTION_MACRO_F1, evaluate_model_dir,
                            flat_metrics, held_out_documents, held_out_fingerprint)

SECTION_TOLERANCE = 1e-9  # "not worse": equal macro-F1 is fine, float noise is not a regression


@dataclass
class PromotionDecision:
    name: str
    promoted: bool
    reason: str
    challenger: Optional[str] = None
    champion_before: Optional[str] = None
    compared: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (challenger, champion)
    basis: str = ""

    def render(self) -> str:
        head = (f"promoted {self.name} version {self.challenger} to '{CHAMPION}'" if self.promoted
                else f"not promoted: {self.name} '{CHAMPION}' stays at version {self.champion_before}")
        lines = [head, f"  reason: {self.reason}"]
        if self.basis:
            lines.append(f"  compared on: {self.basis}")
        for metric, (new, old) in self.compared.items():
            lines.append(f"  {metric}: challenger {new:.4f} vs champion {old:.4f}")
        return "\n".join(lines)


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def set_alias(name: str, alias: str, version: str) -> None:
    client().set_registered_model_alias(name, alias, str(version))


def version_by_alias(name: str, alias: str):
    """The ModelVersion behind the alias, None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def decide(challenger: dict[str, float], champion: dict[str, float]) -> tuple[bool, str]:
    """Better budget cell F1 and section macro-F1 not worse -> promote; otherwise say which failed."""
    for metric in (CELL_F1, SECTION_MACRO_F1):
        if metric not in challenger or metric not in champion:
            return False, f"metric {metric} missing from the {'challenger' if metric not in challenger else 'champion'}"
    new_cell, old_cell = challenger[CELL_F1], champion[CELL_F1]
    new_sec, old_sec = challenger[SECTION_MACRO_F1], champion[SECTION_MACRO_F1]
    if new_cell <= old_cell:
        return False, f"budget cell F1 does not beat the champion's ({new_cell:.4f} <= {old_cell:.4f})"
    if new_sec < old_sec - SECTION_TOLERANCE:
        return False, f"section macro-F1 is worse than the champion's ({new_sec:.4f} < {old_sec:.4f})"
    return True, (f"budget cell F1 {new_cell:.4f} > {old_cell:.4f} and section macro-F1 "
                  f"{new_sec:.4f} >= {old_sec:.4f}")


def _logged(version) -> tuple[dict[str, float], Optional[str]]:
    run = client().get_run(version.run_id)
    return dict(run.data.metrics), run.data.params.get(HELD_OUT_HASH_PARAM)


def _reevaluate(name: str, version: str, docs) -> dict[str, float]:
    from training.mlflow_models import resolve_model_dir

    return flat_metrics(evaluate_model_dir(resolve_model_dir(f"models:/{name}/{version}"), docs, log=lambda _: None))


def comparable_metrics(name: str, new, old, annotation_dirs: Sequence[Path]):
    """(challenger metrics, champion metrics, basis) on one held-out set."""
    new_metrics, new_hash = _logged(new)
    old_metrics, old_hash = _logged(old)
    if new_hash and new_hash == old_hash:
        return new_metrics, old_metrics, f"logged metrics of both runs (held-out set {new_hash[:12]})"
    docs = held_out_documents(annotation_dirs)
    current = held_out_fingerprint(docs)["sha256"]
    return (_reevaluate(name, new.version, docs), _reevaluate(name, old.version, docs),
            f"both re-evaluated on the current held-out set {current[:12]} (logged sets differ: "
            f"{(new_hash or '?')[:12]} vs {(old_hash or '?')[:12]})")


def promote(name: str, annotation_dirs: Sequence[Path], tracking_uri: Optional[str] = None) -> PromotionDecision:
    from training.tracking import use_tracking

    use_tracking(tracking_uri)
    new = version_by_alias(name, CHALLENGER)
    if new is None:
        return PromotionDecision(name, False, f"no version of '{name}' has the alias '{CHALLENGER}' (train one first)")
    old = version_by_alias(name, CHAMPION)
    if old is None:
        set_alias(name, CHAMPION, new.version)
        return PromotionDecision(name, True, "first promotion: there was no champion", challenger=new.version)
    if str(old.version) == str(new.version):
        return PromotionDecision(name, False, f"version {new.version} is already the champion",
                                 challenger=new.version, champion_before=old.version)
    new_m, old_m, basis = comparable_metrics(name, new, old, annotation_dirs)
    ok, reason = decide(new_m, old_m)
    compared = {m: (new_m[m], old_m[m]) for m in (CELL_F1, SECTION_MACRO_F1) if m in new_m and m in old_m}
    if ok:
        set_alias(name, CHAMPION, new.version)
    client().set_model_version_tag(name, str(new.version), "promotion", ("promoted: " if ok else "refused: ") + reason)
    return PromotionDecision(name, ok, reason, challenger=new.version, champion_before=old.version,
                             compared=compared, basis=basis)


def promote_main(args) -> int:
    from training.train import annotation_dirs_of

    decision = promote(args.name, annotation_dirs_of(args), tracking_uri=args.tracking_uri)
    print(decision.render())
    if decision.challenger is None:
        return 1
    already = decision.champion_before is not None and str(decision.champion_before) == str(decision.challenger)
    return 0 if decision.promoted or already else 3
