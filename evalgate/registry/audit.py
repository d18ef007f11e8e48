"""Reading and verifying a hash-chained log: a folder's ``audit.jsonl`` (one JSON object a
line, each carrying ``seq`` and the sha256 of the line before it as ``prev``) and the
``state.json`` that commits it (its entry count and head hash). A model's log and the
registry policy's log (``registry/.policy/``) are read the same way (:class:`AuditLog`).

Every read checks the same things, not only ``evalgate audit verify``: ``state.json`` must be
what its log leads to (chain intact and anchored at its head, the aliases and champion stack
replayed from the entries), and a version's sha256 is the one its ``register`` entry records
(``version.json`` must agree). A mismatch refuses ``resolve`` (so a gate against
``registry:NAME@…``), ``alias``, ``promote`` and ``rollback`` with :class:`IntegrityError`
naming the file and what differs, so a hand edit is never laundered by the next change.

At most one uncommitted entry at the end of the log is tolerated (an interrupted command left
it; it never took effect, see :mod:`.storage`). More than one, or a log that does not end at
the head ``state.json`` records, is tampering. Each model's entries record where the policy's
log ended (``"policy": {"entries", "head"}``), so removing or rewriting the policy by hand is
detected on the next read of any model changed since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import IntegrityError
from .records import (
    ZERO_HASH,
    Entry,
    State,
    Version,
    fmt_aliases,
    fmt_keys,
    replay,
    short,
    version_of,
)

#: the registry-wide policy's folder (a name no model can have)
POLICY_DIR = ".policy"


@dataclass(frozen=True)
class LogRead:
    """A log as read against the count ``state.json`` commits."""

    committed: list[Entry]
    tail: list[Entry]  # complete lines after the committed ones
    partial: bytes  # a torn last line (b"" when the file ends with a newline)
    size: int  # the committed entries' bytes; -1 when the log is shorter than the count


@dataclass(frozen=True)
class Verification:
    """What ``evalgate audit verify`` found: problems (tampering) and notes (interruptions)."""

    name: str
    entries: int
    head: str
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class LogCheck:
    """The log half of a verification (the versions' files are the other half)."""

    state: State
    replayed: State
    registered: dict[int, str]
    problems: list[str]
    notes: list[str]


def chain_problems(entries: Sequence[Entry], start: int = 0,
                   prev: str = ZERO_HASH) -> list[str]:
    """Where ``entries`` (numbered from ``start + 1``, the first chained to ``prev``) break
    the chain: a line that is not JSON, a wrong ``seq``, a ``prev`` that is not the hash of
    the line before."""
    problems = []
    for i, e in enumerate(entries, start=start + 1):
        if e.data.get("invalid"):
            problems.append(f"entry {i}: not a JSON object (the line was edited)")
        elif e.data.get("seq") != i:
            problems.append(f"entry {i}: its seq is {e.data.get('seq')!r}, expected {i} "
                            "(an entry was removed or inserted before it)")
        if e.data.get("prev") != prev:
            what = "the start of the log" if prev == ZERO_HASH else f"entry {i - 1}"
            problems.append(f"entry {i}: its prev hash does not match {what} ({what} was "
                            f"edited, or an entry between them was removed)")
        prev = e.digest
    return problems


def _state_differs(state: State, replayed: State) -> str | None:
    """How ``state.json`` differs from the state its log leads to (None: it does not)."""
    if dict(replayed.aliases) != dict(state.aliases):
        return (f"its aliases ({fmt_aliases(state.aliases)}) are not those the audit log "
                f"leads to ({fmt_aliases(replayed.aliases)})")
    if replayed.champions != state.champions:
        return (f"its champion stack {list(state.champions)} is not the one the audit log "
                f"leads to {list(replayed.champions)}")
    if replayed.require_signed != state.require_signed:
        return (f"its required signing keys ({fmt_keys(state.require_signed)}) are not "
                f"those the audit log leads to ({fmt_keys(replayed.require_signed)})")
    return None


class AuditLog:
    """One hash-chained record in ``directory``: ``state.json`` (the commit point) and
    ``audit.jsonl``; read without a lock, and checked on every read."""

    def __init__(self, root: Path, directory: Path, name: str):
        self.root = Path(root)
        self.name = name
        self._lay_out(directory)

    def _lay_out(self, directory: Path) -> None:
        """The files of one hash-chained record under ``directory``."""
        self.dir = directory
        self.state_path = self.dir / "state.json"
        self.audit_path = self.dir / "audit.jsonl"

    @property
    def hint(self) -> str:
        return f"run `evalgate audit verify {self.name}`"

    def state(self) -> State:
        """``state.json`` as written (not yet checked against the log)."""
        return State.read(self.state_path)

    def read_log(self, committed: int) -> LogRead:
        """The log split at ``committed`` entries."""
        try:
            data = self.audit_path.read_bytes()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")
        partial = lines.pop()  # b"" when the file ends with a newline
        entries = [Entry.parse(raw) for raw in lines]
        if len(lines) < committed:
            return LogRead(entries, [], partial, -1)
        size = sum(len(raw) + 1 for raw in lines[:committed])
        return LogRead(entries[:committed], entries[committed:], partial, size)

    def entries(self) -> list[Entry]:
        """The committed entries, oldest first."""
        return self.read_log(self.state().entries).committed

    def registered(self) -> dict[int, str]:
        """version → the sha256 its committed register entry records."""
        return {version_of(e.data): str(e.data.get("sha256")) for e in self.entries()
                if e.action == "register"}

    # ----------------------------------------------------------------- integrity on read

    def checked_state(self) -> State:
        """state.json, once it agrees with the hash-chained log (chain intact, anchored at its
        head, aliases and champion stack those the log leads to); :class:`IntegrityError`
        naming the file and what differs otherwise. At most one uncommitted entry (left by an
        interrupted command) is tolerated: it never took effect."""
        state = self.state()
        self._check_integrity(state, self.read_log(state.entries))
        return state

    def _check_integrity(self, state: State, log: LogRead) -> None:
        problems = self._log_problems(state, log)
        if problems:
            raise IntegrityError(f"{self.audit_path}: the audit log was modified ("
                                 f"{problems[0]}); refusing to use {self.name}: {self.hint}")
        replayed, _, errors = replay(log.committed)
        if errors:
            raise IntegrityError(f"{self.audit_path}: {errors[0]}")
        what = _state_differs(state, replayed)
        if what is not None:
            raise IntegrityError(f"{self.state_path}: {what}: state.json was edited outside "
                                 f"evalgate; refusing to use {self.name}: {self.hint}")
        problem = self._anchor_problem(log.committed)
        if problem:
            raise IntegrityError(problem)

    def _log_problems(self, state: State, log: LogRead) -> list[str]:
        problems = chain_problems(log.committed)
        if log.size < 0:
            problems.append(f"the log is shorter than the {state.entries} committed entries")
        elif (log.committed[-1].digest if log.committed else ZERO_HASH) != state.head:
            problems.append("the last committed entry does not match state.json's head")
        if len(log.tail) > 1:
            problems.append(f"{len(log.tail)} uncommitted entries (at most one can be left by "
                            "an interrupted command)")
        elif log.tail and chain_problems(log.tail, start=state.entries, prev=state.head):
            problems.append("an uncommitted entry that does not continue the chain")
        return problems

    def anchor_problem(self) -> str | None:
        """Where the registry policy this log last recorded is no longer in the policy's log."""
        return self._anchor_problem(self.entries())

    def _anchor_problem(self, committed: Sequence[Entry]) -> str | None:
        """The registry policy this log last recorded must still be in the policy's log."""
        anchor = next((e.data["policy"] for e in reversed(committed)
                       if isinstance(e.data.get("policy"), dict)), None)
        if anchor is None:
            return None
        policy = AuditLog(self.root, self.root / POLICY_DIR, "the registry policy")
        try:
            n, head = int(anchor["entries"]), str(anchor["head"])
        except (KeyError, TypeError, ValueError):
            return f"{self.audit_path}: an entry's policy anchor was edited"
        entries = policy.entries() if policy.state_path.is_file() else []
        if len(entries) < n or entries[n - 1].digest != head:
            return (f"{policy.state_path}: the registry's policy (signatures required to "
                    f"promote) was removed or rewritten outside evalgate: the audit log of "
                    f"{self.name} recorded policy entry {n} ({short(head)}), which "
                    f"{policy.audit_path} no longer holds; restore {policy.dir} from a backup")
        return None

    # ----------------------------------------------------------------- verification

    def verify_log(self) -> LogCheck:
        """Check the hash chain, the anchor in state.json and the aliases, champion stack and
        keys replayed from the log (``evalgate audit verify``, less the versions' files)."""
        state = self.state()
        log = self.read_log(state.entries)
        problems = chain_problems(log.committed) + self._end_problems(state, log)
        notes = self._end_notes(state, log)
        replayed, registered, errors = replay(log.committed)
        problems += errors
        if not problems:
            problems += self._replay_problems(state, replayed, log.committed)
        return LogCheck(state, replayed, registered, problems, notes)

    def _end_problems(self, state: State, log: LogRead) -> list[str]:
        """Where the log does not end at the head state.json records."""
        problems = []
        if len(log.committed) < state.entries:
            problems.append(f"the log holds {len(log.committed)} entries but the registry "
                            f"state records {state.entries}: entries were removed from the end")
        elif (log.committed[-1].digest if log.committed else ZERO_HASH) != state.head:
            problems.append(f"entry {state.entries} does not hash to the head recorded in "
                            f"state.json ({short(state.head)}): the last entry was edited")
        if len(log.tail) > 1:
            problems.append(f"{len(log.tail)} entries after the last committed one "
                            f"(#{state.entries}): entries were added outside evalgate")
        elif log.tail and chain_problems(log.tail, start=state.entries, prev=state.head):
            problems.append(f"entry {state.entries + 1}, after the last committed one, does "
                            "not continue the chain: it was added outside evalgate")
        return problems

    @staticmethod
    def _end_notes(state: State, log: LogRead) -> list[str]:
        """What an interrupted command left at the end of the log (harmless)."""
        notes = []
        if len(log.tail) == 1 and not chain_problems(log.tail, start=state.entries,
                                                     prev=state.head):
            notes.append(f"entry {state.entries + 1} was written by a command that stopped "
                         "before committing it; it never took effect and the next change "
                         "discards it")
        if log.partial:
            notes.append("the log ends in a partly written line (an interrupted command); the "
                         "next change discards it")
        return notes

    def _replay_problems(self, state: State, replayed: State,
                         committed: Sequence[Entry]) -> list[str]:
        """Where state.json is not what the log leads to, and a policy anchor that is gone."""
        problems = []
        if dict(replayed.aliases) != dict(state.aliases):
            problems.append(f"the aliases in state.json ({fmt_aliases(state.aliases)}) are "
                            f"not those the log leads to ({fmt_aliases(replayed.aliases)})")
        elif replayed.champions != state.champions:
            problems.append("the champion stack in state.json is not the one the log "
                            "leads to")
        elif replayed.require_signed != state.require_signed:
            problems.append("the required signing keys in state.json are not those the "
                            "log leads to")
        anchor = self._anchor_problem(committed)
        if anchor:
            problems.append(anchor)
        return problems


def version_problems(log: LogCheck, versions: Mapping[int, Version], *,
                     check_files: bool = True) -> tuple[list[str], list[str]]:
    """The versions' half of ``evalgate audit verify``: (problems, notes). Every version an
    alias names is there, each folder's sha256 is the one its register entry records, and
    (``check_files``) each model file still holds those bytes."""
    problems: list[str] = []
    notes: list[str] = []
    for number in sorted(set(log.replayed.aliases.values())):
        if number not in versions:
            problems.append(f"an alias names version {number}, which is missing")
    for number, v in versions.items():
        if number not in log.registered:
            notes.append(f"version {number} is complete but its registration was not "
                         "committed (an interrupted command); the next change records it")
        elif log.registered[number] != v.sha256:
            problems.append(f"version {number}: version.json records sha256 "
                            f"{short(v.sha256)}, the log {short(log.registered[number])}")
        if check_files:
            try:
                v.verify()
            except IntegrityError as exc:
                problems.append(str(exc))
    for number in log.registered:
        if number not in versions:
            problems.append(f"version {number} is in the log but its folder is missing")
    return problems, notes
