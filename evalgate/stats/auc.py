"""ROC AUC: the candidate's value and the paired difference Δ = candidate − champion, by the
method that holds for the data at hand. The rule, in one place (the simulations behind each
number: docs/stats-auc.md, ``python bench/coverage.py --only auc``):

With k = min(positives, negatives) and Â the larger of the two models' AUCs:

=========================================  ==============================================
k < ``MIN_PER_CLASS``                      no bound: Δ inconclusive (``too-few-positives``
                                           / ``too-few-negatives``; multiclass one-vs-rest
                                           AUC: any class present with fewer rows,
                                           ``too-few-in-a-class``)
k < ``BOOTSTRAP_BELOW``                    stratified bootstrap on the logit scale,
                                           expanded percentile
                                           (``stratified-bootstrap-logit``)
k < ``DELONG_FROM`` or Â > ``LOGIT_ABOVE``  DeLong on the logit scale, t quantile
                                           (``delong-logit``)
otherwise                                  DeLong (``delong``)
=========================================  ==============================================

Why: a DeLong bound is the estimate minus z·se, and with few positives (or negatives), or an
AUC near 1, the samples that show the candidate at its best are the ones that show the least
spread — the bound is highest exactly when it is most wrong (false passes at Δ = −m of 11–29%
with 50 down to 5 positives at AUC 0.98). On the logit scale an AUC near 1 is no longer
pressed against its bound. Δ's bound is θ's bound, θ = logit(candidate) − logit(champion),
read back on the AUC scale at the least favourable of the two models' AUCs (the smaller of
expit(logit B̂ + L) − B̂ and Â − expit(logit Â − L)): read at either one alone, the bound
undercovers whenever the other model is the one nearer 1 (coverage 84–88% with the candidate
better by 0.02 near AUC 0.97). Below ``BOOTSTRAP_BELOW`` the bound of θ comes from the
stratified bootstrap (each class resampled on its own), whose percentiles follow θ's skew;
the percentile is *expanded* (Hesterberg 2015) to the t quantile with Satterthwaite's degrees
of freedom, undoing the bootstrap's (k − 1)/k variance. Where the data show no spread at all
(both models separate the classes perfectly) the bound is the exact floor
−(1 − (1 − confidence)^(1/k)): an unseen share that large of the smaller class could be
ranked last by the candidate.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from scipy import special

from ..metrics import Metric
from .auc_bootstrap import stratified_aucs
from .delong import components, delong
from .intervals import Assessment, Interval, one_sided

Array = np.ndarray

#: fewer positives or negatives than this: no method supports a comparison (inconclusive)
MIN_PER_CLASS = 10
#: fewer than this in the smaller class: the stratified bootstrap on the logit scale
BOOTSTRAP_BELOW = 100
#: DeLong on the AUC scale only from this many rows in the smaller class ...
DELONG_FROM = 200
#: ... and while neither AUC exceeds this; otherwise DeLong on the logit scale
LOGIT_ABOVE = 0.95
#: bootstrap replicates when the caller passes none
DEFAULT_RESAMPLES = 2000


def regime(k: int, auc: float) -> str:
    """The method for a smaller class of ``k`` rows and a largest AUC ``auc``."""
    if k < MIN_PER_CLASS:
        return "too-few"
    if k < BOOTSTRAP_BELOW:
        return "stratified-bootstrap-logit"
    if k < DELONG_FROM or max(auc, 1 - auc) > LOGIT_ABOVE:
        return "delong-logit"
    return "delong"


def rows_needed(y: Array) -> tuple[int, int, int]:
    """(positives, negatives, rows that would give ``MIN_PER_CLASS`` of the rarer class at
    the observed prevalence)."""
    positives = int(np.count_nonzero(np.asarray(y) == 1))
    negatives = len(y) - positives
    k = max(min(positives, negatives), 1)
    return positives, negatives, math.ceil(len(y) * MIN_PER_CLASS / k)


#: Δ's method for a multiclass ROC AUC with a class of fewer than ``MIN_PER_CLASS`` rows
TOO_FEW_IN_A_CLASS = "too-few-in-a-class"


def rare_class(y: Array) -> tuple[int, int] | None:
    """A multiclass target's rarest class present with fewer than ``MIN_PER_CLASS`` rows, as
    (code, rows), or ``None``. One-vs-rest AUC of such a class rests on that many positives,
    as a binary AUC does: no method bounds a comparison on it (a class of 3 rows let a
    truly worse candidate pass about 10% of the time at 95%)."""
    counts = np.bincount(np.asarray(y, dtype=np.int64))
    rare = np.flatnonzero((counts > 0) & (counts < MIN_PER_CLASS))
    if rare.size == 0:
        return None
    code = int(rare[np.argmin(counts[rare])])
    return code, int(counts[code])


def _clip(a: Array | float, m: int, n: int) -> Array:
    eps = 0.5 / (m * n)
    out: Array = np.clip(a, eps, 1 - eps)
    return out


def _spread(d10: Array, d01: Array) -> tuple[float, float, float]:
    """(variance, Satterthwaite degrees of freedom, unbiased / bootstrap variance) of a
    statistic whose influence components are ``d10`` (positives) and ``d01`` (negatives)."""
    m, n = len(d10), len(d01)
    if np.ptp(d10) == 0 and np.ptp(d01) == 0:  # no spread at all (not rounding's)
        return 0.0, float(min(m, n) - 1), 1.0
    s10, s01 = float(np.var(d10, ddof=1)) / m, float(np.var(d01, ddof=1)) / n
    var = s10 + s01
    df = var**2 / (s10**2 / (m - 1) + s01**2 / (n - 1))
    plug_in = s10 * (m - 1) / m + s01 * (n - 1) / n
    return var, df, var / plug_in


def _toward(base: float, step: float) -> float:
    """expit(logit(base) + step) − base, exactly 0 at step 0."""
    e = math.expm1(step)
    return base * (1 - base) * e / (1 + base * e)


def read_back(a: float, b: float, bound: float) -> float:
    """Δ's bound from θ's: the smaller of θ's bound read at the champion's AUC ``b`` and at
    the candidate's ``a``."""
    return min(_toward(b, bound), -_toward(a, -bound))


