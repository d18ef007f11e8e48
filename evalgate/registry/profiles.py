"""Reference profiles in the registry: the one a verdict names is checked and stored when the
candidate is promoted (``verdicts/<verdict sha256>.profile.json``), and found again for a
version by the promotion that made it champion (``evalgate monitor``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..errors import IntegrityError, PromotionRefused
from .records import Entry, short

if TYPE_CHECKING:
    from .policy import VerdictFile
    from .records import Version


class _Log(Protocol):
    """A model's audit log and its verdicts folder (a ModelRegistry)."""

    verdicts_dir: Path

    def entries(self) -> Sequence[Entry]: ...


def profile_bytes(verdict: VerdictFile) -> bytes | None:
    """The reference profile the verdict names (beside it, by its sha256); a verdict that
    names one whose file is missing or changed is refused."""
    ref = verdict.doc.get("profile")
    if not isinstance(ref, Mapping):
        return None
    path = verdict.path.parent / str(ref.get("file"))
    try:
        raw = path.read_bytes()
    except OSError:
        raise PromotionRefused(f"{path}: the verdict names this reference profile, but it "
                               f"cannot be read; promote from the gate's report folder as "
                               f"written") from None
    if hashlib.sha256(raw).hexdigest() != ref.get("sha256"):
        raise PromotionRefused(f"{path}: the reference profile is not the one the verdict "
                               f"names (its sha256 differs): it was changed after the gate "
                               f"ran")
    return raw


class Stored(NamedTuple):
    """What ``evalgate monitor`` reads of a version's promotion, each file checked: the
    reference profile, the promoting verdict (parsed) and that verdict's sha256."""

    profile: dict[str, Any]
    verdict: dict[str, Any]
    verdict_sha: str


def stored_profile(model: _Log, version: Version) -> Stored | None:
    """The profile stored when ``version`` was last promoted, with the verdict that promoted
    it (``None``: promoted without one). Each is checked against the record above it before
    it is trusted: the verdict's bytes hash to the sha256 the (hash-chained) promote entry
    records, the verdict judged this version's bytes, and the profile hashes to the sha256
    the verdict names — so an edit of either, which turned an alert into none, is refused
    (:class:`IntegrityError`), as is a stored profile the verdict never named."""
    for e in reversed(model.entries()):
        if e.action == "promote" and e.data.get("version") == version.number:
            verdict_sha = str((e.data.get("verdict") or {}).get("sha256") or "")
            path = model.verdicts_dir / f"{verdict_sha}.profile.json"
            if not verdict_sha or not path.is_file():
                return None
            verdict = _stored_verdict(model.verdicts_dir / f"{verdict_sha}.json", verdict_sha,
                                      version)
            ref = verdict.get("profile")
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise IntegrityError(f"{path}: cannot read the stored profile: "
                                     f"{exc.strerror or exc}") from None
            if not isinstance(ref, Mapping) or hashlib.sha256(raw).hexdigest() != ref.get(
                    "sha256"):
                raise IntegrityError(f"{path}: the stored reference profile is not the one the "
                                     f"promoting verdict names (its sha256 differs): it was "
                                     f"changed after {version.name} version {version.number} "
                                     f"was promoted, so it is not used")
            try:
                found: dict[str, Any] = json.loads(raw)
            except ValueError as exc:
                raise IntegrityError(f"{path}: cannot read the stored profile: {exc}") from None
            return Stored(found, verdict, verdict_sha)
    return None


def _stored_verdict(path: Path, sha: str, version: Version) -> dict[str, Any]:
    """The promoting verdict stored as ``<sha>.json``, once its bytes hash to ``sha`` and it
    judged ``version``'s bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{path}: the verdict that promoted {version.name} version "
                             f"{version.number} cannot be read: {exc.strerror or exc}") from None
    if hashlib.sha256(raw).hexdigest() != sha:
        raise IntegrityError(f"{path}: the stored verdict does not hash to the sha256 its "
                             f"promotion recorded ({short(sha)}): it was edited after "
                             f"{version.name} version {version.number} was promoted, so it "
                             f"is not used")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise IntegrityError(f"{path}: cannot read the stored verdict: {exc}") from None
    candidate = doc.get("candidate") if isinstance(doc, dict) else None
    judged = candidate.get("sha256") if isinstance(candidate, Mapping) else None
    if judged != version.sha256:
        raise IntegrityError(f"{path}: the verdict that promoted {version.name} version "
                             f"{version.number} judged other model bytes (sha256 "
                             f"{short(str(judged))}) than the version's ({short(version.sha256)})")
    return dict(doc)
