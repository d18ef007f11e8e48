"""What ``evalgate audit verify`` checks of each committed promotion beyond the hash chain:
the verdict stored with it and the reference profile beside that verdict."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import PromotionRefused, RegistryError
from .policy import VerdictFile
from .records import short


def promotion_problems(verdicts_dir: Path, entries: Sequence[Any]) -> list[str]:
    """``evalgate audit verify``'s check of each committed promotion: its verdict is stored
    (``verdicts/SHA.json``, those bytes), consistent with its own checks, complete, says
    promote, judged the version's bytes and compared with the champion the promotion replaced
    (none for a first release) — a promote entry appended to the log without a gate behind
    it is refused, however well it continues the hash chain."""
    problems = []
    registered: dict[Any, str] = {}
    for e in entries:
        if e.action == "register":
            registered[e.data.get("version")] = str(e.data.get("sha256"))
        if e.action != "promote":
            continue
        what = f"the promotion of version {e.data.get('version')} (entry {e.data.get('seq')})"
        sha = str((e.data.get("verdict") or {}).get("sha256"))
        path = verdicts_dir / f"{sha}.json"
        if not path.is_file():
            problems.append(f"{what}: its verdict {path} is missing")
            continue
        try:
            verdict = VerdictFile.load(path)
            if verdict.sha256 != sha:
                raise PromotionRefused(f"{path}: does not hold the verdict the promotion "
                                       f"recorded (sha256 {short(verdict.sha256)})")
            verdict.check(path, str(e.data.get("sha256")), inputs=False)
            _replaced_the_one_it_judged(verdict, e.data.get("from"), registered)
            _stored_profile_holds(verdict, verdicts_dir / f"{sha}.profile.json")
        except (PromotionRefused, RegistryError) as exc:
            problems.append(f"{what}: {exc}")
    return problems


def _replaced_the_one_it_judged(verdict: VerdictFile, replaced: Any,
                                registered: dict[Any, str]) -> None:
    """The verdict compared with the champion the promotion replaced: a verdict judged
    without a champion (or against another model) proves nothing against it."""
    want = registered.get(replaced) if replaced is not None else None
    if verdict.champion_sha256 != want:
        judged = (f"against sha256 {short(verdict.champion_sha256)}"
                  if verdict.champion_sha256 else "without a champion")
        replaced_text = (f"version {replaced} (sha256 {short(want)})" if replaced is not None
                         else "no champion (a first release)")
        raise PromotionRefused(f"{verdict.path}: the verdict was judged {judged}, but the "
                               f"promotion replaced {replaced_text}")


def _stored_profile_holds(verdict: VerdictFile, path: Path) -> None:
    """The reference profile stored with a promoting verdict (what ``monitor`` judges
    production batches by) is the one that verdict names, by its sha256."""
    ref = verdict.doc.get("profile")
    if not isinstance(ref, Mapping):
        return
    if not path.is_file():
        raise PromotionRefused(f"{path}: the reference profile the verdict names is missing")
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != ref.get("sha256"):
        raise PromotionRefused(f"{path}: the stored reference profile is not the one the "
                               f"verdict names (sha256 {short(got)}): it was edited")
