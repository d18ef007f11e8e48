"""The reference profile of a gate run: for each suite, the evaluation data's columns the gate
read (the sensitive columns, and the features when a family that reads rows ran — the same
columns on every engine), the candidate's predictions and the label, each as the bins and
counts the drift checks need (:mod:`evalgate.stats.drift`; a column the drift family judged:
its histogram on the drift reference's bins, from the engine's states), a numeric column's
range, and a
binary candidate's reliability table (score bins with their rows and positives,
:mod:`evalgate.stats.cbpe`) — nothing else of the data.
Written as ``profile.json`` beside verdict.json, bound to it by sha256 (``verdict.profile``),
stored by the registry when the candidate is promoted, and read by ``evalgate monitor`` to
judge production batches against the data the champion was gated on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.labels import label_key
from ..errors import EvalgateError, StatsError
from ..families.drift.states import column_states
from ..stats.cbpe import fit_calibration
from ..stats.drift import (
    Bins,
    Histogram,
    category_counts,
    column_kind,
    histogram,
    numeric_values,
    reference_bins,
)

SCHEMA = "evalgate.profile/1"
PROFILE_NAME = "profile.json"


def column_state(values: Any, kind: str | None = None) -> dict[str, Any]:
    """One column's bins (from these values) and its histogram on them, as JSON data."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    kind = kind or column_kind(s)
    bins = reference_bins(s, kind)  # type: ignore[arg-type]
    span = None
    if kind == "numeric":
        x, _ = numeric_values(s)
        span = (float(x.min()), float(x.max())) if len(x) else None
    return histogram_state(histogram(s, bins), bins, span)


def histogram_state(h: Histogram, bins: Bins,
                    span: tuple[float, float] | None = None) -> dict[str, Any]:
    """A histogram on its bins (and a numeric column's range) as a profile entry."""
    out: dict[str, Any] = {"kind": bins.kind, "rows": h.rows, "missing": h.missing,
                           "counts": [int(c) for c in h.counts]}
    if bins.kind == "numeric":
        assert bins.edges is not None and h.sums is not None
        out.update(edges=[float(e) for e in bins.edges], scale=bins.scale,
                   sums=[float(x) for x in h.sums])
        if span is not None:  # the support, for CBPE's check that a batch stays inside it
            out.update(min=span[0], max=span[1])
    else:
        out["categories"] = list(bins.categories)
    return out


def state_of(entry: Mapping[str, Any], where: str) -> tuple[Bins, Histogram]:
    """The bins and histogram a profile entry holds (:class:`EvalgateError` if malformed)."""
    try:
        counts = np.asarray(entry["counts"], dtype=np.int64)
        if entry["kind"] == "numeric":
            bins = Bins("numeric", edges=np.asarray(entry["edges"], dtype=np.float64),
                        scale=float(entry["scale"]))
            sums = np.asarray(entry["sums"], dtype=np.float64)
        else:
            bins = Bins("categorical", categories=tuple(str(c) for c in entry["categories"]))
            sums = None
        h = Histogram(int(entry["rows"]), int(entry["missing"]), counts, sums)
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalgateError(f"{where}: a malformed profile entry ({exc})") from None
    if len(counts) != bins.size or (sums is not None and len(sums) != bins.size):
        raise EvalgateError(f"{where}: a malformed profile entry (counts do not fit its bins)")
    return bins, h


def _prediction(outcome: Any) -> dict[str, Any] | None:
    preds = outcome.predictions.get("candidate") if outcome.predictions else None
    suite = outcome.suite
    if preds is None or suite is None:
        return None
    if suite.task == "binary" and preds.score is not None:
        return column_state(np.asarray(preds.score, dtype=np.float64), "numeric")
    if suite.task == "regression":
        return column_state(np.asarray(preds.label, dtype=np.float64), "numeric")
    if suite.task == "multiclass" and outcome.target is not None and outcome.target.classes:
        # the predicted class, as (the key of) the data's label it stands for
        names = np.array([label_key(c) for c in outcome.target.classes], dtype=object)
        return column_state(pd.Series(names[np.asarray(preds.label, dtype=np.int64)]),
                            "categorical")
    return None


