"""``evalgate init``: a commented suite for a model and its data, with thresholds the rows
support.

It reads the data and asks the model (a few hundred rows) what it predicts, so that the suite
it writes names the task, the positive label and, when the model's classes are codes, the
``label_map``; it picks the metrics of the task that the model's output allows; then it runs
the gate once on those checks with thresholds that cannot fail, and proposes ``min``/``max``
from the champion's (else the candidate's) values and their bounds, and ``max_regression``
from how far Δ's bound lies below its estimate on these rows (a smaller margin cannot be
shown). Columns that look sensitive are listed, for bias, as comments. What it wrote is read
back as ``validate`` reads it."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .common import project

COMMANDS_HELP = "write a commented suite for a model and its data"
#: the metrics a new suite checks, by task, and those that need only labels
METRICS = {"binary": ("roc_auc", "average_precision", "accuracy", "log_loss", "brier_score"),
           "multiclass": ("accuracy", "f1_macro", "log_loss"),
           "regression": ("mae", "rmse", "r2")}
LABEL_ONLY = {"binary": ("accuracy", "balanced_accuracy", "f1"),
              "multiclass": ("accuracy", "f1_macro")}
#: column names that suggest a protected attribute
SENSITIVE = re.compile(r"(^|[_\- ])(sex|gender|race|ethnic\w*|religion|nationality|"
                       r"native[_\- ]country|marital[_\- ]status|disab\w*|age|pregnan\w*)"
                       r"($|[_\- ])", re.IGNORECASE)
#: rows the model is asked about while the suite is drafted
PROBE_ROWS = 200


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("init", help=COMMANDS_HELP, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="the candidate model file")
    p.add_argument("--champion", type=Path, default=None, help="the model in production")
    p.add_argument("--data", type=Path, required=True, help="the evaluation rows (.csv, .parquet)")
    p.add_argument("--target", required=True, help="the column holding the true labels")
    p.add_argument("--positive-label", default=None, help="binary: the positive class's label")
    p.add_argument("--task", choices=tuple(METRICS), default=None,
                   help="default: regression for a regressor, else binary or multiclass by "
                        "the labels")
    p.add_argument("--out", type=Path, default=None,
                   help="the suite file to write (default: suites/NAME.yaml)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow pickle/joblib model files (they can run code)")


@dataclass
class Draft:
    """What ``init`` found out before measuring: the suite's head and its metrics."""

    name: str
    task: str
    data: Path
    target: str
    rows: int
    positive_label: Any
    label_map: str | None
    exclude: tuple[str, ...]
    sensitive: tuple[str, ...]
    metrics: tuple[str, ...]
    positive_note: str = ""


