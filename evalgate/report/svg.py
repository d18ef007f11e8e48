"""Small, deterministic inline SVG charts for the report: no script, no external font or
file, fixed element ids, numbers rounded — the same data give the same bytes.

Every text passed in is escaped here (labels are user data: column names, group values).
Values are user data too: a model may answer 1e308. Non-finite values are not drawn, and values
beyond ±:data:`CLIP` are drawn at the edge (the chart's title says so), so that no axis
arithmetic overflows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

COLORS = {"candidate": "#0969da", "champion": "#9a6700"}
INK, MUTED, GRID, FAIL, PASS = "#1f2328", "#59636e", "#d1d9e0", "#cf222e", "#1a7f37"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
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
    body.append(_t(label_w, 14, "← worse   better →", "start", MUTED))
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


def lines(series: dict[str, Sequence[Sequence[float]]], *, title: str, xlabel: str,
          ylabel: str, diagonal: bool = False, size: int = 300,
          dots: bool = False, legend: str = "top") -> Markup:
    """Curves (or dots) of both models on [0, 1]² by default, or the data's range."""
    finite = {name: [(a, b) for a, b in s if _finite(a) and _finite(b)]
              for name, s in series.items()}
    series = {name: [(_clip(a), _clip(b)) for a, b in s] for name, s in finite.items()}
    if series != finite:
        title += CLIPPED
    pts = [(float(a), float(b)) for s in series.values() for a, b in s]
    if not pts:
        return Markup("")
    unit = all(0 <= a <= 1 and 0 <= b <= 1 for a, b in pts)
    x0, x1, y0, y1 = _extent(pts, unit)
    m, w, h = 40, size, size

    def px(a: float) -> float:
        return m + (a - x0) / (x1 - x0) * (w - m - 10)

    def py(b: float) -> float:
        return h - m + 10 - (b - y0) / (y1 - y0) * (h - m - 10)

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
        lx = m + 8 if legend != "bottom-right" else w - 100
        body.append(f'<rect x="{lx}" y="{ly}" width="10" height="3" fill="{color}"/>')
        body.append(_t(lx + 14, ly + 5, name))
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
              limit: float | None = None) -> Markup:
    """Horizontal dots with interval whiskers, one row per (group, model): the bias
    family's per-group chart. Each row: label, model, value, lower, upper."""
    if not rows:
        return Markup("")
    label_w, width, row_h = 170, 560, 16
    plot_w = width - label_w - 20
    height = row_h * len(rows) + 36
    if not (_finite(lo) and _finite(hi)):
        lo, hi = 0.0, 1.0
    lo, hi = _clip(lo), _clip(hi)
    if not hi > lo:
        hi = lo + max(1.0, abs(lo))

    def x(v: float) -> float:
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    body = []
    for t in _ticks(lo, hi, 5):
        body.append(f'<line x1="{_f(x(t))}" y1="6" x2="{_f(x(t))}" y2="{height - 22}" '
                    f'stroke="{GRID}"/>')
        body.append(_t(x(t), height - 8, f"{t:g}", "middle", MUTED))
    for i, r in enumerate(rows):
        cy = 12 + i * row_h
        color = COLORS.get(r["model"], INK)
        if r.get("label"):
            body.append(_t(label_w - 8, cy + 4, r["label"], "end"))
        if _finite(r.get("lower")) and _finite(r.get("upper")):
            body.append(f'<line x1="{_f(x(r["lower"]))}" y1="{cy}" x2="{_f(x(r["upper"]))}" '
                        f'y2="{cy}" stroke="{color}" stroke-width="2" opacity="0.6"/>')
        if _finite(r.get("value")):
            body.append(f'<circle cx="{_f(x(r["value"]))}" cy="{cy}" r="3.5" fill="{color}"/>')
    return _svg(width, height, body, title)
