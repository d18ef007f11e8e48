"""The ledger of tries against each champion (``registry/.attempts/``): every suite a gate
judges against a champion is appended as one ``trial`` entry — which candidate, which
champion, which data (its bytes' sha256, its rows' content digest and a sketch of its rows),
which checks at which statistical settings, what the suite decided — with the registry's
protocol and hash chain (:mod:`.storage`, :mod:`.audit`), so an entry cannot be dropped to
reset a count without the chain saying so.

From it the gate learns, before it judges (:meth:`AttemptLedger.spend`):

- the **attempt**: this candidate's rank among the distinct candidates judged against this
  champion on these rows — the same rows by content (``rows_sha256``: the columns the
  champion reads and the label, in any order, file format or with other columns beside;
  the same bytes again keep their rank);
- the **look**: 1 + the distinct evaluations of this candidate against this champion of the
  same checks (whatever the ``suite:`` name) that did not promote, on data whose rows are
  among these (every row of its sketch is among these rows), other than this very run again:
  the same bytes judged with the same seed, ``n_resamples`` and ``confidence`` are the same
  evaluation (free); with any of them changed, the decision is drawn again (another look).

and the level its comparisons are judged at (:mod:`evalgate.stats.spending`), by the project's
``[tool.evalgate] attempts`` policy: ``warn`` (the default: judged at α, the verdict states the
inflation) or ``spend`` (α / (k (k + 1))); a look j ≥ 2 is always judged at α / 4^(j − 1).

Entries written by an earlier evalgate lack some of this; they count conservatively: one
without ``rows_sha256`` is an attempt on these rows when it has as many rows (or the same
bytes), one without its settings is another evaluation than this one, one without its checks
is matched by the suite's name, one hashed another way is taken as among these rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.fingerprint import contains
from ..engine.trials import Spending, Trial
from ..errors import RegistryError
from ..stats.spending import POLICIES, Policy, attempt_alpha, inflation, look_alpha
from .audit import AuditLog
from .local import ModelRegistry
from .records import Entry, short

ATTEMPTS_DIR = ".attempts"
#: how a trial's sketch was hashed (``data.fingerprint.hash_rows``): 2 hashes numbers as
#: float64 whatever their dtype; 3 hashes only the columns the champion reads and the label
#: (``engine.trials.hashed_columns``). An entry hashed otherwise may have missed the rows it
#: shares with later data: it is taken as within them, so it counts as a look (the stricter
#: reading) rather than being forgotten.
SKETCH_HASHING = 3


class AttemptLedger(ModelRegistry):
    """``registry/.attempts/``: the trials of every model name, in one hash-chained log."""

    def __init__(self, root: Path, policy: Policy = "warn"):  # no model name to check
        AuditLog.__init__(self, root, Path(root) / ATTEMPTS_DIR, "the attempts ledger")
        self.policy: Policy = policy

    @property
    def hint(self) -> str:
        return f"restore {self.dir} from a backup; the counts of tries depend on it"

    def trials(self) -> list[Entry]:
        """Every committed trial, oldest first (the chain checked)."""
        if not self.state_path.is_file():
            return []
        self.checked_state()
        return [e for e in self.entries() if e.action == "trial"]

    def spend(self, trial: Trial, alpha: float) -> Spending:
        trials = self.trials()
        attempt = _attempt(trials, trial)
        look = _look(trials, trial)
        used = look_alpha(attempt_alpha(alpha, attempt, self.policy), look)
        return Spending(attempt=attempt, look=look, policy=self.policy, alpha=alpha,
                        alpha_used=used, note=_note(attempt, look, alpha, used, self.policy))

    def record(self, trial: Trial, spending: Spending, decision: str) -> None:
        with self._locked() as state:
            self._change(state, {
                "action": "trial", "suite": trial.suite, "suite_sha256": trial.suite_sha256,
                "candidate": trial.candidate, "champion": trial.champion,
                "dataset": trial.dataset, "rows": trial.rows, "sketch": list(trial.sketch),
                "sketch_hashing": SKETCH_HASHING, "rows_sha256": trial.rows_sha256,
                "checks": list(trial.checks), "seed": trial.seed,
                "n_resamples": trial.n_resamples, "confidence": trial.confidence,
                "decision": decision, "attempt": spending.attempt, "look": spending.look,
                "alpha_used": spending.alpha_used})


def _attempt(trials: Sequence[Entry], trial: Trial) -> int:
    seen: list[str] = []
    for e in trials:
        if e.data.get("champion") == trial.champion and _same_rows(e.data, trial):
            candidate = str(e.data.get("candidate"))
            if candidate not in seen:
                seen.append(candidate)
    return seen.index(trial.candidate) + 1 if trial.candidate in seen else len(seen) + 1


def _same_rows(entry: Mapping[str, Any], trial: Trial) -> bool:
    """Whether ``entry`` was judged on these rows: the same content digest. An entry without
    one (an earlier evalgate) cannot be told by its rows: the same bytes, or as many rows,
    count as these rows (the stricter reading)."""
    if "rows_sha256" in entry:
        return bool(entry["rows_sha256"] == trial.rows_sha256)
    return entry.get("dataset") == trial.dataset or entry.get("rows") == trial.rows


def _look(trials: Sequence[Entry], trial: Trial) -> int:
    this = _evaluation(trial.dataset, trial.seed, trial.n_resamples, trial.confidence)
    earlier = {_recorded(e.data) for e in trials
               if e.data.get("candidate") == trial.candidate
               and e.data.get("champion") == trial.champion
               and _same_checks(e.data, trial) and e.data.get("decision") != "promote"
               and _recorded(e.data) != this
               and (e.data.get("sketch_hashing") != SKETCH_HASHING
                    or _sketch_within(e.data.get("sketch"), trial.row_hashes))}
    return 1 + len(earlier)


def _evaluation(dataset: Any, seed: Any, n_resamples: Any, confidence: Any) -> str:
    """One evaluation: these bytes judged with these statistical settings."""
    return json.dumps([dataset, seed, n_resamples, confidence])


def _recorded(entry: Mapping[str, Any]) -> str:
    """The evaluation ``entry`` was (without its settings — an earlier evalgate — another
    than any this ledger is asked about)."""
    if not {"seed", "n_resamples", "confidence"} <= entry.keys():
        return _evaluation(entry.get("dataset"), "unrecorded", None, None)
    return _evaluation(entry.get("dataset"), entry["seed"], entry["n_resamples"],
                       entry["confidence"])


def _same_checks(entry: Mapping[str, Any], trial: Trial) -> bool:
    """Whether ``entry`` judged the same checks: the same hypotheses tested again, under
    whatever ``suite:`` name (a rename would otherwise restart the looks); the same name
    with other checks is the same suite, edited. An entry without its checks (an earlier
    evalgate) is matched by the suite's name alone."""
    if entry.get("suite") == trial.suite:
        return True
    checks = entry.get("checks")
    return isinstance(checks, list) and tuple(checks) == trial.checks


