"""The discordance floor of a paired confusion-metric comparison: the disagreement between
two models that the rows may have missed, counted against the candidate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .proportions import clopper_pearson_upper

Array = np.ndarray


def discordance_floor(f: Callable[[Array], Array], sign: float, joint: Array,
                      confidence: float) -> float:
    """The lowest Δ = sign · (f(candidate) − f(champion)) once the disagreement the rows may
    have missed is counted against the candidate.

    ``joint`` holds counts per (truth, candidate label, champion label). In each stratum —
    every truth class t, and all rows — the discordant count D of n rows (candidate label ≠
    champion label) is bounded above exactly: Clopper–Pearson U at ``confidence``, so up to
    m = n·U − D discordant rows were not seen. Those m rows are taken from rows on which
    the models agree and made to go against the candidate: rows both got right become
    candidate-wrong (to its most frequent wrong label), or rows both got wrong become
    champion-right; within a class, or spread over the classes in proportion for all rows.
    The floor is the least Δ over these cases. For accuracy with no discordant row it is
    −U(0 of n) = −(1 − (1 − confidence)^(1/n)); at many discordant rows it is about the
    normal bound of Δ (the bootstrap's, which the caller keeps when it is lower)."""
    k = joint.shape[0]
    ta, tb = joint.sum(axis=2), joint.sum(axis=1)
    idx = np.arange(k)
    agree_right = joint[idx, idx, idx]  # both right, per class
    agree = np.einsum("tjj->tj", joint).copy()  # both said j, per class t
    agree[idx, idx] = 0.0  # both wrong with the same label
    wrong_to = np.where(ta.sum(axis=1) > ta[idx, idx],  # the candidate's usual error
                        np.argmax(np.where(np.eye(k, dtype=bool), -1.0, ta), axis=1),
                        (idx + 1) % k)
    both_wrong = np.argmax(agree, axis=1)  # the champion's move: its most common shared error
    n_t = joint.sum(axis=(1, 2))
    d_t = n_t - np.einsum("tjj->t", joint)
    unseen_t = np.maximum(n_t * clopper_pearson_upper(d_t, n_t, confidence) - d_t, 0.0)
    n, d = float(n_t.sum()), float(d_t.sum())
    unseen = max(n * float(clopper_pearson_upper(d, n, confidence)) - d, 0.0)

    def moved(cand_rows: Array, champ_rows: Array) -> Array:
        """Tables after moving ``cand_rows[c, t]`` / ``champ_rows[c, t]`` rows of class t
        (case c) against the candidate: (cases, k, k) each."""
        a = np.repeat(ta[None], len(cand_rows), axis=0)
        b = np.repeat(tb[None], len(champ_rows), axis=0)
        a[:, idx, idx] -= cand_rows
        a[:, idx, wrong_to] += cand_rows  # (t, wrong_to[t]): one cell per class
        b[:, idx, both_wrong] -= champ_rows
        b[:, idx, idx] += champ_rows
        out: Array = sign * (f(a) - f(b))
        return out

    eye = np.eye(k)
    zeros = np.zeros((k, k))
    right_share = agree_right / agree_right.sum() if agree_right.sum() > 0 else n_t * 0
    wrong_avail = agree[idx, both_wrong]
    wrong_share = wrong_avail / wrong_avail.sum() if wrong_avail.sum() > 0 else n_t * 0
    cand_cases = np.vstack([eye * np.minimum(unseen_t, agree_right),  # within a class
                            zeros,
                            np.minimum(unseen * right_share, agree_right)[None],  # all rows
                            np.zeros((1, k))])
    champ_cases = np.vstack([zeros,
                             eye * np.minimum(unseen_t, wrong_avail),
                             np.zeros((1, k)),
                             np.minimum(unseen * wrong_share, wrong_avail)[None]])
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.asarray(moved(cand_cases, champ_cases), dtype=np.float64)
        base = float(sign * (f(ta) - f(tb)))
    values = values[np.isfinite(values)]
    return float(min(base, values.min())) if values.size else base
