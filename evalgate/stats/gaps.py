"""Gaps between groups and their paired comparison between two models (the bias family's
statistics): a gap is the largest difference (or the smallest ratio) among the groups'
values, and :func:`gap_comparison` bounds how much a candidate's gap may exceed a
champion's on the same rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import StatsError
from .proportions import tango_bounds

Array = np.ndarray


#: a contrast is in a gap's estimated tied set within √(KAPPA_FACTOR · log n) standard errors
#: of the gap; 2 keeps the false-pass rate of ``max_regression`` at a champion at parity near
#: α from a few thousand rows (bench-tested; 1, the usual √(log n), doubled it at 3,000 rows)
KAPPA_FACTOR = 2.0


@dataclass(frozen=True)
class Gap:
    """A gap statistic vectorised over leading axes (replicates) and its ends."""

    difference: Array
    ratio: Array
    diff_ends: tuple[int, int, int] | None = None   # (component, high group, low group)
    ratio_ends: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class PairedShift:
    """One rate whose denominator the truth alone fixes (selection rate: a group's rows; true
    positive rate: its positives; …), per group judged: ``b`` rows of the denominator where
    only the candidate has the event, ``c`` where only the champion has it, ``n`` the
    denominator. The group's shift, candidate − champion rate, is exactly (b − c)/n and is
    bounded by Tango's score interval on those discordant counts — which, unlike a bootstrap,
    is not blind to the disagreement a group's rows happened not to show."""

    b: Array
    c: Array
    n: Array

    @property
    def estimate(self) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            out: Array = np.where(self.n > 0, (self.b - self.c) / np.where(self.n > 0, self.n, 1),
                                  0.0)
        return out

    def bounds(self, confidence: float) -> tuple[Array, Array]:
        """Each group's (lower, upper) one-sided bounds of the shift at ``confidence``."""
        return tango_bounds(self.b, self.c, self.n, confidence)


def gap(values: Sequence[Array], eligible: Array, ref: int | None) -> Gap:
    """Difference and ratio over the eligible groups of each component's values
    (..., groups); a composite takes the largest difference and the smallest ratio. A NaN
    value (an empty denominator in a replicate) makes the gap NaN. For 1-D values the ends
    (component, high group, low group) are found too."""
    idx = np.flatnonzero(eligible)
    diffs, ratios = [], []
    d_ends: list[tuple[int, int]] = []
    r_ends: list[tuple[int, int]] = []
    for v in values:
        w = v[..., idx]
        if ref is None:
            hi, lo = w.max(axis=-1), w.min(axis=-1)
            diff = hi - lo
            ratio = _safe_ratio(lo, hi)
            if w.ndim == 1:
                hi_i, lo_i = int(np.argmax(w)), int(np.argmin(w))
                if hi_i == lo_i:  # every group equal: still name two of them
                    lo_i = len(idx) - 1 if hi_i != len(idx) - 1 else 0
                d_ends.append((int(idx[hi_i]), int(idx[lo_i])))
                r_ends.append(d_ends[-1])
        else:
            r = v[..., ref:ref + 1]
            dist = np.abs(w - r)
            diff = dist.max(axis=-1)
            ratio = _safe_ratio(np.minimum(w, r), np.maximum(w, r)).min(axis=-1)
            if w.ndim == 1:
                rat = _safe_ratio(np.minimum(w, r), np.maximum(w, r))
                for ends, g in ((d_ends, int(idx[np.argmax(dist)])),
                                (r_ends, int(idx[np.argmin(rat)]))):
                    ends.append((g, ref) if v[g] >= v[ref] else (ref, g))
        diffs.append(diff)
        ratios.append(ratio)
    dstack, rstack = np.stack(diffs), np.stack(ratios)
    difference, ratio = dstack.max(axis=0), rstack.min(axis=0)
    if np.ndim(difference) == 0:
        dc, rc = int(np.argmax(dstack)), int(np.argmin(rstack))
        return Gap(difference, ratio, (dc, *d_ends[dc]), (rc, *r_ends[rc]))
    return Gap(difference, ratio)


