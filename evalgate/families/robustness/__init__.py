"""The robustness family: perturbations (flip rates, the metric under perturbation),
counterfactual invariance, and monotonic properties."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from . import check, spec

FAMILY = Family(name="robustness", parse=spec.parse, plan=check.plan, run=check.run,
                template=Path(__file__).with_name("report.html.j2"))
