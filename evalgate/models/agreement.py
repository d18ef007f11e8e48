"""A model that gives both a label output and probabilities must give one answer, not two.

Accuracy-type metrics (and robustness flips, bias rates) read the labels; ROC AUC, log loss
and Brier read the probabilities. A model whose labels disagree with its own probabilities
(its probability columns in another order than its declared classes, say) would be judged on
two different models, and a worse candidate PROMOTEd (its perfect labels read for accuracy,
the champion's misordered probabilities for AUC). So:

- **multiclass**: each row's label must be a most probable class of its own row of
  probabilities (ties within :data:`TIE_ATOL` allowed);
- **binary**: the labels must be a threshold rule of the positive class's probability
  (any threshold, not only 0.5): no row labelled negative may score above a row labelled
  positive, beyond the rows the best threshold misplaces.

Up to :data:`DISAGREE_SHARE` of the rows may break the rule. Why that much: converters do
not always compute the label from the very probabilities they output — an SVM's label comes
from its decision function and its probabilities from Platt scaling, a float32 tree
ensemble's label from sums rounded differently — and such honest models disagree on a few
rows near a tie. A misordered or swapped output disagrees on a large share (a half and more
in the reproduced cases), far beyond 1%; and 1% of rows moves an accuracy by at most 0.01.

Also: classes that repeat (as the gate compares labels, :func:`~evalgate.data.label_key`)
are refused — two probability columns for one class would be merged silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data import label_key, plain
from ..errors import ModelOutputError
from .base import ModelInfo

#: the share of rows on which labels and probabilities may disagree (see the module)
DISAGREE_SHARE = 0.01
#: a label is a most probable class when its probability is within this of the row's maximum
TIE_ATOL = 1e-6

_ADVICE = ("evalgate reads the labels for accuracy-type metrics and the probabilities for "
           "ROC AUC and log loss, so they must agree: check that the probability columns are "
           "in the order of the model's classes")


def distinct_classes(info: ModelInfo, classes: Sequence[Any]) -> None:
    """Refuse classes that repeat as the gate compares labels (``"1"`` and ``1`` too)."""
    seen: dict[str, Any] = {}
    for c in classes:
        key = label_key(c)
        if key in seen:
            both = "" if repr(plain(seen[key])) == repr(plain(c)) else \
                f" (as {plain(seen[key])!r} and {plain(c)!r})"
            raise ModelOutputError(info.path, f"the model's classes {_shown(classes)} name "
                                              f"{plain(c)!r} twice{both}: which probability "
                                              f"column is that class cannot be told; each "
                                              f"class must appear once")
        seen[key] = c


def multiclass_agrees(info: ModelInfo, label: np.ndarray, table: np.ndarray,
                      classes: Sequence[Any]) -> None:
    """Refuse labels (codes into ``classes``) that are not a most probable column of
    ``table`` on more than :data:`DISAGREE_SHARE` of the rows."""
    n = len(label)
    if n == 0:
        return
    picked = table[np.arange(n), label]
    off = picked < table.max(axis=1) - TIE_ATOL
    count = int(off.sum())
    if count <= DISAGREE_SHARE * n:
        return
    first = int(np.flatnonzero(off)[0])
    top = int(table[first].argmax())
    raise ModelOutputError(info.path, (
        f"the model's label output is not a most probable class of its own probabilities on "
        f"{count:,} of {n:,} rows ({count / n:.1%}, more than the {DISAGREE_SHARE:.0%} "
        f"allowed; first at data row {first + 1}: label {plain(classes[label[first]])!r} "
        f"with probability {table[first, label[first]]:.4g}, "
        f"{plain(classes[top])!r} with {table[first, top]:.4g}); {_ADVICE}"))


def binary_agrees(info: ModelInfo, label: np.ndarray, score: np.ndarray,
                  positive: Any) -> None:
    """Refuse 0/1 labels that no threshold on ``score`` (P(positive)) reproduces on all but
    :data:`DISAGREE_SHARE` of the rows."""
    n = len(label)
    if n == 0:
        return
    misplaced, cut = _best_threshold(label, score)
    if misplaced <= DISAGREE_SHARE * n:
        return
    pos = label == 1
    low = float(score[pos].min()) if pos.any() else float("nan")
    high = float(score[~pos].max()) if (~pos).any() else float("nan")
    raise ModelOutputError(info.path, (
        f"the model's label output is no threshold rule of its own probability of "
        f"{plain(positive)!r}: the best threshold ({cut:.4g}) still misplaces {misplaced:,} of "
        f"{n:,} rows ({misplaced / n:.1%}, more than the {DISAGREE_SHARE:.0%} allowed; rows "
        f"labelled positive score as low as {low:.4g}, rows labelled negative as high as "
        f"{high:.4g}); {_ADVICE}"))


def _best_threshold(label: np.ndarray, score: np.ndarray) -> tuple[int, float]:
    """The fewest rows a rule ``label = score ≥ t`` gets wrong, over every ``t``, and that
    ``t`` (rows of equal score fall on the same side)."""
    order = np.argsort(score, kind="stable")
    s, lab = score[order], label[order].astype(np.int64)
    # cut before position i (i = 0..n): positives below it and negatives at or above it
    pos_below = np.concatenate([[0], np.cumsum(lab)])
    neg_below = np.concatenate([[0], np.cumsum(1 - lab)])
    wrong = pos_below + (neg_below[-1] - neg_below)
    allowed = np.concatenate([[True], s[1:] != s[:-1], [True]])  # never split a tie
    wrong = np.where(allowed, wrong, len(s) + 1)
    i = int(np.argmin(wrong))
    cut = float(s[i]) if i < len(s) else float("inf")
    return int(wrong[i]), cut


def _shown(classes: Sequence[Any]) -> str:
    return "[" + ", ".join(repr(plain(c)) for c in list(classes)[:20]) + (
        ", …]" if len(classes) > 20 else "]")
