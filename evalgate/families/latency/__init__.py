"""The latency family: per batch size, percentiles of the per-call time with order-statistic
bounds, rows/s, and the candidate/champion slowdown measured interleaved."""

from __future__ import annotations

from pathlib import Path

from ..base import Family
from ..sample import pool_reductions
from . import check, details, spec

FAMILY = Family(name="latency", parse=spec.parse, plan=check.plan, run=check.run,
                reductions=pool_reductions,
                template=Path(__file__).with_name("report.html.j2"),
                read_details=details.read)
