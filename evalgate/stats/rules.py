"""Sample-size rules shared by every interval: when asymptotics take over, and when a
paired comparison has too few rows to decide anything."""

from __future__ import annotations

#: from this many rows, means may use the t interval and RMSE/R² the delta method — where the
#: tail diagnostic allows it (stats/tails.py); AP uses Poisson weights
ASYMPTOTIC_MIN_ROWS = 50_000


#: fewer rows than this cannot resolve a paired comparison: Δ's lower bound is −∞
#: (inconclusive). At 2 rows a bootstrap has three distinct replicates, and two rows on
#: which the candidate wins both give a positive "bound"; the exact sign test of 20 rows
#: all won has p ≈ 1e-6, so a decisive 20-row result still decides.
MIN_COMPARISON_ROWS = 20


#: fewer rows than this on which two models' scores differ: a paired comparison of a score
#: metric is bounded by its discordance floor too (:mod:`~evalgate.stats.scorefloor`)
MIN_DISCORDANT_ROWS = 20


#: groups of the delete-a-group jackknife that gives BCa's acceleration for generic metrics
JACKKNIFE_GROUPS = 100
