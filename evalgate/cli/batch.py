"""The champion (or another model) on a production batch, as ``evalgate monitor`` reads it:
its predictions in the form the reference profile holds, and the promoting verdict's
performance checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    import numpy as np


def gate_checks(verdict: dict[str, Any], entry: dict[str, Any], *,
                margin_only: bool = True) -> list[dict[str, Any]]:
    """The promoting verdict's (checked: :func:`~evalgate.registry.profiles.stored_profile`)
    performance checks of the profiled suite: those with a margin (and the gate's value and
    bound), or (``margin_only=False``) every one."""
    found = verdict.get("suites")
    suites: list[Any] = found if isinstance(found, list) else []
    suite = next((s for s in suites if isinstance(s, dict) and s.get("name") == entry["name"]),
                 None)
    checks = [c for c in (suite or {}).get("checks", []) if isinstance(c, dict)
              and c.get("family") == "performance" and c.get("metric") is not None]
    if not margin_only:
        return checks
    return [c for c in checks if (c.get("threshold") or {}).get("max_regression") is not None
            and c.get("candidate") is not None and c.get("ci") is not None]


def scores_on(args: argparse.Namespace, entry: dict[str, Any], batch: Any,
            champion: Any, role: str = "the champion") -> np.ndarray:
    """The predictions of ``champion`` (or of another model: ``role`` names it in messages)
    on the batch, as the profile holds them: P(positive) for a binary classifier, the value
    for a regressor."""
    import numpy as np

    from ..data.labels import label_key
    from ..errors import TAMPERED, EvalgateError
    from ..models import load_model
    from .common import project

    model = load_model(champion.path, trust_pickle=args.trust_pickle,
                       trusted_types=(*project().trusted_types, *args.trust_type))
    expected = getattr(champion, "sha256", None)  # a registry version: the bytes it records
    if expected is not None and model.info.sha256 != expected:
        raise EvalgateError(f"{champion.path}: {champion.name} version {champion.number} "
                            f"{TAMPERED} ({expected[:12]}…; the file has "
                            f"{model.info.sha256[:12]}…): it was modified after registration, "
                            f"so it is not scored")
    features = [c for c in entry["features"] if c in batch.columns]
    if len(features) != len(entry["features"]):
        missing = sorted(set(entry["features"]) - set(features))
        raise EvalgateError(f"the batch lacks the feature {missing[0]!r} {role} reads")
    raw = model.predict(batch, features)
    if entry["task"] == "regression":
        return np.asarray(raw.values, dtype=np.float64)
    if entry["task"] == "multiclass":
        return _predicted_labels(entry, raw)
    if raw.proba is None or raw.classes is None:
        raise EvalgateError(f"{role} gives no probabilities to monitor")
    keys = [label_key(c) for c in raw.classes]
    positive = label_key(entry.get("positive_label"))
    if positive not in keys:  # a model trained on codes: its second class is the positive
        return np.asarray(raw.proba[:, -1], dtype=np.float64)
    return np.asarray(raw.proba[:, keys.index(positive)], dtype=np.float64)


def _predicted_labels(entry: dict[str, Any], raw: Any) -> np.ndarray:
    """A multiclass champion's predicted class per row, as the data label it stands for
    (through the suite's label_map, as the profile holds it)."""
    import numpy as np

    from ..data.labels import label_key
    from ..errors import EvalgateError

    if raw.labels is not None:
        labels = np.asarray(raw.labels).reshape(-1)
    elif raw.proba is not None and raw.classes is not None:
        labels = np.asarray(raw.classes, dtype=object)[np.asarray(raw.proba).argmax(axis=1)]
    else:
        raise EvalgateError("the champion gives neither labels nor probabilities to monitor")
    back = {label_key(cls): label_key(label) for label, cls in entry.get("label_map") or ()}
    distinct, inverse = np.unique(np.array([label_key(v) for v in labels.tolist()]),
                                  return_inverse=True)
    named = np.array([back.get(k, k) for k in distinct], dtype=object)
    return np.asarray(named[inverse])
