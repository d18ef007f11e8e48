"""The bias family: per-group metrics, the gap between groups with an interval, and no
fairness regression against the champion."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from . import check, details, spec

FAMILY = Family(name="bias", parse=spec.parse, plan=check.plan, run=check.run,
                template=Path(__file__).with_name("report.html.j2"), read_details=details.read)
