"""Resampling: bootstrap row counts, multinomial cell draws, Poisson(1) weights, and the
block and thread helpers that keep a bootstrap vectorised and bounded in memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from .memo import memoized

Array = np.ndarray


_MAX_ELEMENTS = 1 << 22  # replicates × rows per vectorised block


def row_counts(rng: np.random.Generator, n: int, size: int) -> Array:
    """``size`` bootstrap resamples of ``n`` rows as count vectors (size × n)."""
    idx = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=size * n).reshape(size, n)


def cell_counts(rng: np.random.Generator, n: int, counts: Array, size: int) -> Array:
    """``size`` bootstrap resamples of ``n`` rows summarised as counts per cell (size × cells):
    one multinomial draw each, identical in distribution to resampling the rows."""
    return rng.multinomial(n, counts / counts.sum(), size=size)


def blocks(total: int, width: int) -> list[tuple[int, int]]:
    step = max(1, _MAX_ELEMENTS // max(width, 1))
    return [(s, min(total, s + step)) for s in range(0, total, step)]


@memoized
def resampled_means(rng: np.random.Generator, columns: Array, n_resamples: int) -> Array:
    """Bootstrap means of each column of ``columns`` (n × c): (n_resamples × c).

    The row indices are drawn block by block, in order (so the same generator gives the same
    draws), while a second thread averages the block drawn before — both release the GIL.
    At most two blocks are held at once."""
    from concurrent.futures import Future, ThreadPoolExecutor

    n = columns.shape[0]
    cols = [np.ascontiguousarray(columns[:, j]) for j in range(columns.shape[1])]
    out = np.empty((n_resamples, columns.shape[1]))

    def average(start: int, stop: int, idx: Array) -> None:
        for j, col in enumerate(cols):
            out[start:stop, j] = np.take(col, idx).mean(axis=1)

    spans = blocks(n_resamples, n)
    if len(spans) < 2:
        for start, stop in spans:
            average(start, stop, rng.integers(0, n, size=(stop - start, n)))
        return out
    with ThreadPoolExecutor(max_workers=1) as pool:
        running: Future[None] | None = None
        for start, stop in spans:
            idx = rng.integers(0, n, size=(stop - start, n))
            if running is not None:
                running.result()
            running = pool.submit(average, start, stop, idx)
        assert running is not None
        running.result()
    return out


_POISSON_TABLE: Array | None = None


def poisson1_cdf() -> Array:
    """Poisson(1)'s CDF at 0 … 31, from its pmf exp(k log 1 − log k! − 1) as scipy.stats
    computes it (the same floats, without importing scipy.stats)."""
    k = np.arange(32)
    cdf: Array = np.cumsum(np.exp(special.xlogy(k, 1.0) - special.gammaln(k + 1) - 1.0))
    return cdf


def poisson_weights(rng: np.random.Generator, shape: tuple[int, int]) -> Array:
    """Poisson(1) bootstrap weights (uint8) by a 16-bit inverse-CDF table: the Poisson
    bootstrap (Hanley & MacGibbon 2006), independent weights with the multinomial's first
    three moments, for resampling at large n without drawing row indices."""
    global _POISSON_TABLE
    if _POISSON_TABLE is None:
        cdf = poisson1_cdf()
        _POISSON_TABLE = np.searchsorted(cdf, (np.arange(65536) + 0.5) / 65536).astype(np.uint8)
    return np.take(_POISSON_TABLE, rng.integers(0, 65536, size=shape, dtype=np.uint16))


def parallel(fn: Callable[[int], Array], count: int) -> list[Array]:
    """Run ``fn(0..count-1)`` on up to two threads (numpy releases the GIL); results in order."""
    if count < 4:
        return [fn(i) for i in range(count)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(fn, range(count)))


@memoized
def tail_resampled_means(rng: np.random.Generator, columns: Array, tail: Array,
                         n_resamples: int) -> Array:
    """Bootstrap means of each column of ``columns`` (n × c), (n_resamples × c), with the rows
    ``tail`` resampled one by one and the rest (the bulk) through its normal limit.

    A bootstrap resample of n rows draws T ~ Binomial(n, k/n) of them from the k tail rows,
    each uniformly — exactly as resampling the rows does — and the other M = n − T from the
    bulk, whose column sums are then M·μ + √M·Σ^{1/2}·Z (μ, Σ the bulk's mean and covariance
    per row, Z standard normal): the central limit theorem for the bulk alone, accurate where
    the tail rows have been taken out. A replicate costs O(k) instead of O(n)."""
    n, c = columns.shape
    k = len(tail)
    bulk = np.ones(n, dtype=bool)
    bulk[tail] = False
    rest = columns[bulk]
    mu = rest.mean(axis=0)
    cov = np.atleast_2d(np.cov(rest, rowvar=False, ddof=0))
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # root @ root.T == cov
    at_tail = np.ascontiguousarray(columns[tail])
    out = np.empty((n_resamples, c))
    for start, stop in blocks(n_resamples, k):
        size = stop - start
        drawn = rng.binomial(n, k / n, size=size)
        which = rng.integers(0, k, size=int(drawn.sum())) + np.repeat(np.arange(size) * k, drawn)
        counts = np.bincount(which, minlength=size * k).reshape(size, k)
        m = (n - drawn).astype(np.float64)[:, None]
        z = rng.standard_normal((size, c)) @ root.T
        out[start:stop] = (counts @ at_tail + m * mu + np.sqrt(m) * z) / n
    return out
