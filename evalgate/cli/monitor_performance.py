"""The performance rows of ``evalgate monitor``: each performance check of a profiled suite's
promoting verdict, judged on the batch — measured on its labels when it has them, estimated by
CBPE (:mod:`evalgate.stats.cbpe`) for a binary champion without them.

Two judgements per check, each a row:

- a ``max_regression`` m: Δ = sign·(batch − gate) against −m (:func:`_compare`), row
  ``performance:METRIC``;
- a value threshold ``min``/``max``: the batch's value against it (:func:`_against`), row
  ``performance:METRIC:min`` / ``:max`` — an alert when the batch's whole interval is past the
  threshold, ok when it is wholly on the right side, undecided when it straddles it. Only
  ``max_regression`` checks were judged once: an AUC of 0.09 on a labelled batch against a
  gate's ``min: 0.85`` raised no alert.

A check the batch cannot judge (no labels and no reliability table, a multiclass champion)
is an *undecided* row saying why, never left out.
"""

from __future__ import annotations

import argparse
from typing import Any

from .batch import gate_checks, scores_on


def performance(args: argparse.Namespace, verdict: dict[str, Any], entry: dict[str, Any],
                batch: Any, champion: Any) -> list[dict[str, Any]]:
    """The rows of the suite ``entry`` (a profile's suite) on the batch."""
    checks = [c for c in gate_checks(verdict, entry, margin_only=False) if _judged(c)]
    if not checks:
        return []
    target, task = entry.get("target"), entry.get("task")
    labelled = target in batch.columns and bool(batch[target].notna().any())
    if task not in ("binary", "regression"):
        return _none(checks, "not measured: monitor measures the performance of binary "
                             "classifiers and regressors only")
    if labelled:
        return _measured(args, entry, checks, batch, champion)
    if task == "binary" and "calibration" in entry:
        return _estimated(args, entry, checks, batch, champion)
    return _none(checks, f"not measured: the batch has no labels (its {target!r} column) "
                         f"and the profile no reliability table to estimate from")


def _judged(check: dict[str, Any]) -> bool:
    """A check with something to judge on a batch: a margin or a value threshold."""
    threshold = check.get("threshold") or {}
    return any(threshold.get(k) is not None for k in ("max_regression", "min", "max"))


def _names(check: dict[str, Any]) -> list[str]:
    threshold = check.get("threshold") or {}
    metric = str(check.get("metric"))
    return [f"{metric}{'' if k == 'max_regression' else ':' + k}"
            for k in ("max_regression", "min", "max") if threshold.get(k) is not None]


def _none(checks: list[dict[str, Any]], note: str, method: str = "gate-time"
          ) -> list[dict[str, Any]]:
    return [_undecided(name, method, note) for c in checks for name in _names(c)]


def _rows(metric: Any, value: float, lower: float | None, upper: float | None,
          check: dict[str, Any], method: str) -> list[dict[str, Any]]:
    """Every judgement ``check`` asks for, of the batch's value and its bounds."""
    threshold = check.get("threshold") or {}
    rows = []
    if threshold.get("max_regression") is not None:
        rows.append(_compare(metric, value, lower, upper, check, method))
    for side in ("min", "max"):
        if threshold.get(side) is not None:
            rows.append(_against(metric, value, lower, upper, side, float(threshold[side]),
                                 method))
    return rows


def _measured(args: argparse.Namespace, entry: dict[str, Any], checks: list[dict[str, Any]],
              batch: Any, champion: Any) -> list[dict[str, Any]]:
    import numpy as np

    from ..data.labels import label_key
    from ..errors import EvalgateError
    from ..metrics import get_metric
    from ..stats import assess

    target, task = entry["target"], entry["task"]
    keep = batch[target].notna().to_numpy()
    scores = scores_on(args, entry, batch, champion)[keep]
    if task == "binary":
        y = (np.array([label_key(v) for v in batch[target][keep]])
             == label_key(entry.get("positive_label"))).astype(int)
        labels = (scores >= 0.5).astype(int)
    else:
        y = batch[target][keep].to_numpy(dtype=np.float64)
        labels = scores
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(args.seed)
    for c in checks:
        metric = get_metric(c["metric"], task)
        pred = scores if metric.needs == "score" else labels
        try:
            found = assess(metric, y, pred, None, confidence=args.confidence, rng=rng,
                           n_resamples=1000).value
        except EvalgateError as exc:
            rows += _none([c], str(exc))
            continue
        rows += _rows(metric, found.estimate, found.lower, found.upper, c, "gate-time")
    return rows


def _estimated(args: argparse.Namespace, entry: dict[str, Any], checks: list[dict[str, Any]],
               batch: Any, champion: Any) -> list[dict[str, Any]]:
    """CBPE (:mod:`evalgate.stats.cbpe`): each metric it can estimate from the champion's
    scores and the reliability table fitted on the gate's labelled rows — refused, for every
    metric, when a profiled column of the batch left the gate data's support."""
    import numpy as np

    from ..errors import StatsError
    from ..metrics import get_metric
    from ..stats.cbpe import ESTIMATED, Calibration, estimate

    wanted = [c for c in checks if c["metric"] in ESTIMATED]
    if not wanted:
        return []
    try:
        calibration = Calibration.from_dict(entry["calibration"])
    except StatsError as exc:
        return _none(wanted, f"profile: {exc}", "cbpe")
    refused = _unsupported(entry, batch)
    if refused is not None:
        return _none(wanted, refused, "cbpe")
    scores = scores_on(args, entry, batch, champion)
    rng = np.random.default_rng(args.seed)
    rows: list[dict[str, Any]] = []
    for c in wanted:
        metric = get_metric(c["metric"], "binary")
        try:
            found = estimate(metric.name, calibration, scores, args.confidence, rng)
        except StatsError as exc:
            rows += _none([c], str(exc), "cbpe")
            continue
        for row in _rows(metric, found.estimate, found.lower, found.upper, c, "cbpe"):
            if row["estimate"] is not None:
                row["calibration_error"] = calibration.error
            rows.append(row)
    return rows


