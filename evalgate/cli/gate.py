"""The gate's verbs: ``evalgate run`` (the gate without pytest) and ``evalgate validate``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import Once, ProgressLine, add_gate_options, make_gate, project, workers

if TYPE_CHECKING:
    from ..config import EngineChoice, Settings

_STATUS = {"pass": "PASS ", "fail": "FAIL ", "error": "ERROR", "skip": "SKIP "}


def add_parsers(sub: Any) -> None:
    run = sub.add_parser("run", help="gate a candidate model on the suites")
    run.add_argument("candidate", type=Path, help="the candidate model file")
    run.add_argument("--champion", default=None, action=Once,
                     help="the champion model (overrides each suite's champion: key): a file, "
                          "or registry:NAME@champion, registry:NAME@3, mlflow:NAME@champion")
    run.add_argument("--no-champion", action="store_true",
                     help="judge without a champion (a first release): comparisons are skipped")
    add_gate_options(run, report="evalgate-report.html and verdict.json", whole="gate")
    run.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                     help="trust this type in a skops model file (repeatable; adds to "
                          "[tool.evalgate] trusted_types)")
    run.add_argument("--engine", default=None, metavar="ENGINE",
                     help="local (in memory, the default), dask (a LocalCluster for this run) "
                          "or dask://HOST:PORT (an existing Dask scheduler); default: "
                          "[tool.evalgate] engine")
    run.add_argument("--workers", type=workers, default=None, metavar="N",
                     help="worker processes of the dask engine's LocalCluster (default: "
                          "[tool.evalgate] workers, else one per core)")

    val = sub.add_parser("validate", help="check suite files without running any model")
    val.add_argument("suites", type=Path, nargs="*",
                     help="suite files or folders (default: suites/)")
    val.add_argument("--data", action="store_true",
                     help="also read each suite's data: its columns, the target, the positive "
                          "label and label_map against the labels (no model runs)")
    val.add_argument("--model", type=Path, action="append", default=[], metavar="M",
                     help="also check this model's inputs against the data's columns, without "
                          "predicting (repeatable; implies --data)")


def run(args: argparse.Namespace) -> int:
    from ..config import display_path
    from ..engine import evaluate_paths, make_engine
    from ..errors import EvalgateError
    from ..output import finish, start
    from ..spec import find_suites
    from ..verdict import now

    try:
        settings = project()
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    choice = _usage(args, settings)
    if choice is None:
        return 2
    suites_path = args.suites if args.suites is not None else settings.suites
    report_dir = args.report if args.report is not None else settings.report
    started, t0 = now(), time.perf_counter()
    try:
        start(args.candidate, report_dir, started)  # no earlier promote survives this run
    except EvalgateError as exc:
        print(f"evalgate: BLOCK — {exc}", file=sys.stderr)
        return 1
    progress = ProgressLine(sys.stderr)

    def say(line: str) -> None:  # a line of its own, above the progress line
        progress.clear()
        print(line, file=sys.stderr, flush=True)

    engine = make_engine(choice, say)
    gate = make_gate(settings, args.candidate, champion=args.champion, seed=args.seed,
                     trust_pickle=args.trust_pickle, trust_types=tuple(args.trust_type),
                     no_champion=args.no_champion, timeout_s=args.timeout, engine=engine,
                     progress=progress)
    paths = find_suites(suites_path)
    if not paths:
        print(f"evalgate: no suite files at {suites_path}", file=sys.stderr)
    try:
        outcomes = evaluate_paths(gate, paths)
    finally:
        progress.clear()
        if engine is not None:
            engine.close()
    _print_results(outcomes)
    try:
        written = finish(outcomes, candidate=args.candidate, report_dir=report_dir,
                         seed=args.seed, started_at=started,
                         duration_s=time.perf_counter() - t0,
                         signing_key=settings.signing_key, suites_path=suites_path,
                         engine=None if engine is None else engine.info())
    except EvalgateError as exc:
        print(f"evalgate: BLOCK — {exc}", file=sys.stderr)
        return 1
    for warning in written.warnings:
        print(warning, file=sys.stderr)
    print(f"{written.summary.line} — report: {display_path(written.report_path)}")
    return 0 if written.summary.decision == "promote" else 1


def _print_results(outcomes: Any) -> None:
    """One line per check (its status, file::check, numbers), and why where it did not pass;
    a failure that does not block says so (why it stands beside PROMOTE)."""
    from ..config import display_path
    from ..verdict.lines import numbers_line

    for outcome in outcomes:
        for r in outcome.results:
            name = r.id.split("::", 1)[1] if "::" in r.id else r.id
            numbers = numbers_line(r)
            label = _STATUS[r.status]
            if r.status in ("fail", "error") and not r.blocking:
                label = f"{label.strip()} (non-blocking)"
            print(f"{label} {display_path(outcome.file)}::{name}"
                  + (f"  {numbers}" if numbers else ""))
            if r.status != "pass":
                print(f"       {r.message}")


def _usage(args: argparse.Namespace, settings: Settings) -> EngineChoice | None:
    """The run's engine, or ``None`` (said on stderr) when the arguments do not fit."""
    from ..config import engine_choice

    if args.seed is not None and args.seed < 0:
        print("evalgate: --seed must be 0 or more", file=sys.stderr)
        return None
    if args.no_champion and args.champion:
        print("evalgate: --no-champion and --champion exclude each other", file=sys.stderr)
        return None
    try:
        return engine_choice(settings, args.engine, args.workers)
    except ValueError as exc:
        print(f"evalgate: --engine: {exc}", file=sys.stderr)
        return None


def validate(args: argparse.Namespace) -> int:
    from ..config import display_path
    from ..errors import EvalgateError, SpecError
    from ..families import load_suite
    from ..spec import find_suites

    try:
        targets = args.suites or [project().suites]
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
                for each in exc.each():  # every mistake of the file, one line each
                    print(f"INVALID {each.located(display_path(each.path))}")
            else:
                from ..families import plan_checks

                problems, rows = (_against_data(suite, args.model) if args.data or args.model
                                  else ([], None))
                for problem in problems:
                    print(f"INVALID {display_path(path)}: {problem}")
                bad += bool(problems)
                if problems:
                    continue
                n = len(plan_checks(suite))
                checks = f"{n} check{'s' if n != 1 else ''}"
                read = f", data: {rows:,} rows" if rows is not None else ""
                print(f"OK      {display_path(path)} ({suite.name}: {checks}{read})")
    if not found:
        print("evalgate: no suite files found", file=sys.stderr)
        return 2
    return 1 if bad else 0


def _against_data(suite: Any, models: list[Path]) -> tuple[list[str], int | None]:
    """What is wrong between ``suite`` and its data (and ``models``' inputs), one line each,
    and the data's rows: the data read as the gate reads it, the target encoded, each model's
    inputs matched to the columns — and nothing predicted."""
    from ..data import encode_target, load_dataset
    from ..errors import EvalgateError
    from ..models import check_inputs, load_model

    try:
        data = load_dataset(suite.data)
        if data.target is not None:
            encode_target(data, suite.task, suite.data.positive_label, suite.data.label_map)
    except EvalgateError as exc:
        return [f"data: {exc}"], None
    problems = []
    for path in models:
        try:
            check_inputs(load_model(path), data.features)
        except EvalgateError as exc:
            problems.append(f"model: {exc}")
    return problems, data.rows


COMMANDS = {"run": run, "validate": validate}
