"""The HTML report: one self-contained page rendered from verdict.json alone.

Jinja2 with autoescaping on: column names, group labels and suite names are user data.
No script, font or image is loaded from anywhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..verdict import write_atomic

REPORT_NAME = "evalgate-report.html"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evalgate.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    env.filters["short"] = lambda s: (s or "")[:12]
    return env


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _signed(x: Any, digits: int = 4) -> str:
    return "—" if x is None else f"{x:+.{digits}f}"


def render(verdict: dict[str, Any]) -> str:
    """The report page for ``verdict`` (a verdict.json document)."""
    anchors = {id(c): f"check-{i}-{j}" for i, s in enumerate(verdict["suites"], 1)
               for j, c in enumerate(s["checks"], 1)}
    checks = [c for s in verdict["suites"] for c in s["checks"]]
    deciding = [c for c in checks if c["blocking"] and c["status"] in ("fail", "error")]
    counts = {st: sum(c["status"] == st for c in checks) for st in ("pass", "fail", "error", "skip")}
    return _environment().get_template("report.html.j2").render(
        v=verdict, checks=checks, deciding=deciding, counts=counts,
        anchor=lambda c: anchors[id(c)])


def write_report(verdict: dict[str, Any], directory: Path) -> Path:
    path = directory / REPORT_NAME
    write_atomic(path, render(verdict))
    return path
