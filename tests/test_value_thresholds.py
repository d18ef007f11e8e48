"""``value_thresholds: bound``: min/max (and max_difference, min_ratio) judged on the one-sided
bound that must clear them — the burden of proof for values too (DESIGN.md §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import CANDIDATE, suite_text


def _roc_auc_check(tmp_path: Path, extra: str, minimum: float) -> Any:
    from evalgate.engine import Gate

    path = tmp_path / "s.yaml"
    path.write_text(suite_text(champion=None, extra=extra, checks=(
        f"  performance:\n    roc_auc: {{min: {minimum}}}\n")))
    gate_ = Gate(CANDIDATE)
    [result] = gate_.run_suite(gate_.load(path)).results
    return result


def test_value_thresholds_bound_judges_min_by_the_lower_bound(tmp_path: Path) -> None:
    estimate = _roc_auc_check(tmp_path, "", 0.9)
    value, lower = estimate.candidate, estimate.ci[0]
    between = round((value + lower) / 2, 5)  # the estimate clears it, the bound does not
    assert _roc_auc_check(tmp_path, "", between).status == "pass"
    bound = _roc_auc_check(tmp_path, "value_thresholds: bound\n", between)
    assert bound.status == "fail"
    assert "judged by its one-sided 95% lower bound" in bound.message
    assert "inconclusive: the estimate clears it" in bound.message
    clear = _roc_auc_check(tmp_path, "value_thresholds: bound\n", round(lower - 0.001, 5))
    assert clear.status == "pass"


def test_value_thresholds_takes_two_values(tmp_path: Path) -> None:
    from evalgate.errors import SpecError
    from evalgate.families import load_suite

    path = tmp_path / "s.yaml"
    path.write_text(suite_text(extra="value_thresholds: bounds\n"))
    with pytest.raises(SpecError, match=r"unknown value 'bounds' \(did you mean 'bound'\?\)"):
        load_suite(path)


def test_value_thresholds_bound_judges_max_difference_by_the_upper_bound(tmp_path: Path) -> None:
    from evalgate.engine import Gate

    def sex_gap(extra: str, limit: float) -> Any:
        path = tmp_path / "s.yaml"
        path.write_text(suite_text(champion=None, extra=extra, checks=(
            f"  bias:\n    groups: [sex]\n    metrics: [selection_rate]\n"
            f"    max_difference: {{selection_rate: {limit}}}\n")))
        gate = Gate(CANDIDATE)
        [result] = gate.run_suite(gate.load(path)).results
        return result

    loose = sex_gap("", 0.5)
    gap, upper = loose.candidate, loose.ci[1]
    between = round((gap + upper) / 2, 5)
    assert sex_gap("", between).status == "pass"
    bound = sex_gap("value_thresholds: bound\n", between)
    assert bound.status == "fail" and "upper bound" in bound.message
    assert sex_gap("value_thresholds: bound\n", round(upper + 0.001, 5)).status == "pass"


@pytest.mark.parametrize("by_bound", [False, True], ids=["estimate", "bound"])
def test_value_thresholds_bound_judges_max_flip_rate_by_the_wilson_upper_bound(
        by_bound: bool) -> None:
    """40 of 1,000 rows flip: the estimate 0.04 clears max_flip_rate 0.045, its 95% Wilson
    upper bound (about 0.052) does not — inconclusive under value_thresholds: bound."""
    from types import SimpleNamespace

    import numpy as np

    from evalgate.families.judge import Clauses
    from evalgate.families.robustness.common import flip_gates
    from evalgate.families.robustness.spec import Gates

    flips = np.zeros(1000, dtype=bool)
    flips[:40] = True
    suite = SimpleNamespace(confidence=0.95, task="binary", by_bound=by_bound)
    ctx = SimpleNamespace(suite=suite, champion=None, no_champion_reason="")
    clauses = Clauses()
    details, _ = flip_gates(ctx, Gates(max_flip_rate=0.045), flips,  # type: ignore[arg-type]
                            None, "noise", clauses)
    assert 0.045 < details.flip_rate_ci[1] < 0.06
    if by_bound:
        assert clauses.status() == "fail"
        assert clauses.inconclusive and "the estimate clears it" in clauses.fails[0]
    else:
        assert clauses.status() == "pass"
