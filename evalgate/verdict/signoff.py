"""Sign-off: a reviewer approves one verdict, bound to its bytes.

``evalgate signoff reports/verdict.json --reviewer NAME [--note …]`` writes
``reports/signoff.json``::

    {"schema": "evalgate.signoff/1", "verdict_sha256": "…", "reviewer": "…", "note": "…",
     "signed_at": "…", "decision": "promote", "candidate_sha256": "…"}

A verdict whose bytes change afterwards no longer matches ``verdict_sha256``: the sign-off is
then reported as invalid, never carried over.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..errors import EvalgateError
from .model import read

SCHEMA = "evalgate.signoff/1"
SIGNOFF_NAME = "signoff.json"


def signoff_path(verdict_path: Path) -> Path:
    return verdict_path.parent / SIGNOFF_NAME


def read_verdict(verdict_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes and the document of a verdict.json, read by the one verdict reader
    (:func:`evalgate.verdict.model.read`): anything else is one error naming the file."""
    raw, doc, _ = read(verdict_path)
    return raw, doc


def sign(verdict_path: Path, reviewer: str, note: str = "",
         now: datetime | None = None) -> dict[str, Any]:
    """Record ``reviewer``'s approval of the verdict at ``verdict_path``."""
    raw, doc = read_verdict(verdict_path)
    if not reviewer.strip():
        raise EvalgateError("--reviewer must name someone")
    if doc.get("decision") != "promote":
        raise EvalgateError(f"{verdict_path}: the verdict says {doc.get('decision')!r}; only a "
                            f"promote verdict can be signed off")
    entry = {"schema": SCHEMA, "verdict_sha256": hashlib.sha256(raw).hexdigest(),
             "reviewer": reviewer.strip(), "note": note,
             "signed_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
             "decision": doc["decision"],
             "candidate_sha256": (doc.get("candidate") or {}).get("sha256")}
    write_atomic(signoff_path(verdict_path), json.dumps(entry, indent=2) + "\n")
    return entry


def status(verdict_path: Path) -> dict[str, Any] | None:
    """The sign-off next to ``verdict_path`` with ``valid`` (does it match the verdict's
    bytes?), or ``None`` when there is none."""
    path = signoff_path(verdict_path)
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text("utf-8"))
        raw = verdict_path.read_bytes()
    except (OSError, ValueError):
        return {"valid": False, "problem": f"{path.name} cannot be read"}
    if not isinstance(entry, dict):
        return {"valid": False, "problem": f"{path.name} is not a sign-off"}
    valid = entry.get("verdict_sha256") == hashlib.sha256(raw).hexdigest()
    out = dict(entry, valid=valid)
    if not valid:
        out["problem"] = "the verdict changed after it was signed off"
    return out
