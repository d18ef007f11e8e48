"""The performance family: each metric's value against ``min``/``max``, and its paired
difference from the champion against ``max_regression``/``min_improvement``."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from . import check, details, estimated, spec

FAMILY = Family(name="performance", parse=spec.parse, plan=check.plan, run=check.run,
                reductions=estimated.reductions,
                template=Path(__file__).with_name("report.html.j2"),
                read_details=details.read)
