"""Reading a dataset: CSV / CSV.gz / Parquet, checked against the suite's data section
(columns present, no repeated header, no missing target) and fingerprinted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._files import stat_regular
from .._io import sha256_file
from ..errors import DataError, did_you_mean

if TYPE_CHECKING:
    from ..spec import DataSpec


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded, checked dataset. ``frame`` holds every column of the file."""

    path: Path
    sha256: str
    rows: int
    frame: pd.DataFrame
    target: str
    features: tuple[str, ...]
    sensitive: tuple[str, ...]


def read_table(path: Path) -> pd.DataFrame:
    """Read a .csv, .csv.gz or .parquet file; every failure is a :class:`DataError`. The
    path must be a regular file: a FIFO or a device is refused before it is opened."""
    name = path.name.lower()
    try:
        kind = stat_regular(path)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file: {exc.strerror}") from None
    if isinstance(kind, str):
        raise DataError(path, f"is {kind}, not a data file (data must be a regular file)")
    try:
        if name.endswith(".parquet"):
            _unique_columns(path, _parquet_header(path))
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz")):
            _unique_columns(path, _csv_header(path))
            return pd.read_csv(path, low_memory=False)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "the file is empty (no header, no rows)") from None
    except Exception as exc:
        raise DataError(path, f"cannot read the file: {type(exc).__name__}: {exc}") from None
    raise DataError(path, "unsupported format; use .csv, .csv.gz or .parquet")


def _csv_header(path: Path) -> list[str]:
    """The header row as written (pandas would rename a repeated ``age`` to ``age.1``)."""
    row = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(v) for v in row.iloc[0].tolist()] if len(row) else []


def _parquet_header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(n) for n in pq.read_schema(path).names]


def _unique_columns(path: Path, header: Sequence[str]) -> None:
    """A column name given twice is an error: which one is the target or a feature?"""
    seen: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for i, col in enumerate(header, start=1):
        if col in seen:
            repeated.setdefault(col, [seen[col]]).append(i)
        else:
            seen[col] = i
    if repeated:
        shown = "; ".join(f"{c!r} (columns {', '.join(map(str, at))})"
                          for c, at in list(repeated.items())[:5])
        raise DataError(path, f"the header names {len(repeated)} column"
                              f"{'s' if len(repeated) > 1 else ''} more than once: {shown}; "
                              f"rename or drop the repeats, so that each column has one name")


def _missing_columns(frame: pd.DataFrame, wanted: Sequence[str], what: str, path: Path) -> None:
    columns = [str(c) for c in frame.columns]
    for col in wanted:
        if col not in frame.columns:
            raise DataError(path, f"{what} column {col!r} not found{did_you_mean(col, columns)}; "
                                  f"the file has columns: {', '.join(columns)}")


def load_dataset(spec: DataSpec) -> Dataset:
    frame = read_table(spec.path)
    path = spec.path
    if len(frame.columns) and any(not isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    _missing_columns(frame, [spec.target], "target", path)
    _missing_columns(frame, spec.sensitive, "sensitive", path)
    if spec.features is not None:
        _missing_columns(frame, spec.features, "feature", path)
        features = spec.features
    else:
        features = tuple(c for c in frame.columns if c != spec.target)
    if len(frame) == 0:
        raise DataError(path, "the dataset has no rows")
    missing = int(frame[spec.target].isna().sum())
    if missing:
        first = int(np.flatnonzero(frame[spec.target].isna().to_numpy())[0])
        raise DataError(path, f"the target column {spec.target!r} is missing in {missing} of "
                              f"{len(frame)} rows (first at data row {first + 1}); "
                              f"drop or fill those rows")
    return Dataset(path=path, sha256=sha256_file(path), rows=len(frame), frame=frame,
                   target=spec.target, features=features, sensitive=spec.sensitive)
