"""The paired bootstrap stratified by group behind ``max_regression``: each group keeps its
size in every replicate, and both models are read off the same resampled rows.

- classification (:func:`cells_replicates`): one multinomial draw per group over its joint
  cells, so a replicate costs O(groups × cells) whatever the row count;
- regression (:func:`regression_replicates`): rows resampled within each group (below
  :data:`~evalgate.stats.ASYMPTOTIC_MIN_ROWS` rows), or normal draws of each group's pair of
  mean losses (from there on).

Each returns, per component metric, each model's group values in every replicate
(replicates × groups judged), which :func:`evalgate.stats.gaps.gap_comparison` turns into the
bound of Δ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...stats import ASYMPTOTIC_MIN_ROWS
from .groups import Groups
from .tables import Prepared, loss, model_cells, rate_of, rate_values, reg_value

_MAX_ELEMENTS = 1 << 22  # replicates × rows per block of the regression row bootstrap

Array = np.ndarray
Replicates = tuple[list[Array], list[Array]]


def cells_replicates(joint_counts: Array, eligible: Array, comps: Sequence[str],
                     rng: np.random.Generator, prepared: Prepared, n_resamples: int
                     ) -> Replicates:
    """Each model's group values in replicates drawn as one multinomial per group over its
    joint cells (truth, candidate cell, champion cell): a paired bootstrap stratified by
    group, whose cost does not depend on the number of rows."""
    rates = [rate_of(prepared.task, k) for k in comps]
    counts = joint_counts[eligible]  # (E, K)
    sizes = counts.sum(axis=1)
    draws = rng.multinomial(sizes.astype(np.int64), counts / sizes[:, None],
                            size=(n_resamples, len(sizes))).astype(np.float64)
    ca, cb = model_cells(draws, prepared)
    return ([rate_values(ca, r)[0] for r in rates], [rate_values(cb, r)[0] for r in rates])


def regression_replicates(metric: str, groups: Groups, eligible: Array,
                          rng: np.random.Generator, prepared: Prepared, n_resamples: int
                          ) -> tuple[list[Array], list[Array], str]:
    """Each model's group values in replicates of rows resampled within each group (the
    same rows for both models); from 50,000 rows, normal draws of each group's pair of mean
    losses (their sampling distribution by the central limit theorem), at a cost
    independent of the row count. Also returns the method's name."""
    idx = np.flatnonzero(eligible)
    E = len(idx)
    remap = np.full(groups.size, -1, dtype=np.int64)
    remap[idx] = np.arange(E)
    code = remap[groups.code]
    rows = np.flatnonzero(code >= 0)
    code = code[rows]
    losses = [loss(metric, r[rows]) for r in prepared.residual]
    sizes = np.bincount(code, minlength=E).astype(np.float64)
    if len(rows) >= ASYMPTOTIC_MIN_ROWS:
        ma, mb = _normal_draws(code, losses, sizes, rng, n_resamples)
        method = "paired-stratified-normal-bootstrap"
    else:
        ma, mb = _row_draws(code, losses, sizes, rng, n_resamples)
        method = "paired-stratified-bootstrap"
    return [reg_value(metric, ma)], [reg_value(metric, mb)], method


def _normal_draws(code: Array, losses: list[Array], sizes: Array, rng: np.random.Generator,
                  n_resamples: int) -> tuple[Array, Array]:
    """Both models' group mean losses drawn from their joint normal distribution."""
    E = len(sizes)
    means = [np.bincount(code, weights=la, minlength=E) / sizes for la in losses]
    dev = [la - m[code] for la, m in zip(losses, means)]
    ca, cb = (np.bincount(code, weights=d * d, minlength=E) for d in dev)
    cab = np.bincount(code, weights=dev[0] * dev[1], minlength=E)
    sa = np.sqrt(ca / (sizes - 1) / sizes)
    sb = np.sqrt(cb / (sizes - 1) / sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip(np.nan_to_num(cab / np.sqrt(ca * cb)), -1, 1)
    z1 = rng.standard_normal((n_resamples, E))
    z2 = rng.standard_normal((n_resamples, E))
    ma = means[0] + sa * z1
    mb = means[1] + sb * (rho * z1 + np.sqrt(1 - rho * rho) * z2)
    return ma, mb


def _row_draws(code: Array, losses: list[Array], sizes: Array, rng: np.random.Generator,
               n_resamples: int) -> tuple[Array, Array]:
    """Both models' group mean losses on rows resampled within each group, in blocks of at
    most :data:`_MAX_ELEMENTS` draws."""
    E, n = len(sizes), len(code)
    order = np.argsort(code, kind="stable")
    sorted_a, sorted_b = losses[0][order], losses[1][order]
    counts = sizes.astype(np.int64)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    row_start, row_size = np.repeat(starts, counts), np.repeat(sizes, counts)
    ma, mb = np.empty((n_resamples, E)), np.empty((n_resamples, E))
    step = max(1, _MAX_ELEMENTS // max(n, 1))
    for s0 in range(0, n_resamples, step):
        b = min(step, n_resamples - s0)
        pick = row_start + (rng.random((b, n)) * row_size).astype(np.int64)
        ma[s0:s0 + b] = np.add.reduceat(sorted_a[pick], starts, axis=1) / sizes
        mb[s0:s0 + b] = np.add.reduceat(sorted_b[pick], starts, axis=1) / sizes
    return ma, mb
