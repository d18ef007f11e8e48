"""A dataset's files cut into partitions, and what a worker does with one: read it, check it
against the suite, predict it with every model, hash its rows, and send back the compact
columns the checks need. Pure pandas/onnxruntime: the Dask engine runs :func:`scan_part` on
its workers, and nothing here imports Dask.

Partitions follow the files' reading order (sorted paths; a Parquet file's row groups in
order, grouped up to :data:`PART_ROWS` rows), so the rows, concatenated in partition order,
are exactly the rows the local engine reads — and a row's predictions do not depend on the
partition it falls in (models predict row by row), which is what makes the Dask engine's
verdict the local engine's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..data.fingerprint import hash_rows
from ..data.read import read_table, same_columns
from ..errors import DataError, ModelLoadError
from ..families.base import row_keys
from ..models import Model, load_model
from ..models.base import RawPrediction
from ..models.text import shared_feeds
from .trials import hashed_columns

#: a Parquet file's row groups are gathered into partitions of about this many rows
PART_ROWS = 1_000_000


@dataclass(frozen=True)
class Part:
    """One partition: a file, or some of a Parquet file's row groups (``row_groups``, whose
    first row is the file's row ``first_row``)."""

    index: int
    path: Path
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0
    #: its rows, where the file's footer tells (Parquet); None for a CSV file until counted
    rows: int | None = None
    #: its first row's position in the dataset (all files in reading order), once known
    offset: int | None = None

    def describe(self) -> str:
        if self.row_groups is None:
            return self.path.name
        return (f"{self.path.name} row groups {self.row_groups[0]}–{self.row_groups[-1]}"
                if len(self.row_groups) > 1 else f"{self.path.name} row group {self.row_groups[0]}")


def count_rows(part: Part) -> int:
    """A whole-file (CSV) partition's rows (on a worker)."""
    return len(read_part(part))


def with_offsets(parts: Sequence[Part], counted: Mapping[int, int]) -> list[Part]:
    """``parts`` with each one's rows (``counted`` by index where the plan did not know them)
    and its first row's position in the dataset."""
    out, offset = [], 0
    for p in parts:
        rows = p.rows if p.rows is not None else counted[p.index]
        out.append(replace(p, rows=rows, offset=offset))
        offset += rows
    return out


def plan_parts(files: Sequence[Path], part_rows: int = PART_ROWS) -> list[Part]:
    """The partitions of ``files`` in reading order: a CSV file whole; a Parquet file's row
    groups, consecutive ones together up to ``part_rows`` rows."""
    import pyarrow.parquet as pq

    parts: list[Part] = []
    for path in files:
        if not path.name.lower().endswith(".parquet"):
            parts.append(Part(len(parts), path))
            continue
        try:
            meta = pq.ParquetFile(path).metadata
        except Exception:  # read_table on the worker says what is wrong with it
            parts.append(Part(len(parts), path))
            continue
        groups: list[int] = []
        rows = first = 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if groups and rows + n > part_rows:
                parts.append(Part(len(parts), path, tuple(groups), first, rows))
                first += rows
                groups, rows = [], 0
            groups.append(g)
            rows += n
        parts.append(Part(len(parts), path, tuple(groups) or None, first, rows))
    return parts


@dataclass(frozen=True)
class ModelRef:
    """A model as a worker loads it: its file, the sha256 the gate loaded, the trust flag."""

    role: str
    path: Path
    sha256: str
    trust_pickle: bool = False
    trusted_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanRequest:
    """What every partition is checked against and what comes back from it."""

    columns: tuple[str, ...]      # the first file's columns, in order
    first_file: Path
    target: str | None            # None: rows without labels
    features: tuple[str, ...]
    keep: tuple[str, ...]         # the columns sent back (target, sensitive, maybe features)
    models: tuple[ModelRef, ...]
    hash_rows: bool               # the rows' hashes, for the registry's ledger of tries
    #: the families' reductions (:class:`~evalgate.families.base.Reduction`), run here
    reductions: tuple[Any, ...] = ()
    #: kept columns sent as category codes when they hold text (:func:`coded`)
    coded: tuple[str, ...] = ()


