"""Write a gate run's outputs: verdict.json and the HTML report, both atomically."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from . import verdict as _verdict
from .report import summary_markdown, write_report
from .runner import SuiteOutcome

VERDICT_NAME = "verdict.json"
SUMMARY_NAME = "summary.md"


@dataclass(frozen=True)
class Written:
    summary: _verdict.Summary
    verdict_path: Path
    report_path: Path


def finish(outcomes: Sequence[SuiteOutcome], *, candidate: Path, report_dir: Path,
           seed: int | None, started_at: datetime, duration_s: float,
           missing: Iterable[str] = (), complete: bool = True) -> Written:
    missing = list(missing)
    doc = _verdict.build(outcomes, candidate=candidate, seed=seed, started_at=started_at,
                         duration_s=duration_s, missing=missing, complete=complete)
    summary = _verdict.decide([r for o in outcomes for r in o.results], missing=missing)
    verdict_path = report_dir / VERDICT_NAME
    _verdict.write_atomic(verdict_path, _verdict.dumps(doc))
    report_path = write_report(doc, report_dir)
    write_summary(doc, report_dir, report_path)
    return Written(summary, verdict_path, report_path)


def write_summary(doc: dict, report_dir: Path, report_path: Path) -> Path:
    """reports/summary.md, also appended to $GITHUB_STEP_SUMMARY when CI sets it."""
    import os

    from .config import display_path

    text = summary_markdown(doc, display_path(report_path))
    path = report_dir / SUMMARY_NAME
    _verdict.write_atomic(path, text)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return path
