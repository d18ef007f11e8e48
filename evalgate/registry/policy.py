"""The promotion policy the local registry and MLflow share: what a verdict must prove before it
moves a champion (:class:`VerdictFile`, :func:`checked_candidate`).

A verdict is trusted only as far as it can be checked (DESIGN.md §6):

- its shape is validated strictly (every check has an id, a status among pass/fail/error/skip
  and a boolean ``blocking``; the summary has its fields), and the decision is re-derived from
  the statuses and ``summary.not_run`` with :func:`evalgate.verdict.decide_statuses`: a
  ``decision`` or ``summary`` that disagrees is refused as edited, and so is a re-derived
  decision that is not ``promote``; a run in progress is refused;
- each suite file, dataset and file a family read (a drift reference) must still hold the
  bytes the verdict recorded (paths are
  relative to the folder the gate ran in, which ``promote`` is run from too), and the checks it
  lists are those its suite files plan, for every suite file the gate would find now;
- where a signature is required (``evalgate registry init --require-signed``, or
  ``promote --require-signed``), it must be valid and by a trusted key
  (:mod:`evalgate.verdict.signing`): that is what stops a hand-forged verdict whose statuses
  were edited consistently.

The messages tests import are constants here. This module imports neither :mod:`.local` nor
:mod:`.mlflow`; both import it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import sha256_file
from ..errors import PromotionRefused, RegistryError
from ..records import MALFORMED as MALFORMED_RECORD
from ..verdict.model import STATUSES as VERDICT_STATUSES
from .records import model_format, short

VERDICT_SCHEMA_PREFIX = "evalgate.verdict/"
SIGNOFF_NAME = "signoff.json"
STATUSES = VERDICT_STATUSES
DECISIONS: tuple[str, ...] = ("promote", "block")

# messages tests import
CHAMPION_CHANGED = "champion changed"
NOT_PROMOTE = "the verdict says {decision}: only a passing verdict can promote"
INCOMPLETE = ("the verdict covers a subset of the checks (summary.complete is false: the gate "
              "ran with -k/-m, or checks did not run); re-run the whole gate before promoting")
OTHER_MODEL = "the verdict is for another model"
MALFORMED = "malformed verdict"
EDITED = "the verdict was edited"
IN_PROGRESS = "the verdict is of a gate run that has not finished"
CHANGED_SINCE = "changed since the gate ran"
#: the roles of a suite's ``files`` that promote checks through the suite and its dataset
DATA_ROLES = frozenset({"suite", "data", "labelled data"})
#: the threshold keys that compare the candidate with the champion
COMPARING = frozenset({"max_regression", "min_improvement", "max_flip_rate_increase"})
NOT_FOUND_HERE = "not found"


@dataclass(frozen=True)
class Signoff:
    """A reviewer's sign-off bound to one verdict's bytes (``signoff.json`` next to it)."""

    reviewer: str
    note: str
    signed_at: str
    path: Path
    #: every approval bound to the verdict: reviewer, role, signed_at, key_id (when signed)
    approvals: tuple[Mapping[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reviewer": self.reviewer, "note": self.note,
                               "signed_at": self.signed_at}
        if len(self.approvals) > 1 or any(a.get("role") or a.get("key_id")
                                          for a in self.approvals):
            out["approvals"] = [dict(a) for a in self.approvals]
        return out


@dataclass(frozen=True)
class SuiteRecord:
    """What a verdict recorded of one suite: its file and the dataset it read, with sha256s."""

    where: str  # "suites[0]"
    name: str
    file: str | None
    sha256: str | None
    dataset_path: str | None
    dataset_sha256: str | None
    #: the ids of the checks the verdict lists for this suite
    check_ids: tuple[str, ...] = ()
    #: a glob or folder dataset: each file's (path, sha256), in reading order
    dataset_files: tuple[tuple[str, str], ...] = ()
    #: rows without labels: the labelled rows' (path, sha256) the estimates rest on
    labelled: tuple[str, str] | None = None
    #: the other files the suite read — a drift reference … —: (index in ``files``, role,
    #: path, sha256)
    family_files: tuple[tuple[int, str, str, str | None], ...] = ()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class VerdictFile:
    """verdict.json as promote reads it: validated strictly on :meth:`load`, checked against
    its own checks, the files it judged and (where required) its signature on :meth:`check`."""

    path: Path
    sha256: str
    raw: bytes
    decision: str
    complete: bool
    candidate_sha256: str | None
    champion_sha256: str | None
    champion_path: str | None
    metrics: Mapping[str, float]
    reasons: tuple[str, ...] = ()
    #: ``champion.registry`` when the gate recorded which registry version it compared with
    champion_registry: Mapping[str, Any] | None = None
    #: the parsed document (what a signature covers)
    doc: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: every check as ``(id, status, blocking)``, in the verdict's order
    checks: tuple[tuple[str, str, bool], ...] = ()
    suites: tuple[SuiteRecord, ...] = ()
    not_run: tuple[str, ...] = ()
    summary_fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    in_progress: bool = False
    #: ``gate.suites``: the suite file or folder the gate found its suites in
    suites_path: str | None = None

    @classmethod
    def load(cls, path: Path) -> VerdictFile:
        """Read ``path`` and validate its shape strictly (:class:`PromotionRefused` naming the
        field on a malformed verdict; :class:`RegistryError` when it is not a verdict)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RegistryError(f"{path}: cannot read the verdict: "
                                f"{exc.strerror or exc}") from None
        try:
            doc = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise RegistryError(f"{path}: not a verdict (invalid JSON: {exc})") from None
        if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith(
                VERDICT_SCHEMA_PREFIX):
            raise RegistryError(f"{path}: not an evalgate verdict (no schema "
                                f"{VERDICT_SCHEMA_PREFIX}…)")
        return cls._from_doc(path, raw, doc)

    @classmethod
    def _from_doc(cls, path: Path, raw: bytes, doc: dict[str, Any]) -> VerdictFile:
        """Read ``doc`` through the one verdict reader (:mod:`evalgate.verdict.model`): a
        malformed field is refused naming it."""
        from ..errors import VerdictError
        from ..verdict.model import Verdict

        try:
            v = Verdict.from_dict(doc, "verdict")
        except VerdictError as exc:
            where = str(exc).removeprefix(f"{MALFORMED_RECORD}: ").removeprefix("verdict.")
            raise PromotionRefused(f"{path}: {MALFORMED}: {where}; re-run the gate rather "
                                   "than editing verdict.json") from None
        suites = tuple(SuiteRecord(
            where=f"suites[{i}]", name=s.name, file=s.file, sha256=s.sha256,
            dataset_path=None if s.dataset is None else s.dataset.path,
            dataset_sha256=None if s.dataset is None else s.dataset.sha256,
            check_ids=tuple(c.id for c in s.checks),
            dataset_files=tuple((f.path, f.sha256) for f in
                                ((s.dataset.files or ()) if s.dataset is not None else ())),
            labelled=None if s.dataset is None or s.dataset.labelled is None else
            (s.dataset.labelled.path, s.dataset.labelled.sha256),
            family_files=tuple((j, f.role, f.path, f.sha256) for j, f in enumerate(s.files or ())
                               if f.role not in DATA_ROLES),
            ) for i, s in enumerate(v.suites))
        summary = v.summary
        fields = {"total": summary.total, "failed": summary.failed,
                  "complete": summary.complete, "decided": summary.decided}
        champ = v.champion
        return cls(path=path, sha256=hashlib.sha256(raw).hexdigest(), raw=raw,
                   decision=v.decision, complete=summary.complete,
                   candidate_sha256=v.candidate.sha256,
                   champion_sha256=None if champ is None else champ.sha256,
                   champion_path=None if champ is None else champ.path,
                   metrics=key_metrics(doc), reasons=summary.reasons,
                   champion_registry=None if champ is None or champ.registry is None
                   else champ.registry.to_dict(),
                   doc=doc, checks=tuple((c.id, c.status, c.blocking) for c in v.checks),
                   suites=suites, not_run=summary.not_run, summary_fields=fields,
                   in_progress=v.in_progress,
                   suites_path=None if v.gate is None else v.gate.suites)

    @property
    def key_id(self) -> str | None:
        """The key id the verdict's signature names (not verified: see :meth:`check`)."""
        sig = self.doc.get("signature")
        return str(sig.get("key_id")) if isinstance(sig, dict) else None

    def check(self, candidate: Path, candidate_sha256: str, *,
              trusted_keys: Sequence[Any] = (), base: Path | None = None,
              inputs: bool = True) -> str | None:
        """Refuse unless the verdict is consistent with its checks, says promote, is complete,
        judged these bytes, is signed by a trusted key (when ``trusted_keys`` are given) and
        (``inputs``) its suites and datasets still hold the bytes it judged (paths relative to
        ``base``, default the working directory). Returns the signing key's id (None: not
        required)."""
        if self.in_progress:
            raise PromotionRefused(f"{self.path}: {IN_PROGRESS} (summary.in_progress is true): "
                                   "it crashed, was killed, or is still running; re-run it")
        self._check_consistent()
        if not self.complete:
            raise PromotionRefused(f"{self.path}: {INCOMPLETE}")
        if self.decision != "promote":
            why = f" ({'; '.join(self.reasons[:3])})" if self.reasons else ""
            raise PromotionRefused(f"{self.path}: {NOT_PROMOTE.format(decision=self.decision)}"
                                   f"{why}")
        self._check_one_champion()
        if self.candidate_sha256 != candidate_sha256:
            raise PromotionRefused(
                f"{self.path}: {OTHER_MODEL}: it judged sha256 {short(self.candidate_sha256)}, "
                f"but {candidate} has sha256 {short(candidate_sha256)}; gate this file first")
        key = self.check_signed(trusted_keys) if trusted_keys else None
        if inputs:
            self._check_inputs(Path.cwd() if base is None else base)
        return key

    def _check_consistent(self) -> None:
        """The decision and summary are the ones the statuses lead to (DESIGN.md §3)."""
        from ..verdict import decide_statuses

        derived = decide_statuses(self.checks, not_run=self.not_run)
        recorded = self.summary_fields
        expected: list[tuple[str, Any, Any]] = [
            ("decision", self.decision, derived.decision),
            ("summary.total", recorded["total"], derived.total),
            ("summary.failed", recorded["failed"], derived.failed),
            ("summary.complete", recorded["complete"], derived.complete)]
        if recorded.get("decided") is not None:
            expected.append(("summary.decided", recorded["decided"], derived.decided))
        for name, got, want in expected:
            if got != want:
                why = f" ({'; '.join(derived.reasons[:3])})" if derived.reasons else ""
                raise PromotionRefused(
                    f"{self.path}: {name} is {json.dumps(got)}, but the verdict's own checks "
                    f"give {json.dumps(want)}{why}: {EDITED}; re-run the gate")

    def _check_one_champion(self) -> None:
        """Every suite compared with the verdict's champion, the one promote replaces (the
        top level names the first suite's): a suite judged against a stale file proves
        nothing against the champion."""
        for suite in self.doc.get("suites") or ():  # read and checked by _from_doc
            name, sha = suite.get("name"), suite.get("champion_sha256")
            if sha is not None and sha != self.champion_sha256:
                raise PromotionRefused(
                    f"{self.path}: the suite {name!r} was judged against another champion "
                    f"(sha256 {short(sha)}) than the verdict's ({short(self.champion_sha256)}); "
                    "every suite must compare with the champion promote replaces: name it "
                    "in each suite, or gate with --champion registry:NAME@champion")
            if self.champion_sha256 is not None and suite.get("champion") is None and any(
                    set(c.get("threshold") or {}) & COMPARING for c in suite.get("checks") or ()):
                raise PromotionRefused(
                    f"{self.path}: the suite {name!r} names no champion, so its comparisons "
                    f"with the champion were skipped, while the verdict replaces one "
                    f"(sha256 {short(self.champion_sha256)}); name it in the suite, or gate "
                    "with --champion registry:NAME@champion")

    def check_signed(self, trusted_keys: Sequence[Any]) -> str:
        """The id of the trusted key that signed the verdict (:class:`PromotionRefused`
        when it is unsigned, signed by another key, or the signature does not match)."""
        from ..errors import SignatureRejected
        from ..verdict.signing import verify

        try:
            return verify(self.doc, trusted_keys)
        except SignatureRejected as exc:
            raise PromotionRefused(f"{self.path}: {exc}") from None

    def _check_inputs(self, base: Path) -> None:
        """Each suite file and dataset holds the bytes the verdict recorded."""
        if not self.suites:
            raise PromotionRefused(f"{self.path}: {MALFORMED}: suites is empty")
        for suite in self.suites:
            self._same_bytes(base, f"{suite.where}.file", suite.file, suite.sha256,
                             f"the suite {suite.name!r}")
            if suite.dataset_files:
                self._same_files(base, suite)
            else:
                self._same_bytes(base, f"{suite.where}.dataset.path", suite.dataset_path,
                                 suite.dataset_sha256, f"the dataset of {suite.name!r}")
            if suite.labelled is not None:
                self._same_bytes(base, f"{suite.where}.dataset.labelled.path",
                                 suite.labelled[0], suite.labelled[1],
                                 f"the labelled rows of {suite.name!r}")
            for j, role, path, sha in suite.family_files:
                self._same_bytes(base, f"{suite.where}.files[{j}].path", path, sha,
                                 f"the {role} of {suite.name!r}")
            self._same_checks(base, suite)
        self._same_suite_files(base)

    def _same_files(self, base: Path, suite: SuiteRecord) -> None:
        """A glob or folder dataset names the same files now, each with the bytes judged: a
        file added, removed or changed since the run is refused."""
        from ..data.sources import SourceProblem, resolve

        what = f"the dataset of {suite.name!r} ({suite.dataset_path})"
        try:
            now = resolve(str(suite.dataset_path), base).files
        except SourceProblem as exc:
            raise PromotionRefused(f"{self.path}: {what}: {exc}") from None
        judged = [(base / p).resolve() for p, _ in suite.dataset_files]
        if [p.resolve() for p in now] != judged:
            added = sorted({str(p) for p in now} - {str(p) for p in judged})
            gone = sorted({str(p) for p in judged} - {str(p) for p in now})
            said = "; ".join(part for part in (
                f"now also {', '.join(added[:3])}" if added else "",
                f"no longer {', '.join(gone[:3])}" if gone else "") if part) or "another order"
            raise PromotionRefused(f"{self.path}: {what} {CHANGED_SINCE}: its files differ "
                                   f"({said}); re-run the gate on them")
        for i, (recorded, sha) in enumerate(suite.dataset_files):
            self._same_bytes(base, f"{suite.where}.dataset.files[{i}]", recorded, sha, what)

    def _same_suite_files(self, base: Path) -> None:
        """Every suite file the gate would find now is one the verdict judged: a suite added
        since the run (or cut out of the verdict) is refused."""
        from ..spec import find_suites

        if not self.suites_path:
            raise PromotionRefused(f"{self.path}: gate.suites is missing, so the suites that "
                                   "make up the gate cannot be checked; re-run the gate")
        where = base / self.suites_path
        if not where.exists():
            raise PromotionRefused(
                f"{self.path}: gate.suites: {self.suites_path} {NOT_FOUND_HERE} in {base}; run "
                "promote from the folder the gate ran in (the verdict's paths are relative "
                "to it)")
        from ..config import display_path, project_settings

        declared = project_settings(base).suites
        # a project that declares its gate (a suites folder): no verdict on others promotes
        if declared.exists() and where.resolve() != declared.resolve():
            raise PromotionRefused(
                f"{self.path}: the gate judged the suites at {self.suites_path}, but this "
                f"project's gate is {display_path(declared)} ([tool.evalgate] suites, else "
                f"suites/): a verdict on other suites — a lenient one, or one suite of the "
                f"folder — cannot promote; gate with the project's suites")
        judged = {(base / s.file).resolve() for s in self.suites if s.file}
        unjudged = [p for p in find_suites(where) if p.resolve() not in judged]
        if unjudged:
            names = ", ".join(display_path(p) for p in unjudged[:5])
            raise PromotionRefused(
                f"{self.path}: the gate's suites ({self.suites_path}) now include {names}, which "
                f"the verdict did not judge (added since the run, or cut out of the verdict); "
                f"re-run the gate")

    def _same_checks(self, base: Path, suite: SuiteRecord) -> None:
        """The verdict lists every check its (unchanged) suite file plans, each once, and no
        other: a check cut out of the verdict, or one added, is refused."""
        from ..errors import SpecError
        from ..families import load_suite, plan_checks

        assert suite.file is not None
        try:
            spec = load_suite(base / suite.file)
        except SpecError as exc:
            raise PromotionRefused(f"{self.path}: {suite.where}.file: the suite cannot be "
                                   f"read ({exc}); re-run the gate") from None
        ef = spec.data.estimate_from
        if ef is not None:  # estimates rest on labelled rows the verdict must name
            named = suite.labelled[0] if suite.labelled is not None else None
            if named is None or (base / named).resolve() != ef.path.resolve():
                raise PromotionRefused(
                    f"{self.path}: {suite.where}.dataset.labelled: the suite estimates from "
                    f"{ef.path}, but the verdict names "
                    f"{'no labelled rows' if named is None else named}; re-run the gate")
        planned = [spec.check_id(p.family, p.name) for p in plan_checks(spec)]
        listed = [*suite.check_ids, *(c for c in self.not_run if c in set(planned))]
        if sorted(listed) != sorted(planned):
            missing = sorted(set(planned) - set(listed))
            extra = sorted(set(listed) - set(planned))
            twice = sorted({c for c in listed if listed.count(c) > 1})
            what = "; ".join(part for part in (
                f"missing {', '.join(missing[:5])}" if missing else "",
                f"not in the suite {', '.join(extra[:5])}" if extra else "",
                f"listed twice {', '.join(twice[:5])}" if twice else "") if part)
            raise PromotionRefused(
                f"{self.path}: {suite.where}.checks do not match the checks {suite.file} "
                f"plans ({what}): {EDITED}; re-run the gate")

    def _same_bytes(self, base: Path, where: str, recorded: str | None, sha: str | None,
                    what: str) -> None:
        if not recorded or not sha:
            raise PromotionRefused(f"{self.path}: {where} or its sha256 is missing, so {what} "
                                   "cannot be checked; re-run the gate")
        path = base / recorded
        if not path.is_file():
            raise PromotionRefused(
                f"{self.path}: {where}: {recorded} {NOT_FOUND_HERE} in {base} ({what}); run "
                "promote from the folder the gate ran in (the verdict's paths are relative "
                "to it)")
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise PromotionRefused(f"{self.path}: {where}: cannot read {path}: "
                                   f"{exc.strerror or exc}") from None
        if actual != sha:
            raise PromotionRefused(
                f"{self.path}: {what} ({recorded}) {CHANGED_SINCE}: the verdict judged sha256 "
                f"{short(sha)}, the file now has {short(actual)}; re-run the gate on it")

    def signoff(self) -> tuple[Signoff | None, str]:
        """The sign-off next to the verdict, if it is bound to this verdict's bytes."""
        path = self.path.parent / SIGNOFF_NAME
        if not path.is_file():
            return None, f"no sign-off ({path} not found): no reviewer recorded"
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None, f"{path} is unreadable: no reviewer recorded"
        if not isinstance(doc, dict) or doc.get("verdict_sha256") != self.sha256:
            got = doc.get("verdict_sha256") if isinstance(doc, dict) else None
            return None, (f"{path} signs another verdict (sha256 {short(got)}, this one is "
                          f"{short(self.sha256)}): no reviewer recorded")
        if not doc.get("reviewer"):
            return None, f"{path} names no reviewer: no reviewer recorded"
        from ..verdict.signoff import approvals_of

        approvals = tuple({"reviewer": a["reviewer"], "role": a.get("role"),
                           "signed_at": a.get("signed_at"),
                           "key_id": (a.get("signature") or {}).get("key_id")}
                          for a in approvals_of(doc, self.sha256))
        s = Signoff(reviewer=str(doc["reviewer"]), note=str(doc.get("note") or ""),
                    signed_at=str(doc.get("signed_at") or ""), path=path, approvals=approvals)
        names = ", ".join(dict.fromkeys(str(a["reviewer"]) for a in approvals)) or s.reviewer
        return s, f"signed off by {names}"

    def summary(self) -> dict[str, Any]:
        """What a promotion records of the verdict (sha256, path, decision, champion,
        key metrics)."""
        from ..config import display_path

        return {"sha256": self.sha256, "path": display_path(self.path),
                "decision": self.decision,
                "champion_sha256": self.champion_sha256, "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class Checked:
    """A candidate whose verdict allows promoting exactly these bytes."""

    path: Path
    sha256: str
    signoff: Signoff | None
    signoff_note: str
    #: the id of the trusted key that signed the verdict (None when none was required)
    key_id: str | None = None


def checked_candidate(candidate: Path, verdict: VerdictFile, *,
                      trusted_keys: Sequence[Any] = ()) -> Checked:
    """The candidate file, its sha256 and the verdict's sign-off, once the verdict allows
    promoting exactly these bytes (raises :class:`PromotionRefused` otherwise)."""
    candidate = Path(candidate)
    if not candidate.is_file():
        raise RegistryError(f"{candidate}: candidate model file not found")
    model_format(candidate)
    sha = sha256_file(candidate)
    key = verdict.check(candidate, sha, trusted_keys=trusted_keys)
    signoff, signoff_note = verdict.signoff()
    return Checked(candidate, sha, signoff, signoff_note, key)


def key_metrics(doc: Mapping[str, Any]) -> dict[str, float]:
    """The candidate's value of every check that has one, by check id
    (``suite::family::name[...]``: each perturbation, group and batch size its own row)."""
    out: dict[str, float] = {}
    for suite in doc.get("suites") or ():
        for check in suite.get("checks") or ():
            value = check.get("candidate")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and \
                    check.get("id"):
                out.setdefault(str(check["id"]), float(value))
    return out