@dataclass
class PartResult:
    """One partition's rows, reduced to what the driver needs."""

    index: int
    rows: int
    frame: pd.DataFrame
    raws: dict[str, RawPrediction]
    hashes: np.ndarray | None
    #: target missing: (rows missing, the first one's row in its file); None when none is
    missing_target: tuple[int, int] | None
    #: each model's description of how it fed the data's columns (after predicting)
    inputs: dict[str, dict[str, Any]]
    #: each reduction's state of this partition, by key
    states: dict[str, Any] = field(default_factory=dict)

    def take(self) -> tuple[pd.DataFrame, dict[str, RawPrediction]]:
        """Its rows and predictions, handed over: it holds neither afterwards (the driver
        joins the partitions without keeping two copies)."""
        frame, raws = self.frame, self.raws
        self.frame, self.raws = frame.iloc[:0], {}
        return frame, raws


#: the models a worker process has loaded, by (path, sha256): one session per model per worker
_MODELS: dict[tuple[Path, str], Model] = {}


def worker_model(ref: ModelRef) -> Model:
    """``ref``'s model, loaded once per worker process; refused if the file's bytes are no
    longer those the gate loaded."""
    key = (ref.path, ref.sha256)
    if key not in _MODELS:
        model = load_model(ref.path, trust_pickle=ref.trust_pickle,
                           trusted_types=ref.trusted_types)
        if model.info.sha256 != ref.sha256:
            raise ModelLoadError(ref.path, f"the file changed during the run (the gate loaded "
                                           f"{ref.sha256[:12]}…, a worker found "
                                           f"{model.info.sha256[:12]}…); it is refused")
        _MODELS[key] = model
    return _MODELS[key]


def read_part(part: Part) -> pd.DataFrame:
    """The partition's rows, every column."""
    if part.row_groups is None:
        return read_table(part.path)
    import pyarrow.parquet as pq

    frame: pd.DataFrame = pq.ParquetFile(part.path).read_row_groups(
        list(part.row_groups)).to_pandas()
    return frame


def scan_part(part: Part, request: ScanRequest) -> PartResult:
    """Read, check, predict and hash one partition (on a worker)."""
    frame = read_part(part)
    have = [str(c) for c in frame.columns]
    same_columns(part.path, have, request.columns, request.first_file)
    frame.columns = have
    frame = frame[list(request.columns)]
    missing = None
    if request.target is not None:
        isna = frame[request.target].isna().to_numpy()
        if isna.any():
            missing = (int(isna.sum()), part.first_row + int(np.flatnonzero(isna)[0]))
    raws: dict[str, RawPrediction] = {}
    inputs: dict[str, dict[str, Any]] = {}
    if len(frame) and missing is None:
        with shared_feeds():
            for ref in request.models:
                model = worker_model(ref)
                raws[ref.role] = compact(model.predict(frame, request.features))
                inputs[ref.role] = model.describe_inputs()
    states: dict[str, Any] = {}
    if request.reductions and missing is None:
        keyed = any(getattr(r, "keyed", True) for r in request.reductions)
        if (keyed and part.offset is None) or (part.rows is not None and part.rows != len(frame)):
            raise DataError(part.path, f"{part.describe()} has {len(frame):,} rows, not the "
                                       f"{part.rows} counted before: the file changed during "
                                       f"the run")
        keys = row_keys(part.offset or 0, len(frame))  # unread without a keyed reduction
        states = {r.key: r.of(frame, keys) for r in request.reductions}
    hashes = None
    if request.hash_rows:
        hashes = hash_rows(frame[hashed_columns(inputs.get("champion"), request.features,
                                                request.target)])
    return PartResult(part.index, len(frame), coded(frame[list(request.keep)], request.coded),
                      raws, hashes, missing, inputs, states)


