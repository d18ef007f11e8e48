"""Small, deterministic inline SVG charts for the report: no script, no external font or
file, fixed element ids, numbers rounded — the same data give the same bytes.

Every text passed in is escaped here (labels are user data: column names, group values).
Values are user data too: a model may answer 1e308. Non-finite values are not drawn, and values
beyond ±:data:`CLIP` are drawn at the edge (the chart's title says so), so that no axis
arithmetic overflows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

COLORS = {"candidate": "#0969da", "champion": "#9a6700"}
INK, MUTED, GRID, FAIL, PASS = "#1f2328", "#59636e", "#d1d9e0", "#cf222e", "#1a7f37"
ERROR = "#8250df"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
#: room for a legend entry at the right edge: "champion · AUC 0.9268" in 11 px system-ui
LEGEND_W = 140
#: the residual chart's axes hold the central RESIDUAL_SHARE of the points; the rest sit on them
RESIDUAL_SHARE = (0.01, 0.99)
#: the largest magnitude drawn; beyond it a value is drawn at ±CLIP
CLIP = 1e300
CLIPPED = f" (values beyond ±{CLIP:g} drawn at the edge)"


def _clip(x: float) -> float:
    return min(max(x, -CLIP), CLIP)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _f(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def _t(x: float, y: float, text: str, anchor: str = "start", fill: str = INK,
       extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" fill="{fill}" {FONT}'
            f'{extra}>{escape(text)}</text>')


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(f'<svg width="{width}" height="{height}" '
                  f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>'
                  + "".join(body) + "</svg>")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 10) for i in range(int((hi - start) / step) + 1)]


def forest(rows: Sequence[dict[str, Any]], title: str = "Δ vs champion") -> Markup:
    """One row per comparison: the point estimate of Δ (positive = better), its one-sided
    lower bound drawn as a bar opening to the right, and the margin −m as a red tick."""
    if not rows:
        return Markup("")
    label_w, width, row_h, top = 190, 640, 26, 26
    plot_w = width - label_w - 20
    raw = [v for r in rows for v in (r["estimate"], r["lower"], r["margin"], 0.0) if _finite(v)]
    values = [_clip(v) for v in raw]
    if values != raw:
        title += CLIPPED
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.15 or 0.01
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return label_w + (_clip(v) - lo) / (hi - lo) * plot_w

    height = top + row_h * len(rows) + 30
    body = [f'<line x1="{_f(x(0))}" y1="{top - 8}" x2="{_f(x(0))}" y2="{height - 26}" '
            f'stroke="{MUTED}" stroke-dasharray="3 3"/>']
    for t in _ticks(lo, hi):
        body.append(_t(x(t), height - 10, f"{t:+g}" if t else "0", "middle", MUTED))
    body += _orientation(x(0), label_w, label_w + plot_w)
    for i, r in enumerate(rows):
        cy = top + i * row_h + row_h / 2
        color = PASS if r["status"] == "pass" else FAIL if r["status"] in ("fail", "error") \
            else MUTED
        body.append(_t(label_w - 8, cy + 4, r["label"], "end"))
        if _finite(r["lower"]):
            body.append(f'<line x1="{_f(x(r["lower"]))}" y1="{_f(cy)}" x2="{_f(label_w + plot_w)}"'
                        f' y2="{_f(cy)}" stroke="{color}" stroke-width="3" opacity="0.35"/>')
            body.append(f'<line x1="{_f(x(r["lower"]))}" y1="{_f(cy - 7)}" '
                        f'x2="{_f(x(r["lower"]))}" y2="{_f(cy + 7)}" stroke="{color}" '
                        f'stroke-width="2"/>')
        if _finite(r["margin"]):
            body.append(f'<line x1="{_f(x(r["margin"]))}" y1="{_f(cy - 9)}" '
                        f'x2="{_f(x(r["margin"]))}" y2="{_f(cy + 9)}" stroke="{FAIL}" '
                        f'stroke-width="2"/>')
        if _finite(r["estimate"]):
            body.append(f'<circle cx="{_f(x(r["estimate"]))}" cy="{_f(cy)}" r="4" '
                        f'fill="{color}"/>')
    return _svg(width, int(height), body, title)


#: half the width of the "← worse | better →" label, in pixels (11 px system-ui)
ORIENTATION_HALF = 58


def _orientation(zero: float, left: float, right: float) -> list[str]:
    """``← worse | better →`` with its bar on x = 0 (kept inside the plot when 0 is near an
    edge): the words sit each on its own side of 0."""
    centre = min(max(zero, left + ORIENTATION_HALF), right - ORIENTATION_HALF)
    return [_t(centre - 6, 14, "← worse", "end", MUTED), _t(centre, 14, "|", "middle", MUTED),
            _t(centre + 6, 14, "better →", "start", MUTED)]


def lines(series: dict[str, Sequence[Sequence[float]]], *, title: str, xlabel: str,
          ylabel: str, diagonal: bool = False, size: int = 300,
          dots: bool = False, legend: str = "top",
          names: Mapping[str, str] | None = None,
          extent: tuple[float, float, float, float] | None = None) -> Markup:
    """Curves (or dots) of both models on [0, 1]² by default, or the data's range, or
    ``extent`` (x0, x1, y0, y1), where points beyond the axes are drawn on them. ``names``:
    each series' legend text (default: its key)."""
    finite = {name: [(a, b) for a, b in s if _finite(a) and _finite(b)]
              for name, s in series.items()}
    series = {name: [(_clip(a), _clip(b)) for a, b in s] for name, s in finite.items()}
    if series != finite:
        title += CLIPPED
    pts = [(float(a), float(b)) for s in series.values() for a, b in s]
    if not pts:
        return Markup("")
    unit = all(0 <= a <= 1 and 0 <= b <= 1 for a, b in pts)
    x0, x1, y0, y1 = extent if extent is not None else _extent(pts, unit)
    series = {name: [(min(max(a, x0), x1), min(max(b, y0), y1)) for a, b in s]
              for name, s in series.items()}
    m, w, h = 40, size, size

    def px(a: float) -> float:
        return m + (a - x0) / (x1 - x0) * (w - m - 10)

    def py(b: float) -> float:
        return h - m - (b - y0) / (y1 - y0) * (h - m - 10)  # y0 on the frame's bottom

    body = [f'<rect x="{m}" y="10" width="{w - m - 10}" height="{h - m - 10}" fill="none" '
            f'stroke="{GRID}"/>']
    for t in _ticks(x0, x1, 4):
        body.append(_t(px(t), h - m + 24, f"{t:g}", "middle", MUTED))
    for t in _ticks(y0, y1, 4):
        body.append(_t(m - 4, py(t) + 4, f"{t:g}", "end", MUTED))
    if diagonal:
        body.append(f'<line x1="{_f(px(0))}" y1="{_f(py(0))}" x2="{_f(px(1))}" y2="{_f(py(1))}" '
                    f'stroke="{GRID}" stroke-dasharray="4 4"/>')
    if not unit and y0 < 0 < y1:
        body.append(f'<line x1="{m}" y1="{_f(py(0))}" x2="{w - 10}" y2="{_f(py(0))}" '
                    f'stroke="{GRID}"/>')
    for i, (name, s) in enumerate(series.items()):
        color = COLORS.get(name, INK)
        body += _marks([(px(a), py(b)) for a, b in s], color, dots)
        ly = 16 + i * 14 if legend == "top" else h - m - 30 + i * 14
        lx = m + 8 if legend != "bottom-right" else w - 10 - LEGEND_W
        body.append(f'<rect x="{lx}" y="{ly}" width="10" height="3" fill="{color}"/>')
        body.append(_t(lx + 14, ly + 5, (names or {}).get(name, name)))
    body.append(_t(m + (w - m) / 2, h - 4, xlabel, "middle", MUTED))
    body.append(_t(12, h / 2, ylabel, "middle", MUTED,
                   f' transform="rotate(-90 12 {_f(h / 2)})"'))
    return _svg(w, h, body, title)


