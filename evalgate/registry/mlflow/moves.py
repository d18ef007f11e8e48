"""evalgate's log of a MLflow model's alias moves: hash-chained registered-model tags, each
change claimed once, and the verification that finds an alias moved outside evalgate.

MLflow keeps no history of aliases, so each change made through evalgate — promote,
rollback, alias, approval policy, signature requirement — is one **registered-model tag**
``evalgate.move.NNNNNN`` whose value is a JSON object shaped like a local audit entry
(``seq``, ``at``, ``user``, ``action``, ``alias``, ``version``, ``from``, …) plus ``prev``:
the sha256 of the previous change's tag value. A tag per change keeps each value small and
never rewrites an earlier one; the chain makes an edited or deleted change visible to
``evalgate audit verify mlflow:NAME``, which also replays the changes and compares the
aliases they lead to with MLflow's — an alias moved in MLflow's UI since the last change is
reported, and refused where it would be trusted (:func:`moved_outside`).

**One change at a time.** MLflow has no transactions, but a name is unique: before writing
change N, evalgate creates the experiment ``evalgate-claims/NAME/N`` (and deletes it at once:
a deleted experiment keeps its name). Of two commands that read the same state, exactly one
creates it; the other is told the champion changed. A claim whose change never appeared (the
command was killed) is taken as abandoned once its holder's process is gone (same host) or
after :data:`STALE_S` seconds.

**Commit order.** The tag is written first and the alias moved last: a command killed between
the two leaves a change whose alias never moved (the alias still names its ``from``); it is
ignored, and discarded by the next change. The alias is never left on a version no change
recorded.

The chain is as trustworthy as the permissions on the MLflow server: whoever may write its
tags may rewrite all of them consistently (the local registry's log lives in files of its
own).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ...errors import ChampionChanged, IntegrityError
from ..policy import CHAMPION_CHANGED
from ..records import State, apply
from ..references import CHAMPION
from ..storage import now, user
from .client import code_of, mlflow_error

MOVE_TAG = "evalgate.move."
#: the number of the last change whose alias moved (written after the alias, last of all)
DONE_TAG = "evalgate.done"
CLAIMS = "evalgate-claims"
#: seconds after which a claim whose change never appeared is taken as abandoned
STALE_S = 300.0
#: a rollback's reason is cut to this many characters, so a change always fits in one tag
MAX_REASON = 1000
ACTIONS = ("promote", "rollback", "alias", "approval-policy", "policy")
MOVES_ALIAS = ("promote", "rollback", "alias")


@dataclass(frozen=True)
class Move:
    """One recorded change: its parsed value and the tag's text (what the next one hashes)."""

    data: Mapping[str, Any]
    raw: str

    @property
    def seq(self) -> int:
        return int(self.data["seq"])

    @property
    def alias(self) -> str | None:
        if self.data["action"] not in MOVES_ALIAS:
            return None
        return str(self.data.get("alias") or CHAMPION)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()


def move_key(seq: int) -> str:
    return f"{MOVE_TAG}{seq:06d}"


def _valid(move: Any, seq: int) -> bool:
    if not isinstance(move, dict) or move.get("seq") != seq or move.get("action") not in ACTIONS:
        return False
    if move["action"] == "approval-policy":
        return type(move.get("require_approvals")) is int
    if move["action"] == "policy":
        return isinstance(move.get("require_signed"), list)
    version_ok = type(move.get("version")) is int or (
        move["action"] == "alias" and move.get("version") is None)
    return version_ok and (move.get("from") is None or type(move.get("from")) is int)


def moves_of(name: str, tags: Mapping[str, str]) -> list[Move]:
    """The recorded changes (``evalgate.move.N`` tags), oldest first; an unreadable one is an
    :class:`IntegrityError`."""
    moves = []
    for key, value in tags.items():
        if not key.startswith(MOVE_TAG):
            continue
        try:
            seq = int(key[len(MOVE_TAG):])
            data = json.loads(value)
            ok = _valid(data, seq)
        except ValueError:
            ok = False
        if not ok:
            raise IntegrityError(f"mlflow:{name}: the registered model's tag {key} is not a "
                                 "change evalgate wrote: it was edited outside evalgate; "
                                 "delete or restore it")
        moves.append(Move(data, value))
    return sorted(moves, key=lambda m: m.seq)


