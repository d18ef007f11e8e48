"""A metric's value for one model and the paired difference between two models, by the
metric's kind (see :mod:`evalgate.metrics` and docs/statistics.md):

=============  ===========================================================================
``auc``        by the rarer class's count and the AUC (:mod:`.auc`): DeLong by midranks
               (Sun & Xu 2014), DeLong on the logit scale, the stratified logit bootstrap,
               or inconclusive below ``MIN_PER_CLASS`` of the rarer class
``confusion``  accuracy and the rates (TPR/FNR, TNR/FPR, selection rate): Tango's score
               bound on the discordant counts of their stratum (:mod:`.counts`). The other
               confusion metrics: bootstrap of the joint cells (truth, candidate label,
               champion label), one multinomial draw per replicate, BCa with the jackknife
               computed per cell, Δ's bound at most the *discordance floor*
               (:func:`~evalgate.stats.discordance.discordance_floor`, each class's Tango
               bound combined by MOVER) — so no or few discordant rows never give a bound
               of exactly 0
``mean``       paired bootstrap, BCa with the analytic jackknife of a mean; from
               ``ASYMPTOTIC_MIN_ROWS`` rows the paired t where the tail diagnostic allows
               it, else the tail-exact bootstrap (:mod:`.tails`)
``rmse``,      the same, with the delta method in place of the t
``r2``
``generic``    paired bootstrap (average precision: :mod:`~evalgate.stats.ap`), BCa with a
               grouped jackknife; AP with few positives: the expanded percentile
=============  ===========================================================================

A paired comparison on fewer than ``MIN_COMPARISON_ROWS`` rows has the lower bound −∞
(method ``too-few-rows``): it is inconclusive, whatever the rows say.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import StatsError
from ..metrics import Metric
from .auc import TOO_FEW_IN_A_CLASS, auc_assessment, rare_class
from .confusion import confusion_assessment
from .generic import generic_assessment
from .intervals import Assessment, Interval
from .means import mean_assessment, smooth_assessment
from .rules import MIN_COMPARISON_ROWS
from .scorefloor import floored

Array = np.ndarray


def assess(metric: Metric, y: Array, cand: Array, champ: Array | None = None, *,
           confidence: float, rng: np.random.Generator, n_resamples: int,
           same_model: bool = False) -> Assessment:
    """The candidate's value (bounded on its bad side) and, given a champion, the champion's
    value and Δ = sign · (candidate − champion) with its one-sided lower bound — for a score
    metric at most its discordance floor (:mod:`.scorefloor`) unless ``same_model`` (the
    candidate is the champion's very file: scores that agree on every row agree
    everywhere)."""
    y = np.asarray(y)
    n = len(y)
    if n < 2:
        raise StatsError(f"{metric.name} needs at least two rows for an interval")
    result = _assess(metric, y, cand, champ, confidence, rng, n_resamples)
    # a confusion metric has its floor already (stats.discordance)
    if champ is not None and metric.kind != "confusion" and not same_model:
        result = floored(metric, y, cand, champ, result, confidence)
    if result.delta is not None and n < MIN_COMPARISON_ROWS:
        d = result.delta
        result = replace(result, delta=Interval(d.estimate, -math.inf, None, None,
                                                "too-few-rows", n))
    return result


def _assess(metric: Metric, y: Array, cand: Array, champ: Array | None, confidence: float,
            rng: np.random.Generator, n_resamples: int) -> Assessment:
    n = len(y)
    kind = metric.kind
    if metric.name == "roc_auc" and metric.task == "multiclass" and champ is not None and \
            rare_class(y) is not None:
        return _too_few_in_a_class(metric, y, cand, champ, confidence, rng, n_resamples)
    if kind == "auc":
        return auc_assessment(metric, y, cand, champ, confidence, n)
    if kind == "confusion":
        return confusion_assessment(metric, y, cand, champ, confidence, rng, n_resamples)
    if kind == "mean":
        return mean_assessment(metric, y, cand, champ, confidence, rng, n_resamples)
    if kind in ("rmse", "r2"):
        return smooth_assessment(metric, y, cand, champ, confidence, rng, n_resamples)
    return generic_assessment(metric, y, cand, champ, confidence, rng, n_resamples)




def _too_few_in_a_class(metric: Metric, y: Array, cand: Array, champ: Array,
                        confidence: float, rng: np.random.Generator,
                        n_resamples: int) -> Assessment:
    """A multiclass ROC AUC with a class under ``MIN_PER_CLASS`` rows: the candidate's value
    as usual, Δ inconclusive (lower bound −∞), as for a binary AUC with too few positives."""
    value = generic_assessment(metric, y, cand, None, confidence, rng, n_resamples).value
    champion = float(metric.fn(y, champ))
    return Assessment(value, champion, Interval(metric.sign * (value.estimate - champion),
                                                -math.inf, None, None, TOO_FEW_IN_A_CLASS,
                                                len(y)))
