"""The decision and verdict.json (DESIGN.md §4), with provenance, written atomically."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from . import __version__
from ._io import write_atomic  # noqa: F401 - re-exported
from .checks import CheckResult
from .config import display_path
from .runner import SuiteOutcome

SCHEMA = "evalgate.verdict/1"
PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "onnxruntime", "onnx", "pyarrow",
            "skops", "pytest")
Decision = Literal["promote", "block"]


@dataclass(frozen=True)
class Summary:
    decision: Decision
    total: int
    failed: int  # blocking checks that failed or errored
    reasons: tuple[str, ...]

    @property
    def line(self) -> str:
        if self.decision == "promote":
            return "evalgate: PROMOTE"
        if self.total == 0:
            return "evalgate: BLOCK (no checks ran)"
        return f"evalgate: BLOCK ({self.failed} of {self.total} checks failed)"


def decide(results: Sequence[CheckResult], *, missing: Iterable[str] = ()) -> Summary:
    """Promote iff at least one check ran, no blocking check failed or errored, and every
    check that was asked for produced a result."""
    missing = list(missing)
    blocking = [r for r in results if r.blocks]
    reasons = [f"{r.id}: {r.status}" for r in blocking]
    reasons += [f"{m}: did not run" for m in missing]
    total = len(results) + len(missing)
    if not results and not missing:
        reasons.append("no checks ran: nothing shows the candidate may be promoted")
    failed = len(blocking) + len(missing)
    decision: Decision = "block" if reasons else "promote"
    return Summary(decision, total, failed, tuple(reasons))


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _model_entry(info: Any, inputs: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if info is None:
        return None
    entry = info.as_dict()
    if inputs:
        entry["inputs"] = inputs
    return entry


def _rel(path: Path | str) -> str:
    return display_path(path)


def build(outcomes: Sequence[SuiteOutcome], *, candidate: Path, seed: int | None,
          started_at: datetime, duration_s: float, missing: Iterable[str] = (),
          complete: bool = True) -> dict[str, Any]:
    """verdict.json as a dict, keys in the order of DESIGN.md §4 (extensions after)."""
    results = [r for o in outcomes for r in o.results]
    summary = decide(results, missing=missing)
    cand = next((o.candidate for o in outcomes if o.candidate is not None), None)
    champ = next((o.champion for o in outcomes if o.champion is not None), None)
    cand_inputs = next((o.inputs.get("candidate") for o in outcomes if o.inputs), None)
    champ_inputs = next((o.inputs.get("champion") for o in outcomes if o.inputs), None)
    candidate_entry = _model_entry(cand, cand_inputs) or {"path": str(candidate),
                                                          "sha256": None, "format": None}
    candidate_entry["path"] = _rel(candidate_entry["path"])
    champion_entry = _model_entry(champ, champ_inputs)
    if champion_entry is not None:
        champion_entry["path"] = _rel(champion_entry["path"])
        registry = next((o.champion_registry for o in outcomes if o.champion_registry), None)
        if registry is not None:
            champion_entry["registry"] = registry
    seeds = {o.suite.seed for o in outcomes if o.suite is not None}
    return {
        "schema": SCHEMA,
        "decision": summary.decision,
        "candidate": candidate_entry,
        "champion": champion_entry,
        "suites": [_suite_entry(o) for o in outcomes],
        "provenance": {
            "evalgate": __version__,
            "python": platform.python_version(),
            "packages": package_versions(),
            "seed": seed if seed is not None else (seeds.pop() if len(seeds) == 1 else None),
            "started_at": started_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(duration_s, 3),
            "platform": platform.platform(),
        },
        "summary": {"total": summary.total, "failed": summary.failed,
                    "reasons": list(summary.reasons), "complete": complete,
                    "not_run": list(missing)},
    }


def _suite_entry(o: SuiteOutcome) -> dict[str, Any]:
    s = o.suite
    entry: dict[str, Any] = {
        "name": o.name,
        "file": _rel(o.file),
        "sha256": s.sha256 if s is not None else None,
        "dataset": None if o.dataset is None else {
            "path": _rel(o.dataset.path), "sha256": o.dataset.sha256, "rows": o.dataset.rows},
        "checks": [r.as_dict() for r in o.results],
    }
    if s is not None:
        entry.update({"task": s.task, "seed": s.seed, "confidence": s.confidence,
                      "n_resamples": s.n_resamples})
        if o.champion is not None:
            entry["champion"] = _rel(o.champion.path)
    if o.plots:
        entry["plots"] = o.plots
    if o.error is not None:
        entry["error"] = o.error
    return entry


def dumps(verdict: dict[str, Any]) -> str:
    return json.dumps(verdict, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def now() -> datetime:
    return datetime.now(timezone.utc)