def pending(moves: Sequence[Move], aliases: Mapping[str, int],
            done: int | None = None) -> Move | None:
    """The last change, if its alias never moved: the alias still names its ``from`` and the
    completion mark (``done``, the last change whose alias moved) is below it — a command was
    killed between recording the change and moving the alias. A change already marked done
    whose alias is back at its ``from`` was undone outside evalgate, not interrupted."""
    last = moves[-1] if moves else None
    if last is None or last.alias is None or (done is not None and last.seq <= done):
        return None
    now_at = aliases.get(last.alias)
    if now_at != last.data["version"] and now_at == last.data.get("from"):
        return last
    return None


def committed(moves: Sequence[Move], aliases: Mapping[str, int],
              done: int | None = None) -> list[Move]:
    """The changes that took effect (the pending one left out)."""
    found = list(moves)
    if pending(found, aliases, done) is not None:
        found.pop()
    return found


@dataclass(frozen=True)
class Read:
    """What a command judged on: the model's aliases, every recorded change, and the
    completion mark (``evalgate.done``: the last change whose alias moved)."""

    aliases: Mapping[str, int]
    recorded: tuple[Move, ...]
    done: int | None

    @property
    def moves(self) -> list[Move]:
        """The changes that took effect."""
        return committed(self.recorded, self.aliases, self.done)

    @property
    def last(self) -> int:
        """The number of the last recorded change (0: none)."""
        return self.recorded[-1].seq if self.recorded else 0


def read(name: str, model: Any) -> Read:
    """The snapshot of a registered model (``None``: it does not exist yet)."""
    if model is None:
        return Read({}, (), None)
    tags = dict(model.tags or {})
    aliases = {str(a): int(v) for a, v in dict(getattr(model, "aliases", {}) or {}).items()}
    done = tags.get(DONE_TAG)
    return Read(aliases, tuple(moves_of(name, tags)),
                int(done) if done is not None and str(done).isdigit() else None)


def _pushed(state: State, number: int | None) -> State:
    if number is None or (state.champions and state.champions[-1] == number):
        return state
    return replace(state, champions=(*state.champions, number))


def replayed(moves: Sequence[Move]) -> State:
    """The aliases and champion stack the changes lead to; a champion move's ``from`` counts
    as a champion (one set before evalgate recorded moves, or by hand, is one)."""
    state = State()
    for m in moves:
        if m.data["action"] in ("promote", "rollback"):
            state = _pushed(state, m.data.get("from"))
        state = apply(state, m.data)
    return state


def moved_outside(name: str, state: Read, alias: str = CHAMPION) -> str | None:
    """Why ``alias`` cannot be trusted: it names another version than evalgate's committed
    changes of it lead to (it was moved, or removed, outside evalgate); None when it agrees,
    or when evalgate never recorded a change of it (set before evalgate, or never through
    it)."""
    aliases = state.aliases
    done = state.moves
    last = next((m for m in reversed(done) if m.alias == alias), None)
    if last is None:
        return None
    want, have = replayed(done).aliases.get(alias), aliases.get(alias)
    if want == have:
        return None
    return (f"mlflow:{name}@{alias} names {_version(have)}, but the last change evalgate "
            f"recorded (#{last.seq}, {last.data['at']}, by {last.data['user']}) set it to "
            f"{_version(want)}: the alias was moved outside evalgate")


def _version(number: int | None) -> str:
    return f"version {number}" if number is not None else "no version"


def champions(moves: Sequence[Move], current: int | None) -> tuple[int, ...]:
    """The champion stack the committed changes lead to, ending at the current champion."""
    return _pushed(replayed(moves), current).champions


def commit(c: Any, name: str, seen: Read, expected: Mapping[str, int | None], during: str,
           then: str, change: dict[str, Any]) -> dict[str, Any]:
    """Record ``change`` and move its alias, if the model is as the command ``seen`` it: no
    change recorded since (a policy among them), and MLflow's aliases still ``expected``
    (None: the alias must not exist). Claim the next number, write the tag, check that no
    later change overtook the claim, move (or delete) the alias, then mark it done. Returns
    the change as written."""
    now_state = read(name, c.get_registered_model(name))
    if now_state.last != seen.last:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: mlflow:{name} changed during this {during} "
                              f"(change {now_state.last} was recorded); {then}")
    for alias, version in expected.items():
        if now_state.aliases.get(alias) != version:
            raise ChampionChanged(
                f"{CHAMPION_CHANGED}: mlflow:{name}@{alias} moved from version "
                f"{version if version is not None else 'none'} to "
                f"{now_state.aliases.get(alias, 'none')} during this {during}; {then}")
    moves = list(now_state.recorded)
    stale = pending(moves, now_state.aliases, now_state.done)
    if stale is not None:
        _abandoned(name, stale, during, then)
    kept = [m for m in moves if m is not stale]
    seq = _claim(c, name, now_state.last + 1, during, then)
    if stale is not None:  # discarded: its number stays used, the chain skips it
        c.delete_registered_model_tag(name, move_key(stale.seq))
    doc = {"seq": seq, "at": now(), "user": user(), "holder": _holder(), **change,
           "prev": kept[-1].digest if kept else None}
    c.set_registered_model_tag(name, move_key(seq), json.dumps(doc, separators=(",", ":")))
    if _taken(c, f"{CLAIMS}/{name}/{seq + 1:06d}"):  # taken for abandoned: withdraw
        c.delete_registered_model_tag(name, move_key(seq))
        raise ChampionChanged(f"{CHAMPION_CHANGED}: another evalgate command took this "
                              f"{during}'s claim on mlflow:{name} for abandoned; {then}")
    moved = Move(doc, "").alias
    if moved is not None:
        if doc["version"] is None:
            c.delete_registered_model_alias(name, moved)
        else:
            c.set_registered_model_alias(name, moved, str(doc["version"]))
    c.set_registered_model_tag(name, DONE_TAG, str(seq))
    return doc