def _sketch_within(sketch: Any, hashes: np.ndarray) -> bool:
    if not isinstance(sketch, list) or not all(isinstance(h, int) for h in sketch):
        return False
    return contains(hashes, tuple(sketch))


def _note(attempt: int, look: int, alpha: float, used: float, policy: Policy) -> str:
    """What the reviewer should know of this try, in a sentence (empty for a first try)."""
    parts = []
    if attempt > 1 and policy == "warn":
        parts.append(f"the {_nth(attempt)} candidate judged against this champion on these "
                     f"rows: a truly worse one passes with probability up to "
                     f"{inflation(alpha, attempt):.0%} over the {attempt} tries (attempts = "
                     f"\"spend\" would keep it at {alpha:.0%})")
    elif attempt > 1:
        parts.append(f"the {_nth(attempt)} candidate judged against this champion on these "
                     f"rows, judged at α = {used:.3g} so that all tries together keep "
                     f"{alpha:.0%}")
    if look > 1:
        parts.append(f"the {_nth(look)} look at this candidate after it did not promote "
                     f"(on rows that hold the earlier ones, or the same rows judged with "
                     f"another seed, n_resamples or confidence): judged at α = {used:.3g}")
    return "; ".join(parts)


def _nth(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def ledger(root: Path, policy: str) -> AttemptLedger:
    """The ledger of the registry at ``root`` (created on the first trial it records), under
    the ``attempts`` policy of the project (``warn`` or ``spend``)."""
    if policy not in POLICIES:
        raise RegistryError(f"attempts policy {policy!r} is not one of {', '.join(POLICIES)}")
    return AttemptLedger(root, policy)


def require_spent(root: Path, verdict: Any) -> None:
    """Under ``attempts = "spend"``, refuse promoting a verdict (a
    :class:`~evalgate.registry.policy.VerdictFile`) unless each suite that compared with a
    champion was judged at the level this registry's ledger gave it: spent by the project's
    policy, and recorded here as that very try (candidate, champion, suite, attempt, look,
    level). A verdict gated under ``attempts = "warn"`` or against another ledger (another
    ``registry`` setting) judged a later try at a first try's level."""
    from ..errors import PromotionRefused

    trials = [e.data for e in AttemptLedger(root).trials()]  # the chain checked
    for suite in verdict.doc.get("suites") or ():
        champion = suite.get("champion_sha256") or verdict.champion_sha256
        if suite.get("champion") is None or champion is None:
            continue  # compared with no champion: no try against one to count
        spent = suite.get("spending") or {}
        if spent.get("policy") != "spend":
            raise PromotionRefused(
                f"{verdict.path}: the suite {suite.get('name')!r} was judged "
                + (f"with attempts = {spent['policy']!r}" if "policy" in spent else
                   "without a ledger of tries")
                + ", but this project spends the level across tries (attempts = \"spend\"); "
                  "re-run the gate")
        if not any(t.get("candidate") == verdict.candidate_sha256
                   and t.get("champion") == champion and t.get("suite") == suite.get("name")
                   and t.get("attempt") == spent.get("attempt")
                   and t.get("look") == spent.get("look")
                   and t.get("alpha_used") == spent.get("alpha_used") for t in trials):
            raise PromotionRefused(
                f"{verdict.path}: the suite {suite.get('name')!r} was judged as attempt "
                f"{spent.get('attempt')}, look {spent.get('look')}, but {root}'s ledger of "
                f"tries holds no such try (counted in another ledger, or the verdict or the "
                f"ledger changed since); re-run the gate with this registry")


__all__ = ["ATTEMPTS_DIR", "AttemptLedger", "ledger", "require_spent", "short"]
