"""The HTML report: one self-contained page rendered from verdict.json alone.

Jinja2 with autoescaping on: column names, group labels and suite names are user data.
No script, font or image is loaded from anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from markupsafe import Markup

from .._io import write_atomic
from ..verdict.lines import value_text
from ..verdict.model import STATUSES, Verdict
from ..verdict.summary import gate_reasons, plural, summary_markdown  # noqa: F401 - re-exported
from .plots import read as read_plots

REPORT_NAME = "evalgate-report.html"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("evalgate.report", "templates"),
                                    jinja2.FunctionLoader(_family_template)]),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    env.filters["short"] = lambda s: (s or "")[:12]
    env.filters["plural"] = plural
    env.filters["threshold"] = value_text
    env.filters["breakable"] = breakable
    env.filters["xy"] = lambda rows, x, y: [[getattr(r, x), getattr(r, y)] for r in rows]
    return env


def _family_template(name: str) -> tuple[str, str, Any] | None:
    """``<family>/report.html.j2``: that family's part of the page, from its folder."""
    from ..families import registered

    head, _, tail = name.partition("/")
    if tail != "report.html.j2":
        return None
    found = next((f for f in registered() if f.name == head), None)
    path = found.template if found is not None else None
    if path is None or not path.is_file():
        return None
    mtime = path.stat().st_mtime
    return path.read_text("utf-8"), str(path), lambda: path.stat().st_mtime == mtime


#: from this magnitude on, numbers are shown in scientific notation (a model may answer 1e308)
_LARGE = 1e9


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if not abs(x) < _LARGE else f"{x:.{digits}f}"
    return str(x)


def _signed(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, (int, float)) and not abs(x) < _LARGE:
        return f"{x:+.{digits}g}"
    return f"{x:+.{digits}f}"




#: where a long check id, path or column name may wrap: after ``::``, ``/`` and ``_``, and after
#: a ``.`` followed by a letter (``max_regression.roc_auc``, ``model.onnx``; never in ``0.9052``)
_BREAKS = re.compile(r"(::|/|_|,|\.(?=[A-Za-z]))")


def breakable(text: Any) -> Markup:
    """``text`` escaped, with a ``<wbr>`` after each place it may wrap (:data:`_BREAKS`), so
    that a narrow column breaks ``performance::balanced_accuracy`` after ``::``, not inside
    ``accuracy``."""
    return Markup("").join(Markup(escape(part)) + (Markup("<wbr>") if i % 2 else Markup(""))
                           for i, part in enumerate(_BREAKS.split(str(text))))


def render(verdict: Mapping[str, Any], signoff: dict[str, Any] | None = None,
           verdict_path: str = "reports/verdict.json") -> str:
    """The report page for ``verdict`` (a verdict.json document), with its sign-off. The
    document is read by the one verdict reader first: a malformed verdict is a
    :class:`~evalgate.errors.VerdictError`, never a page with parts silently missing."""
    from ..families import registered

    typed = Verdict.from_dict(verdict, "verdict")
    if verdict["summary"].get("in_progress") is True:
        return in_progress_page(verdict)
    from ..verdict import decide_statuses

    derived = decide_statuses([(c.id, c.status, c.blocking) for c in typed.checks],
                              not_run=verdict["summary"].get("not_run") or ())
    if derived.decision != verdict["decision"]:  # an edited verdict never reads as promote
        return in_progress_page(verdict, reason=(
            f"This verdict was edited: it records the decision {verdict['decision']!r}, but "
            f"its own checks give {derived.decision!r} "
            f"({'; '.join(derived.reasons[:3]) or 'nothing failed'})"))
    known = {f.name: f for f in registered()}
    families = [name for name, f in known.items() if f.template is not None]
    anchors: dict[int, str] = {}
    details: dict[int, Any] = {}
    for i, (suite, raw_suite) in enumerate(zip(typed.suites, verdict["suites"]), 1):
        for j, (c, raw) in enumerate(zip(suite.checks, raw_suite["checks"]), 1):
            anchors[id(c)] = f"check-{i}-{j}"
            details[id(c)] = (known[c.family].details_of(raw) if c.family in known
                              else c.details)
    checks = typed.checks
    deciding = [c for c in checks if c.blocking and c.status in ("fail", "error")]
    counts = {st: sum(c.status == st for c in checks) for st in STATUSES}
    page: str = _environment().get_template("report.html.j2").render(
        v=typed, all_checks=checks, deciding=deciding, counts=counts, signoff=signoff,
        families=families, details=lambda c: details[id(c)],
        plots_of=lambda s: read_plots(s.plots),
        gate_reasons=gate_reasons(dict(verdict)), changes=changes(checks),
        verdict_path=verdict_path, anchor=lambda c: anchors[id(c)], charts=_charts,
        forest_panels=forest_panels, models_line=models_line, inputs_of=inputs_of)
    return page


