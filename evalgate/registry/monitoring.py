"""The monitoring log (``<registry>/<NAME>/monitor.jsonl``): JSON lines, each naming the sha256
of the line before (``prev``), and each append anchored in the model's audit log (an entry
``{"action": "monitor", "version": N, "log": {"lines": n, "sha256": …}}``), so that an edit of
any anchored line — the last one included, which no later line's ``prev`` covers — is found by
``evalgate lineage`` like any other broken link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..errors import EvalgateError

#: the log's file name in the model's registry folder
MONITOR_LOG = "monitor.jsonl"


def append(path: Path, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Append ``entry`` (its ``prev`` set); a log whose chain is broken is refused, not
    extended. Returns the anchor of the new end: ``{"lines": n, "sha256": …}`` (of the whole
    file)."""
    lines = path.read_bytes().splitlines() if path.is_file() else []
    problems = chain_problems(path, lines)
    if problems:
        raise EvalgateError(f"{problems[0]}; it is not extended")
    prev = hashlib.sha256(lines[-1]).hexdigest() if lines else None
    raw = json.dumps({**entry, "prev": prev}, sort_keys=True, allow_nan=False,
                     default=_json_default).encode("utf-8")
    body = b"".join(line + b"\n" for line in [*lines, raw])
    write_atomic(path, body)
    return {"lines": len(lines) + 1, "sha256": hashlib.sha256(body).hexdigest()}


def chain_problems(path: Path, lines: list[bytes]) -> list[str]:
    """Where the log's own chain breaks: a line that is not an entry, or whose ``prev`` is
    not the sha256 of the line before."""
    prev = None
    for i, line in enumerate(lines, start=1):
        try:
            claimed = json.loads(line).get("prev")
        except (ValueError, AttributeError):
            return [f"{path}:{i}: not a monitoring entry; the log was edited"]
        if claimed != prev:
            return [f"{path}:{i}: the hash chain is broken (the log was edited or cut)"]
        prev = hashlib.sha256(line).hexdigest()
    return []


def anchor_problems(path: Path, anchor: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """Whether the log still holds what the audit log's last ``monitor`` entry anchored:
    (problems, notes). Lines past the anchor are a note (a monitor run cut short between its
    two writes), not a problem, and so is a log with no anchor at all (an older evalgate's);
    anchored lines that changed, or a log shorter than its anchor, are problems."""
    if anchor is None:  # an older evalgate did not anchor its runs: read, not vouched for
        return [], ([f"{path}: no run of it is anchored in the audit log (written by an "
                     "evalgate before anchoring, or by hand): its entries are shown unchecked"]
                    if path.is_file() and path.stat().st_size else [])
    raw = path.read_bytes() if path.is_file() else b""
    lines = raw.splitlines(keepends=True)
    n = int(anchor.get("lines", 0))
    if len(lines) < n:
        return [f"{path}: {len(lines)} line(s), but the audit log anchored {n}: the log was "
                "cut"], []
    if hashlib.sha256(b"".join(lines[:n])).hexdigest() != anchor.get("sha256"):
        return [f"{path}: its first {n} line(s) are not the ones the audit log anchored: the "
                "log was edited"], []
    extra = len(lines) - n
    return [], ([f"{path}: {extra} line(s) after the last anchored one (a monitor run cut "
                 "short before it was recorded in the audit log?)"] if extra else [])


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
