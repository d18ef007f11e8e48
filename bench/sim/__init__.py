"""Simulations with a known truth: the false-pass rate and the coverage of evalgate's checks
in the regimes users meet (``python bench/coverage.py``).

A :class:`Cell` is one regime at one setting (a metric, a sample size, a prevalence …) whose
generator knows the true Δ = sign·(candidate − champion). Each replication draws fresh rows,
runs the same statistics the gate runs and reports a :class:`Draw`: whether the comparison
*passed* (its one-sided lower bound ≥ −margin), whether it was *inconclusive* (a fail the data
could not resolve, e.g. too few positives for any method), and the lower bound itself. With
the truth set at Δ = −margin every pass is a false pass, so the pass share is the false-pass
rate; at any truth, ``lower ≤ Δ`` is coverage.

Regime modules (``bench/sim/*.py``) each define ``CELLS: list[Cell]``; :func:`all_cells`
collects them. Replications are seeded per (cell, replication), so any split of the work gives
the same numbers.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
#: the acceptance line for a supported regime's false-pass rate (nominal 5%)
MAX_FALSE_PASS = 0.065


@dataclass(frozen=True)
class Draw:
    """One replication's outcome."""

    passed: bool
    inconclusive: bool
    lower: float


@dataclass(frozen=True)
class Cell:
    """One regime at one setting. ``draw(rng)`` runs one replication."""

    regime: str            # the row of the table it stands for
    label: str             # the setting, e.g. "n=50/group, m=0.016"
    truth: float           # the true Δ (−margin for a false-pass cell)
    margin: float
    draw: Callable[[np.random.Generator], Draw]
    #: whether the method claims to support this setting (unsupported: must be inconclusive)
    supported: bool = True
    #: a cell that shows a known inflation (what a verdict warns of), reported, not judged
    shown: bool = False
    reps: int = 1000
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    cell: Cell
    reps: int
    passes: int
    inconclusive: int
    covered: int

    @property
    def false_pass(self) -> float:
        return self.passes / self.reps

    def interval(self, k: int | None = None) -> tuple[float, float]:
        """The exact (Clopper–Pearson) 95% interval of a rate k / reps (default: passes)."""
        return clopper_pearson(self.passes if k is None else k, self.reps)

    @property
    def ok(self) -> bool:
        """A supported cell at Δ = −margin passes at most MAX_FALSE_PASS of the time; an
        unsupported one never passes."""
        if self.cell.shown:
            return True
        if not self.cell.supported:
            return self.passes == 0
        if self.cell.truth > -self.cell.margin:  # a power / coverage cell, not false-pass
            return True
        return self.false_pass <= MAX_FALSE_PASS


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def run(cell: Cell, reps: int | None = None, seed: int = 0) -> Result:
    """``reps`` replications of ``cell`` (default its own), each seeded by (seed, cell, i)."""
    reps = reps or cell.reps
    key = zlib.crc32(f"{cell.regime}\0{cell.label}".encode())
    passes = inconclusive = covered = 0
    for i in range(reps):
        d = cell.draw(np.random.default_rng([seed, key, i]))
        passes += d.passed
        inconclusive += d.inconclusive
        covered += (not math.isfinite(d.lower)) or d.lower <= cell.truth
    return Result(cell, reps, passes, inconclusive, covered)


def all_cells(only: Iterable[str] = ()) -> list[Cell]:
    """Every regime module's cells (``only``: the modules named)."""
    wanted = set(only)
    cells: list[Cell] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if wanted and info.name not in wanted:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cells.extend(getattr(module, "CELLS", []))
    return cells
