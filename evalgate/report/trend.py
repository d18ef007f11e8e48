"""The monitoring trend page (``evalgate monitor NAME --report``): one offline HTML page from
a model's monitoring log — each check over the batches, its estimate and bounds against its
line (δ for a drift, −max_regression for a metric against its gate-time value), alerts in red.
No script, nothing loaded from the network; every text from the log is escaped."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, TypeGuard

from .svg import FAIL, FONT, GRID, INK, MUTED, PASS

WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 560, 150, 56, 14, 24


def _num(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _line_of(entry: Mapping[str, Any], check: Mapping[str, Any]) -> float | None:
    if _num(check.get("limit")):  # a value threshold, or the missing share's increase
        return float(check["limit"])
    if check.get("method") in ("gate-time", "cbpe"):
        margin = check.get("margin")
        return -float(margin) if _num(margin) else None
    delta = entry.get("max_drift")
    return float(delta) if _num(delta) else None


def _chart(points: Sequence[tuple[int, Mapping[str, Any], float | None]], runs: int) -> str:
    values = [float(v) for _, c, line in points
              for v in (c.get("estimate"), c.get("lower"), c.get("upper"), line) if _num(v)]
    if not values:
        return '<p class="muted">no value to draw</p>'
    lo, hi = min([*values, 0.0]), max([*values, 0.0])
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (i + 0.5) / max(runs, 1) * plot_w

    def y(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * plot_h

    body = [f'<line x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - 10}" y2="{y(0):.1f}" '
            f'stroke="{GRID}"/>',
            f'<text x="{LEFT - 6}" y="{y(hi - pad) + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f'{hi - pad:.3g}</text>',
            f'<text x="{LEFT - 6}" y="{y(lo + pad) + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f'{lo + pad:.3g}</text>']
    lines = {line for _, _, line in points if line is not None}
    for line in sorted(lines):
        body.append(f'<line x1="{LEFT}" y1="{y(line):.1f}" x2="{WIDTH - 10}" y2="{y(line):.1f}"'
                    f' stroke="{FAIL}" stroke-dasharray="4 3"/>')
    for i, c, _ in points:
        color = FAIL if c.get("status") == "alert" else PASS if c.get("status") == "ok" \
            else MUTED
        if _num(c.get("lower")) and _num(c.get("upper")):
            body.append(f'<line x1="{x(i):.1f}" y1="{y(float(c["lower"])):.1f}" x2="{x(i):.1f}"'
                        f' y2="{y(float(c["upper"])):.1f}" stroke="{color}" stroke-width="2"/>')
        if _num(c.get("estimate")):
            body.append(f'<circle cx="{x(i):.1f}" cy="{y(float(c["estimate"])):.1f}" r="3.5" '
                        f'fill="{color}"><title>{escape(str(c.get("status")))}: '
                        f'{float(c["estimate"]):.4f}</title></circle>')
        body.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                    f'fill="{MUTED}">{i + 1}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" {FONT} fill="{INK}" role="img">'
            + "".join(body) + "</svg>")


def trend_page(name: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """The page for model ``name`` from its monitoring log's ``entries``, oldest first."""
    order: dict[str, None] = {}
    for e in entries:
        for c in e.get("checks", []):
            order.setdefault(str(c.get("name")), None)
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{escape(str(e.get('at')))}</td>"
        f"<td>v{escape(str(e.get('version')))}</td>"
        f"<td>{escape(str((e.get('data') or {}).get('path')))}</td>"
        f"<td class=num>{escape(str((e.get('data') or {}).get('rows')))}</td>"
        f"<td>{escape(', '.join(map(str, e.get('alerts', []))) or '—')}</td></tr>"
        for i, e in enumerate(entries))
    sections = []
    for check in order:
        points = [(i, c, _line_of(e, c)) for i, e in enumerate(entries)
                  for c in e.get("checks", []) if str(c.get("name")) == check]
        alerts = sum(c.get("status") == "alert" for _, c, _ in points)
        sections.append(f"<h3>{escape(check)}"
                        f"{f' <span class=alert>{alerts} alert(s)</span>' if alerts else ''}"
                        f"</h3>{_chart(points, len(entries))}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>evalgate monitoring — {escape(name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:{INK}}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid {GRID};padding:2px 8px;
text-align:left}}.num{{text-align:right}}.alert{{color:{FAIL};font-size:0.8em}}
.muted{{color:{MUTED}}}</style></head><body>
<h1>Monitoring — {escape(name)}</h1>
<p>{len(entries)} batch(es) judged against the champion's gate-time data. Each chart: the
estimate (dot) and its bounds (bar) per batch, the line it must not cross dashed in red
(δ for a drift, −max_regression for a metric against its gate-time value); red: an alert.</p>
<table><tr><th>#</th><th>at</th><th>version</th><th>batch</th><th>rows</th><th>alerts</th></tr>
{rows}</table>
{"".join(sections)}
</body></html>
"""