def init(args: argparse.Namespace) -> int:
    from ..errors import EvalgateError
    from ..families import load_suite

    out = (args.out or project().suites / f"{_slug(args.data)}.yaml").resolve()
    if out.exists() and not args.force:
        print(f"evalgate init: {out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    try:
        draft = inspect(args)
        measured = measure(args, draft, out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(args, draft, measured, out), encoding="utf-8")
        suite = load_suite(out)
    except EvalgateError as exc:
        print(f"evalgate init: {exc}", file=sys.stderr)
        return 1
    checks = len(suite.families.get("performance", ()))
    print(f"wrote {out} ({suite.name}: {checks} performance checks on {draft.rows:,} rows); "
          f"validate: OK — review its numbers, then: evalgate run {args.model}")
    return 0


def _slug(path: Path) -> str:
    stem = path.name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "suite"


def inspect(args: argparse.Namespace) -> Draft:
    """Read the data, ask the model about a few rows, decide the task and the labels."""
    from ..data import Dataset, encode_target, read_table
    from ..errors import DataError, did_you_mean
    from ..models import load_model
    from ..models.predictions import suggest_label_map

    frame = read_table(args.data)
    columns = [str(c) for c in frame.columns]
    if args.target not in columns:
        raise DataError(args.data, f"no column {args.target!r}"
                                   f"{did_you_mean(args.target, columns)}; its columns: "
                                   f"{', '.join(columns)}")
    features = tuple(c for c in columns if c != args.target)
    model = load_model(args.model, trust_pickle=args.trust_pickle)
    raw = model.predict(frame.head(PROBE_ROWS), features)
    used = set(model.describe_inputs().get("mapping", {}).values()) or set(features)
    labels = frame[args.target].dropna()
    task = args.task or ("regression" if raw.values is not None else
                         "binary" if labels.nunique() <= 2 else "multiclass")
    positive, note = (args.positive_label, "") if task != "binary" or args.positive_label \
        else _positive(labels)
    label_map = None
    if task != "regression" and raw.classes is not None:
        data = Dataset(path=args.data, sha256="", rows=len(frame), frame=frame,
                       target=args.target, features=features, sensitive=())
        target = encode_target(data, task, positive)  # type: ignore[arg-type]
        if suggest_label_map(target, raw.classes) is not None:  # the classes are not labels
            label_map = _matched_label_map(model, frame, args.target, features)
    metrics = METRICS[task] if task == "regression" or raw.proba is not None \
        else LABEL_ONLY[task]
    return Draft(name=_slug(args.data), task=task, data=args.data, target=args.target,
                 rows=len(frame), positive_label=positive, label_map=label_map,
                 exclude=tuple(c for c in features if c not in used),
                 sensitive=tuple(c for c in features if SENSITIVE.search(c)),
                 metrics=metrics, positive_note=note)


def _matched_label_map(model: Any, frame: Any, target: str, features: tuple[str, ...]) -> str:
    """The ``label_map`` under which the model's predictions agree with the labels most
    often (an assignment of classes to labels on up to 5,000 rows), with that agreement as
    its comment — never a guess by the names' order, which inverts a model whose class 1 is
    the data's negative label."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from ..data import label_key, plain

    rows = frame.head(5000)
    raw = model.predict(rows, features)
    classes = list(raw.classes)
    predicted = (np.asarray(raw.labels) if raw.labels is not None
                 else np.asarray(classes, dtype=object)[np.argmax(raw.proba, axis=1)])
    labels = sorted(rows[target].dropna().unique(), key=label_key)
    index = {label_key(c): j for j, c in enumerate(classes)}
    table = np.zeros((len(labels), len(classes)))
    for i, label in enumerate(labels):
        hits = predicted[(rows[target] == label).to_numpy()]
        for value in hits:
            j = index.get(label_key(value))
            if j is not None:
                table[i, j] += 1
    if len(labels) > len(classes):
        from ..errors import ModelOutputError

        raise ModelOutputError(model.info.path, f"the model has {len(classes)} classes for "
                                                f"{len(labels)} data labels")
    picked, to = linear_sum_assignment(-table)
    agree = table[picked, to].sum() / max(table.sum(), 1)
    pairs = ", ".join(f"{json.dumps(plain(labels[i]))}: {json.dumps(plain(classes[j]))}"
                      for i, j in zip(picked, to, strict=True))
    return (f"label_map: {{{pairs}}}  # data label → model class: the model's predictions "
            f"agree with the labels on {agree:.0%} of {len(rows):,} rows under this map")


def _positive(labels: Any) -> tuple[Any, str]:
    """The positive class of a binary target: left to the gate for 0/1 and true/false, else
    the rarer label (ties: the first in sorted order)."""
    from ..data import label_key

    values = list(labels.unique())
    if {label_key(v) for v in values} <= {"0", "1"} or \
            {label_key(v) for v in values} <= {"True", "False"}:
        return None, ""
    counts = labels.value_counts()
    rarer = sorted(values, key=lambda v: (counts[v], label_key(v)))[0]
    return rarer, f"the rarer label ({counts[rarer]:,} of {len(labels):,} rows); is it the " \
                  f"class you care about?"


def measure(args: argparse.Namespace, draft: Draft, out: Path) -> dict[str, Any]:
    """Run the draft's performance checks once, with thresholds that cannot fail; each
    metric's result by name."""
    import tempfile

    from ..engine import Gate
    from ..errors import EvalgateError
    from ..families import load_suite

    with tempfile.TemporaryDirectory(dir=_existing(out.parent)) as tmp:
        probe = Path(tmp) / "probe.yaml"
        compares = args.champion is not None
        probe.write_text(_suite_text(args, draft, {m: _open_threshold(m, draft.task, compares)
                                                   for m in draft.metrics}, probe),
                         encoding="utf-8")
        gate = Gate(args.model, champion=args.champion, trust_pickle=args.trust_pickle,
                    no_champion=not compares)
        outcome = gate.run_suite(load_suite(probe))
    if outcome.error is not None:
        raise EvalgateError(outcome.error)
    errors = [r for r in outcome.results if r.status == "error"]
    if errors:
        raise EvalgateError(f"{errors[0].name}: {errors[0].message}")
    return {r.name: r for r in outcome.results}


def _existing(folder: Path) -> Path:
    while not folder.exists():
        folder = folder.parent
    return folder


def _open_threshold(metric: str, task: str, compares: bool) -> str:
    """Thresholds no value fails: the metric's own bounds, and (with a champion, so that Δ
    is measured) a margin wider than any difference."""
    from ..metrics import get_metric

    m = get_metric(metric, task)  # type: ignore[arg-type]
    low, high = m.bounds
    value = (f"min: {low if math.isfinite(low) else -1e300}" if m.higher_is_better
             else f"max: {high if math.isfinite(high) else 1e300}")
    span = high - low if math.isfinite(high - low) else 1e300
    return "{" + value + (f", max_regression: {span}" if compares else "") + "}"


def render(args: argparse.Namespace, draft: Draft, measured: dict[str, Any],
           out: Path) -> str:
    """The suite with thresholds from ``measured`` and a comment on each number."""
    lines = {m: _proposal(m, draft.task, measured[m], args.champion is not None)
             for m in draft.metrics if m in measured}
    head = (f"# Written by `evalgate init` on {date.today().isoformat()} from "
            f"{args.model.name} and {args.data.name} ({draft.rows:,} rows).\n"
            f"# Review every number: each comes from the models' values on these rows, not "
            f"from your\n# requirements. Format: docs/design.md; check it: evalgate validate "
            f"{_rel(out, Path.cwd())}\n")
    return head + _suite_text(args, draft, lines, out)


def _proposal(metric: str, task: str, result: Any, compares: bool) -> str:
    """``{min: 0.88, max_regression: 0.006}  # …`` for one metric."""
    from ..metrics import get_metric

    m = get_metric(metric, task)  # type: ignore[arg-type]
    ref = result.champion if result.champion is not None else result.candidate
    lower, upper = (result.details.candidate_ci if result.details is not None
                    else (None, None))
    spread = max(abs(result.candidate - (lower if m.higher_is_better else upper))
                 if (lower if m.higher_is_better else upper) is not None else 0.0,
                 0.01 * max(abs(ref), 1.0) if task == "regression" else 0.01)
    if m.higher_is_better:
        parts = [f"min: {_round(ref - spread, down=True)}"]
    else:
        parts = [f"max: {_round(ref + spread, down=False)}"]
    why = [f"{'champion' if result.champion is not None else 'candidate'} {ref:.4g}"]
    if result.champion is not None:
        why.append(f"candidate {result.candidate:.4g}")
    if compares and result.delta is not None and result.ci and result.ci[0] is not None:
        # Δ's bound sits w below Δ̂; with a margin of 2w a candidate exactly as good as the
        # champion passes whenever Δ̂ ≥ −w: about 19 times in 20 at the suite's level
        width = max(result.delta - result.ci[0], 1e-4)
        parts.append(f"max_regression: {_round(2 * width, down=False, digits=2)}")
        why.append(f"Δ's bound sits {width:.2g} below Δ here; twice that lets an equal "
                   f"model pass 19 times in 20")
    return "{" + ", ".join(parts) + "}  # " + "; ".join(why)


def _round(x: float, *, down: bool, digits: int | None = None) -> str:
    """``x`` to two decimals (or ``digits`` significant ones), rounded outward."""
    if digits is not None and x != 0:
        scale = 10 ** (digits - 1 - math.floor(math.log10(abs(x))))
    else:
        scale = 100
    y = (math.floor if down else math.ceil)(x * scale) / scale
    return f"{y:.10g}"


def _suite_text(args: argparse.Namespace, draft: Draft, checks: dict[str, str],
                at: Path) -> str:
    """The suite's YAML, its paths relative to the file ``at``."""
    q = json.dumps
    out = [f"suite: {q(draft.name)}", f"task: {draft.task}", "data:",
           f"  path: {q(_rel(draft.data, at.parent))}", f"  target: {q(draft.target)}"]
    if draft.positive_label is not None:
        out.append(f"  positive_label: {q(_plain(draft.positive_label))}"
                   + (f"  # {draft.positive_note}" if draft.positive_note else ""))
    if draft.label_map:
        out.append(f"  {draft.label_map}")
    if draft.exclude:
        out.append(f"  exclude: {q(list(draft.exclude))}  # not inputs of the model")
    if args.champion is not None:
        out.append(f"champion: {q(_rel(args.champion, at.parent))}")
    else:
        out.append("# champion: MODEL  # the model in production; without it nothing is "
                   "compared")
    out += ["confidence: 0.95                  # one-sided level of every bound", "seed: 0",
            "checks:", "  performance:"]
    out += [f"    {name}: {text}" for name, text in checks.items()]
    if draft.sensitive and draft.task != "regression":
        cols = ", ".join(draft.sensitive)
        out += ["  # bias: these columns look sensitive (by their names):",
                *textwrap.wrap(cols, 90, initial_indent="  #   ", subsequent_indent="  #   "),
                "  # to judge the candidate by some of them, add `sensitive: [COLUMNS]` to "
                "data and:", "  # bias:", "  #   groups: [COLUMNS]",
                "  #   metrics: [selection_rate, true_positive_rate]",
                "  #   max_regression: 0.03"]
    return "\n".join(out) + "\n"


def _plain(value: Any) -> Any:
    from ..data import plain

    return plain(value)


def _rel(path: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()


COMMANDS = {"init": init}
