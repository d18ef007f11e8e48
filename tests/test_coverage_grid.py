"""The error-rate grid of ``bench/coverage.py``, reduced: every regime cell of ``bench/sim/``
at ``REPS`` replications (the documented table uses ≥ 1,000; docs/statistics.md).

Slow (``--run-slow``). A supported cell at a true Δ of −margin must not be *shown* to break
the 6.5% line: its exact 95% Monte Carlo interval of the false-pass rate must reach below it
(at 200 replications a true 5% stays inside with near certainty, a true 12% does not). An
unsupported cell must never pass. A cell that shows a known inflation (what a verdict warns
of) is run, not judged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "bench") not in sys.path:  # the simulations, shared with bench/coverage.py
    sys.path.insert(0, str(ROOT / "bench"))
from sim import MAX_FALSE_PASS, Cell, all_cells, run  # noqa: E402

REPS = 200
CELLS = all_cells()


def _id(cell: Cell) -> str:
    return f"{cell.regime} | {cell.label}"


def test_the_grid_covers_every_regime_of_the_issue() -> None:
    """Every row of issue 13's table has cells (and the regular regimes a control)."""
    regimes = " ".join(c.regime for c in CELLS)
    for needed in ("fairness", "roc_auc", "average_precision", "tails: log_loss",
                   "paired: accuracy", "more rows after a block", "many candidates",
                   "max_flip_rate_increase", "identical models", "regular",
                   "challengers: bonferroni"):
        assert needed in regimes, needed
    assert all(c.reps >= 1000 for c in CELLS)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS, ids=_id)
def test_cell_within_its_line(cell: Cell) -> None:
    result = run(cell, REPS)
    if cell.shown:
        assert result.reps == REPS
        return
    if not cell.supported:
        assert result.passes == 0, f"{_id(cell)} passed unsupported {result.passes} times"
        return
    if cell.truth <= -cell.margin:
        lo, _ = result.interval()
        assert lo <= MAX_FALSE_PASS, (
            f"{_id(cell)}: false pass {result.false_pass:.3f} (95% MC lower {lo:.3f})")
