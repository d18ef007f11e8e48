"""``evalgate monitor NAME --data BATCH``: the registry's champion against a production batch.

The champion's reference profile — the bins and counts of the data it was gated on, stored
when it was promoted — is the reference; each profiled column of the batch, the champion's
predictions on it and (when the batch has them) its labels are judged as the drift family
judges them (docs/statistics.md, "Drift"): an *alert* when the lower bound of a drift is above
δ, *undecided* when the bounds straddle δ, *ok* within it — every suite of the profile, each
column's missing share against the reference's too (:func:`_missing`), and the promoting
verdict's performance checks (:mod:`.monitor_performance`). Each run is appended to the model's
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
from .monitor_performance import performance
from .shadow import shadow_entry, shadow_safely

if TYPE_CHECKING:
    pass

DEFAULT_MAX_DRIFT = 0.1
#: the largest increase of a column's missing share (batch − reference) that is no alert
DEFAULT_MAX_MISSING_INCREASE = 0.02


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
    mon.add_argument("--max-missing-increase", type=float, default=DEFAULT_MAX_MISSING_INCREASE,
                     metavar="SHARE",
                     help="the largest increase of a column's missing share over the "
                          "reference's that raises no alert (default 0.02)")
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

    if not 0 < args.max_drift <= 100 or not 0.5 <= args.confidence < 1 \
            or not 0 <= args.max_missing_increase < 1:
        print("evalgate: --max-drift must be in (0, 100], --max-missing-increase in [0, 1) "
              "and --confidence in [0.5, 1)", file=sys.stderr)
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
        rows = _judge(args, profile, verdict, batch, champion)
        shadowed = next((e for e in profile["suites"] if gate_checks(verdict, e)),
                        profile["suites"][0])  # the first suite with a margin to compare on
        board = shadow_safely(args, shadowed, gate_checks(verdict, shadowed), batch, champion)
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
    if r["method"] == "missing":
        return head + (f"{r['missing']:,} of {r['rows']:,} values missing "
                       f"({r['missing'] / r['rows']:.2%}) vs the reference's "
                       f"{r['reference_share']:.2%}: increase {r['estimate']:+.4f} (bounds "
                       f"{r['lower']:+.4f} … {r['upper']:+.4f}, max_missing_increase "
                       f"{r['limit']:g})")
    if r["method"] in ("gate-time", "cbpe"):
        how = "estimated (CBPE, no labels) at" if r["method"] == "cbpe" else ""
        tail = (f"; the reference's calibration error {r['calibration_error']:.4f}"
                if "calibration_error" in r else "")
        if "threshold" in r:
            side = r["threshold"]
            word = {"alert": "below" if side == "min" else "above", "ok": "within",
                    "undecided": "straddling"}[r["status"]]
            return head + (f"{r['metric']} {how} {r['value']:.4f} on the batch (bounds "
                           f"{r['lower']:.4f} … {r['upper']:.4f}) {word} {side} "
                           f"{r['limit']:g}{tail}").replace("  ", " ")
        return head + (f"{r['metric']} {how} {r['value']:.4f} on the batch vs "
                       f"{r['gate']:.4f} at the gate: Δ {r['estimate']:+.4f} (bounds "
                       f"{r['lower']:+.4f} … {r['upper']:+.4f}, max_regression "
                       f"{r['margin']:g}){tail}").replace("  ", " ")
    return head + (f"{r['method']} drift {r['estimate']:.4f} (bounds {r['lower']:.4f} … "
                   f"{r['upper']:.4f}, δ {delta:g})")


def _judge(args: argparse.Namespace, profile: dict[str, Any], verdict: dict[str, Any],
           batch: Any, champion: Any) -> list[dict[str, Any]]:
    """Every suite of the profile judged on the batch (its columns, label and predictions,
    then its performance checks); with more than one suite each row is named
    ``SUITE::name``. Only the first suite was once read: a gate split into two files had the
    second's performance checks never monitored."""
    from ..errors import EvalgateError

    suites = profile.get("suites")
    if not isinstance(suites, list) or not suites or not all(
            isinstance(e, dict) and isinstance(e.get("columns"), dict) for e in suites):
        raise EvalgateError("the stored profile holds no suite")
    rows: list[dict[str, Any]] = []
    for entry in suites:
        found = _judge_all(args, entry, batch, champion)
        found += performance(args, verdict, entry, batch, champion)
        for r in found if len(suites) > 1 else ():
            r["name"] = f"{entry.get('name')}::{r['name']}"
        rows += found
    return rows


def _judge_all(args: argparse.Namespace, entry: dict[str, Any], batch: Any,
               champion: Any) -> list[dict[str, Any]]:
    """One suite's profiled columns, label and predictions on the batch: drift, and (but for
    the label: a batch may be partly labelled) the increase of the missing share."""
    import numpy as np

    from ..errors import EvalgateError
    from ..stats.drift import DEFAULT_METHOD, drift, histogram
    from ..verdict.profile import state_of

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
    if entry.get("target") in batch.columns and "label" in entry:
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
        else:
            d = drift(method, ref, ev, bins, args.confidence, rng)
            status = {"fail": "alert", "pass": "ok",
                      "inconclusive": "undecided"}[d.judge(args.max_drift)]
            rows.append({"name": name, "method": method, "estimate": d.estimate,
                         "lower": d.lower, "upper": d.upper, "floor": d.floor,
                         "status": status})
        if ev.missing and name != "label":
            rows.append(_missing(args, name, ref, ev))
    return rows


def _missing(args: argparse.Namespace, name: str, ref: Any, ev: Any) -> dict[str, Any]:
    """The batch's missing share (NaN, ±inf, None; a champion's non-finite scores for the
    predictions) against the reference's: Δ = batch − reference with Newcombe's bounds (as
    the drift family's ``max_missing_increase``), ``alert`` when the lower bound is above
    ``--max-missing-increase``, ``ok`` when the upper bound is within it. Judged on the
    present values only, half a feature missing — and the champion's scores with it — was
    "OK"."""
    from ..stats.intervals import z_of
    from ..stats.proportions import newcombe

    limit = args.max_missing_increase
    base = {"name": f"{name}:missing", "method": "missing", "missing": ev.missing,
            "rows": ev.rows, "limit": limit}
    if ref.rows == 0:
        return {**base, "estimate": None, "lower": None, "upper": None, "status": "undecided",
                "note": f"{ev.missing:,} of {ev.rows:,} values missing; the profile records "
                        f"no reference rows to compare with"}
    lo, hi = newcombe(ev.missing, ev.rows, ref.missing, ref.rows, z_of(args.confidence))
    share = ref.missing / ref.rows
    status = "alert" if lo > limit else "ok" if hi <= limit else "undecided"
    return {**base, "reference_share": share, "estimate": ev.missing / ev.rows - share,
            "lower": lo, "upper": hi, "status": status}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


COMMANDS = {"monitor": _monitor}
