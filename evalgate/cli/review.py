"""``evalgate signoff`` and ``evalgate report``: the reviewer's verbs.

    evalgate signoff reports/verdict.json --reviewer NAME [--note TEXT]
    evalgate report reports/verdict.json [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    so = sub.add_parser("signoff", help="approve a promote verdict (bound to its sha256)")
    so.add_argument("verdict", type=Path, help="the verdict.json to approve")
    so.add_argument("--reviewer", required=True, help="who approves")
    so.add_argument("--note", default="", help="why, or anything the record should keep")
    rep = sub.add_parser("report", help="re-render the HTML report from a verdict alone")
    rep.add_argument("verdict", type=Path, help="a verdict.json")
    rep.add_argument("--out", type=Path, default=None,
                     help="folder for evalgate-report.html (default: the verdict's folder)")


def _render(verdict_path: Path, doc: dict[str, Any], out: Path) -> Path | str:
    """Write the report for ``doc`` into ``out``: its path, or one line saying why not (a
    verdict that passed the shape check but still cannot be drawn, a folder not writable)."""
    from ..report import write_report
    from ..verdict.signoff import status

    try:
        return write_report(doc, out, status(verdict_path), verdict_path)
    except OSError as exc:
        return f"{out}: cannot write the report: {exc.strerror or exc}"
    except Exception as exc:
        return (f"{verdict_path}: cannot render the report from this verdict "
                f"({type(exc).__name__}: {exc})")


def signoff(args: argparse.Namespace) -> int:
    from ..config import display_path
    from ..errors import EvalgateError
    from ..verdict.signoff import read_verdict, sign, signoff_path

    try:
        entry = sign(args.verdict, args.reviewer, args.note)  # refuses a malformed verdict
        _, doc = read_verdict(args.verdict)
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 1
    report = _render(args.verdict, doc, args.verdict.parent)
    if isinstance(report, str):
        print(f"evalgate: signed off by {entry['reviewer']}, but {report}", file=sys.stderr)
        return 1
    print(f"signed off by {entry['reviewer']}: verdict sha256 {entry['verdict_sha256'][:12]}… "
          f"→ {display_path(signoff_path(args.verdict))}; report: {display_path(report)}")
    return 0


def report(args: argparse.Namespace) -> int:
    from ..config import display_path
    from ..errors import EvalgateError
    from ..verdict.signoff import read_verdict

    try:
        _, doc = read_verdict(args.verdict)
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 1
    path = _render(args.verdict, doc, args.out or args.verdict.parent)
    if isinstance(path, str):
        print(f"evalgate: {path}", file=sys.stderr)
        return 1
    print(f"report: {display_path(path)}")
    return 0


COMMANDS = {"signoff": signoff, "report": report}
