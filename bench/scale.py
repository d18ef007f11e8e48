"""The gate on the Dask engine next to the bare distributed inference of its two models, and
the driver's peak memory.

    python bench/scale.py [--rows 10000000] [--workers 2] [--keep DIR]

Data: the shipped Adult test split resampled with replacement (seed 0) to --rows rows,
written as Parquet files of about 64 MB of row groups each (``write`` phase). Then, each in a
fresh process so that each peak resident memory is its own (Linux ``ru_maxrss``):

- ``bare``: the distributed inference alone — on ``LocalCluster(n_workers=--workers)``, each
  partition read and predicted by both models with onnxruntime (ready-made float32 / string
  input tensors, ZipMap removed as evalgate runs them), nothing gathered but a row count;
- ``gate``: evalgate's whole run of suites/adult.yaml's performance and bias families on the
  same files and cluster size, ``--evalgate-engine dask`` (cluster start excluded from
  neither: both phases start their own cluster and the time is counted from its start);
- ``local`` (up to --local-max rows): the local engine's whole gate in one process next to
  the bare single-process inference of both models.

Reported: seconds, the ratio gate / bare, and the driver's peak RSS. Targets (issue 14): at
10M rows gate ≤ 1.5× bare with driver RSS < 1 GB; at 100M rows the gate completes with driver
RSS < 2 GB; at 1M rows the local gate ≤ 1.5× bare single-process inference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATE = ROOT / "examples/models/candidate.onnx"
CHAMPION = ROOT / "examples/models/champion.onnx"
DATA = ROOT / "examples/data/adult_test.csv.gz"
FILE_ROWS = 2_000_000   # rows per Parquet file
GROUP_ROWS = 500_000    # rows per row group (~64 MB of Adult rows in memory)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(folder: Path, rows: int) -> None:
    base = pd.read_csv(DATA)
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        idx = rng.integers(0, len(base), size=n)
        base.iloc[idx].reset_index(drop=True).to_parquet(
            folder / f"part-{i:05d}.parquet", index=False, row_group_size=GROUP_ROWS)


def suite_text(folder: Path) -> str:
    import yaml

    doc = yaml.safe_load((ROOT / "suites/adult.yaml").read_text())
    doc["checks"] = {k: doc["checks"][k] for k in ("performance", "bias")}
    doc["data"]["path"] = str(folder / "*.parquet")
    doc["data"]["repeated_rows"] = "independent"  # resampled with replacement: by design
    doc["champion"] = str(CHAMPION)
    return yaml.safe_dump(doc, sort_keys=False)


def _bare_part(part: Any, features: list[str], refs: list[Any]) -> int:
    """One partition read and predicted by both models, onnxruntime alone."""
    from evalgate.engine.partitions import read_part, worker_model

    frame = read_part(part)
    for ref in refs:
        model = worker_model(ref)
        model._bind(features)
        feed = model._feed(frame, features)
        model._session.run([o.name for o in model._session.get_outputs()], feed)
    return len(frame)


def bare(folder: Path, workers: int) -> dict[str, float]:
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster

    from evalgate.engine.partitions import ModelRef, plan_parts
    from evalgate.models import load_model

    files = sorted(folder.glob("*.parquet"))
    features = [c for c in pq.read_schema(files[0]).names if c != "income"]
    refs = [ModelRef(role, path, load_model(path).info.sha256)
            for role, path in (("candidate", CANDIDATE), ("champion", CHAMPION))]
    t = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        futures = client.map(_bare_part, plan_parts(files), features=features, refs=refs,
                             pure=False)
        rows = sum(client.gather(futures))
    return {"seconds": time.perf_counter() - t, "rows": rows, "rss_mb": peak_rss_mb()}


def gate(folder: Path, workers: int | None) -> dict[str, float]:
    from evalgate.config import EngineChoice
    from evalgate.engine import Gate, make_engine
    from evalgate.families import load_suite

    suite_path = folder.parent / "scale.yaml"
    suite_path.write_text(suite_text(folder))
    engine = None if workers is None else make_engine(EngineChoice("dask", None, workers))
    t = time.perf_counter()
    try:
        outcome = Gate(CANDIDATE, engine=engine).run_suite(load_suite(suite_path))
    finally:
        if engine is not None:
            engine.close()
    seconds = time.perf_counter() - t
    assert outcome.error is None, outcome.error
    statuses = [r.status for r in outcome.results]
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "checks": len(statuses),
            "passed": statuses.count("pass"), **{f"stage_{k}": v for k, v in
                                                  outcome.timings.items()}}


def bare_local(folder: Path) -> dict[str, float]:
    from evalgate.data.read import read_files
    from evalgate.models import load_model

    frame, _ = read_files(sorted(folder.glob("*.parquet")))
    features = [c for c in frame.columns if c != "income"]
    t = time.perf_counter()
    for path in (CANDIDATE, CHAMPION):
        model = load_model(path)
        model._bind(features)
        feed = model._feed(frame, features)
        model._session.run([o.name for o in model._session.get_outputs()], feed)
    return {"seconds": time.perf_counter() - t, "rss_mb": peak_rss_mb()}


def phase(name: str, folder: Path, workers: int) -> dict[str, Any]:
    """Run one phase in a fresh process; its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--folder", str(folder),
                          "--workers", str(workers)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--local-max", type=int, default=1_000_000,
                    help="also time the local engine up to this many rows")
    ap.add_argument("--keep", type=Path, default=None, help="write the data here and keep it")
    ap.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase is not None:
        runs = {"bare": lambda: bare(args.folder, args.workers),
                "gate": lambda: gate(args.folder, args.workers),
                "local": lambda: gate(args.folder, None),
                "bare_local": lambda: bare_local(args.folder)}
        print(json.dumps(runs[args.phase]()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        folder = root / f"adult-{args.rows}"
        t = time.perf_counter()
        if not folder.exists():
            write(folder, args.rows)
        print(f"{args.rows:,} rows in {len(list(folder.glob('*.parquet')))} files "
              f"(written in {time.perf_counter() - t:.0f} s); {args.workers} workers",
              flush=True)
        b = phase("bare", folder, args.workers)
        g = phase("gate", folder, args.workers)
        print(f"dask  bare inference {b['seconds']:8.1f} s   driver RSS {b['rss_mb']:6.0f} MB")
        print(f"dask  gate           {g['seconds']:8.1f} s   driver RSS {g['rss_mb']:6.0f} MB"
              f"   {g['seconds'] / b['seconds']:.2f}x bare; {g['passed']}/{g['checks']} pass")
        stages = {k.removeprefix("stage_"): round(v, 1) for k, v in g.items()
                  if k.startswith("stage_")}
        print(f"      stages: {stages}", flush=True)
        if args.rows <= args.local_max:
            bl = phase("bare_local", folder, args.workers)
            lo = phase("local", folder, args.workers)
            print(f"local bare inference {bl['seconds']:8.1f} s   RSS {bl['rss_mb']:6.0f} MB")
            print(f"local gate           {lo['seconds']:8.1f} s   RSS {lo['rss_mb']:6.0f} MB"
                  f"   {lo['seconds'] / bl['seconds']:.2f}x bare")


if __name__ == "__main__":
    main()