_IN_PROGRESS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evalgate: BLOCK — {candidate}</title>
<style>
  body {{ font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 0 auto;
          max-width: 1600px; padding: 24px; }}
  .decision {{ display: inline-block; padding: 6px 14px; border-radius: 6px; color: #fff;
               font-weight: 700; letter-spacing: .04em; background: #cf222e; }}
  .muted {{ color: #59636e; }}
</style>
</head>
<body>
<h1><span class="decision">BLOCK</span></h1>
<p>{reason}.</p>
<p class="muted">Candidate <code>{candidate}</code>; started {started} by evalgate {version}.
{note}</p>
</body>
</html>
"""


def in_progress_page(verdict: Mapping[str, Any], reason: str | None = None) -> str:
    """The page of the verdict a run writes before it starts (``block``, no checks): a fixed
    page, every text escaped, drawn without the templates — a run compiles them once, for its
    real report. With ``reason``: the same BLOCK page saying why (a verdict whose recorded
    decision its checks do not give)."""
    provenance = verdict["provenance"]
    return _IN_PROGRESS_PAGE.format(
        candidate=escape(str(verdict["candidate"]["path"])),
        reason=escape(reason if reason is not None else str(verdict["summary"]["reasons"][0])),
        note=("No check has a result on this page: the report of the finished run replaces it."
              if reason is None else "No check is shown from an edited verdict: re-run the "
              "gate."),
        started=escape(str(provenance["started_at"])),
        version=escape(str(provenance["evalgate"])))


#: the improvements and the regressions the first screen lists, each
CHANGES_SHOWN = 5


def changes(checks: Any) -> dict[str, Any]:
    """What changed vs the champion, for the first screen: the comparisons whose Δ is proven
    above 0 (largest Δ first) and those whose Δ is below 0 (largest drop first), each with
    its bound; Δ is oriented so that positive is better."""
    compared = [c for c in checks if c.delta is not None and c.ci is not None
                and c.ci[0] is not None]
    better = sorted((c for c in compared if c.ci[0] > 0), key=lambda c: -c.delta)
    worse = sorted((c for c in compared if c.delta < 0), key=lambda c: c.delta)
    return {"better": better[:CHANGES_SHOWN], "worse": worse[:CHANGES_SHOWN],
            "more_better": len(better) - CHANGES_SHOWN, "more_worse": len(worse) - CHANGES_SHOWN}


def models_line(v: Verdict) -> Markup:
    """``candidate (path) and champion (path)``, each role in its chart colour: what a
    chart's caption says it draws."""
    from .svg import COLORS

    parts = [Markup('<span style="color:{}">{}</span> (<code>{}</code>)').format(
                 COLORS[role], role, entry.path)
             for role, entry in (("candidate", v.candidate), ("champion", v.champion))
             if entry is not None]
    return Markup(" and ").join(parts)


def inputs_of(entry: Any) -> dict[str, Any] | None:
    """How a model's inputs were fed from the data, for the models table: ``mode``
    (by-name, by-position), ``pairs`` (model input, data column) in the model's order,
    ``renamed`` (the pairs whose names differ) and ``classes`` (how the model's classes were
    matched to the labels); ``None`` for a verdict that does not record it."""
    inputs = getattr(entry, "inputs", None)
    if not isinstance(inputs, Mapping) or not isinstance(inputs.get("mapping"), Mapping):
        return None
    pairs = [(str(k), str(col)) for k, col in inputs["mapping"].items()]
    classes = inputs.get("classes")
    return {"mode": str(inputs.get("mode", "")), "pairs": pairs,
            "renamed": [(k, col) for k, col in pairs if k != col],
            "classes": classes if isinstance(classes, Mapping) else None}


#: a forest panel's heading, by the unit of its metrics (:attr:`~evalgate.metrics.Metric.unit`)
PANEL_TITLES = {"": "Scores (unitless)", "target units": "In the target's units",
                "target units²": "In the target's units, squared"}


def forest_panels(task: str, checks: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """The performance forest plot's rows, one panel per unit: a unitless score's Δ and an
    error's Δ in the target's units (mae, rmse) never share an axis. Each panel is
    ``(heading, rows)``; a row is a compared check's Δ, lower bound and margin."""
    from ..metrics import REGISTRY

    panels: dict[str, list[dict[str, Any]]] = {}
    for c in checks:
        if c.delta is None or c.ci is None:
            continue
        t = c.threshold
        margin = (-t["max_regression"] if isinstance(t.get("max_regression"), (int, float))
                  else t.get("min_improvement"))
        known = REGISTRY.get(task, {}).get(c.metric)  # type: ignore[call-overload]
        unit = known.unit if known is not None else ""
        panels.setdefault(unit, []).append({"label": c.metric, "estimate": c.delta,
                                            "lower": c.ci[0], "margin": margin,
                                            "status": c.status})
    return [(PANEL_TITLES.get(unit, unit), rows) for unit, rows in panels.items()]


def write_report(verdict: dict[str, Any], directory: Path,
                 signoff: dict[str, Any] | None = None,
                 verdict_path: Path | None = None) -> Path:
    """The report in ``directory``; the sign-off hint names the verdict's path (default:
    ``directory``/verdict.json) as the reader will type it."""
    from ..config import display_path

    path = directory / REPORT_NAME
    shown = display_path(verdict_path or directory / "verdict.json")
    write_atomic(path, render(verdict, signoff, shown))
    return path


def _charts() -> Any:
    from . import svg

    return svg
