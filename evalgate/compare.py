"""The leaderboard of a run with several challengers (``evalgate compare``): one verdict per
challenger (``reports/<name>/verdict.json``, each promotable on its own), and
``reports/compare.json`` with ``compare.html`` beside them.

Every number of the leaderboard is read back from the per-challenger verdicts as written
(value, Δ and its bound at the level each was judged at), next to the bound the suite's own
level would have given (``unadjusted_bound``, shown, never judged). With ``pick="best"`` one
winner is marked: among the promotable challengers, the best on the *primary* metric (the
first suite's ``primary:``, else its first performance check), with a note when the data
cannot tell the top two apart (their paired difference on the same rows, bounded at the
suite's level, does not exclude 0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ._io import sha256_file, write_atomic
from .engine.challengers import ADJUSTMENT, Challenger
from .engine.gate import Gate
from .engine.outcome import SuiteOutcome

SCHEMA = "evalgate.compare/1"
COMPARE_JSON = "compare.json"
COMPARE_HTML = "compare.html"


def _bounds(outcomes: Sequence[SuiteOutcome]) -> dict[str, float | None]:
    """Each comparison's bound (Δ's one-sided lower bound) by check id."""
    out: dict[str, float | None] = {}
    for o in outcomes:
        for r in o.results:
            if r.delta is not None and r.ci is not None:
                out[r.id] = r.ci[0]
    return out


def _entry(c: Challenger, verdict: Path, report_dir: Path) -> dict[str, Any]:
    doc = json.loads(verdict.read_text("utf-8"))
    unadjusted = _bounds(c.unadjusted)
    checks = []
    for suite in doc.get("suites") or ():
        for check in suite.get("checks") or ():
            ci = check.get("ci") or (None, None)
            compared = check.get("delta") is not None
            checks.append({
                "id": check["id"], "status": check["status"],
                "blocking": check.get("blocking", True), "metric": check.get("metric"),
                "candidate": check.get("candidate"), "champion": check.get("champion"),
                "delta": check.get("delta"), "bound": ci[0] if compared else None,
                "unadjusted_bound": unadjusted.get(check["id"]) if compared else None,
                "confidence": check.get("confidence"), "method": check.get("method")})
    spending = next((s.get("spending") for s in doc.get("suites") or () if s.get("spending")),
                    None) or {}
    return {"name": c.name, "path": str(c.path), "sha256": doc["candidate"]["sha256"],
            "decision": doc["decision"], "promotable": doc["decision"] == "promote",
            "verdict": str(verdict.relative_to(report_dir)),
            "verdict_sha256": sha256_file(verdict), "reasons": doc["summary"].get("reasons", []),
            "alpha_used": spending.get("alpha_used"), "checks": checks}


def build(runs: Sequence[Challenger], verdicts: Mapping[str, Path], report_dir: Path, *,
          pick: str | None, created_at: str) -> dict[str, Any]:
    """compare.json's document (see the module)."""
    entries = [_entry(c, verdicts[c.name], report_dir) for c in runs]
    first = next((o for c in runs for o in c.outcomes if o.suite is not None), None)
    alpha = round(1 - first.suite.confidence, 12) if first is not None and \
        first.suite is not None else None
    m = len(runs)
    champion = first.champion if first is not None else None
    levels = {e["alpha_used"] for e in entries}
    each = levels.pop() if len(levels) == 1 else None  # every challenger judged at one level
    doc: dict[str, Any] = {
        "schema": SCHEMA, "created_at": created_at,
        "champion": ({"path": str(champion.path), "sha256": champion.sha256}
                     if champion is not None else None),
        "adjustment": {
            "method": ADJUSTMENT, "challengers": m, "alpha": alpha, "alpha_each": each,
            "guarantee": (f"the probability that any challenger truly worse than the champion "
                          f"(by more than a check's margin) is marked promotable is at most "
                          f"α = {alpha:g}: each of the {m} challengers was judged at α/{m} "
                          "(or less, where earlier tries against this champion spent some)"
                          if alpha is not None else "")},
        "challengers": entries,
        "promotable": [e["name"] for e in entries if e["promotable"]],
        "pick": None}
    if pick == "best":
        doc["pick"] = best(runs, entries)
    return doc


def _primary(runs: Sequence[Challenger]) -> tuple[SuiteOutcome, str] | None:
    """The first suite's ``primary`` metric, else its first performance check: (that
    suite's outcome, the metric)."""
    for o in runs[0].outcomes if runs else ():
        if o.suite is None:
            continue
        checks = o.suite.families.get("performance") or ()
        if o.suite.primary is not None:
            return o, o.suite.primary
        if checks:
            return o, checks[0].metric
    return None