def coded(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` (a copy) with each of ``columns`` that holds text (and missing values) as a
    categorical: a byte or two of code per row on the way to the driver instead of a pointer
    per row, the same values — :func:`join_frames` unites the partitions' categories."""
    out = frame.copy()
    for c in columns:
        col = out[c]
        if not isinstance(col.dtype, pd.CategoricalDtype) and \
                pd.api.types.infer_dtype(col, skipna=True) == "string":
            out[c] = pd.Categorical(col)
    return out


def join_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' kept columns, in order, as one frame (the list is emptied as it goes):
    a column coded in every partition stays categorical, its categories united and sorted (the
    order a bias grouping gives text anyway); a column coded in some only is text again. A
    partition without rows (a file with a header alone) is left out, as the local engine
    leaves it out: its columns, all text, would turn every number into text."""
    if len(frames) > 1 and any(len(f) for f in frames):
        frames[:] = [f for f in frames if len(f)]
    if len(frames) == 1:
        return frames.pop().reset_index(drop=True)
    names = list(frames[0].columns)
    columns: dict[str, list[Any]] = {c: [] for c in names}
    while frames:
        f = frames.pop(0)
        for c in names:
            columns[c].append(f[c])
    out = {}
    for c in names:
        parts = columns.pop(c)
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            joined = union_categoricals([p.array for p in parts], sort_categories=True)
            if any(p.dtype != parts[0].dtype for p in parts):
                # as pandas joins them (to text): the categories of no row are dropped — a
                # file's own categorical column may declare some (a bias group of 0 rows)
                joined = joined.remove_unused_categories()
            out[c] = pd.Series(joined, name=c)
        else:
            out[c] = pd.concat([p.astype(p.cat.categories.dtype) if isinstance(
                p.dtype, pd.CategoricalDtype) else p for p in parts], ignore_index=True)
    return pd.DataFrame(out)


def compact(raw: RawPrediction) -> RawPrediction:
    """``raw`` in the narrowest dtypes that hold **exactly** its values, for the trip to the
    driver: probabilities or values as float32 when every one is a float32 (an ONNX model's
    float output is), integer labels in the fewest bytes, string labels as references to one
    string per class. Lossless — :func:`canonical
    <evalgate.models.predictions.canonical>` widens them again to the very numbers the local
    engine judges — and it halves what the driver holds per row."""

    def floats(a: np.ndarray | None) -> np.ndarray | None:
        if a is None or a.dtype != np.float64:
            return a
        narrow = a.astype(np.float32)
        return narrow if np.array_equal(narrow.astype(np.float64), a, equal_nan=True) else a

    labels: Any = raw.labels
    if labels is not None and labels.dtype.kind == "U":
        # a string per row (4 bytes a character) → a code per row into one string per class
        labels = pd.Categorical(labels)
    elif labels is not None and labels.dtype.kind in "iu" and labels.size:
        narrow = np.min_scalar_type(int(labels.min()))
        wide = np.min_scalar_type(int(labels.max()))
        dtype = np.promote_types(narrow, wide)
        if dtype.itemsize < labels.dtype.itemsize and np.array_equal(labels.astype(dtype), labels):
            labels = labels.astype(dtype)
    return RawPrediction(labels=labels, proba=floats(raw.proba), classes=raw.classes,
                         values=floats(raw.values))


def labelled(features: Sequence[str], target: str | None) -> list[str]:
    """The columns a row's hash covers: its features and, when there are labels, its label."""
    return [*features, *([target] if target is not None else [])]


def footprint(result: PartResult) -> int:
    """Bytes a partition's result holds on the driver."""
    arrays = [a for raw in result.raws.values()
              for a in (raw.labels, raw.proba, raw.values) if a is not None]
    if result.hashes is not None:
        arrays.append(result.hashes)
    return sum(int(a.nbytes) for a in arrays) + int(result.frame.memory_usage(deep=True).sum())


def concat_raw(parts: list[RawPrediction]) -> RawPrediction:
    """One model's predictions of consecutive partitions, as one. Each partition was narrowed
    on its own (:func:`compact`), so the whole takes the type that holds every part. The
    list is emptied, and each part's array dropped once copied: the driver never holds the
    parts and the whole at once."""
    classes = parts[0].classes
    arrays = {n: [getattr(p, n) for p in parts] for n in ("labels", "proba", "values")}
    parts.clear()
    return RawPrediction(labels=_joined(arrays["labels"]), proba=_joined(arrays["proba"]),
                         classes=classes, values=_joined(arrays["values"]))


def _joined(arrays: list[Any]) -> Any:
    """``arrays`` end to end (emptying the list): text codes with their categories united,
    numbers in the type that holds them all."""
    if arrays[0] is None:
        return None
    if isinstance(arrays[0], pd.Categorical):
        return union_categoricals(arrays)
    out = np.empty((sum(len(a) for a in arrays), *arrays[0].shape[1:]),
                   dtype=np.result_type(*arrays))
    at = 0
    while arrays:
        part = arrays.pop(0)
        out[at:at + len(part)] = part
        at += len(part)
    return out
