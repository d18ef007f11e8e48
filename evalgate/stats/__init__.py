"""Statistics for the gate: one-sided intervals of a metric and of the paired difference
between two models, proportions, gaps between groups, percentiles of timings.

Every interval is **one-sided** at ``confidence``: for a comparison, the lower bound of
Δ = sign · (candidate − champion), oriented so that positive means the candidate is better;
for a single model's value, the bound on its bad side. Pure numpy/scipy; callers pass a
seeded :class:`numpy.random.Generator`, so the same seed gives the same numbers.

=================  ==============================================================
``assessment``     a metric's value and the paired Δ, by the metric's kind
``intervals``      :class:`Interval`, normal/t and BCa bounds
``bootstrap``      resampling: row counts, cell draws, Poisson weights
``delong``         DeLong's covariance of correlated ROC AUCs
``auc``            ROC AUC by regime: DeLong, logit DeLong, stratified logit bootstrap
``auc_bootstrap``  stratified (per-class) bootstrap of AUCs
``ap``             average precision under resampling
``generic``        any other metric: paired bootstrap; AP with few positives
``tails``          the tail diagnostic of a mean; t or the tail-exact bootstrap
``exact``          exact, mergeable float sums (the same sum for any partitioning)
``scoretable``     mergeable ROC AUC states: distinct-score counts, binned with an error bound
``delong_states``  DeLong's covariance from score tables and a second pass of placement sums
``drift``          drift effect sizes on reference bins, noise floor, bounds
``discordance``    the discordance floor of paired confusion metrics
``proportions``    Wilson, Newcombe, Tango's paired score bound, MOVER-R, Clopper–Pearson
``counts``         paired rates on discordant counts (Tango), rows to resolve in their unit
``gaps``           gaps between groups and their paired comparison (bias)
``timing``         order-statistic bounds of percentiles, time ratios
``rules``          sample-size rules (when asymptotics apply, too few rows)
=================  ==============================================================
"""

from __future__ import annotations

from ..errors import StatsError
from .assessment import assess
from .bootstrap import cell_counts, poisson_weights, row_counts
from .delong import delong
from .discordance import discordance_floor
from .intervals import Assessment, Interval, bca_bound, one_sided, z_of
from .proportions import (
    PairedFlips,
    clopper_pearson_upper,
    mover_ratio,
    newcombe,
    newcombe_paired,
    wilson,
    wilson_bounds,
)
from .rules import ASYMPTOTIC_MIN_ROWS, JACKKNIFE_GROUPS, MIN_COMPARISON_ROWS

__all__ = ["ASYMPTOTIC_MIN_ROWS", "JACKKNIFE_GROUPS", "MIN_COMPARISON_ROWS", "Assessment",
           "Interval", "PairedFlips", "StatsError", "assess", "bca_bound", "cell_counts",
           "clopper_pearson_upper", "delong", "discordance_floor", "mover_ratio", "newcombe",
           "newcombe_paired", "one_sided", "poisson_weights", "row_counts", "wilson",
           "wilson_bounds", "z_of"]
