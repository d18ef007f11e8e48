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

SCHEMA = "evalgate.signoff/1"
SIGNOFF_NAME = "signoff.json"


def signoff_path(verdict_path: Path) -> Path:
    return verdict_path.parent / SIGNOFF_NAME


#: what every check of a verdict must carry, and the type it must have
_CHECK_FIELDS: tuple[tuple[str, type], ...] = (
    ("id", str), ("family", str), ("status", str), ("blocking", bool), ("message", str))
_STATUSES = ("pass", "fail", "error", "skip")
_NUMBER = (int, float)


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "a string",
                                         bool: "a boolean"}.get(type(value), type(value).__name__)


def verdict_problem(doc: Any) -> str | None:
    """What makes ``doc`` not a well-formed verdict.json (DESIGN.md §4), or ``None``: the
    fields the report, the sign-off and the lifecycle verbs read, with their types."""
    if not isinstance(doc, dict):
        return f"the file holds {_type_name(doc)}, not a JSON object"
    if not str(doc.get("schema", "")).startswith("evalgate.verdict/"):
        return "no evalgate schema (\"schema\": \"evalgate.verdict/…\")"
    if doc.get("decision") not in ("promote", "block"):
        return f"\"decision\" must be \"promote\" or \"block\", got {doc.get('decision')!r}"
    for key in ("candidate", "provenance", "summary"):
        if not isinstance(doc.get(key), dict):
            return f"\"{key}\" must be an object, got {_type_name(doc.get(key))}"
    if not isinstance(doc["candidate"].get("path"), str):
        return "\"candidate.path\" must be a string"
    if doc.get("champion") is not None and not isinstance(doc["champion"], dict):
        return f"\"champion\" must be an object or null, got {_type_name(doc['champion'])}"
    suites = doc.get("suites")
    if not isinstance(suites, list):
        return f"\"suites\" must be a list, got {_type_name(suites)}"
    for i, suite in enumerate(suites):
        where = f"suites[{i}]"
        if not isinstance(suite, dict):
            return f"{where} must be an object, got {_type_name(suite)}"
        if not isinstance(suite.get("name"), str):
            return f"{where}.name must be a string"
        if not isinstance(suite.get("checks"), list):
            return f"{where}.checks must be a list, got {_type_name(suite.get('checks'))}"
        for j, check in enumerate(suite["checks"]):
            problem = _check_problem(check, f"{where}.checks[{j}]")
            if problem:
                return problem
    return None


def _check_problem(check: Any, where: str) -> str | None:
    if not isinstance(check, dict):
        return f"{where} must be an object, got {_type_name(check)}"
    for key, kind in _CHECK_FIELDS:
        if key not in check:
            return f"{where} has no \"{key}\""
        if not isinstance(check[key], kind):
            return f"{where}.{key} must be {_type_name(kind())}, got {_type_name(check[key])}"
    if check["status"] not in _STATUSES:
        return f"{where}.status must be one of {', '.join(_STATUSES)}, got {check['status']!r}"
    for key in ("candidate", "champion", "delta"):
        v = check.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER)):
            return f"{where}.{key} must be a number or null, got {_type_name(v)}"
    ci = check.get("ci")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(
            v is None or (isinstance(v, _NUMBER) and not isinstance(v, bool)) for v in ci)):
        return f"{where}.ci must be null or a list of two numbers"
    if not isinstance(check.get("threshold", {}), dict):
        return f"{where}.threshold must be an object"
    return None


def read_verdict(verdict_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes and the document of a verdict.json; anything else is one
    :class:`EvalgateError` naming the file and what is wrong with it."""
    try:
        raw = verdict_path.read_bytes()
    except OSError as exc:
        raise EvalgateError(f"{verdict_path}: cannot read the verdict: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EvalgateError(f"{verdict_path}: not a verdict (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(
            "evalgate.verdict/"):
        raise EvalgateError(f"{verdict_path}: not an evalgate verdict (no evalgate schema)")
    problem = verdict_problem(doc)
    if problem is not None:
        raise EvalgateError(f"{verdict_path}: a malformed evalgate verdict: {problem}")
    return raw, doc


_read_verdict = read_verdict


def sign(verdict_path: Path, reviewer: str, note: str = "",
         now: datetime | None = None) -> dict[str, Any]:
    """Record ``reviewer``'s approval of the verdict at ``verdict_path``."""
    raw, doc = _read_verdict(verdict_path)
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
