"""Speed never changes a number (issue 19): the shipped example's verdict, every untimed check
(value, champion, Δ, interval, method, status), equals the numbers recorded before the speed
work, bit for bit (``tests/data/shipped_numbers.json``; regenerate with ``python -m
tests.test_same_numbers`` only when a change is *meant* to move them, and say so)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "data" / "shipped_numbers.json"
TIMED = ("latency", "stress")


def numbers() -> list[dict[str, Any]]:
    """Every untimed check of the shipped suite on the shipped models, as verdict.json has
    it (JSON round trip: floats by their shortest repr, exact)."""
    from evalgate.engine import Gate
    from evalgate.families import plan_checks

    gate = Gate(ROOT / "examples/models/candidate.onnx")
    suite = gate.load(ROOT / "suites/adult.yaml")
    selected = {suite.check_id(p.family, p.name) for p in plan_checks(suite)
                if p.family not in TIMED}
    outcome = gate.run_suite(suite, selected)
    out = [{"id": r.id, "status": r.status, "candidate": r.candidate, "champion": r.champion,
            "delta": r.delta, "ci": list(r.ci) if r.ci is not None else None,
            "method": r.method} for r in outcome.results]
    parsed: list[dict[str, Any]] = json.loads(json.dumps(out))
    return parsed


@pytest.mark.e2e
def test_the_shipped_examples_numbers_are_unchanged() -> None:
    recorded = json.loads(GOLDEN.read_text())
    now = numbers()
    assert [c["id"] for c in now] == [c["id"] for c in recorded]
    changed = [(old["id"], k, old[k], new[k]) for old, new in zip(recorded, now, strict=True)
               for k in old if old[k] != new[k]]
    assert not changed, changed


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(numbers(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
