"""``evalgate compare CHAMPION C1 C2 …``: several challengers against one champion in one run,
judged so that the chance that any truly worse one is marked promotable stays at most α
(:mod:`evalgate.engine.challengers`); one verdict per challenger and a leaderboard
(:mod:`evalgate.compare`)."""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path
from typing import Any

from .common import ProgressLine, add_gate_options, make_gate, project


def add_parsers(sub: Any) -> None:
    cmp = sub.add_parser("compare", help="judge several challengers against one champion, the "
                                         "error rate kept across them; write a leaderboard")
    cmp.add_argument("champion", help="the champion: a model file, or registry:NAME@champion, "
                                      "mlflow:NAME@champion")
    cmp.add_argument("challengers", nargs="+",
                     help="the challengers' model files (a quoted glob works: 'sweep/*.onnx')")
    add_gate_options(cmp, report="compare.json, compare.html and one folder per challenger",
                     whole="run")
    cmp.add_argument("--pick", choices=["best"], default=None,
                     help="best: mark the promotable challenger best on the primary metric")


def challengers_of(args: list[str]) -> list[Path]:
    """The challenger files: each argument, a glob expanded (sorted); a pattern that matches
    nothing, or the same file twice, is an error."""
    from ..errors import EvalgateError

    out: list[Path] = []
    for arg in args:
        if glob.has_magic(arg):
            found = sorted(glob.glob(arg))
            if not found:
                raise EvalgateError(f"{arg}: no file matches")
            out += [Path(f) for f in found]
        else:
            out.append(Path(arg))
    seen: dict[Path, Path] = {}
    for p in out:
        key = p.resolve()
        if key in seen:
            raise EvalgateError(f"{p}: given twice (as {seen[key]})")
        seen[key] = p
    return out


def compare(args: argparse.Namespace) -> int:
    from ..compare import write_all
    from ..engine.challengers import names_of, run
    from ..errors import EvalgateError
    from ..output import clear, start
    from ..spec import find_suites
    from ..verdict import now

    try:
        settings = project()
        challengers = challengers_of(args.challengers)
        for p in challengers:
            if not p.is_file():
                raise EvalgateError(f"{p}: challenger model file not found")
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    suites_path = args.suites if args.suites is not None else settings.suites
    report_dir = args.report if args.report is not None else settings.report
    paths = find_suites(suites_path)
    if not paths:
        print(f"evalgate: no suite files at {suites_path}", file=sys.stderr)
        return 2
    started, t0 = now(), time.perf_counter()
    folders = {name: report_dir / name for name in names_of(challengers)}
    try:
        clear(report_dir)  # no earlier single verdict is taken for this run's
        for path, folder in zip(challengers, folders.values(), strict=True):
            start(path, folder, started)  # no earlier promote survives this run
    except EvalgateError as exc:
        print(f"evalgate: BLOCK — {exc}", file=sys.stderr)
        return 1
    progress = ProgressLine(sys.stderr)
    gate = make_gate(settings, challengers[0], champion=args.champion, seed=args.seed,
                     trust_pickle=args.trust_pickle, timeout_s=args.timeout, progress=progress)
    try:
        runs = run(gate, challengers, paths)
        board = write_all(runs, report_dir, seed=args.seed, started_at=started,
                          duration_s=time.perf_counter() - t0,
                          signing_key=settings.signing_key, suites_path=suites_path,
                          pick=args.pick)
    except EvalgateError as exc:  # an unwritable report folder, a bad signing key
        print(f"evalgate: BLOCK — {exc}", file=sys.stderr)
        return 1
    finally:
        progress.clear()
    for line in board.lines.values():
        print(line)
    adjustment = board.doc["adjustment"]
    each = adjustment["alpha_each"]
    print(f"each of {adjustment['challengers']} challengers judged at α = "
          + (f"{each:.4g}" if each is not None else "α/k or less (see each verdict)")
          + f" ({adjustment['method']}): the chance that any truly worse one is marked "
          f"promotable is at most {adjustment['alpha']:g}")
    pick = board.doc["pick"]
    if pick is not None:
        print(f"pick: {pick['winner'] or 'none'}" + (f" — {pick['note']}" if pick["note"]
                                                        else ""))
    print(board.line)
    return 0 if board.ok else 1


COMMANDS = {"compare": compare}
