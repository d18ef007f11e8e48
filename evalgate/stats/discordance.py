"""The discordance floor of a paired confusion-metric comparison: the disagreement between
two models that the rows may have missed, counted against the candidate."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .proportions import tango_bounds

Array = np.ndarray


def correctness_discordance(joint: Array) -> tuple[Array, Array, Array]:
    """Per truth class t of ``joint`` (truth, candidate label, champion label): b_t, the rows
    only the candidate gets right, c_t, those only the champion gets right, and n_t."""
    k = joint.shape[0]
    idx = np.arange(k)
    right_a = joint[idx, idx, :].sum(axis=1) - joint[idx, idx, idx]
    right_b = joint[idx, :, idx].sum(axis=1) - joint[idx, idx, idx]
    return right_a, right_b, joint.sum(axis=(1, 2))


def discordance_floor(f: Callable[[Array], Array], sign: float, joint: Array,
                      confidence: float) -> float:
    """The lowest Δ = sign · (f(candidate) − f(champion)) once the disagreement the rows may
    have missed is counted against the candidate.

    ``joint`` holds counts per (truth, candidate label, champion label). In every truth class
    t the difference of the two models' shares of right rows, (b_t − c_t)/n_t with b_t the
    rows only the candidate gets right and c_t those only the champion gets right, is
    bounded below by Tango's score bound L_t at ``confidence``
    (:func:`~evalgate.stats.proportions.tango_bounds`): up to h_t = (b_t − c_t) − n_t·L_t rows
    of class t may go against the candidate beyond what was seen. A row goes against it when
    a row both models got right becomes candidate-wrong (to its most frequent wrong label),
    or one both got wrong becomes champion-right — whichever costs Δ more, a_t per row. The
    floor is the least Δ over moving h_t rows within one class, and moving
    h_t²·a_t / √(Σ_s a_s² h_s²) rows in every class at once: the classes' Tango intervals
    combined by MOVER (Zou & Donner 2008), which for a Δ linear in the classes' shares is
    Δ̂ − √(Σ_t (a_t h_t)²). At many discordant rows that is about the normal bound of Δ (the
    bootstrap's, which the caller keeps when it is lower); with none it is still below 0."""
    ta, tb = joint.sum(axis=2), joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = float(sign * (f(ta) - f(tb)))
    b_t, c_t, n_t = correctness_discordance(joint)
    lower_t, _ = tango_bounds(b_t, c_t, n_t, confidence)
    half = np.maximum(b_t - c_t - n_t * lower_t, 0.0)
    moves = _Moves(f, sign, joint)
    k = len(half)
    eye = np.eye(k)
    # cost of one row per class and kind (candidate loses one / champion gains one)
    unit = np.stack([moves.delta(eye, 0 * eye), moves.delta(0 * eye, eye)])
    cost = np.where(moves.available >= 1, base - unit, -np.inf)  # (kind, class)
    kind = np.argmax(cost, axis=0)
    a = np.maximum(cost[kind, np.arange(k)], 0.0)
    a = np.where(np.isfinite(a), a, 0.0)
    norm = math.sqrt(float(np.sum((a * half) ** 2)))
    joint_rows = half**2 * a / norm if norm > 0 else 0 * half
    rows = np.vstack([eye * half, joint_rows[None]])  # (k + 1 cases, class)
    rows = np.minimum(rows, moves.available[kind, np.arange(k)])
    pick = kind[None, :] == 0
    values = moves.delta(np.where(pick, rows, 0.0), np.where(pick, 0.0, rows))
    values = values[np.isfinite(values)]
    return float(min(base, values.min())) if values.size else base


class _Moves:
    """Rows of a joint table moved against the candidate, class by class."""

    def __init__(self, f: Callable[[Array], Array], sign: float, joint: Array) -> None:
        k = joint.shape[0]
        self.f, self.sign, self.idx = f, sign, np.arange(k)
        idx = self.idx
        self.ta, self.tb = joint.sum(axis=2), joint.sum(axis=1)
        agree = np.einsum("tjj->tj", joint).copy()  # both said j, per class t
        agree[idx, idx] = 0.0  # both wrong with the same label
        ta = self.ta
        self.wrong_to = np.where(ta.sum(axis=1) > ta[idx, idx],  # the candidate's usual error
                                 np.argmax(np.where(np.eye(k, dtype=bool), -1.0, ta), axis=1),
                                 (idx + 1) % k)
        self.both_wrong = np.argmax(agree, axis=1)  # the champion's most common shared error
        #: rows each move can take, per class: both right; both wrong with the same label
        self.available = np.stack([joint[idx, idx, idx], agree[idx, self.both_wrong]])

    def delta(self, cand_rows: Array, champ_rows: Array) -> Array:
        """Δ after moving ``cand_rows[c, t]`` rows of class t from both right to
        candidate-wrong and ``champ_rows[c, t]`` from both wrong to champion-right (case c)."""
        idx = self.idx
        a = np.repeat(self.ta[None], len(cand_rows), axis=0)
        b = np.repeat(self.tb[None], len(champ_rows), axis=0)
        a[:, idx, idx] -= cand_rows
        a[:, idx, self.wrong_to] += cand_rows  # (t, wrong_to[t]): one cell per class
        b[:, idx, self.both_wrong] -= champ_rows
        b[:, idx, idx] += champ_rows
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.asarray(self.sign * (self.f(a) - self.f(b)), dtype=np.float64)
        return out
