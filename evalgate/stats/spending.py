"""Error spending across tries (docs/statistics.md, "Many candidates, many looks").

Judging one comparison at level α keeps a truly worse candidate from passing with probability
α. Trying several candidates against the same champion on the same rows, or evaluating the
same candidate again on more rows after it did not pass, gives a truly worse one more chances:

- **attempts** — the k-th distinct candidate judged against one champion on the same rows
  (by content: evalgate.registry.attempts).
  Under the ``spend`` policy it is judged at α_k = α / (k (k + 1)), so that Σ_k α_k = α: the
  chance that *any* truly worse candidate of the sequence passes stays at most α, however many
  are tried. Under ``warn`` (the default) every attempt is judged at α and the verdict states
  how far the chance has grown (:func:`inflation`: at most 1 − (1 − α)^k).
- **looks** — the j-th evaluation of one candidate against one champion, each on a strict
  superset of the rows of the earlier ones that did not promote (the advice "evaluate on more
  rows", followed), or on the same rows with another seed, ``n_resamples`` or ``confidence``
  (the decision drawn again). Look 1 is judged at α; look j ≥ 2 at α / 4^(j − 1), so that
  the whole sequence is bounded by α (1 + 1/3) in the worst case (independent looks) and in practice
  by much less: the looks share their rows (bench/sim/sequential.py measures it).
"""

from __future__ import annotations

from typing import Literal

Policy = Literal["warn", "spend"]
POLICIES: tuple[Policy, ...] = ("warn", "spend")


def attempt_alpha(alpha: float, attempt: int, policy: Policy) -> float:
    """The level the ``attempt``-th candidate is judged at."""
    if policy == "spend":
        return alpha / (attempt * (attempt + 1))
    return alpha


def look_alpha(alpha: float, look: int) -> float:
    """The level of the ``look``-th evaluation of one candidate after it did not promote."""
    return alpha if look <= 1 else alpha / 4 ** (look - 1)


def inflation(alpha: float, attempts: int) -> float:
    """The most a truly worse candidate's chance to pass can have grown when ``attempts``
    candidates were each judged at α (independent tries; shared rows give less)."""
    return 1 - (1 - alpha) ** attempts