def _extent(pts: Sequence[tuple[float, float]], unit: bool
            ) -> tuple[float, float, float, float]:
    """The axes' ranges: [0, 1]² for unit data, else the data's (one value: ±its size)."""
    if unit:
        return 0.0, 1.0, 0.0, 1.0
    xs, ys = [a for a, _ in pts], [b for _, b in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if not x1 > x0:
        x0, x1 = x0 - max(1.0, abs(x0)), x0 + max(1.0, abs(x0))
    if not y1 > y0:
        y0, y1 = y0 - max(1.0, abs(y0)), y0 + max(1.0, abs(y0))
    return x0, x1, y0, y1


def _marks(points: Sequence[tuple[float, float]], color: str, dots: bool) -> list[str]:
    """One series as dots or as a polyline, in pixel coordinates."""
    if dots:
        return [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="1.6" fill="{color}" opacity="0.6"/>'
                for x, y in points]
    path = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    return [f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>']


def intervals(rows: Sequence[dict[str, Any]], *, title: str, lo: float = 0.0, hi: float = 1.0,
              limit: float | None = None, limit_label: str = "") -> Markup:
    """Horizontal dots with interval whiskers, one row per (group, model): the bias and
    robustness families' per-group and per-perturbation charts. Each row: label, model,
    value, lower, upper; a row with ``error`` (a text) is drawn as that error, in the error
    colour, where its dot would be; ``limit`` is drawn as a red dashed line labelled
    ``limit_label`` (the flip-rate ceiling a check may not pass), a row's own ``limit`` as a
    red tick on its row."""
    if not rows:
        return Markup("")
    label_w, width, row_h = 170, 560, 16
    plot_w = width - label_w - 20
    top = 18 if limit_label else 6
    height = top + row_h * len(rows) + 30
    if not (_finite(lo) and _finite(hi)):
        lo, hi = 0.0, 1.0
    lo, hi = _clip(lo), _clip(hi)
    if not hi > lo:
        hi = lo + max(1.0, abs(lo))

    def x(v: float) -> float:
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    body = []
    for t in _ticks(lo, hi, 5):
        body.append(f'<line x1="{_f(x(t))}" y1="{top}" x2="{_f(x(t))}" y2="{height - 22}" '
                    f'stroke="{GRID}"/>')
        body.append(_t(x(t), height - 8, f"{t:g}", "middle", MUTED))
    if _finite(limit):
        assert limit is not None
        body.append(f'<line x1="{_f(x(limit))}" y1="{top - 4}" x2="{_f(x(limit))}" '
                    f'y2="{height - 22}" stroke="{FAIL}" stroke-width="1.5" '
                    f'stroke-dasharray="4 3"/>')
        if limit_label:
            body.append(_t(x(limit), 11, limit_label, "middle", FAIL))
    for i, r in enumerate(rows):
        cy = top + 6 + i * row_h
        body += _interval_row(r, cy, label_w, x)
    return _svg(width, height, body, title)


def _interval_row(r: dict[str, Any], cy: float, label_w: float,
                  x: Any) -> list[str]:
    """One row of :func:`intervals`: its label, then its error, or its whisker and dot."""
    out = [_t(label_w - 8, cy + 4, r["label"], "end")] if r.get("label") else []
    if r.get("error"):
        return [*out, _t(label_w + 4, cy + 4, f"error: {r['error']}", "start", ERROR)]
    color = COLORS.get(r["model"], INK)
    if _finite(r.get("limit")):  # this row's own ceiling, when the rows' differ
        out.append(f'<line x1="{_f(x(r["limit"]))}" y1="{_f(cy - 7)}" x2="{_f(x(r["limit"]))}" '
                   f'y2="{_f(cy + 7)}" stroke="{FAIL}" stroke-width="2"/>')
    if _finite(r.get("lower")) and _finite(r.get("upper")):
        out.append(f'<line x1="{_f(x(r["lower"]))}" y1="{_f(cy)}" x2="{_f(x(r["upper"]))}" '
                   f'y2="{_f(cy)}" stroke="{color}" stroke-width="2" opacity="0.6"/>')
    if _finite(r.get("value")):
        out.append(f'<circle cx="{_f(x(r["value"]))}" cy="{_f(cy)}" r="3.5" fill="{color}"/>')
    return out


@dataclass(frozen=True)
class ResidualChart:
    """The residual chart and what its caption must say: per model, the points drawn (the
    finite ones) and how many of them lie beyond the axes, drawn on them."""

    svg: Markup
    drawn: Mapping[str, int]
    beyond: Mapping[str, int]


def residual_chart(series: Mapping[str, Sequence[Sequence[float]]]) -> ResidualChart:
    """Each model's (prediction, residual) dots on axes that hold the central 98% of all the
    points (both models' together), so that one wild residual does not flatten the rest:
    the points beyond the axes are drawn on them and counted for the caption."""
    finite = {name: [(_clip(a), _clip(b)) for a, b in s if _finite(a) and _finite(b)]
              for name, s in series.items()}
    xs = sorted(a for s in finite.values() for a, _ in s)
    ys = sorted(b for s in finite.values() for _, b in s)
    if not xs:
        return ResidualChart(Markup(""), {n: 0 for n in finite}, {n: 0 for n in finite})
    x0, x1 = _central(xs)
    y0, y1 = _central(ys)
    beyond = {name: sum(not (x0 <= a <= x1 and y0 <= b <= y1) for a, b in s)
              for name, s in finite.items()}
    chart = lines(dict(finite), title="Residuals", xlabel="prediction",
                  ylabel="prediction − truth", dots=True, size=360, extent=(x0, x1, y0, y1))
    return ResidualChart(chart, {n: len(s) for n, s in finite.items()}, beyond)


def _central(values: Sequence[float]) -> tuple[float, float]:
    """The range holding the central :data:`RESIDUAL_SHARE` of sorted ``values`` (nearest
    ranks), padded by 5% each side; one value (or one repeated): ± its size, at least 1."""
    n = len(values)
    lo = values[int(RESIDUAL_SHARE[0] * (n - 1))]
    hi = values[math.ceil(RESIDUAL_SHARE[1] * (n - 1))]
    if not hi > lo:
        half = max(1.0, abs(lo))
        return lo - half, lo + half
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad
