"""The drift family: each column, the candidate's predictions, the label and a domain
classifier, evaluation rows against a reference (the training data, or the last release's
evaluation set) — an effect size, a declared δ and a confidence bound (docs/statistics.md,
"Drift")."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from . import check, details, spec

FAMILY = Family(name="drift", parse=spec.parse, plan=check.plan, run=check.run,
                reductions=check.reductions, template=Path(__file__).with_name("report.html.j2"),
                read_details=details.read, model_free=check.model_free)