def _safe_ratio(small: Array, big: Array) -> Array:
    """small / big, 1 where both are 0 (equal groups), NaN where either is NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(big > 0, small / np.where(big > 0, big, 1), 1.0)
    return np.where(np.isnan(small) | np.isnan(big), np.nan, out)


def _contrasts(E: int, ref: int | None) -> tuple[Array, Array]:
    """The ordered pairs (a, b) whose contrasts make up a gap: every pair of groups, or
    every group with the reference (both ways). ``difference = max v_a − v_b`` and
    ``ratio = min v_a / v_b`` over them."""
    if ref is None:
        a, b = np.nonzero(~np.eye(E, dtype=bool))
    else:
        others = np.array([g for g in range(E) if g != ref], dtype=np.int64)
        a = np.r_[others, np.full(len(others), ref)]
        b = np.r_[np.full(len(others), ref), others]
    return a.astype(np.int64), b.astype(np.int64)


def _contrast(v: Array, a: Array | int, b: Array | int, statistic: str) -> Array:
    va, vb = v[..., a], v[..., b]
    if statistic == "difference":
        out: Array = va - vb
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(vb > 0, va / np.where(vb > 0, vb, 1), np.where(va > 0, np.inf, 1.0))


def gap_comparison(cand: Sequence[Array], champ: Sequence[Array],
                   cand_reps: Sequence[Array], champ_reps: Sequence[Array], ref: int | None,
                   statistic: str, confidence: float, n: int,
                   shifts: Sequence[PairedShift] | None = None) -> tuple[float, float, float]:
    """Δ̂ and its one-sided lower bound at ``confidence`` from paired bootstrap replicates of
    the group values: ``cand``/``champ`` hold, per component metric, each model's values of
    the groups judged (E,); ``*_reps`` the same from the same resampled rows (B, E).
    Returns (Δ̂, lower bound, standard deviation of the replicates behind the bound).

    A gap is the largest (as a ratio, the smallest) of the contrasts between groups. It is
    not differentiable where contrasts tie, and there the plain bootstrap of the gap fails:
    a champion at parity has a gap estimate biased upwards by the noise, so Δ̂ flatters any
    candidate (a plain paired bootstrap passed a candidate truly worse by the margin 17–25%
    of the time at 95%, whatever the row count). The bound is therefore the larger of two
    bounds, each at half the error rate (so their maximum keeps the level, by Bonferroni):

    1. the basic bootstrap bound Δ̂ − q(T*) of the directional derivative of Δ (Fang & Santos
       2019): T* = the champion's gap move − the candidate's (ratio: the reverse), where the
       champion's gap moves as the extreme of the moves of every contrast within
       κ = √(2 log n) standard errors of its gap — its estimated tied set (generalised
       moment selection, Andrews & Soares 2010; too large a set is conservative) — and the
       candidate's as the contrast at its observed ends (conservative as well). With unique,
       well separated ends this is the paired bootstrap of a difference of two contrasts.
    2. (difference only) −(upper bound of gap(shift)), the shift being each group's value
       under the candidate minus under the champion, bounded by the percentile bootstrap:
       by the triangle inequality a gap can grow by at most the gap of the shift, for every
       champion, tied or not, and the shift is measured on the same rows — so models that
       move every group alike (or not at all) are not blocked for the champion's noise.

    With ``shifts`` (every component a rate whose denominator the truth fixes, one
    :class:`PairedShift` each) the shift is counted, not resampled: bound 2 takes the gap of
    the shift's Tango bounds, each of the 2·groups·components bounds at α/(2·2·groups·
    components) so that they hold together (Bonferroni); and bound 1 is capped by a floor, Δ̂
    less the Tango half-widths of the shift at the candidate's ends combined by MOVER (for a
    ratio, through its derivatives) — the paired bootstrap of a contrast of shifts sees no
    spread where a group shows no disagreement, and passed a candidate truly worse by the
    margin half the time on 50 rows a group (bench/sim/fairness.py).
    """
    alpha = (1 - confidence) / 2 if statistic == "difference" else 1 - confidence
    contrasts = _Contrasts(cand[0].shape[-1], ref, statistic)
    estimate, lower, sd = contrasts.directional_bound(cand, champ, cand_reps, champ_reps,
                                                      alpha, n)
    if shifts is not None:
        floor = contrasts.shift_floor(cand, shifts, estimate, alpha)
        if floor < lower:
            lower, sd = floor, (estimate - floor) / max(float(special.ndtri(1 - alpha)), 1e-12)
    if statistic == "difference":
        shift = _shift_bound(cand, champ, cand_reps, champ_reps, ref, alpha) if shifts is None \
            else _counted_shift_bound(shifts, ref, alpha)
        if shift is not None and shift[0] > lower:
            lower, sd = shift
    return estimate, lower, sd


class _Contrasts:
    """The contrasts between groups that make up a gap, worked with as maxima (a ratio's
    minimum is −max(−ratio))."""

    def __init__(self, groups: int, ref: int | None, statistic: str):
        self.pa, self.pb = _contrasts(groups, ref)
        self.statistic = statistic
        self.ratio = statistic == "ratio"
        self.sign = -1.0 if self.ratio else 1.0

    def values(self, v: Sequence[Array]) -> Array:
        return self.sign * np.concatenate([_contrast(x, self.pa, self.pb, self.statistic)
                                           for x in v])

    def replicates(self, reps: Sequence[Array], idx: Array) -> Array:
        p = len(self.pa)
        with np.errstate(invalid="ignore"):
            return self.sign * np.column_stack([
                _contrast(reps[i // p], self.pa[i % p], self.pb[i % p], self.statistic)
                for i in idx])

    def standard_errors(self, v: Sequence[Array], reps: Sequence[Array]) -> Array:
        """Standard error of each contrast: the groups are resampled independently."""
        pa, pb = self.pa, self.pb
        out = []
        for x, r in zip(v, reps):
            var = np.nanvar(r, axis=0, ddof=1)
            if self.ratio:
                with np.errstate(divide="ignore", invalid="ignore"):
                    out.append(np.sqrt(var[pa] / x[pb] ** 2 + x[pa] ** 2 * var[pb] / x[pb] ** 4))
            else:
                out.append(np.sqrt(var[pa] + var[pb]))
        se: Array = np.nan_to_num(np.concatenate(out), nan=np.inf)
        return se

    def directional_bound(self, cand: Sequence[Array], champ: Sequence[Array],
                          cand_reps: Sequence[Array], champ_reps: Sequence[Array],
                          alpha: float, n: int) -> tuple[float, float, float]:
        """Δ̂, the basic bootstrap bound of Δ's directional derivative (bound 1 of
        :func:`gap_comparison`) and the standard deviation of its replicates."""
        kappa = math.sqrt(KAPPA_FACTOR * math.log(max(n, 3)))
        c_obs, h_obs = self.values(cand), self.values(champ)
        champ_gap = float(h_obs.max())
        estimate = champ_gap - float(c_obs.max())  # ratio: (−cand's) from (−champion's)
        near = np.flatnonzero(h_obs >= champ_gap - kappa * self.standard_errors(
            champ, champ_reps) - 1e-12)
        own = np.array([int(np.argmax(c_obs))])
        with np.errstate(invalid="ignore"):
            a_star = np.max(self.replicates(champ_reps, near) - h_obs[near], axis=1)
            c_star = self.replicates(cand_reps, own)[:, 0] - c_obs[own[0]]
        t_star = a_star - c_star
        if all(np.array_equal(c, h, equal_nan=True) for c, h in zip(cand_reps, champ_reps)):
            t_star = np.zeros(1)  # the same predictions on every row: Δ = 0 in every replicate
        t_star = t_star[np.isfinite(t_star)]
        if t_star.size == 0:
            raise StatsError("every bootstrap replicate of the gap was undefined")
        sd = float(np.std(t_star, ddof=1)) if t_star.size > 1 else 0.0
        return estimate, estimate - float(np.quantile(t_star, 1 - alpha)), sd

    def shift_floor(self, cand: Sequence[Array], shifts: Sequence[PairedShift],
                    estimate: float, alpha: float) -> float:
        """Δ̂ less the uncertainty of the counted shift at the candidate's ends (a, b): the
        candidate's contrast is the champion's moved by the shifts of a and b, whose Tango
        half-widths at 1 − ``alpha`` combine by MOVER — for a ratio v_a/v_b weighted by its
        derivatives 1/v_b and v_a/v_b²."""
        own = int(np.argmax(self.values(cand)))
        p = len(self.pa)
        comp, a, b = own // p, int(self.pa[own % p]), int(self.pb[own % p])
        lo, hi = shifts[comp].bounds(1 - alpha)
        point = shifts[comp].estimate
        up_a, down_b = float(hi[a] - point[a]), float(point[b] - lo[b])
        if self.ratio:  # the ratio falls as a's rate falls and b's rises
            va, vb = float(cand[comp][a]), float(cand[comp][b])
            if not vb > 0:
                return -math.inf
            down_a, up_b = float(point[a] - lo[a]), float(hi[b] - point[b])
            return estimate - math.hypot(down_a / vb, up_b * va / vb ** 2)
        return estimate - math.hypot(up_a, down_b)


def _counted_shift_bound(shifts: Sequence[PairedShift], ref: int | None,
                         alpha: float) -> tuple[float, float]:
    """Bound 2 of :func:`gap_comparison` from counted shifts: −(the largest contrast of one
    group's upper bound and another's lower bound), every bound holding together at 1 −
    ``alpha``; and a standard deviation read off its half-width."""
    each = alpha / (2 * len(shifts) * len(shifts[0].n))
    worst, estimate = -math.inf, -math.inf
    for shift in shifts:
        lo, hi = shift.bounds(1 - each)
        if ref is None:
            worst = max(worst, float(hi.max() - lo.min()))
        else:
            others = np.arange(len(lo)) != ref
            worst = max(worst, float((hi[others] - lo[ref]).max()),
                        float((hi[ref] - lo[others]).max()))
        point = shift.estimate
        estimate = max(estimate, float(gap([point], np.ones(len(point), bool), ref).difference))
    z = float(special.ndtri(1 - each))
    return -worst, max(worst - estimate, 0.0) / z


def _shift_bound(cand: Sequence[Array], champ: Sequence[Array], cand_reps: Sequence[Array],
                 champ_reps: Sequence[Array], ref: int | None,
                 alpha: float) -> tuple[float, float] | None:
    """Bound 2 of :func:`gap_comparison` (differences only): −(upper bound of the gap of the
    per-group shift), and the standard deviation of its replicates; ``None`` when every
    replicate is undefined."""
    shift = [c - h for c, h in zip(cand, champ)]
    shift_reps = [c - h for c, h in zip(cand_reps, champ_reps)]
    all_e = np.ones(cand[0].shape[-1], dtype=bool)
    spread = np.asarray(gap(shift_reps, all_e, ref).difference)
    spread = spread[np.isfinite(spread)]
    if not spread.size:
        return None
    by_shift = -max(float(gap(shift, all_e, ref).difference),
                    float(np.quantile(spread, 1 - alpha)))
    return by_shift, float(np.std(spread, ddof=1)) if spread.size > 1 else 0.0
