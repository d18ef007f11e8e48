"""``evalgate monitor NAME --data BATCH``: the registry's champion against a production batch.

The champion's reference profile — the bins and counts of the data it was gated on, stored
when it was promoted — is the reference; each profiled column of the batch, the champion's
predictions on it and (when the batch has them) its labels are judged as the drift family
judges them (docs/statistics.md, "Drift"): an *alert* when the lower bound of a drift is above
δ, *undecided* when the bounds straddle δ, *ok* within it. Each run is appended to the model's
monitoring log (``<registry>/<NAME>/monitor.jsonl``, hash-chained like the audit log). Exit
status 1 when an alert fires (a scheduled job can open a retraining ticket), 2 when the run
cannot be made, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batch import gate_checks, scores_on
from .common import project
from .shadow import shadow_entry, shadow_safely

if TYPE_CHECKING:
    pass

DEFAULT_MAX_DRIFT = 0.1


def add_parsers(sub: Any) -> None:
    mon = sub.add_parser("monitor", help="judge a production batch against the champion's "
                                         "gate-time data")
    mon.add_argument("name", help="the model's name in the registry")
    mon.add_argument("--data", type=Path, default=None,
                     help="the batch: a .csv/.csv.gz/.parquet file, a glob or a folder")
    mon.add_argument("--report", action="store_true",
                     help="write the trend page of every batch judged so far "
                          "(monitor-NAME.html in --out)")
    mon.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="where --report writes (default: [tool.evalgate] report, or reports/)")
    mon.add_argument("--registry", type=Path, default=None, metavar="DIR",
                     help="the registry folder (default: [tool.evalgate] registry, or registry/)")
    mon.add_argument("--max-drift", type=float, default=DEFAULT_MAX_DRIFT, metavar="δ",
                     help="the smallest drift that matters (default 0.1)")
    mon.add_argument("--confidence", type=float, default=0.95,
                     help="one-sided level of every bound (default 0.95)")
    mon.add_argument("--seed", type=int, default=0)
    mon.add_argument("--trust-pickle", action="store_true",
                     help="allow pickle/joblib model files (they can run code)")
    mon.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                     help="trust this type in a skops model file (repeatable; adds to "
                          "[tool.evalgate] trusted_types)")
    mon.add_argument("--challenger", action="append", default=[], type=Path, metavar="MODEL",
                     help="shadow mode: also score this model on the labelled batch against "
                          "the champion (repeatable; each at α/k); the leaderboard goes to the "
                          "monitoring log")


def _monitor(args: argparse.Namespace) -> int:
    from ..data.read import read_files
    from ..data.sources import SourceProblem, resolve
    from ..errors import EvalgateError
    from ..registry import ModelRegistry
    from ..registry.profiles import stored_profile
    from ..registry.references import local_only

    if not 0 < args.max_drift <= 100 or not 0.5 <= args.confidence < 1:
        print("evalgate: --max-drift must be in (0, 100] and --confidence in [0.5, 1)",
              file=sys.stderr)
        return 2
    if args.data is None and not args.report:
        print("evalgate: monitor needs --data BATCH, --report, or both", file=sys.stderr)
        return 2
    try:
        local_only(args.name, "monitor")
        root = args.registry if args.registry is not None else project().registry
        reg = ModelRegistry(root, args.name)
        if args.data is None:
            return _report(args, reg.dir / "monitor.jsonl")
        champion = reg.champion()
        if champion is None:
            raise EvalgateError(f"{args.name} has no champion to monitor")
        champion.verify()  # the registered bytes, as a gate against @champion (and scores_on)
        found = stored_profile(reg, champion)
        if found is None:
            raise EvalgateError(f"{args.name} version {champion.number} was promoted without a "
                                f"reference profile (a verdict from before profiles, or from "
                                f"MLflow); gate and promote it again to monitor it")
        profile, verdict, verdict_sha = found
        try:
            sources = resolve(str(args.data), Path.cwd())
        except SourceProblem as exc:
            raise EvalgateError(f"--data: {exc}") from None
        batch, _ = read_files(sources.files)
        if len(batch) == 0:
            raise EvalgateError(f"--data {args.data}: the batch has no rows (only a header?); "
                                f"there is nothing to monitor")
        rows = _judge_all(args, profile, batch, champion)
        rows += _performance(args, verdict, profile, batch, champion)
        board = shadow_safely(args, profile["suites"][0],
                              gate_checks(verdict, profile["suites"][0]), batch, champion)
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    alerts = [r for r in rows if r["status"] == "alert"]
    for r in rows:
        print(_line(r, args.max_drift))
    from .._io import sha256_files

    entry = {"at": _now(), "model": args.name, "version": champion.number,
             "verdict": verdict_sha, "data": {"path": str(args.data),
                                              "sha256": sha256_files(sources.files)[0],
                                              "rows": len(batch)},
             "max_drift": args.max_drift, "confidence": args.confidence,
             "alerts": [r["name"] for r in alerts], "checks": rows}
    entry.update(shadow_entry(board))
    try:
        from ..registry.monitoring import MONITOR_LOG, append

        reg.note({"action": "monitor", "version": champion.number},
                 write=lambda: {"log": append(reg.dir / MONITOR_LOG, entry)})
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    if args.report and _report(args, reg.dir / "monitor.jsonl") != 0:
        return 2
    undecided = sum(r["status"] == "undecided" for r in rows)
    print(f"evalgate monitor: {args.name} v{champion.number} on {len(batch):,} rows — "
          + (f"ALERT ({len(alerts)} of {len(rows)} checks: "
             f"{', '.join(r['name'] for r in alerts)})" if alerts else
             f"no alert ({len(rows)} checks, {undecided} undecided)"))
    return 1 if alerts else 2 if board is not None and "error" in board else 0


def _report(args: argparse.Namespace, log: Path) -> int:
    """Write the trend page of the model's monitoring log."""
    from .._io import write_atomic
    from ..report.trend import trend_page

    if not log.is_file():
        print(f"evalgate: {args.name} has no monitoring log yet ({log})", file=sys.stderr)
        return 2
    try:
        entries = [json.loads(line) for line in log.read_bytes().splitlines() if line.strip()]
    except ValueError:
        print(f"evalgate: {log}: not a monitoring log", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else project().report
    path = out / f"monitor-{args.name}.html"
    write_atomic(path, trend_page(args.name, entries))
    print(f"evalgate monitor: trend of {len(entries)} batch(es) — {path}", file=sys.stderr)
    return 0


def _line(r: dict[str, Any], delta: float) -> str:
    head = f"{r['status'].upper():<9} {r['name']}: "
    if r["estimate"] is None:
        return head + (r.get("note") or "no value present to compare")
    if r["method"] in ("gate-time", "cbpe"):
        how = "estimated (CBPE, no labels) at" if r["method"] == "cbpe" else ""
        tail = (f"; the reference's calibration error {r['calibration_error']:.4f}"
                if "calibration_error" in r else "")
        return head + (f"{r['metric']} {how} {r['value']:.4f} on the batch vs "
                       f"{r['gate']:.4f} at the gate: Δ {r['estimate']:+.4f} (bounds "
                       f"{r['lower']:+.4f} … {r['upper']:+.4f}, max_regression "
                       f"{r['margin']:g}){tail}").replace("  ", " ")
    return head + (f"{r['method']} drift {r['estimate']:.4f} (bounds {r['lower']:.4f} … "
                   f"{r['upper']:.4f}, δ {delta:g})")


def _performance(args: argparse.Namespace, verdict: dict[str, Any], profile: dict[str, Any],
                 batch: Any, champion: Any) -> list[dict[str, Any]]:
    """Each performance metric the gate judged with a ``max_regression``, on the batch
    against its gate-time value — an alert when the batch shows it degraded by more than that
    margin (the upper bound of Δ = batch − gate, oriented so that positive is better, below
    −m), ok when the lower bound is at least −m. Measured on the batch's labels when it has
    them; for a binary champion without them, estimated by CBPE (:func:`_estimated`)."""
    entry = profile["suites"][0]
    target, task = entry.get("target"), entry.get("task")
    if task not in ("binary", "regression"):
        return []
    labelled = target in batch.columns and bool(batch[target].notna().any())
    if not labelled and (task != "binary" or "calibration" not in entry):
        return []
    checks = gate_checks(verdict, entry)
    if not checks:
        return []
    if labelled:
        return _measured(args, entry, checks, batch, champion)
    return _estimated(args, entry, checks, batch, champion)


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
    rows = []
    rng = np.random.default_rng(args.seed)
    for c in checks:
        metric = get_metric(c["metric"], task)
        pred = scores if metric.needs == "score" else labels
        try:
            found = assess(metric, y, pred, None, confidence=args.confidence, rng=rng,
                           n_resamples=1000).value
        except EvalgateError as exc:
            rows.append(_undecided(metric.name, "gate-time", str(exc)))
            continue
        rows.append(_compare(metric, found.estimate, found.lower, found.upper, c, "gate-time"))
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
    from ..verdict.profile import MAX_OUTSIDE_SUPPORT, outside_support

    wanted = [c for c in checks if c["metric"] in ESTIMATED]
    if not wanted:
        return []
    try:
        calibration = Calibration.from_dict(entry["calibration"])
    except StatsError as exc:
        return [_undecided(c["metric"], "cbpe", f"profile: {exc}") for c in wanted]
    unprofiled = [c for c in entry.get("features", ()) if c not in entry["columns"]]
    if unprofiled:
        note = (f"not estimated: the profile lacks {len(unprofiled)} of the champion's "
                f"features ({', '.join(unprofiled[:3])}{', …' if len(unprofiled) > 3 else ''}), "
                f"so whether the batch stays inside the gate data's support cannot be checked "
                f"(a drift section over every feature profiles them)")
        return [_undecided(c["metric"], "cbpe", note) for c in wanted]
    for column, state in entry["columns"].items():
        if column not in batch.columns:
            continue
        share, what = outside_support(batch[column], state)
        if share > MAX_OUTSIDE_SUPPORT:
            note = (f"not estimated: the batch left the gate data's support — {share:.1%} of "
                    f"{column!r} {what} (CBPE assumes the scores mean what they meant "
                    f"there; at most {MAX_OUTSIDE_SUPPORT:.0%} may lie outside)")
            return [_undecided(c["metric"], "cbpe", note) for c in wanted]
    scores = scores_on(args, entry, batch, champion)
    rng = np.random.default_rng(args.seed)
    rows = []
    for c in wanted:
        metric = get_metric(c["metric"], "binary")
        try:
            found = estimate(metric.name, calibration, scores, args.confidence, rng)
        except StatsError as exc:
            rows.append(_undecided(metric.name, "cbpe", str(exc)))
            continue
        row = _compare(metric, found.estimate, found.lower, found.upper, c, "cbpe")
        row["calibration_error"] = calibration.error
        rows.append(row)
    return rows


def _undecided(metric: str, method: str, note: str) -> dict[str, Any]:
    return {"name": f"performance:{metric}", "method": method, "estimate": None,
            "lower": None, "upper": None, "status": "undecided", "note": note}


def _compare(metric: Any, value: float, lower: float | None, upper: float | None,
             check: dict[str, Any], method: str) -> dict[str, Any]:
    """Δ = sign·(batch − gate) with MOVER's bounds from the two independent intervals: each
    side's half-width from the batch's bound on that side (mirrored where it has one side
    only) and the gate's one-sided bound (mirrored)."""
    import numpy as np

    gate = float(check["candidate"])
    bound = _own_bound(check)
    if bound is None:
        return _undecided(metric.name, method,
                          f"{metric.name}: the gate's verdict holds no bound of its value")
    h_gate = abs(gate - bound)
    below = value - lower if lower is not None else None
    above = upper - value if upper is not None else None
    below = below if below is not None else above
    above = above if above is not None else below
    delta = metric.sign * (value - gate)
    if below is None or above is None or not np.isfinite([below, above, delta]).all():
        return _undecided(metric.name, method,
                          f"{metric.name}: no finite interval on the batch to compare")
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


def _judge_all(args: argparse.Namespace, profile: dict[str, Any], batch: Any,
               champion: Any) -> list[dict[str, Any]]:
    import numpy as np

    from ..errors import EvalgateError
    from ..stats.drift import DEFAULT_METHOD, drift, histogram
    from ..verdict.profile import state_of

    suites = profile.get("suites") or []
    if not suites:
        raise EvalgateError("the stored profile holds no suite")
    entry = suites[0]
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(args.seed)
    absent = [c for c in entry["columns"] if c not in batch.columns]
    if absent and len(absent) == len(entry["columns"]):
        raise EvalgateError("the batch has none of the profiled columns "
                            f"({', '.join(entry['columns'])})")
    for c in absent:  # dropped without a word, its drift alert disappeared with it
        rows.append({"name": c, "method": "absent", "estimate": None, "lower": None,
                     "upper": None, "status": "alert",
                     "note": "not in the batch: the gate profiled this column, the batch "
                             "lacks it (a changed schema?), so its drift cannot be judged"})
    wanted: list[tuple[str, Any, dict[str, Any]]] = [
        (c, batch[c], e) for c, e in entry["columns"].items() if c in batch.columns]
    if entry.get("target") in batch.columns:
        wanted.append(("label", batch[entry["target"]], entry["label"]))
    if "prediction" in entry:
        wanted.append(("prediction", scores_on(args, entry, batch, champion),
                       entry["prediction"]))
    for name, values, state in wanted:
        bins, ref = state_of(state, f"profile {name}")
        ev = histogram(values, bins)
        method = DEFAULT_METHOD[bins.kind]
        if ref.present == 0 or ev.present == 0:
            rows.append({"name": name, "method": method, "estimate": None, "lower": None,
                         "upper": None, "status": "alert" if ev.present == 0 else "undecided"})
            continue
        d = drift(method, ref, ev, bins, args.confidence, rng)
        verdict = d.judge(args.max_drift)
        status = {"fail": "alert", "pass": "ok", "inconclusive": "undecided"}[verdict]
        rows.append({"name": name, "method": method, "estimate": d.estimate,
                     "lower": d.lower, "upper": d.upper, "floor": d.floor, "status": status})
    if not rows:
        raise EvalgateError("the batch has none of the profiled columns "
                            f"({', '.join(entry['columns'])})")
    return rows


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


COMMANDS = {"monitor": _monitor}