def _calibration(outcome: Any) -> dict[str, Any] | None:
    """A binary candidate's reliability table on the gate's labelled rows (score bins, rows,
    positives: :mod:`evalgate.stats.cbpe`), for ``evalgate monitor`` to estimate its
    performance on batches without labels; ``None`` when there are too few rows for one."""
    preds = outcome.predictions.get("candidate") if outcome.predictions else None
    if outcome.suite is None or outcome.suite.task != "binary" or preds is None \
            or preds.score is None or outcome.target is None:
        return None
    try:
        return fit_calibration(outcome.target.y, preds.score).as_dict()
    except StatsError:
        return None


def build_profile(outcomes: Sequence[Any]) -> dict[str, Any] | None:
    """The profile of every suite that read its data (``None`` when none did)."""
    suites = []
    for o in outcomes:
        data, suite = o.dataset, o.suite
        if data is None or suite is None:
            continue
        names = [*(data.features if _reads_rows(o) else ()), *data.sensitive]
        columns = {c: column_state(data.frame[c]) for c in dict.fromkeys(names)
                   if c in data.frame.columns and c != data.target}
        # the drift family's histograms (on its reference's bins), on every engine
        for c, state in (column_states(o.states) or {}).items():
            if state is not None:
                columns[c] = histogram_state(*state)
        entry: dict[str, Any] = {
            "name": suite.name, "task": suite.task, "target": data.target,
            "positive_label": _plain(suite.data.positive_label),
            "dataset": {"sha256": data.sha256, "rows": data.rows},
            "features": list(data.features), "columns": columns,
            "label_map": [[_plain(a), _plain(b)] for a, b in suite.data.label_map],
        }
        if data.target is not None:
            entry["label"] = column_state(
                data.frame[data.target],
                "numeric" if suite.task == "regression" else "categorical")
        prediction = _prediction(o)
        if prediction is not None:
            entry["prediction"] = prediction
        calibration = _calibration(o)
        if calibration is not None:
            entry["calibration"] = calibration
        suites.append(entry)
    return {"schema": SCHEMA, "suites": suites} if suites else None


def _reads_rows(outcome: Any) -> bool:
    """Whether a family that reads the feature columns ran (any engine then holds them): the
    profile holds the columns the gate read, the same on every engine."""
    from ..families import registered

    reading = {f.name for f in registered() if f.reads_rows}
    return any(r.family in reading for r in outcome.results)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def dumps(profile: Mapping[str, Any]) -> str:
    return json.dumps(profile, separators=(",", ":"), sort_keys=False) + "\n"


#: CBPE is refused when more than this share of a batch column lies outside the profile's
#: support (numeric values beyond its range, categories it never had)
MAX_OUTSIDE_SUPPORT = 0.01


def outside_support(values: Any, entry: Mapping[str, Any]) -> tuple[float, str]:
    """The share of a batch column's present values outside the support a profile entry
    records — numeric: beyond [min, max]; categorical: a category it never had — and what
    that is, in words (an entry without a range: 0, "")."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if entry.get("kind") == "numeric":
        if "min" not in entry or "max" not in entry:
            return 0.0, ""
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        x = x[~np.isnan(x)]  # missing values are not outside; ±inf lie outside any range
        if not len(x):
            return 0.0, ""
        lo, hi = float(entry["min"]), float(entry["max"])
        return float(((x < lo) | (x > hi)).mean()), \
            f"outside the range {lo:g} … {hi:g} of the gate's data"
    counts, _ = category_counts(s)
    total = int(counts.sum())
    if not total:
        return 0.0, ""
    known = set(map(str, entry.get("categories", ())))
    unseen = int(counts[[c not in known for c in counts.index]].sum())
    return unseen / total, "categories the gate's data never had"