def _floor(k: int, confidence: float) -> float:
    """Minus the exact upper bound of a share of k units never seen wrong (1 − α^(1/k))."""
    return -(1.0 - float((1 - confidence) ** (1 / k)))


def _seed(y: Array, scores: list[Array]) -> np.random.Generator:
    """A generator from the data themselves (same data, same numbers), for callers that
    pass none."""
    crc = zlib.crc32(np.ascontiguousarray(y).tobytes())
    for s in scores:
        crc = zlib.crc32(np.ascontiguousarray(s, dtype=np.float64).tobytes(), crc)
    return np.random.default_rng([crc, 0x41554320])


def _logit_bound(theta: float, var: float, df: float, ratio: float, confidence: float,
                 reps: Array | None) -> float:
    """θ's one-sided lower bound: the expanded bootstrap percentile, or θ − t·se."""
    t = float(special.stdtrit(df, 1 - confidence))  # Student's t quantile (t.ppf)
    if reps is None:
        return theta + t * math.sqrt(var)
    level = float(special.ndtr(t * math.sqrt(ratio)))
    return float(np.percentile(reps, 100 * level))


def _value(auc: float, a10: Array, a01: Array, confidence: float, n: int,
           reps: Array | None) -> Interval:
    """The candidate's own AUC bounded below on the logit scale: by the expanded bootstrap
    percentile (``reps``) or by the t quantile."""
    m, k = len(a10), min(len(a10), len(a01))
    a = float(_clip(auc, m, len(a01)))
    g = 1 / (a * (1 - a))
    var, df, ratio = _spread(g * a10, g * a01)
    name = "delong-logit" if reps is None else "stratified-bootstrap-logit"
    if var <= 0:  # no spread: the classes separated perfectly (or not at all)
        return Interval(auc, max(auc + _floor(k, confidence), 0.0), None, 0.0, name, n)
    logits = None if reps is None else special.logit(_clip(reps, m, len(a01)))
    lower = float(special.expit(_logit_bound(float(special.logit(a)), var, df, ratio,
                                             confidence, logits)))
    return Interval(auc, min(lower, auc), None, math.sqrt(var) / g, name, n)