def _unsupported(entry: dict[str, Any], batch: Any) -> str | None:
    """Why CBPE cannot be trusted on this batch (``None``: it can)."""
    from ..verdict.profile import MAX_OUTSIDE_SUPPORT, outside_support

    unprofiled = [c for c in entry.get("features", ()) if c not in entry["columns"]]
    if unprofiled:
        return (f"not estimated: the profile lacks {len(unprofiled)} of the champion's "
                f"features ({', '.join(unprofiled[:3])}{', …' if len(unprofiled) > 3 else ''}), "
                f"so whether the batch stays inside the gate data's support cannot be checked "
                f"(a drift section over every feature profiles them)")
    for column, state in entry["columns"].items():
        if column not in batch.columns:
            continue
        share, what = outside_support(batch[column], state)
        if share > MAX_OUTSIDE_SUPPORT:
            return (f"not estimated: the batch left the gate data's support — {share:.1%} of "
                    f"{column!r} {what} (CBPE assumes the scores mean what they meant "
                    f"there; at most {MAX_OUTSIDE_SUPPORT:.0%} may lie outside)")
    return None


def _undecided(name: str, method: str, note: str) -> dict[str, Any]:
    return {"name": f"performance:{name}", "method": method, "estimate": None,
            "lower": None, "upper": None, "status": "undecided", "note": note}


def _sides(value: float, lower: float | None, upper: float | None
           ) -> tuple[float, float] | None:
    """The batch's half-widths below and above its value, each mirrored from the other side
    where the interval has one side only (``None``: no finite interval)."""
    import numpy as np

    below = value - lower if lower is not None else None
    above = upper - value if upper is not None else None
    below = below if below is not None else above
    above = above if above is not None else below
    if below is None or above is None or not np.isfinite([below, above, value]).all():
        return None
    return below, above


def _against(metric: Any, value: float, lower: float | None, upper: float | None, side: str,
             limit: float, method: str) -> dict[str, Any]:
    """The batch's value against the gate's ``min``/``max``: ``alert`` when its whole
    interval (each side one-sided at the confidence, mirrored where it has one side only, as
    :func:`_compare` reads it) is past the threshold, ``ok`` when it is wholly within it."""
    name = f"{metric.name}:{side}"
    sides = _sides(value, lower, upper)
    if sides is None:
        return _undecided(name, method, f"{metric.name}: no finite interval on the batch to "
                                        f"compare with {side} {limit:g}")
    lo, hi = value - sides[0], value + sides[1]
    past, within = (hi < limit, lo >= limit) if side == "min" else (lo > limit, hi <= limit)
    status = "alert" if past else "ok" if within else "undecided"
    return {"name": f"performance:{name}", "method": method, "metric": metric.name,
            "threshold": side, "value": value, "estimate": value, "lower": lo, "upper": hi,
            "limit": limit, "status": status}


def _compare(metric: Any, value: float, lower: float | None, upper: float | None,
             check: dict[str, Any], method: str) -> dict[str, Any]:
    """Δ = sign·(batch − gate) with MOVER's bounds from the two independent intervals: each
    side's half-width from the batch's bound on that side (mirrored where it has one side
    only) and the gate's one-sided bound (mirrored)."""
    import numpy as np

    if check.get("candidate") is None:
        return _undecided(metric.name, method,
                          f"{metric.name}: the gate's verdict holds no value to compare with")
    gate = float(check["candidate"])
    bound = _own_bound(check)
    if bound is None:
        return _undecided(metric.name, method,
                          f"{metric.name}: the gate's verdict holds no bound of its value")
    h_gate = abs(gate - bound)
    delta = metric.sign * (value - gate)
    sides = _sides(value, lower, upper)
    if sides is None or not np.isfinite(delta):
        return _undecided(metric.name, method,
                          f"{metric.name}: no finite interval on the batch to compare")
    below, above = sides
    worse, better = (below, above) if metric.sign > 0 else (above, below)
    margin = float(check["threshold"]["max_regression"])
    lo, hi = delta - float(np.hypot(h_gate, worse)), delta + float(np.hypot(h_gate, better))
    status = "alert" if hi < -margin else "ok" if lo >= -margin else "undecided"
    return {"name": f"performance:{metric.name}", "method": method, "metric": metric.name,
            "value": value, "gate": gate, "estimate": delta, "lower": lo, "upper": hi,
            "margin": margin, "status": status}


def _own_bound(check: dict[str, Any]) -> float | None:
    """The gate's bound on the champion's own value: ``details.candidate_ci``. A check's
    ``ci`` is that interval only when it was judged without a champion; against one it is
    Δ's — taken for the value's, it made the gate's half-width about the value itself
    (0.91 for an AUC of 0.93), and a batch with its labels shuffled raised no alert."""
    details = check.get("details") if isinstance(check.get("details"), dict) else {}
    own = details.get("candidate_ci") if details else None
    if own is None and check.get("delta") is None:
        own = check.get("ci")
    found = [b for b in own or () if b is not None]
    return float(found[0]) if found else None
