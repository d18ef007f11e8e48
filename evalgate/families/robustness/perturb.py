"""Perturbations of a dataset: pure, seeded, vectorised functions of

    (frame, columns, params, rng) -> new frame

The input frame is never modified; columns not named are returned untouched (the new frame
shares them). Every random draw comes from ``rng``, column by column in the order given, so
the same generator state gives the same perturbed frame. No per-row Python loops.

========================  ========  ==========================================================
perturbation              columns   what it does to each named column
========================  ========  ==========================================================
``gaussian_noise``        numeric   adds N(0, (scale · std)²) to a share ``rate`` of rows;
                                    integer columns are rounded back to integers
``scale``                 numeric   multiplies a share ``rate`` of rows by ``factor`` (a unit
                                    mistake: cm for m, cents for dollars)
``missing_values``        any       sets a share ``rate`` of rows missing (independently per
                                    column); integer columns become float64 to hold NaN
``category_swap``         any       replaces a share ``rate`` of rows by another observed
                                    value, drawn in proportion to its frequency
``unseen_category``       text      replaces a share ``rate`` of rows by ``value``, a category
                                    the data never shows
``outliers``              numeric   pushes a share ``rate`` of rows beyond the observed range,
                                    by up to ``factor`` × the range (``side``: high, low, both)
``rounding``              numeric   rounds a share ``rate`` of rows to ``decimals`` decimals
                                    (negative: tens, hundreds …): precision loss
``shuffle``               any       permutes the column across rows (each column on its own),
                                    breaking its relation to the target and to other columns
========================  ========  ==========================================================

Numeric means a numeric, non-boolean dtype; every other column is categorical ("text").
Missing values stay missing, except under ``missing_values`` and ``shuffle`` (which moves
them) and ``category_swap`` (which leaves them missing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ...errors import CheckError

ColumnKind = Literal["numeric", "categorical"]
Applies = Literal["numeric", "categorical", "any"]
Selector = Literal["numeric", "categorical", "all"]
SELECTORS: tuple[Selector, ...] = ("numeric", "categorical", "all")
#: the category ``unseen_category`` writes unless told otherwise
UNSEEN = "__evalgate_unseen__"

Fn = Callable[[pd.DataFrame, Sequence[str], Mapping[str, Any], np.random.Generator],
              pd.DataFrame]


class _Required:
    def __repr__(self) -> str:
        return "required"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of a perturbation. ``kind`` says what the spec accepts:
    ``rate`` (a share in [0, 1]), ``nonnegative``, ``positive``, ``integer``, ``text`` or
    ``choice`` (one of ``choices``)."""

    name: str
    kind: Literal["rate", "nonnegative", "positive", "integer", "text", "choice"]
    default: Any
    doc: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Perturbation:
    name: str
    fn: Fn
    applies_to: Applies
    default_columns: Selector
    params: tuple[Param, ...]
    doc: str

    def with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out = {p.name: p.default for p in self.params}
        out.update(params)
        missing = [k for k, v in out.items() if v is REQUIRED]
        if missing:
            raise CheckError(f"{self.name} needs {', '.join(missing)}")
        return out


def column_kind(col: pd.Series) -> ColumnKind:
    """``numeric`` for numeric, non-boolean dtypes; ``categorical`` for everything else."""
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        return "categorical"
    return "numeric"


def select(frame: pd.DataFrame, candidates: Sequence[str], selector: Selector) -> list[str]:
    """The ``candidates`` (feature columns, in order) that ``selector`` picks."""
    if selector == "all":
        return list(candidates)
    return [c for c in candidates if column_kind(frame[c]) == selector]


# --------------------------------------------------------------------------- helpers


def _floats(col: pd.Series) -> np.ndarray:
    out: np.ndarray = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _is_integer(col: pd.Series) -> bool:
    return bool(pd.api.types.is_integer_dtype(col))


def _numeric_like(col: pd.Series, values: np.ndarray) -> pd.Series:
    """``values`` (float64) as a column of ``col``'s dtype: integers are rounded back."""
    if _is_integer(col):
        values = np.rint(values)
        if pd.api.types.is_extension_array_dtype(col.dtype):
            return pd.Series(values, index=col.index, name=col.name).astype(col.dtype)
        info = np.iinfo(col.dtype)
        values = np.clip(values, info.min, info.max)
    return pd.Series(values.astype(col.dtype, copy=False), index=col.index, name=col.name)


