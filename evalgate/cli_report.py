"""``evalgate signoff`` and ``evalgate report``: the reviewer's verbs.

    evalgate signoff reports/verdict.json --reviewer NAME [--note TEXT]
    evalgate report reports/verdict.json [--out DIR]
"""

from __future__ import annotations

import argparse
import json
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


def signoff(args: argparse.Namespace) -> int:
    from .config import display_path
    from .errors import EvalgateError
    from .report import write_report
    from .signoff import sign, signoff_path, status

    try:
        entry = sign(args.verdict, args.reviewer, args.note)
        doc = json.loads(args.verdict.read_text("utf-8"))
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 1
    report = write_report(doc, args.verdict.parent, status(args.verdict))
    print(f"signed off by {entry['reviewer']}: verdict sha256 {entry['verdict_sha256'][:12]}… "
          f"→ {display_path(signoff_path(args.verdict))}; report: {display_path(report)}")
    return 0


def report(args: argparse.Namespace) -> int:
    from .config import display_path
    from .errors import EvalgateError
    from .report import write_report
    from .signoff import status

    try:
        doc = json.loads(args.verdict.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"evalgate: {args.verdict}: cannot read the verdict: {exc}", file=sys.stderr)
        return 1
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(
            "evalgate.verdict/"):
        print(f"evalgate: {args.verdict}: not an evalgate verdict", file=sys.stderr)
        return 1
    try:
        path = write_report(doc, args.out or args.verdict.parent, status(args.verdict))
    except EvalgateError as exc:  # pragma: no cover - rendering raises only on our bugs
        print(f"evalgate: {exc}", file=sys.stderr)
        return 1
    print(f"report: {display_path(path)}")
    return 0


COMMANDS = {"signoff": signoff, "report": report}
