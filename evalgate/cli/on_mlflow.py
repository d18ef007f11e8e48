"""The lifecycle verbs on ``mlflow:NAME`` (:mod:`evalgate.registry.mlflow`) that differ from
:mod:`.lifecycle`'s on a local model: register, alias, and a version's line in history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(args: argparse.Namespace, name: str) -> int:
    from ..registry import short
    from ..registry.lineage import training_record
    from ..registry.mlflow import register as register_version
    from ..registry.mlflow import set_alias
    from ..registry.storage import fingerprint

    lineage: dict[str, Any] = {
        "data": fingerprint(args.data) if args.data is not None else None,
        "derived_from": args.derived_from, "notes": args.notes,
        **training_record(params=args.params, code_commit=args.code_commit, author=args.author,
                          mlflow_run=args.mlflow_run, folder=Path.cwd())}
    number, sha, created = register_version(name, args.model, lineage)
    if created:
        print(f"registered mlflow:{name} version {number} (sha256 {short(sha)})")
    else:
        print(f"mlflow:{name} version {number} already holds these bytes (sha256 {short(sha)}); "
              "nothing registered")
    for alias in args.alias:
        set_alias(name, alias, number)
        print(f"{alias} → version {number}")
    return 0


def alias(args: argparse.Namespace, name: str) -> int:
    from ..registry.mlflow import set_alias

    before = set_alias(name, args.alias, args.version)
    was = f" (was version {before})" if before is not None else ""
    now = f"version {args.version}" if args.version is not None else "removed"
    print(f"mlflow:{name}@{args.alias}: {now}{was}")
    return 0


def version_line(v: Any, tags: str, notes: str) -> str:
    """A version's line in ``history mlflow:NAME``: its source, and the verdict that promoted
    it (decision, sha256, who signed off) when evalgate recorded one."""
    from ..registry import short
    from ..registry.mlflow import DECISION_TAG, SIGNED_OFF_TAG, VERDICT_SHA_TAG

    verdict = ""
    if v.tags.get(DECISION_TAG):
        signed = v.tags.get(SIGNED_OFF_TAG)
        verdict = (f"  {v.tags[DECISION_TAG]} (verdict {short(v.tags.get(VERDICT_SHA_TAG))}"
                   + (f", signed off by {signed}" if signed else "") + ")")
    return (f"  v{v.number:<3} {v.created_at}  sha256 {short(v.sha256)}  {v.source}"
            f"{verdict}{tags}{notes}")
