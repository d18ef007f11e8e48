"""verdict.json built from the engine's outcomes (DESIGN.md §4), with provenance, and the
``block`` "run in progress" verdict a run writes before it starts."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import display_path
from ..data import Dataset
from ..engine import SuiteOutcome
from ..models import ModelInfo
from ..models.formats import FORMATS
from .decide import IN_PROGRESS, Summary, decide
from .evidence import environment, git_state, resolved, suite_files
from .model import SCHEMA, Verdict

#: the distributions recorded in the provenance: the gate's own, and those of every model
#: format it reads (:data:`evalgate.models.formats.FORMATS`)
PACKAGES = tuple(dict.fromkeys(("numpy", "pandas", "scipy", "pyarrow", "pytest",
                                *(p for f in FORMATS for p in f.packages))))


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _model_entry(info: ModelInfo | None, inputs: dict[str, Any] | None = None
                 ) -> dict[str, Any] | None:
    if info is None:
        return None
    entry = info.as_dict()
    if inputs:
        entry["inputs"] = inputs
    return entry


def _rel(path: Path | str) -> str:
    return display_path(path)


def build(outcomes: Sequence[SuiteOutcome], *, candidate: Path, seed: int | None,
          started_at: datetime, duration_s: float,
          not_run: Iterable[str] = (), suites_path: Path | None = None,
          plots: Mapping[int, dict[str, Any]] | None = None,
          engine: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """verdict.json as a dict, keys in the order of DESIGN.md §4 (extensions after).
    ``engine``: the engine that ran the gate, as its ``info()`` (default: the local one)."""
    results = [r for o in outcomes for r in o.results]
    summary = decide(results, not_run=not_run)
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
    return checked({
        "schema": SCHEMA,
        "decision": summary.decision,
        "candidate": candidate_entry,
        "champion": champion_entry,
        "suites": [_suite_entry(o, (plots or {}).get(i)) for i, o in enumerate(outcomes)],
        "provenance": {
            "evalgate": __version__,
            "python": platform.python_version(),
            "packages": package_versions(),
            "seed": seed if seed is not None else (seeds.pop() if len(seeds) == 1 else None),
            "started_at": started_at.astimezone(UTC).isoformat(timespec="seconds"),
            "duration_s": round(duration_s, 3),
            "platform": platform.platform(),
            "engine": dict(engine) if engine is not None else {"name": "local"},
            "git": git_state(Path.cwd()),
            "environment": environment(),
        },
        "summary": summary_entry(summary),
        # where the gate found its suites: promote re-plans it, so a suite added since the run
        # (or one left out of the verdict) is refused
        "gate": {"suites": None if suites_path is None else _rel(suites_path)},
        **_attempt(outcomes),
    })


def _attempt(outcomes: Sequence[SuiteOutcome]) -> dict[str, Any]:
    """``attempt``: the largest over the suites a ledger counted (absent when none did)."""
    counted = [o.spending.attempt for o in outcomes
               if o.spending is not None and o.spending.attempt is not None]
    return {"attempt": max(counted)} if counted else {}


def checked(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, once it reads back as a :class:`~evalgate.verdict.model.Verdict`: the gate
    never writes a verdict its own readers would refuse."""
    Verdict.from_dict(doc, "verdict")
    return doc


def summary_entry(summary: Summary) -> dict[str, Any]:
    return {"total": summary.total, "failed": summary.failed, "decided": summary.decided,
            "reasons": list(summary.reasons), "complete": summary.complete,
            "not_run": list(summary.not_run)}


def in_progress(candidate: Path, started_at: datetime) -> dict[str, Any]:
    """The verdict a gate run writes before it starts: ``block``, so that a crash, a kill or
    a hang never leaves an earlier ``promote`` in place."""
    return checked({
        "schema": SCHEMA, "decision": "block",
        "candidate": {"path": _rel(candidate), "sha256": None, "format": None},
        "champion": None, "suites": [],
        "provenance": {"evalgate": __version__, "python": platform.python_version(),
                       "packages": {}, "seed": None,
                       "started_at": started_at.astimezone(UTC).isoformat(
                           timespec="seconds"),
                       "duration_s": None, "platform": platform.platform()},
        "summary": {"total": 0, "failed": 0, "decided": 0, "reasons": [IN_PROGRESS],
                    "complete": False, "not_run": [], "in_progress": True},
    })


def _dataset_entry(d: Dataset) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": _rel(d.path), "sha256": d.sha256, "rows": d.rows}
    if d.files:
        entry["files"] = [{"path": _rel(f.path), "sha256": f.sha256, "rows": f.rows}
                          for f in d.files]
    return entry


def _suite_entry(o: SuiteOutcome, plots: dict[str, Any] | None) -> dict[str, Any]:
    s = o.suite
    entry: dict[str, Any] = {
        "name": o.name,
        "file": _rel(o.file),
        "sha256": s.sha256 if s is not None else None,
        "dataset": None if o.dataset is None else {
            **_dataset_entry(o.dataset),
            **({"labelled": _dataset_entry(o.labelled)} if o.labelled is not None else {})},
        "checks": [r.as_dict() for r in o.results],
    }
    if s is not None:
        entry.update({"task": s.task, "seed": s.seed, "confidence": s.confidence,
                      "n_resamples": s.n_resamples})
        if o.champion is not None:
            entry["champion"] = _rel(o.champion.path)
            entry["champion_sha256"] = o.champion.sha256
        if s.data.key is not None and entry["dataset"] is not None:
            entry["dataset"]["key"] = s.data.key
    if plots:
        entry["plots"] = plots
    if o.error is not None:
        entry["error"] = o.error
    if o.spending is not None:
        entry["spending"] = o.spending.to_dict()
    if s is not None:
        entry["resolved"] = resolved(s)
        entry["files"] = [{**f, "path": _rel(f["path"])} for f in suite_files(s, entry["dataset"])]
    return entry


def dumps(verdict: dict[str, Any]) -> str:
    return json.dumps(verdict, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def now() -> datetime:
    return datetime.now(UTC)
