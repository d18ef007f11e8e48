"""Reading a dataset: CSV / CSV.gz / Parquet, checked against the suite's data section
(columns present, no repeated header, no missing target) and fingerprinted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._files import stat_regular
from .._io import sha256_files
from ..errors import DataError, did_you_mean
from .labels import plain

if TYPE_CHECKING:
    from ..spec import DataSpec


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset read from a glob or a folder."""

    path: Path
    sha256: str
    rows: int


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded, checked dataset. ``frame`` holds every column of the file(s), the files'
    rows one after another in sorted path order; ``sha256`` is over the files' bytes in that
    order (one file: its own sha256); ``files`` lists each file when ``data.path`` is a glob
    or a folder."""

    path: Path
    sha256: str
    rows: int
    frame: pd.DataFrame
    #: ``None``: rows without labels (``data.target: null``)
    target: str | None
    features: tuple[str, ...]
    sensitive: tuple[str, ...]
    files: tuple[DataFile, ...] = ()


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


def read_header(path: Path) -> list[str]:
    """A file's column names as :func:`read_table` would give them, without reading its
    rows; the same errors."""
    try:
        kind = stat_regular(path)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    if isinstance(kind, str):
        raise DataError(path, f"is {kind}, not a data file (data must be a regular file)")
    try:
        if path.name.lower().endswith(".parquet"):
            header = _parquet_header(path)
            _unique_columns(path, header)
            return [c for c in header if c not in _parquet_index(path)]
        header = _csv_header(path)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(path, "the file is empty (no header, no rows)") from None
    except Exception as exc:
        raise DataError(path, f"cannot read the file: {type(exc).__name__}: {exc}") from None
    _unique_columns(path, header)
    if any(not name for name in header):  # pandas names an unnamed column ('Unnamed: 0', …)
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    return header


def _parquet_index(path: Path) -> set[str]:
    """The columns pandas stored as the frame's index (read back as the index, not data)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).pandas_metadata or {}
    return {c for c in meta.get("index_columns", []) if isinstance(c, str)}


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


def same_columns(path: Path, have: Sequence[str], columns: Sequence[str], first: Path) -> None:
    """A file of a set must have the first file's columns (in any order)."""
    if set(have) == set(columns):
        return
    missing = [c for c in columns if c not in have]
    extra = [c for c in have if c not in columns]
    said = "; ".join(part for part in (
        f"lacks {', '.join(map(repr, missing[:5]))}" if missing else "",
        f"has {', '.join(map(repr, extra[:5]))} besides" if extra else "") if part)
    raise DataError(path, f"its columns differ from {first.name}'s ({said}); every file of a "
                          f"dataset must have the same columns")


def read_files(files: Sequence[Path]) -> tuple[pd.DataFrame, list[int]]:
    """Every file's rows, one file after another; the files must have the same columns (in
    any order: each is put in the first file's order)."""
    frames = [read_table(files[0])]
    columns = [str(c) for c in frames[0].columns]
    for path in files[1:]:
        frame = read_table(path)
        have = [str(c) for c in frame.columns]
        same_columns(path, have, columns, files[0])
        frame.columns = have
        frames.append(frame[columns])
    rows = [len(f) for f in frames]
    if len(frames) == 1:
        return frames[0], rows
    # a file with a header and no row has no dtypes to give the others (its columns read as
    # text): it is left out of the concatenation, as the Dask engine leaves it out
    full = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(full, ignore_index=True), rows


def locate(files: Sequence[Path], rows: Sequence[int], position: int) -> tuple[Path, int]:
    """The file holding the dataset's row ``position``, and the row's place in that file."""
    for path, n in zip(files, rows, strict=True):
        if position < n:
            return path, position
        position -= n
    raise IndexError(position)


def check_columns(spec: DataSpec, columns: Sequence[str]) -> tuple[str, ...]:
    """The suite's columns checked against the data's (``columns``, the first file's); the
    features (``data.features``, else every column but the target)."""
    header = pd.DataFrame(columns=list(columns))
    if spec.target is not None:
        _missing_columns(header, [spec.target], "target", spec.path)
    _missing_columns(header, spec.sensitive, "sensitive", spec.path)
    _missing_columns(header, spec.exclude, "excluded", spec.path)
    if spec.key is not None:
        _missing_columns(header, [spec.key], "key", spec.path)
    if spec.features is not None:
        _missing_columns(header, spec.features, "feature", spec.path)
        return spec.features
    never = {spec.target, spec.key, *spec.exclude}
    return tuple(c for c in columns if c not in never)