def best(runs: Sequence[Challenger], entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The winner among the promotable challengers on the primary metric, and whether the
    data tells it from the runner-up."""
    import numpy as np

    from .metrics import get_metric
    from .stats import assess

    found = _primary(runs)
    if found is None:
        return {"winner": None, "note": "no performance check to rank the challengers on"}
    outcome, metric_name = found
    suite = outcome.suite
    assert suite is not None
    cid = suite.check_id("performance", metric_name)
    metric = get_metric(metric_name, suite.task)
    value = {e["name"]: next((c["candidate"] for c in e["checks"] if c["id"] == cid), None)
             for e in entries if e["promotable"]}
    ranked = sorted((n for n, v in value.items() if v is not None),
                    key=lambda n: value[n] * metric.sign, reverse=True)  # type: ignore[operator]
    out: dict[str, Any] = {"primary": cid, "metric": metric_name, "ranking": ranked,
                           "winner": ranked[0] if ranked else None, "note": ""}
    if not ranked:
        out["note"] = "no challenger may replace the champion"
        return out
    if len(ranked) == 1:
        out["note"] = f"{ranked[0]} is the only promotable challenger"
        return out
    by_name = {c.name: c for c in runs}
    a, b = (next(o for o in by_name[n].outcomes if o.suite is not None and o.suite.name ==
                 suite.name) for n in ranked[:2])
    assert a.target is not None
    result = assess(metric, a.target.y, a.predictions["candidate"].for_metric(metric),
                    b.predictions["candidate"].for_metric(metric),
                    confidence=suite.confidence, rng=np.random.default_rng([suite.seed, 7]),
                    n_resamples=suite.n_resamples)
    delta = result.delta
    assert delta is not None
    out["runner_up"] = {"name": ranked[1], "delta": delta.estimate, "bound": delta.lower,
                        "method": delta.method, "confidence": suite.confidence}
    if delta.lower is None or not delta.lower > 0:
        out["note"] = (f"the data cannot tell {ranked[0]} from {ranked[1]} on {metric_name}: "
                       f"the paired difference {delta.estimate:+.4f} has a "
                       f"{suite.confidence:.0%} lower bound of {delta.lower:+.4f}, not above 0; "
                       "either may replace the champion")
    else:
        out["note"] = (f"{ranked[0]} is better than {ranked[1]} on {metric_name} on the same "
                       f"rows: {delta.estimate:+.4f}, {suite.confidence:.0%} lower bound "
                       f"{delta.lower:+.4f}")
    return out


@dataclass(frozen=True)
class Board:
    """What a run with challengers wrote: compare.json's document, the leaderboard's page,
    and each challenger's verdict line (its decision and report)."""

    doc: dict[str, Any]
    html: Path
    lines: dict[str, str]

    @property
    def line(self) -> str:
        """The run's last line: how many may replace the champion, and the pick."""
        from .config import display_path

        promotable = self.doc["promotable"]
        pick = self.doc.get("pick") or {}
        picked = f"; pick: {pick['winner']}" if pick.get("winner") else ""
        return (f"evalgate: {len(promotable)} of {len(self.doc['challengers'])} challengers may "
                f"replace the champion" + (f" ({', '.join(promotable)})" if promotable else "")
                + f"{picked} — leaderboard: {display_path(self.html)}")

    @property
    def ok(self) -> bool:
        """Whether the run promotes: the pick's winner exists (``pick="best"``), else some
        challenger may replace the champion."""
        pick = self.doc.get("pick")
        return bool(pick.get("winner")) if pick is not None else bool(self.doc["promotable"])


def write_all(runs: Sequence[Challenger], report_dir: Path, *, seed: int | None,
              started_at: datetime, duration_s: float, signing_key: Path | None,
              suites_path: Path | None, pick: str | None,
              not_run: Mapping[str, list[str]] | None = None) -> Board:
    """Each challenger's verdict (``report_dir/<name>/``, with the checks that did not run
    named: a partial one blocks), then compare.json and compare.html."""
    from .config import display_path
    from .output import finish

    verdicts, lines = {}, {}
    for c in runs:
        written = finish(c.outcomes, candidate=c.path, report_dir=report_dir / c.name,
                         seed=seed, started_at=started_at, duration_s=duration_s,
                         not_run=(not_run or {}).get(c.name, ()), signing_key=signing_key,
                         suites_path=suites_path)
        verdicts[c.name] = written.verdict_path
        lines[c.name] = f"{c.name}: {written.summary.line} — {display_path(written.report_path)}"
    doc = build(runs, verdicts, report_dir, pick=pick, created_at=started_at.isoformat())
    _, html = write(doc, report_dir)
    return Board(doc, html, lines)


def board_of(base: Gate, gates: Mapping[str | None, Gate],
             ran: Mapping[str | None, set[tuple[Path, str]]],
             planned: Sequence[tuple[Path, str]], report_dir: Path, **kwargs: Any) -> Board:
    """The pytest plugin's run with challengers: each challenger's outcomes cut to the checks
    whose items ran (the others named as not run: a partial verdict blocks), then
    :func:`write_all`."""
    from .engine.challengers import add_unadjusted
    from .engine.outcome import only_ran

    runs = []
    for name, gate in gates.items():
        assert name is not None
        c = Challenger(name, gate.candidate_ref, gate,
                       [only_ran(o, ran[name]) for o in gate.outcomes])
        add_unadjusted(base, c)
        runs.append(c)
    not_run = {c.name: [cid for path, cid in planned if (path, cid) not in ran[c.name]]
               for c in runs}
    return write_all(runs, report_dir, not_run=not_run, **kwargs)


def write(doc: Mapping[str, Any], report_dir: Path) -> tuple[Path, Path]:
    """compare.json and compare.html in ``report_dir``."""
    from .report.leaderboard import render

    json_path = report_dir / COMPARE_JSON
    write_atomic(json_path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
    html_path = report_dir / COMPARE_HTML
    write_atomic(html_path, render(doc).encode())
    return json_path, html_path
