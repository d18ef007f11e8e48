"""Sign-off: reviewers approve one verdict, bound to its bytes.

``evalgate signoff reports/verdict.json --reviewer NAME [--role ROLE] [--note …] [--key K]``
adds the reviewer's approval to ``reports/signoff.json``::

    {"schema": "evalgate.signoff/2", "verdict_sha256": "…", "decision": "promote",
     "candidate_sha256": "…",
     "approvals": [{"verdict_sha256": "…", "reviewer": "…", "role": "risk", "note": "…",
                    "signed_at": "…", "public_key": "…PEM…",
                    "signature": {"algorithm": "ed25519", "key_id": "…", "value": "…"}}],
     "reviewer": "…", "note": "…", "signed_at": "…"}

One approval per reviewer (signing again replaces theirs). ``--key`` signs the approval with
the reviewer's Ed25519 private key (``evalgate keygen``): the signature covers the approval,
verdict sha256 included, and the public key travels with it, so that anyone can tell whether
it verifies and a registry can pin a reviewer's key (``evalgate registry policy``). The
top-level ``reviewer``/``note``/``signed_at`` repeat the latest approval, for readers of
``evalgate.signoff/1`` (which held one reviewer and is read as one unsigned approval).

A verdict whose bytes change afterwards no longer matches ``verdict_sha256``: the sign-off is
then reported as invalid, never carried over.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._io import write_atomic
from ..errors import EvalgateError
from .model import read

SCHEMA = "evalgate.signoff/2"
SCHEMAS = ("evalgate.signoff/1", SCHEMA)
SIGNOFF_NAME = "signoff.json"


def signoff_path(verdict_path: Path) -> Path:
    return verdict_path.parent / SIGNOFF_NAME


def read_verdict(verdict_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes and the document of a verdict.json, read by the one verdict reader
    (:func:`evalgate.verdict.model.read`): anything else is one error naming the file."""
    raw, doc, _ = read(verdict_path)
    return raw, doc


def sign(verdict_path: Path, reviewer: str, note: str = "", now: datetime | None = None, *,
         role: str | None = None, key: Path | None = None) -> dict[str, Any]:
    """Add ``reviewer``'s approval of the verdict at ``verdict_path`` (signed with ``key``
    when given); returns the approval."""
    raw, doc = read_verdict(verdict_path)
    if not reviewer.strip():
        raise EvalgateError("--reviewer must name someone")
    if role is not None and not role.strip():
        raise EvalgateError("--role must name a role")
    if doc.get("decision") != "promote":
        raise EvalgateError(f"{verdict_path}: the verdict says {doc.get('decision')!r}; only a "
                            f"promote verdict can be signed off")
    from .decide import decide_statuses

    derived = decide_statuses(
        [(c.get("id"), c.get("status"), c.get("blocking"))
         for s in doc.get("suites") or () for c in s.get("checks") or ()],
        not_run=(doc.get("summary") or {}).get("not_run") or ())
    if derived.decision != "promote":  # a reviewer must not sign an edited verdict
        raise EvalgateError(f"{verdict_path}: the verdict says 'promote', but its own checks "
                            f"give {derived.decision!r} ({'; '.join(derived.reasons[:3])}): "
                            f"it was edited; re-run the gate")
    sha = hashlib.sha256(raw).hexdigest()
    approval: dict[str, Any] = {
        "verdict_sha256": sha, "reviewer": reviewer.strip(),
        "role": role.strip() if role else None, "note": note,
        "signed_at": (now or datetime.now(UTC)).isoformat(timespec="seconds")}
    if key is not None:
        from .signing import load_private_key, public_pem
        from .signing import sign as sign_doc

        approval["public_key"] = public_pem(load_private_key(key).public_key())
        approval = sign_doc(approval, key)
    path = signoff_path(verdict_path)
    earlier = [a for a in approvals_of(read_signoff(path), sha)
               if a.get("reviewer") != approval["reviewer"]]
    entry = {"schema": SCHEMA, "verdict_sha256": sha, "decision": doc["decision"],
             "candidate_sha256": (doc.get("candidate") or {}).get("sha256"),
             "approvals": [*earlier, approval],
             "reviewer": approval["reviewer"], "note": note,
             "signed_at": approval["signed_at"]}
    write_atomic(path, json.dumps(entry, indent=2, ensure_ascii=False) + "\n")
    return approval


def read_signoff(path: Path) -> Mapping[str, Any] | None:
    """The sign-off document at ``path``, or ``None`` when it is missing or not one."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def approvals_of(doc: Mapping[str, Any] | None, verdict_sha256: str) -> list[dict[str, Any]]:
    """The approvals of a sign-off document that are bound to ``verdict_sha256`` (an
    ``evalgate.signoff/1`` document is one unsigned approval); none for another verdict."""
    if doc is None or doc.get("verdict_sha256") != verdict_sha256:
        return []
    listed = doc.get("approvals")
    if listed is None and doc.get("reviewer"):  # evalgate.signoff/1
        listed = [{"verdict_sha256": verdict_sha256, "reviewer": doc["reviewer"],
                   "role": None, "note": doc.get("note") or "",
                   "signed_at": doc.get("signed_at")}]
    if not isinstance(listed, list):
        return []
    return [dict(a) for a in listed if isinstance(a, dict)
            and a.get("verdict_sha256") == verdict_sha256 and a.get("reviewer")]


def verification(approval: Mapping[str, Any]) -> tuple[bool | None, str]:
    """Whether an approval's signature verifies against the public key it carries:
    ``(None, "unsigned")``, ``(True, key_id)`` or ``(False, why)``."""
    from ..errors import SignatureRejected, SigningError
    from .signing import SIGNATURE, verify

    if approval.get(SIGNATURE) is None:
        return None, "unsigned"
    public = approval.get("public_key")
    if not isinstance(public, str):
        return False, "signed, but carries no public key to verify it with"
    try:
        return True, verify(approval, [public.encode("utf-8")])
    except (SignatureRejected, SigningError) as exc:
        return False, str(exc).replace("the verdict was changed", "the approval was changed")


def status(verdict_path: Path) -> dict[str, Any] | None:
    """The sign-off next to ``verdict_path`` with ``valid`` (does it match the verdict's
    bytes?) and its ``approvals``, each with ``verified`` (``None`` unsigned) and
    ``key``, or ``None`` when there is none."""
    path = signoff_path(verdict_path)
    if not path.is_file():
        return None
    entry = read_signoff(path)
    try:
        raw = verdict_path.read_bytes()
    except OSError:
        return {"valid": False, "problem": f"{path.name} cannot be read"}
    if entry is None:
        return {"valid": False, "problem": f"{path.name} is not a sign-off"}
    sha = hashlib.sha256(raw).hexdigest()
    valid = entry.get("verdict_sha256") == sha
    out = dict(entry, valid=valid)
    out["approvals"] = [{**a, "verified": v, "key": why}
                        for a in approvals_of(entry, sha) for v, why in [verification(a)]]
    if not valid:
        out["problem"] = "the verdict changed after it was signed off"
    return out