def missing_target(spec: DataSpec, missing: int, rows: int, at: Path, row: int) -> DataError:
    """The error of a target missing in ``missing`` of ``rows`` rows, the first at ``row`` of
    file ``at``."""
    return DataError(at, f"the target column {spec.target!r} is missing in {missing} of "
                         f"{rows} rows (first at data row {row + 1}"
                         f"{f' of {at.name}' if len(spec.sources) > 1 else ''}); "
                         f"drop or fill those rows")


def check_key(spec: DataSpec, values: pd.Series,
              locate: Callable[[int], tuple[Path, int]]) -> None:
    """``data.key`` must name each row once: no missing value, no value twice (the error
    names the value and both rows; ``locate`` turns a row of ``values`` into its file and
    row there)."""
    assert spec.key is not None

    def where(i: int) -> str:
        path, row = locate(i)
        return f"data row {row + 1}" + (f" of {path.name}" if len(spec.sources) > 1 else "")

    if values.dtype == object:
        odd = ~values.map(pd.api.types.is_scalar).to_numpy(dtype=bool)
        if odd.any():
            first = int(np.flatnonzero(odd)[0])
            raise DataError(spec.path, f"the key column {spec.key!r} holds a "
                                       f"{type(values.iloc[first]).__name__} at {where(first)}; "
                                       f"a key is one value per row (a number or a text)")
    isna = values.isna().to_numpy()
    if isna.any():
        first = int(np.flatnonzero(isna)[0])
        raise DataError(spec.path, f"the key column {spec.key!r} is missing in "
                                   f"{int(isna.sum())} rows (first at {where(first)}); a key "
                                   f"must name every row")
    repeated = values.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(repeated)
        value = values.iloc[int(rows[0])]
        second = int(rows[1:][(values.iloc[rows[1:]] == value).to_numpy()][0])
        raise DataError(spec.path, f"the key column {spec.key!r} holds {plain(value)!r} twice "
                                   f"({where(int(rows[0]))} and {where(second)}); a key must "
                                   f"name each row once")


def no_rows(spec: DataSpec) -> DataError:
    return DataError(spec.path, "the dataset has no rows")


Stamps = tuple[tuple[int, int], ...]


def stamps(files: Sequence[Path]) -> Stamps:
    """Each file's (size, modification time in ns), taken before its rows are read."""
    out = []
    for f in files:
        st = f.stat()
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def unchanged(files: Sequence[Path], before: Stamps) -> None:
    """Refuse files rewritten since ``before`` (:func:`stamps`): the rows judged would not be
    the bytes whose sha256 the verdict records — a Parquet file that grew from 4 row groups
    to 8 between planning and reading was judged on 4 under the sha256 of 8."""
    changed = [f for f, was, now in zip(files, before, stamps(files), strict=True) if was != now]
    if changed:
        raise DataError(changed[0], "the file changed while the gate read it (its size or "
                                    "modification time moved); a dataset must stay as it is "
                                    "for the whole run — write it first, then gate")


def load_dataset(spec: DataSpec) -> Dataset:
    from .memory import too_large

    files = spec.sources
    problem = too_large(files)
    if problem is not None:
        raise DataError(spec.path, problem)
    before = stamps(files)
    frame, rows = read_files(files)
    if len(frame.columns) and any(not isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    features = check_columns(spec, [str(c) for c in frame.columns])
    if len(frame) == 0:
        raise no_rows(spec)
    missing = int(frame[spec.target].isna().sum()) if spec.target is not None else 0
    if missing:
        first = int(np.flatnonzero(frame[spec.target].isna().to_numpy())[0])
        raise missing_target(spec, missing, len(frame), *locate(files, rows, first))
    if spec.key is not None:
        check_key(spec, frame[spec.key], lambda i: locate(files, rows, i))
    whole, each = sha256_files(files)
    unchanged(files, before)
    listed = tuple(DataFile(f, h, n) for f, h, n in zip(files, each, rows, strict=True)
                   ) if spec.files else ()
    return Dataset(path=spec.path, sha256=whole, rows=len(frame), frame=frame,
                   target=spec.target, features=features, sensitive=spec.sensitive,
                   files=listed)


def load_estimate_from(spec: DataSpec, features: Sequence[str]) -> Dataset:
    """``data.estimate_from``'s labelled rows (the suite's rows have none): its target and
    the evaluation rows' ``features`` must be columns, no label may be missing."""
    ef = spec.estimate_from
    assert ef is not None
    if ef.target in features:
        raise DataError(spec.path, f"the rows have a column {ef.target!r}, the labelled rows' "
                                   f"target: if they have labels, set data.target: "
                                   f"{ef.target} (measured, not estimated); else drop it or "
                                   f"list it in data.exclude")
    return load_dataset(replace(spec, path=ef.path, target=ef.target, sensitive=(),
                                features=tuple(features), line=ef.line, files=(),
                                estimate_from=None, key=None, exclude=()))
