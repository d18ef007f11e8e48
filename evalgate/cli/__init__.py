"""The ``evalgate`` command: the same gate as ``pytest --evalgate`` without pytest flags, and
the release lifecycle on the model registry (:mod:`evalgate.registry`).

    evalgate run CANDIDATE [--champion P|REF] [--suites P] [--report DIR] [--seed N]
    evalgate compare CHAMPION C1 C2 … [--pick best]   several challengers, α kept; leaderboard
    evalgate validate [SUITE ...]      check suite files without running any model
    evalgate init --model M [--champion C] --data D --target T   write a commented suite
    evalgate register MODEL --name NAME [--data PATH] [--params F] [--code-commit SHA]
                      [--author A] [--parent N] [--mlflow-run ID] [--notes TEXT]
    evalgate promote CANDIDATE [--verdict reports/verdict.json] [--name NAME | --to mlflow:NAME]
    evalgate rollback NAME [--to VERSION] [--reason TEXT]
    evalgate alias NAME ALIAS [VERSION | --delete]     any alias but champion
    evalgate history NAME [--json]
    evalgate lineage NAME[@N] [--json]      training data → … → monitoring, each link checked
    evalgate card NAME [--version N] [--out DIR]        model-card.md and model-card.html
    evalgate registry policy NAME --require-approvals N [--require-role R] [--reviewer-key K]
    evalgate audit verify NAME
    evalgate keygen [--out DIR] [--force]               an Ed25519 key pair for signed verdicts
    evalgate registry init [--require-signed PUBKEY …]  create the registry, set its policy
    evalgate monitor NAME --data BATCH [--max-drift δ]  the champion's drift on a batch
    evalgate rerun VERDICT [--report DIR]   re-run a recorded gate; does every number match?

REF is ``registry:NAME@champion``, ``registry:NAME@3`` or ``mlflow:NAME@champion``. Every
registry verb takes ``--registry DIR`` (default: ``[tool.evalgate] registry``, or
``registry/``). Exit status: 0 done, 1 refused (or a broken audit log), 2 bad input.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence

from .. import __version__
from . import compare, gate, init, lifecycle, monitor, rerun, review

#: the modules of the verbs, each with ``add_parsers(sub)`` and ``COMMANDS``
VERBS = (gate, compare, init, lifecycle, review, rerun, monitor)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evalgate", description="A release gate for ML models.")
    p.add_argument("--version", action="version", version=f"evalgate {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in VERBS:
        module.add_parsers(sub)
    return p


#: the exit status of a command whose reader went away (``evalgate history | head``): the
#: shell's for a SIGPIPE, never 0 — a gate cut short never reads as a pass
BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for module in VERBS:
        if args.command in module.COMMANDS:
            try:
                status: int = module.COMMANDS[args.command](args)
                sys.stdout.flush()
            except BrokenPipeError:
                return _reader_gone()
            return status
    raise AssertionError(f"no verb handles {args.command!r}")  # argparse refused it already


#: the status :func:`entry` ends the process with, once :func:`main` has returned it
_RETURNED: list[int] = []


def entry() -> None:
    """The ``evalgate`` command as a process (the console script, ``python -m evalgate``):
    :func:`main`'s status, without the interpreter's teardown of the thousand modules a run
    imports — about 0.15 s of a two-second ``evalgate run`` (bench/gate.py), spent freeing
    memory the operating system takes back anyway. Everything an exit must do still happens
    first: other threads are joined and every other ``atexit`` handler runs (temporary
    folders removed, logs flushed), since this one, registered before the command starts,
    runs last; then stdout and stderr are flushed. When ``main`` raises instead (argparse's
    ``--help`` and usage errors, an unexpected error), the process ends the usual way."""
    atexit.register(_end, _RETURNED)
    status = main()
    _RETURNED.append(status)
    sys.exit(status)


def _end(returned: list[int]) -> None:
    if not returned:
        return
    status = returned[0]
    try:
        sys.stdout.flush()
    except OSError:  # the reader went away after main returned: never a silent 0
        status = status or BROKEN_PIPE
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(status)


def _reader_gone() -> int:
    """End quietly when stdout's reader has closed it: no traceback, and no second error
    when Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return BROKEN_PIPE
