"""Shadow mode of ``evalgate monitor NAME --data BATCH --challenger C …``: the champion and
the challengers scored on a labelled production batch, each challenger compared with the
champion on the same rows for every performance metric the champion's gate judged with a
``max_regression`` — at α/k (Bonferroni), as ``evalgate compare`` does, so that the chance
that any truly worse challenger is marked as one that could replace the champion stays at
most α. The leaderboard is printed and appended to the monitoring log with the run; it raises
no alert (the champion's checks do)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .batch import scores_on


def shadow(args: argparse.Namespace, entry: dict[str, Any], checks: list[dict[str, Any]],
           batch: Any, champion: Any) -> dict[str, Any] | None:
    """The leaderboard of ``args.challenger`` against ``champion`` on ``batch`` (None without
    challengers)."""
    if not args.challenger:
        return None
    import numpy as np

    from .._io import sha256_file
    from ..data.labels import label_key
    from ..engine.challengers import names_of
    from ..errors import EvalgateError
    from ..metrics import get_metric
    from ..stats import assess

    target, task = entry.get("target"), entry.get("task")
    if task not in ("binary", "regression"):
        raise EvalgateError(f"--challenger: shadow mode compares binary classifiers and "
                            f"regressors; this champion's task is {task}")
    if target not in batch.columns or not bool(batch[target].notna().any()):
        raise EvalgateError(f"--challenger: shadow mode needs the batch's labels (its "
                            f"{target!r} column)")
    if not checks:
        raise EvalgateError("--challenger: the champion's gate judged no performance metric "
                            "with a max_regression to compare on")
    keep = batch[target].notna().to_numpy()
    if task == "binary":
        y = (np.array([label_key(v) for v in batch[target][keep]])
             == label_key(entry.get("positive_label"))).astype(int)
    else:
        y = batch[target][keep].to_numpy(dtype=np.float64)

    def preds(model: Any, role: str = "the champion") -> tuple[np.ndarray, np.ndarray]:
        s = scores_on(args, entry, batch, model, role)[keep]
        return s, ((s >= 0.5).astype(int) if task == "binary" else s)

    k = len(args.challenger)
    confidence = 1 - (1 - args.confidence) / k
    champ = preds(champion)
    rows = []
    for name, path in zip(names_of(args.challenger), args.challenger, strict=True):
        if not Path(path).is_file():
            raise EvalgateError(f"--challenger {path}: model file not found")
        mine = preds(SimpleNamespace(path=Path(path)), f"challenger {path}")
        rng = np.random.default_rng(args.seed)
        metrics = {}
        for c in checks:
            metric = get_metric(c["metric"], task)
            which = 0 if metric.needs == "score" else 1
            delta = assess(metric, y, mine[which], champ[which], confidence=confidence,
                           rng=rng, n_resamples=1000).delta
            assert delta is not None
            margin = float(c["threshold"]["max_regression"])
            metrics[c["id"]] = {"metric": metric.name, "delta": delta.estimate,
                                "bound": delta.lower, "margin": margin,
                                "ok": delta.lower is not None and delta.lower >= -margin}
        rows.append({"name": name, "path": str(path), "sha256": sha256_file(Path(path)),
                     "metrics": metrics, "could_replace": all(m["ok"] for m in metrics.values())})
    return {"rows": int(keep.sum()), "adjustment": {"method": "bonferroni", "challengers": k,
                                                    "alpha": round(1 - args.confidence, 12),
                                                    "confidence_each": confidence},
            "challengers": rows}


def shadow_safely(args: argparse.Namespace, entry: dict[str, Any],
                  checks: list[dict[str, Any]], batch: Any,
                  champion: Any) -> dict[str, Any] | None:
    """:func:`shadow`, its failure kept as ``{"error": …}``: a challenger that cannot be
    scored never costs the champion's own monitoring of the batch."""
    from ..errors import EvalgateError

    try:
        return shadow(args, entry, checks, batch, champion)
    except EvalgateError as exc:
        return {"error": str(exc)}


def shadow_entry(board: dict[str, Any] | None) -> dict[str, Any]:
    """What the monitoring log's entry gains (``shadow``: the leaderboard, or why it could not
    be made), said on the terminal as it is added; nothing without challengers."""
    if board is None:
        return {}
    if "error" in board:
        print(f"evalgate: shadow mode: {board['error']}", file=sys.stderr)
    else:
        for line in shadow_lines(board):
            print(line)
    return {"shadow": board}


def shadow_lines(board: dict[str, Any]) -> list[str]:
    adj = board["adjustment"]
    out = [f"shadow: {adj['challengers']} challenger(s) against the champion on "
           f"{board['rows']:,} labelled rows, each at α = {1 - adj['confidence_each']:.4g} "
           f"({adj['method']})"]
    for row in board["challengers"]:
        said = ", ".join(f"{m['metric']} Δ {m['delta']:+.4f} (bound {m['bound']:+.4f}, "
                         f"margin {m['margin']:g})" for m in row["metrics"].values())
        verdict = "could replace the champion" if row["could_replace"] else "could not"
        out.append(f"  {row['name']}: {verdict} — {said}")
    return out
