"""Reference profiles in the registry: the one a verdict names is checked and stored when the
candidate is promoted (``verdicts/<verdict sha256>.profile.json``), and found again for a
version by the promotion that made it champion (``evalgate monitor``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import IntegrityError, PromotionRefused
from .records import Entry

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


def stored_profile(model: _Log, version: Version) -> tuple[dict[str, Any], str] | None:
    """The profile stored when ``version`` was last promoted, and the sha256 of the verdict
    that promoted it (``None``: promoted without one)."""
    for e in reversed(model.entries()):
        if e.action == "promote" and e.data.get("version") == version.number:
            verdict_sha = (e.data.get("verdict") or {}).get("sha256")
            path = model.verdicts_dir / f"{verdict_sha}.profile.json"
            if not verdict_sha or not path.is_file():
                return None
            try:
                found: dict[str, Any] = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise IntegrityError(f"{path}: cannot read the stored profile: {exc}") from None
            return found, str(verdict_sha)
    return None
