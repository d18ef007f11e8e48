"""``evalgate rerun``: re-run the gate a verdict records and say whether every number matches.

    evalgate rerun reports/verdict.json [--report DIR]

The recorded files are checked first — the candidate, the champion, each suite file, its data
and every file a family read (a drift reference) — against the sha256 the verdict holds: one
whose bytes changed, or that is gone, is refused with its path, and nothing runs. The gate then
runs on the local engine with the recorded seed and the recorded level of each suite's
comparisons (its try against the champion, replayed, never counted again), and the new
verdict is compared with the recorded one number by number. Latency, load and memory are
measured: they are re-measured and shown, not expected to match (nor is a decision that
changed with them alone). The exit status is 0 when
every other number matches, 1 when one differs (each difference is listed), 2 when the gate
cannot be re-run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: the checks whose numbers are times, rates and memory measured on this machine, now: by
#: family, the check names (``None``: all of the family's)
MEASURED: dict[str, frozenset[str] | None] = {"latency": None,
                                               "stress": frozenset({"load", "memory"})}
#: the differences listed before "… and N more"
SHOWN = 20
#: how a re-measured check whose status is not the recorded one is marked
STATUS_CHANGED = "STATUS CHANGED"


def add_parsers(sub: Any) -> None:
    rr = sub.add_parser("rerun", help="re-run the gate a verdict records; compare every number")
    rr.add_argument("verdict", type=Path, help="the verdict.json to reproduce")
    rr.add_argument("--report", type=Path, default=None,
                    help="where the re-run's verdict.json and report go (default: a "
                         "temporary folder, removed afterwards)")
    rr.add_argument("--trust-pickle", action="store_true",
                    help="allow pickle/joblib model files (they can run code)")
    rr.add_argument("--trust-type", action="append", default=[], metavar="TYPE",
                    help="trust this type in a skops model file (repeatable)")


class _Replay:
    """The ledger of a re-run: each suite is judged at the level its verdict records, and
    nothing is counted (a re-run is not another try against the champion)."""

    def __init__(self, recorded: Mapping[str, Any]):
        self._recorded = recorded

    def spend(self, trial: Any, alpha: float) -> Any:
        from ..engine.trials import Spending

        found = self._recorded.get(trial.suite)
        if found is None:
            return Spending(attempt=None, look=1, policy="none", alpha=alpha, alpha_used=alpha,
                            note="")
        return Spending.from_dict(found, "spending")

    def record(self, trial: Any, spending: Any, decision: str) -> None:
        return None


def changed_files(doc: Mapping[str, Any]) -> list[str]:
    """Each recorded file that is gone or whose bytes differ from its recorded sha256, one
    line each (paths as the verdict wrote them: relative to the folder the gate ran in)."""
    from .._io import sha256_files

    wanted: dict[str, str | None] = {}
    for role in ("candidate", "champion"):
        entry = doc.get(role)
        if entry is not None:
            wanted[entry["path"]] = entry.get("sha256")
    for suite in doc["suites"]:
        for f in suite.get("files") or [{"path": suite["file"], "sha256": suite["sha256"]}]:
            wanted[f["path"]] = f["sha256"]
    problems = []
    for path, sha in wanted.items():
        if sha is None:
            problems.append(f"{path}: the verdict records no sha256 for it")
            continue
        try:
            now = sha256_files([Path(path)])[0]
        except OSError as exc:
            problems.append(f"{path}: cannot read it ({exc.strerror or exc})")
            continue
        if now != sha:
            problems.append(f"{path}: its bytes changed since the verdict (sha256 recorded "
                            f"{sha[:12]}…, now {now[:12]}…)")
    return problems


def _refusal(doc: Mapping[str, Any]) -> str | None:
    """Why this verdict cannot be re-run at all, or ``None``."""
    if doc.get("summary", {}).get("in_progress"):
        return "the verdict is the placeholder of a run that never finished"
    if not doc["suites"]:
        return "the verdict holds no suite"
    if any(s.get("files") is None for s in doc["suites"]):
        return ("the verdict does not record the files its suites read (written by an "
                "evalgate before 'files' was recorded): run the gate again instead")
    return None


def rerun(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..verdict.signoff import read_verdict

    try:
        _, doc = read_verdict(args.verdict)
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    refusal = _refusal(doc)
    problems = [refusal] if refusal is not None else changed_files(doc)
    for line in problems:
        print(f"evalgate: cannot re-run {args.verdict}: {line}", file=sys.stderr)
    if problems:
        return 2
    if args.report is not None:
        return _run_and_compare(args, doc, args.report)
    with tempfile.TemporaryDirectory(prefix="evalgate-rerun-") as tmp:
        return _run_and_compare(args, doc, Path(tmp))


def _run_and_compare(args: argparse.Namespace, doc: dict[str, Any], out: Path) -> int:
    import json
    import time

    from ..config import display_path
    from ..engine import Gate, evaluate_paths
    from ..errors import EvalgateError
    from ..output import finish
    from ..verdict import now
    from .common import project

    try:
        settings = project()
    except EvalgateError as exc:
        print(f"evalgate: {exc}", file=sys.stderr)
        return 2
    champion = doc.get("champion")
    gate = Gate(Path(doc["candidate"]["path"]),
                champion=None if champion is None else champion["path"],
                no_champion=champion is None, seed=doc["provenance"].get("seed"),
                trust_pickle=args.trust_pickle,
                trusted_types=(*settings.trusted_types, *args.trust_type),
                ledger=_Replay({s["name"]: s["spending"] for s in doc["suites"]
                                if s.get("spending") is not None}))
    started, t0 = now(), time.perf_counter()
    outcomes = evaluate_paths(gate, [Path(s["file"]) for s in doc["suites"]])
    try:
        written = finish(outcomes, candidate=Path(doc["candidate"]["path"]), report_dir=out,
                         seed=doc["provenance"].get("seed"), started_at=started,
                         duration_s=time.perf_counter() - t0)
    except EvalgateError as exc:
        print(f"evalgate: the re-run could not finish: {exc}", file=sys.stderr)
        return 2
    new = json.loads((out / "verdict.json").read_text("utf-8"))
    diffs, measured, same = compare(doc, new)
    for line in measured:
        print(f"MEASURED {line}")
    for line in diffs[:SHOWN]:
        print(f"DIFFERS  {line}")
    if len(diffs) > SHOWN:
        print(f"DIFFERS  … and {len(diffs) - SHOWN} more")
    where = f"; the re-run's report: {display_path(written.report_path)}" \
        if args.report is not None else ""
    if diffs:
        print(f"evalgate rerun: {len(diffs)} difference{'s' if len(diffs) != 1 else ''} from "
              f"{display_path(args.verdict)} ({same} checks reproduced exactly){where}")
        return 1
    flipped = [line for line in measured if STATUS_CHANGED in line]
    timed = len(measured) - any(line.startswith("decision:") for line in measured)
    print(f"evalgate rerun: every number of {display_path(args.verdict)} reproduced "
          f"({same} checks; {timed} timed checks re-measured"
          + (f", {len(flipped)} of them with another status now: the timing, not the "
             f"evidence, differs" if flipped else "") + f"){where}")
    return 0


def compare(old: Mapping[str, Any], new: Mapping[str, Any]
            ) -> tuple[list[str], list[str], int]:
    """The differences between a recorded verdict and its re-run (one line each, with where
    and both values), the timed checks re-measured (old and new values), and how many checks
    matched exactly."""
    diffs: list[str] = []
    measured: list[str] = []
    same = 0
    news = {s["name"]: s for s in new["suites"]}
    for suite in old["suites"]:
        other = news.get(suite["name"])
        if other is None:
            diffs.append(f"{suite['name']}: not in the re-run")
            continue
        for key in ("dataset", "files", "resolved", "plots", "task", "seed", "confidence",
                    "n_resamples", "error"):
            diffs += _deep(f"{suite['name']}.{key}", suite.get(key), other.get(key))
        checks = {c["id"]: c for c in other["checks"]}
        for check in suite["checks"]:
            again = checks.pop(check["id"], None)
            if again is None:
                diffs.append(f"{check['id']}: not in the re-run")
            elif _measured(check):
                flag = f" ({STATUS_CHANGED})" if check["status"] != again["status"] else ""
                measured.append(f"{check['id']}: recorded {check['status']} "
                                f"{_value(check['candidate'])}, now {again['status']} "
                                f"{_value(again['candidate'])}{flag}")
            else:
                found = _deep(check["id"], check, again)
                diffs += found
                same += not found
        diffs += [f"{cid}: only in the re-run" for cid in checks]
    if old["decision"] != new["decision"]:
        line = f"decision: recorded {old['decision']}, now {new['decision']}"
        # with every other number the same, only a measured check can have changed it
        (diffs if diffs else measured).append(line)
    return diffs, measured, same


def _measured(check: Mapping[str, Any]) -> bool:
    if check["family"] not in MEASURED:
        return False
    names = MEASURED[check["family"]]
    return names is None or check["id"].rsplit("::", 1)[-1] in names


def _value(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else "—" if x is None else str(x)


def _deep(where: str, a: Any, b: Any) -> list[str]:
    """Where ``a`` and ``b`` differ, to the leaf: floats must be equal to the bit (NaN
    equals NaN), everything else equal."""
    return list(_walk(where, a, b))


def _walk(where: str, a: Any, b: Any) -> Iterator[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in dict.fromkeys([*a, *b]):
            yield from _walk(f"{where}.{key}", a.get(key), b.get(key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _walk(f"{where}[{i}]", x, y)
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif isinstance(a, str) and isinstance(b, str) and _local(a) == _local(b):
        return
    elif a != b or type(a) is not type(b):
        yield f"{where}: recorded {_short(a)}, now {_short(b)}"


def _local(text: str) -> str:
    """``text`` with the working folder's absolute path cut from the paths it names: a
    message naming ``/work/proj/model.onnx`` (pytest passes paths absolute) and one naming
    ``model.onnx`` (evalgate run as typed) name the same file."""
    return text.replace(f"{Path.cwd()}{os.sep}", "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


COMMANDS = {"rerun": rerun}
