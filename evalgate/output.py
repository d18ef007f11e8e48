"""Write a gate run's outputs: verdict.json, the HTML report and summary.md, atomically.

A run first replaces whatever an earlier run left with a ``block`` "run in progress" verdict
(:func:`start`), so that a crash, a kill or a hang never leaves an old ``promote`` behind;
:func:`finish` writes the real one."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import verdict as _verdict
from .engine import SuiteOutcome
from .errors import OutputError
from .report import write_report
from .verdict.profile import PROFILE_NAME, build_profile
from .verdict.profile import dumps as profile_dumps
from .verdict.schema import validate_if_asked
from .verdict.summary import summary_markdown

VERDICT_NAME = "verdict.json"
SUMMARY_NAME = "summary.md"


@dataclass(frozen=True)
class Written:
    summary: _verdict.Summary
    verdict_path: Path
    report_path: Path
    #: what could not be done and does not change the decision (an unwritable
    #: $GITHUB_STEP_SUMMARY): shown to the user, one line each
    warnings: tuple[str, ...] = ()


def start(candidate: Path, report_dir: Path, started_at: datetime) -> None:
    """Replace any earlier verdict, summary and report with a ``block`` "in progress" one."""
    doc = _verdict.in_progress(candidate, started_at)
    validate_if_asked(doc, report_dir / VERDICT_NAME)
    _write(report_dir / VERDICT_NAME, _verdict.dumps(doc))
    _guarded(report_dir, lambda: write_report(doc, report_dir))
    _write(report_dir / SUMMARY_NAME, summary_markdown(doc, None))


def clear(report_dir: Path) -> None:
    """Remove an earlier run's verdict, summary, report and profile from ``report_dir`` (a run
    with challengers writes one verdict per challenger, in folders of their own: no single
    verdict of an earlier run may be taken for this one's)."""
    from .report import REPORT_NAME

    for name in (VERDICT_NAME, SUMMARY_NAME, REPORT_NAME, PROFILE_NAME):
        try:
            (report_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"{report_dir / name}: cannot remove an earlier run's file "
                              f"({exc.strerror or exc})") from None


def finish(outcomes: Sequence[SuiteOutcome], *, candidate: Path, report_dir: Path,
           seed: int | None, started_at: datetime, duration_s: float,
           not_run: Iterable[str] = (), signing_key: Path | None = None,
           suites_path: Path | None = None, engine: Mapping[str, Any] | None = None) -> Written:
    not_run = list(not_run)
    doc = _verdict.build(outcomes, candidate=candidate, seed=seed, started_at=started_at,
                         duration_s=duration_s, not_run=not_run, suites_path=suites_path,
                         plots=outcome_plots(outcomes), engine=engine)
    summary = _verdict.decide([r for o in outcomes for r in o.results], not_run=not_run)
    profile = build_profile(outcomes)
    if profile is not None:  # written first: the verdict names it by its sha256
        text = profile_dumps(profile)
        _write(report_dir / PROFILE_NAME, text)
        doc["profile"] = {"file": PROFILE_NAME,
                          "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    if signing_key is not None:
        from .verdict.signing import sign

        doc = sign(doc, signing_key)
    verdict_path = report_dir / VERDICT_NAME
    validate_if_asked(doc, verdict_path)
    _write(verdict_path, _verdict.dumps(doc))
    report_path = _guarded(report_dir, lambda: write_report(doc, report_dir))
    _, problem = write_summary(doc, report_dir, report_path)
    return Written(summary, verdict_path, report_path, () if problem is None else (problem,))


def outcome_plots(outcomes: Sequence[SuiteOutcome]) -> dict[int, dict[str, Any]]:
    """The data behind each suite's pictures (by its position), from the predictions the
    engine kept: computed once, stored in verdict.json so the report redraws from it."""
    import numpy as np

    from .report.plots import suite_plots

    return {i: suite_plots(o.suite.task, o.target, o.predictions,
                           np.random.default_rng(o.suite.seed)).to_dict()
            for i, o in enumerate(outcomes)
            if o.suite is not None and o.target is not None and o.predictions
            and o.suite.data.target is not None}  # rows without labels: nothing to draw


def write_summary(doc: dict[str, Any], report_dir: Path,
                  report_path: Path) -> tuple[Path, str | None]:
    """reports/summary.md, also appended to $GITHUB_STEP_SUMMARY when CI sets it. A step
    summary that cannot be written is returned as a warning: the verdict, the report and
    summary.md are written, and the decision stands."""
    from .config import display_path

    text = summary_markdown(doc, display_path(report_path))
    path = report_dir / SUMMARY_NAME
    _write(path, text)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        try:
            with open(step, "a", encoding="utf-8") as f:
                f.write(text + "\n")
        except OSError as exc:
            return path, (f"evalgate: warning: GITHUB_STEP_SUMMARY={step}: cannot append the "
                          f"summary ({exc.strerror or exc}); {SUMMARY_NAME} is in "
                          f"{report_dir}")
    return path, None


def _write(path: Path, text: str) -> None:
    _guarded(path.parent, lambda: _verdict.write_atomic(path, text))


def _guarded(where: Path, write: Any) -> Any:
    try:
        return write()
    except OSError as exc:
        raise OutputError(f"{where}: cannot write the gate's outputs there: "
                          f"{exc.strerror or exc}; choose another folder with "
                          f"--evalgate-report (evalgate run --report)") from None
