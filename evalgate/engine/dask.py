"""The Dask engine: a suite's files are cut into partitions (:mod:`.partitions`), and each
partition is read, checked, predicted by both models and hashed **on a worker** — one
onnxruntime session per model per worker process, loaded once. The driver gets back, per
partition, the models' predictions and the few columns the checks read (the target, the
sensitive columns, and the features only when a family that perturbs or times rows is
planned), concatenates them in partition order — the local engine's row order — and runs
every family on them exactly as the local engine does. So the engine never changes a number:
the same suite gives the same verdict on a laptop and on a cluster, for any partitioning and
any number of workers.

A ``LocalCluster`` is started on first use (inside the front end's session, never at import)
and closed with it; ``dask://HOST:PORT`` connects to an existing scheduler, whose workers must
see the same data and model paths (a shared file system). A partition whose worker dies is
retried by Dask on another worker; a partition that keeps killing workers, an unreachable
scheduler, or running out of the gate's time raise :class:`~evalgate.errors.EngineError`: the
gate blocks, never judging partial data.

Limits (issue 14's later steps): the driver holds each model's predictions and the kept
columns for every row — about 20 bytes a row for a binary model whose text columns travel as
codes — so the performance and bias statistics run in driver memory; mergeable per-partition
states will lift that.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._io import sha256_files
from ..config import EngineChoice
from ..data import Dataset
from ..data.read import (
    DataFile,
    check_columns,
    check_key,
    locate,
    missing_target,
    no_rows,
    read_header,
    stamps,
    unchanged,
)
from ..errors import EngineError, EvalgateError
from ..families.base import salted
from ..models import Model
from ..models.base import RawPrediction
from .partitions import (
    ModelRef,
    Part,
    PartResult,
    ScanRequest,
    concat_raw,
    count_rows,
    footprint,
    join_frames,
    plan_parts,
    scan_part,
    with_offsets,
)

Say = Callable[[str], None]
#: seconds to wait for an existing scheduler before giving up
CONNECT_TIMEOUT_S = 20
#: at most one progress line per this many seconds (and one at the end)
PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class Scan:
    """A dataset scanned by the workers: its kept columns, each model's predictions, and
    (for the registry's ledger) its rows' hashes, sorted."""

    dataset: Dataset
    raws: dict[str, RawPrediction]
    hashes: np.ndarray | None
    #: each model's description of how it was fed (from the first partition with rows)
    inputs: dict[str, dict[str, Any]]
    #: the reductions' states, merged in partition order
    states: dict[str, Any]


class DaskEngine:
    """The gate's Dask engine (see the module's docstring)."""

    name = "dask"

    def __init__(self, choice: EngineChoice, say: Say | None = None,
                 part_rows: int | None = None):
        self.choice = choice
        self.say: Say = say or (lambda line: None)
        self.part_rows = part_rows
        self._client: Any = None
        self._cluster: Any = None
        self.workers = 0
        self.dashboard: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def client(self) -> Any:
        """The Dask client, the cluster started (or reached) on first use."""
        if self._client is None:
            self._start()
        return self._client

    def _start(self) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise EngineError("the dask engine needs Dask: pip install 'evalgate[dask]'"
                              ) from None
        if self.choice.address is not None:
            try:
                self._client = Client(self.choice.address, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError) as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {self.choice.address} "
                                  f"within {CONNECT_TIMEOUT_S} s ({exc}); is it running, and "
                                  f"is the address right?") from None
            where = f"the Dask cluster at {self.choice.address}"
        else:
            n = self.choice.workers or os.cpu_count() or 1
            # CRITICAL: a partition's error is the gate's one message, not a worker's
            # "Compute Failed" traceback per partition before it
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=":0",
                                         silence_logs=logging.CRITICAL)
            self._client = Client(self._cluster)
            where = "a Dask LocalCluster"
        self.workers = len(self._client.scheduler_info().get("workers", {}))
        self._same_software()
        try:
            self.dashboard = str(self._client.dashboard_link)
        except Exception:  # no dashboard (bokeh absent): nothing to link
            self.dashboard = None
        shown = f"; dashboard: {self.dashboard}" if self.dashboard else ""
        if shown and self.choice.address is None and importlib.util.find_spec("bokeh") is None:
            shown += " (its pages need bokeh: pip install bokeh)"
        self.say(f"evalgate: running on {where} with {self.workers} workers{shown}")

    def _same_software(self) -> None:
        """Workers must run the driver's evalgate, onnxruntime, numpy and pandas: a worker
        with another version could predict or check differently, and the verdict would no
        longer be the local engine's."""
        mine = software()
        for worker, theirs in self._client.run(software).items():
            differ = {k: (mine[k], theirs.get(k)) for k in mine if theirs.get(k) != mine[k]}
            if differ:
                self.close()
                shown = ", ".join(f"{k} {a} here, {b} there" for k, (a, b) in differ.items())
                raise EngineError(f"the Dask worker {worker} runs other software ({shown}); "
                                  f"install the same versions on the workers")

    def close(self) -> None:
        """Close the client, and the LocalCluster when this engine started it."""
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def info(self) -> dict[str, Any]:
        """The engine as verdict.json's provenance records it."""
        out: dict[str, Any] = {"name": "dask", "workers": self.workers}
        if self.choice.address is not None:
            out["address"] = self.choice.address
        return out

    # ------------------------------------------------------------------ scanning

    def scan(self, spec: Any, models: Mapping[str, Model], *, trust_pickle: bool,
             trusted_types: tuple[str, ...] = (),
             keep_features: bool, hash_rows: bool, deadline: float | None,
             label: str, reductions: tuple[Any, ...] = ()) -> Scan:
        """Scan ``spec``'s files on the workers (see the module's docstring)."""
        files = spec.sources
        before = stamps(files)
        header = read_header(files[0])
        features = check_columns(spec, header)
        keep = tuple(dict.fromkeys([*([spec.target] if spec.target else []),
                                    *([spec.key] if spec.key else []), *spec.sensitive,
                                    *(features if keep_features else ())]))
        # text columns travel as codes, except the row keys and the features a family
        # perturbs (their values are fed to the models again on the driver)
        coded = tuple(c for c in keep if c != spec.key and not (keep_features and c in features))
        request = ScanRequest(
            columns=tuple(header), first_file=files[0], target=spec.target, features=features,
            keep=keep, hash_rows=hash_rows, reductions=reductions, coded=coded,
            models=tuple(ModelRef(role, _path_of(m), m.info.sha256, trust_pickle, trusted_types)
                         for role, m in models.items()))
        parts = plan_parts(files, **({"part_rows": self.part_rows} if self.part_rows else {}))
        if any(getattr(r, "keyed", True) for r in reductions):
            parts = self._offsets(parts)  # a row's key is its position: each part's offset
        sha256 = sha256_files(files)  # the bytes read (``unchanged`` below), and a salt
        request = replace(request, reductions=tuple(salted(reductions, sha256[0])))
        results = self._run(parts, request, deadline, label)
        scan = _assemble(spec, files, features, parts, results, list(models), sha256,
                         request.reductions)
        unchanged(files, before)  # after the hashing: the rows judged are the bytes hashed
        return scan

    def _run(self, parts: Sequence[Part], request: ScanRequest, deadline: float | None,
             label: str) -> list[PartResult]:
        from distributed import as_completed

        client = self.client()
        futures = client.map(scan_part, parts, request=request, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done: list[PartResult | None] = [None] * len(parts)
        started = last = time.monotonic()
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            for count, future in enumerate(as_completed(futures, timeout=timeout), start=1):
                i = index[future.key]
                done[i] = self._result(future, parts[i])
                if count == 1:
                    _fits_the_driver(done[i], parts, label)
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S or count == len(parts):
                    last = now
                    self.say(_progress(label, count, len(parts), now - started))
        except TimeoutError:
            raise EngineError(f"the gate's time limit was reached while scanning {label}: "
                              f"{sum(r is not None for r in done)} of {len(parts)} partitions "
                              f"done; partial data is never judged") from None
        finally:
            client.cancel([f for f in futures if not f.done()])
        missing = [parts[i].describe() for i, r in enumerate(done) if r is None]
        if missing:  # never judge partial data
            raise EngineError(f"{len(missing)} of {len(parts)} partitions of {label} came back "
                              f"without a result (first: {missing[0]}); the gate does not "
                              f"judge partial data")
        return [r for r in done if r is not None]

    def _offsets(self, parts: Sequence[Part]) -> list[Part]:
        """``parts`` with their first rows' positions in the dataset: Parquet footers give
        their rows, CSV files are counted on the workers."""
        uncounted = [p for p in parts if p.rows is None]
        counted: dict[int, int] = {}
        if uncounted:
            client = self.client()
            futures = client.map(count_rows, uncounted, pure=False)
            for part, future in zip(uncounted, futures, strict=True):
                counted[part.index] = self._result(future, part)
        return with_offsets(parts, counted)

    @staticmethod
    def _result(future: Any, part: Part) -> Any:
        from distributed import KilledWorker

        try:
            result = future.result()
        except EvalgateError:
            raise
        except KilledWorker:
            raise EngineError(f"partition {part.index} ({part.describe()}) killed every Dask "
                              f"worker that ran it (out of memory, or a crash in a model's "
                              f"runtime); the gate does not judge partial data") from None
        except Exception as exc:
            raise EngineError(f"partition {part.index} ({part.describe()}) failed on a Dask "
                              f"worker: {type(exc).__name__}: {exc}") from None
        return result


def software() -> dict[str, str]:
    """The versions that decide a verdict's numbers (run on each worker too)."""
    from importlib import metadata

    out = {}
    for name in ("evalgate", "onnxruntime", "numpy", "pandas", "scipy", "scikit-learn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


#: what the driver holds per byte gathered: the partitions' results (joined without a second
#: copy), the canonical predictions (float64 scores) and the statistics' working arrays —
#: measured at 3.3 on 10M Adult rows (``bench/scale.py``), rounded up
DRIVER_FACTOR = 4


def _fits_the_driver(first: PartResult | None, parts: Sequence[Part], label: str) -> None:
    """Refuse, from the first partition back, a scan whose gathered rows would not fit the
    driver's memory — an error that names the sizes, not an out-of-memory kill."""
    from ..data.memory import available_bytes

    if first is None or first.rows == 0:
        return
    have = available_bytes()
    if have is None:
        return
    known = [p.rows for p in parts if p.rows is not None]
    rows = sum(known) + first.rows * (len(parts) - len(known))  # CSV parts: like the first
    need = footprint(first) / first.rows * rows * DRIVER_FACTOR
    if need > have:
        gib = 1 << 30
        raise EngineError(
            f"{label}: the driver would hold about {need / gib:,.1f} GiB for {rows:,} rows "
            f"(each model's predictions and the columns the checks read), more than the "
            f"{have / gib:,.1f} GiB it has available; this version of the Dask engine gathers "
            f"every row's predictions on the driver — run it on a driver with more memory, or "
            f"gate a sample of the rows")


def _path_of(model: Model) -> Any:
    from pathlib import Path

    return Path(model.info.path).resolve()


def _progress(label: str, done: int, total: int, elapsed: float) -> str:
    eta = elapsed / done * (total - done) if done else 0.0
    tail = "done" if done == total else f"ETA {eta:,.0f} s"
    return (f"evalgate: {label}: {done}/{total} partitions predicted "
            f"({elapsed:,.0f} s, {tail})")


def _assemble(spec: Any, files: Sequence[Any], features: tuple[str, ...],
              parts: Sequence[Part], results: Sequence[PartResult], roles: list[str],
              sha256: tuple[str, tuple[str, ...]], reductions: Sequence[Any] = ()) -> Scan:
    """The partitions' results, in order, as one dataset; the local engine's errors for a
    dataset without rows or with a missing target."""
    rows = sum(r.rows for r in results)
    if rows == 0:
        raise no_rows(spec)
    missing = [(r, p) for r, p in zip(results, parts, strict=True) if r.missing_target]
    if missing:
        first, part = missing[0]
        assert first.missing_target is not None
        total = sum(r.missing_target[0] for r, _ in missing if r.missing_target)
        raise missing_target(spec, total, rows, part.path, first.missing_target[1])
    frames: list[pd.DataFrame] = []
    parts_of: dict[str, list[RawPrediction]] = {role: [] for role in roles}
    for r in results:  # handed over, so that each partition's arrays go once joined
        f, raw_of = r.take()
        frames.append(f)
        for role, raw in raw_of.items():
            parts_of[role].append(raw)
    frame = join_frames(frames)
    raws = {role: concat_raw(parts_of.pop(role)) for role in roles}
    hashes = None
    if all(r.hashes is not None for r in results):
        hashes = np.sort(np.concatenate([r.hashes for r in results if r.hashes is not None]))
    whole, each = sha256
    per_file = {f: 0 for f in files}
    for r, p in zip(results, parts, strict=True):
        per_file[p.path] += r.rows
    if spec.key is not None:  # each row named once, across every partition
        check_key(spec, frame[spec.key],
                  lambda i: locate(list(files), list(per_file.values()), i))
    listed = tuple(DataFile(f, h, per_file[f]) for f, h in zip(files, each, strict=True)
                   ) if spec.files else ()
    data = Dataset(path=spec.path, sha256=whole, rows=rows, frame=frame, target=spec.target,
                   features=features, sensitive=spec.sensitive, files=listed)
    inputs = next(r.inputs for r in results if r.rows)
    states = {r.key: r.merge([p.states[r.key] for p in results]) for r in reductions}
    return Scan(data, raws, hashes, inputs, states)
