"""``evalgate signoff`` and ``evalgate report``: the reviewer's verbs.

    evalgate signoff reports/verdict.json --reviewer NAME [--role R] [--note TEXT] [--key K]
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
    so.add_argument("--role", default=None,
                    help="the reviewer's role (e.g. risk), which a registry policy may require")
    so.add_argument("--key", type=Path, default=None, metavar="PRIVATE_PEM",
                    help="sign the approval with this Ed25519 private key (evalgate keygen)")
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
        # refuses a malformed verdict
        entry = sign(args.verdict, args.reviewer, args.note, role=args.role, key=args.key)
        _, doc = read_verdict(args.verdict)
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 1
    report = _render(args.verdict, doc, args.verdict.parent)
    if isinstance(report, str):
        print(f"evalgate: signed off by {entry['reviewer']}, but {report}", file=sys.stderr)
        return 1
    role = f" ({entry['role']})" if entry.get("role") else ""
    signed = f", signed with key {entry['signature']['key_id']}" if "signature" in entry else ""
    print(f"signed off by {entry['reviewer']}{role}{signed}: verdict sha256 "
          f"{entry['verdict_sha256'][:12]}… → {display_path(signoff_path(args.verdict))}; "
          f"report: {display_path(report)}")
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
