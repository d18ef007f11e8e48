"""The stress family: open-loop load, peak memory, malformed input in a child process, and
prediction consistency."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from ..sample import pool_reductions
from . import check, details, spec

FAMILY = Family(name="stress", parse=spec.parse, plan=check.plan, run=check.run,
                reductions=pool_reductions,
                template=Path(__file__).with_name("report.html.j2"),
                read_details=details.read)