def _delta(aucs: Array, v10: Array, v01: Array, method: str, confidence: float, n: int,
           reps: Array | None, same: bool) -> Interval:
    """Δ = candidate − champion on the logit scale, bounded below."""
    d = float(aucs[0] - aucs[1])
    m, nn = v10.shape[1], v01.shape[1]
    a, b = (float(x) for x in _clip(aucs, m, nn))
    ga, gb = 1 / (a * (1 - a)), 1 / (b * (1 - b))
    var, df, ratio = _spread(ga * v10[0] - gb * v10[1], ga * v01[0] - gb * v01[1])
    if var <= 0:  # no spread: identical models, or both separate the classes perfectly
        lower = 0.0 if same else _floor(min(m, nn), confidence)
        return Interval(d, min(lower, d), None, 0.0, method, n)
    theta = float(special.logit(a) - special.logit(b))
    thetas = None if reps is None else (special.logit(_clip(reps[:, 0], m, nn))
                                        - special.logit(_clip(reps[:, 1], m, nn)))
    lower = read_back(a, b, _logit_bound(theta, var, df, ratio, confidence, thetas))
    se = math.sqrt(var) / math.sqrt(ga * gb)  # on the AUC scale, for display only
    return Interval(d, lower, None, se, method, n)


def _delong(aucs: Array, v10: Array, v01: Array, paired: bool, confidence: float, n: int
            ) -> Assessment:
    """DeLong's bounds, exactly as :func:`evalgate.stats.delong.delong` computes them."""
    cov = (np.atleast_2d(np.cov(v10)) / v10.shape[1]
           + np.atleast_2d(np.cov(v01)) / v01.shape[1])
    value = one_sided(float(aucs[0]), math.sqrt(max(cov[0, 0], 0.0)), confidence, True,
                      "delong", n)
    if not paired:
        return Assessment(value)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    delta = one_sided(float(aucs[0] - aucs[1]), math.sqrt(max(var, 0.0)), confidence, True,
                      "delong", n)
    return Assessment(value, float(aucs[1]), delta)


def auc_assessment(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
                   n: int, rng: np.random.Generator | None = None,
                   n_resamples: int | None = None) -> Assessment:
    """The candidate's ROC AUC and, given a champion, Δ by the rule of this module.

    ``rng`` and ``n_resamples`` drive the stratified bootstrap; without them the generator
    is seeded from the data (the same data give the same numbers) and 2,000 replicates."""
    scores = [cand] if champ is None else [cand, champ]
    aucs, v10, v01 = components(y, scores)
    k = min(v10.shape[1], v01.shape[1])
    method = regime(k, float(np.max(aucs)))
    if method == "delong":
        return _delong(aucs, v10, v01, champ is not None, confidence, n)
    reps = None
    if method == "stratified-bootstrap-logit":
        gen = rng if rng is not None else _seed(y, scores)
        reps = stratified_aucs(y, scores, gen, n_resamples or DEFAULT_RESAMPLES)
    value = _value(float(aucs[0]), v10[0], v01[0], confidence, n,
                   None if reps is None else reps[:, 0])
    if champ is None:
        return Assessment(value)
    if method == "too-few":
        positives, negatives, _ = rows_needed(y)
        name = "too-few-positives" if positives <= negatives else "too-few-negatives"
        return Assessment(value, float(aucs[1]),
                          Interval(float(aucs[0] - aucs[1]), -math.inf, None, None, name, n))
    same = bool(np.array_equal(np.asarray(cand), np.asarray(champ)))
    return Assessment(value, float(aucs[1]),
                      _delta(aucs, v10, v01, method, confidence, n, reps, same))


__all__ = ["BOOTSTRAP_BELOW", "DELONG_FROM", "LOGIT_ABOVE", "MIN_PER_CLASS",
           "TOO_FEW_IN_A_CLASS", "auc_assessment", "delong", "rare_class", "regime",
           "rows_needed"]