def _taken(c: Any, claim: str) -> bool:
    return c.get_experiment_by_name(claim) is not None


def _abandoned(name: str, stale: Move, during: str, then: str) -> None:
    """Raise unless the change whose alias never moved was left by a command that is gone
    (not one still between writing its tag and moving its alias)."""
    try:
        at = datetime.fromisoformat(str(stale.data.get("at"))).timestamp()
    except ValueError:
        at = 0.0
    holder = str(stale.data.get("holder") or "")
    if time.time() - at > STALE_S or not holder or _gone(holder):
        return
    raise ChampionChanged(f"{CHAMPION_CHANGED}: another evalgate command ({holder}) is "
                          f"changing mlflow:{name} — change {stale.seq}'s alias has not moved "
                          f"yet; {then}")


def _holder() -> str:
    return f"{user()}@{socket.gethostname()} pid {os.getpid()}"


def _claim(c: Any, name: str, seq: int, during: str, then: str) -> int:
    """Claim change number ``seq`` (or, past abandoned claims, the first number above every
    claim ever made for ``name`` — a model deleted and made again keeps its old claims):
    exactly one command creates a claim's experiment."""
    error = mlflow_error()
    for _ in range(8):
        claim = f"{CLAIMS}/{name}/{seq:06d}"
        try:
            experiment = c.create_experiment(claim, tags={"evalgate.holder": _holder()})
        except error as exc:
            if code_of(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            _held(c, name, seq, claim, during, then)
            seq = max(seq, _highest_claim(c, name)) + 1
            continue
        try:
            c.delete_experiment(experiment)  # hidden from lists; the name stays taken
        except error:
            pass
        return seq
    raise ChampionChanged(f"{CHAMPION_CHANGED}: mlflow:{name}: other commands keep claiming "
                          f"its next change; {then}")


def _highest_claim(c: Any, name: str) -> int:
    """The highest change number ever claimed for ``name`` (deleted claims included)."""
    from mlflow.entities import ViewType

    prefix = f"{CLAIMS}/{name}/"
    found = c.search_experiments(view_type=ViewType.ALL,
                                 filter_string=f"name LIKE '{prefix}%'", max_results=50000)
    numbers = [int(e.name[len(prefix):]) for e in found if e.name[len(prefix):].isdigit()]
    return max(numbers, default=0)


def _held(c: Any, name: str, seq: int, claim: str, during: str, then: str) -> None:
    """Raise unless the claim ``seq`` is abandoned: its change never appeared and its holder
    is gone."""
    tags = dict(c.get_registered_model(name).tags or {})
    if move_key(seq) in tags:
        raise ChampionChanged(f"{CHAMPION_CHANGED}: another evalgate command recorded change "
                              f"{seq} of mlflow:{name} during this {during}; {then}")
    found = c.get_experiment_by_name(claim)
    holder = str(dict(getattr(found, "tags", {}) or {}).get("evalgate.holder", "someone"))
    age = time.time() - (getattr(found, "creation_time", 0) or 0) / 1000
    if age > STALE_S or _gone(holder):
        return
    raise ChampionChanged(f"{CHAMPION_CHANGED}: another evalgate command ({holder}) is "
                          f"changing mlflow:{name} — it claimed change {seq} {age:.0f} s ago; "
                          f"{then}")


def _gone(holder: str) -> bool:
    """Whether ``holder`` (``user@host pid N``) is a process of this host that has ended."""
    who, _, pid = holder.rpartition(" pid ")
    if who.rpartition("@")[2] != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