def _rows(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """A mask of the rows a perturbation touches: each row independently with ``rate``."""
    if rate >= 1:
        return np.ones(n, dtype=bool)
    return rng.random(n) < rate


def _replace(frame: pd.DataFrame, new: Mapping[str, pd.Series]) -> pd.DataFrame:
    out = frame.copy(deep=False)
    for name, col in new.items():
        out[name] = col
    return out


# --------------------------------------------------------------------------- numeric


def gaussian_noise(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
                   rng: np.random.Generator) -> pd.DataFrame:
    """Add N(0, (scale · std)²) noise, std being each column's own (ddof 1, NaN ignored)."""
    scale, rate = float(params["scale"]), float(params.get("rate", 1.0))
    new = {}
    for c in columns:
        col = frame[c]
        x = _floats(col)
        mask = _rows(rng, len(x), rate)
        noise = rng.standard_normal(len(x))
        finite = x[np.isfinite(x)]
        std = float(np.std(finite, ddof=1)) if finite.size > 1 else 0.0
        new[c] = _numeric_like(col, np.where(mask, x + noise * (scale * std), x))
    return _replace(frame, new)


def scale(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
          rng: np.random.Generator) -> pd.DataFrame:
    """Multiply by ``factor`` (a unit mistake)."""
    factor, rate = float(params["factor"]), float(params.get("rate", 1.0))
    new = {}
    for c in columns:
        col = frame[c]
        x = _floats(col)
        mask = _rows(rng, len(x), rate)
        new[c] = _numeric_like(col, np.where(mask, x * factor, x))
    return _replace(frame, new)


def outliers(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
             rng: np.random.Generator) -> pd.DataFrame:
    """Push values beyond the observed range [lo, hi]: to hi + u · factor · (hi − lo) or
    lo − u · factor · (hi − lo), u uniform in (0.1, 1]; integer columns land at least one unit
    outside. A constant column uses its magnitude (or 1) as the range."""
    rate, factor, side = float(params["rate"]), float(params["factor"]), params["side"]
    new = {}
    for c in columns:
        col = frame[c]
        x = _floats(col)
        n = len(x)
        mask = _rows(rng, n, rate)
        high = rng.random(n) < 0.5 if side == "both" else np.full(n, side == "high")
        u = 1.0 - 0.9 * rng.random(n)  # (0.1, 1]
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            new[c] = col
            continue
        lo, hi = float(finite.min()), float(finite.max())
        width = hi - lo if hi > lo else max(abs(hi), 1.0)
        push = u * factor * width
        if _is_integer(col):
            push = np.maximum(np.ceil(push), 1.0)
        value = np.where(high, hi + push, lo - push)
        new[c] = _numeric_like(col, np.where(mask, value, x))
    return _replace(frame, new)


def rounding(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
             rng: np.random.Generator) -> pd.DataFrame:
    """Round to ``decimals`` decimals (negative: to tens, hundreds …)."""
    decimals, rate = int(params["decimals"]), float(params.get("rate", 1.0))
    new = {}
    for c in columns:
        col = frame[c]
        x = _floats(col)
        mask = _rows(rng, len(x), rate)
        new[c] = _numeric_like(col, np.where(mask, np.round(x, decimals), x))
    return _replace(frame, new)


# --------------------------------------------------------------------------- any / text


def missing_values(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
                   rng: np.random.Generator) -> pd.DataFrame:
    """Set values missing, independently per column."""
    rate = float(params["rate"])
    new = {}
    for c in columns:
        col = frame[c]
        mask = _rows(rng, len(col), rate)
        new[c] = col.mask(mask)
    return _replace(frame, new)


def category_swap(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
                  rng: np.random.Generator) -> pd.DataFrame:
    """Replace by another observed value, drawn in proportion to its frequency among the
    others: an exact inverse-CDF draw over the cumulative counts with the row's own value cut
    out. Missing values stay missing; a column with one value cannot change."""
    rate = float(params["rate"])
    new = {}
    for c in columns:
        col = frame[c]
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        mask = _rows(rng, len(col), rate)
        u = rng.random(len(col))
        k = len(uniques)
        if k < 2:
            new[c] = col
            continue
        counts = np.bincount(codes[codes >= 0], minlength=k).astype(np.float64)
        cum = np.cumsum(counts)
        own = np.where(codes >= 0, codes, 0)
        own_count = counts[own]
        before = cum[own] - own_count  # mass of the values ranked before the row's own
        target = u * (cum[-1] - own_count)
        target = np.where(target >= before, target + own_count, target)
        drawn = np.minimum(np.searchsorted(cum, target, side="right"), k - 1)
        change = mask & (codes >= 0)
        out_codes = np.where(change, drawn, codes)
        values = uniques.take(out_codes, allow_fill=True, fill_value=None)
        series = pd.Series(values, index=col.index, name=col.name)
        new[c] = series if series.dtype == col.dtype else series.astype(col.dtype)
    return _replace(frame, new)


def unseen_category(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
                    rng: np.random.Generator) -> pd.DataFrame:
    """Replace by ``value``, a category the model has never seen."""
    rate, value = float(params["rate"]), str(params["value"])
    new = {}
    for c in columns:
        col = frame[c]
        mask = _rows(rng, len(col), rate)
        if isinstance(col.dtype, pd.CategoricalDtype) and value not in col.cat.categories:
            col = col.cat.add_categories([value])
        new[c] = col.mask(mask, value)
    return _replace(frame, new)


def shuffle(frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
            rng: np.random.Generator) -> pd.DataFrame:
    """Permute each column across rows, each by its own permutation."""
    new = {}
    for c in columns:
        col = frame[c]
        perm = rng.permutation(len(col))
        new[c] = pd.Series(col.array.take(perm), index=col.index, name=col.name)
    return _replace(frame, new)


# --------------------------------------------------------------------------- registry


def _rate(default: Any, doc: str = "share of rows changed, in [0, 1]") -> Param:
    return Param("rate", "rate", default, doc)


PERTURBATIONS: dict[str, Perturbation] = {p.name: p for p in (
    Perturbation("gaussian_noise", gaussian_noise, "numeric", "numeric",
                 (Param("scale", "nonnegative", 0.1, "noise std in units of the column's std"),
                  _rate(1.0)), "Gaussian noise scaled to each column's std"),
    Perturbation("scale", scale, "numeric", "numeric",
                 (Param("factor", "positive", REQUIRED, "the multiplier (e.g. 100: m → cm)"),
                  _rate(1.0)), "multiply by a factor: unit mistakes"),
    Perturbation("missing_values", missing_values, "any", "all",
                 (_rate(0.1, "share of values set missing, per column"),),
                 "values set missing"),
    Perturbation("category_swap", category_swap, "any", "categorical",
                 (_rate(0.1),), "replace by another observed value, frequency-weighted"),
    Perturbation("unseen_category", unseen_category, "categorical", "categorical",
                 (_rate(0.1), Param("value", "text", UNSEEN, "the unseen category")),
                 "a category the data never shows"),
    Perturbation("outliers", outliers, "numeric", "numeric",
                 (_rate(0.01), Param("factor", "nonnegative", 1.0,
                                     "how far beyond the range, at most, in units of the range"),
                  Param("side", "choice", "both", "which end of the range",
                        ("high", "low", "both"))),
                 "values pushed beyond the observed range"),
    Perturbation("rounding", rounding, "numeric", "numeric",
                 (Param("decimals", "integer", 0, "decimals kept (negative: tens, hundreds)"),
                  _rate(1.0)), "precision loss"),
    Perturbation("shuffle", shuffle, "any", "all", (),
                 "permute a column: breaks its relation to the target"),
)}


def apply(name: str, frame: pd.DataFrame, columns: Sequence[str], params: Mapping[str, Any],
          rng: np.random.Generator) -> pd.DataFrame:
    """Apply the perturbation ``name`` (defaults filled in for the parameters not given)."""
    p = PERTURBATIONS[name]
    return p.fn(frame, list(columns), p.with_defaults(params), rng)


def changed_rows(before: pd.DataFrame, after: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Rows where any of ``columns`` differs (missing vs missing counts as equal)."""
    out = np.zeros(len(before), dtype=bool)
    for c in columns:
        a, b = before[c], after[c]
        na_a, na_b = a.isna().to_numpy(), b.isna().to_numpy()
        both = ~na_a & ~na_b
        if column_kind(a) == column_kind(b) == "numeric":
            diff = both & (_floats(a) != _floats(b))
        else:
            try:  # pandas' own comparison (Arrow-backed strings compare natively)
                ne = (a.reset_index(drop=True) != b.reset_index(drop=True))
                diff = both & ne.to_numpy(dtype=bool, na_value=True)
            except TypeError:  # e.g. categoricals whose categories differ
                diff = np.zeros(len(a), dtype=bool)
                diff[both] = a.to_numpy(dtype=object)[both] != b.to_numpy(dtype=object)[both]
        out |= diff | (na_a != na_b)
    return out
