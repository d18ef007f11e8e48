"""The ``evalgate`` command: the same gate as ``pytest --evalgate`` without pytest flags.

    evalgate run CANDIDATE [--champion P] [--suites P] [--report DIR] [--seed N]
    evalgate validate [SUITE ...]      check suite files without running any model
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import __version__

_STATUS = {"pass": "PASS ", "fail": "FAIL ", "error": "ERROR", "skip": "SKIP "}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evalgate", description="A release gate for ML models.")
    p.add_argument("--version", action="version", version=f"evalgate {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="gate a candidate model on the suites")
    run.add_argument("candidate", type=Path, help="the candidate model file")
    run.add_argument("--champion", type=Path, default=None,
                     help="the champion model (overrides each suite's champion: key)")
    run.add_argument("--suites", type=Path, default=None,
                     help="a suite file or a folder of them (default: suites/)")
    run.add_argument("--report", type=Path, default=None,
                     help="where evalgate-report.html and verdict.json go (default: reports/)")
    run.add_argument("--seed", type=int, default=None, help="override every suite's seed")
    run.add_argument("--trust-pickle", action="store_true",
                     help="allow pickle/joblib model files (they can run code)")

    val = sub.add_parser("validate", help="check suite files without running any model")
    val.add_argument("suites", type=Path, nargs="*", help="suite files or folders (default: suites/)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return _validate(args)


def _settings():  # type: ignore[no-untyped-def]
    from .config import read_settings

    return read_settings(Path.cwd())


def _run(args: argparse.Namespace) -> int:
    from .config import display_path
    from .errors import EvalgateError
    from .output import finish
    from .runner import Gate, evaluate_paths
    from .spec import find_suites
    from .verdict import now

    try:
        settings = _settings()
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None and args.seed < 0:
        print("evalgate: --seed must be 0 or more", file=sys.stderr)
        return 2
    suites_path = args.suites if args.suites is not None else settings.suites
    report_dir = args.report if args.report is not None else settings.report
    started, t0 = now(), time.perf_counter()
    gate = Gate(args.candidate, champion=args.champion, seed=args.seed,
                trust_pickle=args.trust_pickle)
    paths = find_suites(suites_path)
    if not paths:
        print(f"evalgate: no suite files at {suites_path}", file=sys.stderr)
    outcomes = evaluate_paths(gate, paths)
    for outcome in outcomes:
        for r in outcome.results:
            name = r.id.split("::", 1)[1] if "::" in r.id else r.id
            print(f"{_STATUS[r.status]} {display_path(outcome.file)}::{name}")
            if r.status != "pass":
                print(f"       {r.message}")
    written = finish(outcomes, candidate=args.candidate, report_dir=report_dir, seed=args.seed,
                     started_at=started, duration_s=time.perf_counter() - t0)
    print(f"{written.summary.line} — report: {display_path(written.report_path)}")
    return 0 if written.summary.decision == "promote" else 1


def _validate(args: argparse.Namespace) -> int:
    from .config import display_path
    from .errors import EvalgateError, SpecError
    from .spec import find_suites, load_suite

    try:
        targets = args.suites or [_settings().suites]
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    bad = 0
    found = 0
    for target in targets:
        for path in find_suites(target):
            found += 1
            try:
                suite = load_suite(path)
            except SpecError as exc:
                bad += 1
                print(f"INVALID {exc.located(display_path(exc.path))}")
            else:
                n = len(suite.performance)
                print(f"OK      {display_path(path)} ({suite.name}: {n} check{'s' if n != 1 else ''})")
    if not found:
        print("evalgate: no suite files found", file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
