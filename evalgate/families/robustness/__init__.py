"""The robustness family: perturbations (flip rates, the metric under perturbation),
counterfactual invariance, and monotonic properties.

- ``spec.py`` reads the suite section, ``perturb.py`` holds the perturbations;
- ``check.py`` plans the checks, runs each by its kind, and holds what the kinds share;
- ``perturbations.py``, ``invariance.py``, ``monotonic.py``: one kind of check each;
- ``details.py``: the typed details of each kind, read back from verdict.json for the report.
"""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from . import check, details, invariance, monotonic, perturbations, spec

# the kinds' modules are loaded with the family: check.run hands them their plans
__all__ = ["FAMILY", "check", "details", "invariance", "monotonic", "perturbations", "spec"]

FAMILY = Family(name="robustness", parse=spec.parse, plan=check.plan, run=check.run,
                reads_rows=True,
                template=Path(__file__).with_name("report.html.j2"), read_details=details.read)
