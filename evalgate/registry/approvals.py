"""Approvals as a release rule: a model's approval policy and what ``promote`` enforces.

    evalgate registry policy NAME --require-approvals 2 [--require-role risk]
                              [--reviewer-key Ada=ada.pub.pem …]

The policy is an entry of the model's hash-chained audit log (``"action":
"approval-policy"``): changing it is itself recorded, and editing it by hand breaks the chain.
``promote`` then counts the approvals in the sign-off next to the verdict (:mod:`evalgate.
verdict.signoff`) that are bound to this verdict's bytes:

- an approval whose signature does not verify refuses the promotion (it was altered, or
  forged): never silently dropped;
- a reviewer whose key the policy pins counts only with an approval signed by that key, and
  once the policy pins any key only the reviewers it names count (an unsigned name is a
  claim anyone can write);
- the candidate's author (its registered ``--author``, and the user who registered it; the
  user promoting it when it is not registered yet), in any case or spacing, is never
  counted: nobody approves their own model, whatever the number required;
- the approvals of distinct reviewers must reach ``require_approvals``, and each role in
  ``require_roles`` must be among the counted approvals' roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import PromotionRefused, RegistryError

ACTION = "approval-policy"


def policy_entry(require_approvals: int, require_roles: Sequence[str],
                 reviewer_keys: Sequence[str]) -> dict[str, Any]:
    """The audit entry of a policy: ``reviewer_keys`` as ``NAME=PUBLIC_PEM_FILE``."""
    from ..verdict.signing import key_id, load_public_key, public_pem

    if require_approvals < 0:
        raise RegistryError("--require-approvals must be 0 or more")
    keys: dict[str, dict[str, str]] = {}
    for item in reviewer_keys:
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file:
            raise RegistryError(f"--reviewer-key {item!r}: write NAME=PUBLIC_KEY.pem")
        key = load_public_key(Path(file))
        keys[name.strip()] = {"key_id": key_id(key), "public_key": public_pem(key)}
    roles = sorted({r.strip() for r in require_roles if r.strip()})
    return {"action": ACTION, "require_approvals": require_approvals, "require_roles": roles,
            "reviewer_keys": keys}


def current(registry: Any) -> Mapping[str, Any] | None:
    """The model's approval policy: its latest ``approval-policy`` entry (None: none set)."""
    return next((e.data for e in reversed(registry.entries())
                 if e.data.get("action") == ACTION), None)


def enforce(registry: Any, verdict: Any, candidate_sha256: str) -> None:
    """Refuse the promotion (:class:`PromotionRefused`) unless the sign-off's approvals
    satisfy the model's policy (see the module); nothing when no policy is set."""
    from ..verdict.signoff import SIGNOFF_NAME, approvals_of, read_signoff, verification

    policy = current(registry)
    if policy is None:
        return
    path = verdict.path.parent / SIGNOFF_NAME
    approvals = approvals_of(read_signoff(path), verdict.sha256)
    for a in approvals:
        ok, why = verification(a)
        if ok is False:
            raise PromotionRefused(f"{path}: the approval by {a['reviewer']} does not verify "
                                   f"({why}); it was changed after it was signed, or forged")
    counted, said = _counted(approvals, policy.get("reviewer_keys") or {},
                             authors(registry.find(candidate_sha256)))
    need = int(policy.get("require_approvals") or 0)
    roles = sorted(set(policy.get("require_roles") or ()) - {a.get("role") for a in counted})
    if len(counted) < need or roles:
        missing = [f"{need} approval{'s' if need != 1 else ''} by reviewers other than the "
                   f"author, {len(counted)} counted"] if len(counted) < need else []
        missing += [f"an approval with the role {r!r}" for r in roles]
        raise PromotionRefused(
            f"{path}: the approval policy of {registry.name} requires "
            f"{'; and '.join(missing)}" + (f" ({'; '.join(said)})" if said else "")
            + "; more reviewers approve with `evalgate signoff VERDICT --reviewer NAME "
              "[--role R] [--key K]`")


def authors(version: Any) -> set[str]:
    """Who may not approve the candidate, as :func:`same_person` compares names: its
    registered ``--author`` and the user who registered it (``created_by``) — or, for a
    candidate not registered yet, the user promoting it, who registers it now."""
    from .storage import user

    if version is None:
        return {same_person(user())}
    return {same_person(str(n)) for n in (version.lineage.get("author"), version.created_by)
            if n}


def same_person(name: str) -> str:
    """A reviewer or author name as compared: spaces and case do not make another person."""
    return " ".join(name.split()).casefold()


def _counted(approvals: list[dict[str, Any]], keys: Mapping[str, Any], authors: set[str]
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """The approvals that count (distinct reviewers), and why each other one does not."""
    counted: dict[str, dict[str, Any]] = {}
    said = []
    for a in approvals:
        reviewer = str(a["reviewer"])
        pinned = keys.get(reviewer)
        signed_by = (a.get("signature") or {}).get("key_id")
        if same_person(reviewer) in authors:
            said.append(f"{reviewer} is the candidate's author: not counted")
        elif keys and pinned is None:  # pinning keys names the reviewers: others are claims
            said.append(f"{reviewer} has no key in the policy: not counted")
        elif pinned is not None and signed_by != pinned.get("key_id"):
            said.append(f"{reviewer}'s approval is not signed with their registered key "
                        f"{pinned.get('key_id')}: not counted")
        else:
            counted[same_person(reviewer)] = a  # "Bob" and "bob " are one reviewer
    return list(counted.values()), said
