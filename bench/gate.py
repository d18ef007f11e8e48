"""Time the whole gate next to the bare onnxruntime inference of its two models.

    python bench/gate.py [--rows 1000000] [--repeat 3]

Rows: the shipped Adult test split (16,281 rows), and a sample of --rows drawn from it with
replacement (seed 0), stored as Parquet. The suite is suites/adult.yaml's performance family
(every family with --all-families). "bare" is onnxruntime's ``run`` of both models on
ready-made input tensors (ZipMap removed, as evalgate runs them); "gate" is evalgate's whole
run of suites/adult.yaml on the same rows (reading the data file, both predictions, every
check); "performance" is the performance family alone. Best of --repeat.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalgate.engine import Gate  # noqa: E402
from evalgate.families import load_suite  # noqa: E402
from evalgate.models import load_model  # noqa: E402

CANDIDATE = ROOT / "examples/models/candidate.onnx"
CHAMPION = ROOT / "examples/models/champion.onnx"
DATA = ROOT / "examples/data/adult_test.csv.gz"


def bare_inference(frame: pd.DataFrame, features: list[str], repeat: int) -> float:
    best = np.inf
    models = [load_model(p) for p in (CANDIDATE, CHAMPION)]
    feeds = []
    for m in models:
        m._bind(features)
        feeds.append(m._feed(frame, features))
    for _ in range(repeat):
        t = time.perf_counter()
        for m, feed in zip(models, feeds):
            names = [o.name for o in m._session.get_outputs()]
            m._session.run(names, feed)
        best = min(best, time.perf_counter() - t)
    return best


def gate_run(suite_path: Path, repeat: int) -> tuple[float, dict[str, float]]:
    best, timings = np.inf, {}
    for _ in range(repeat):
        gate = Gate(CANDIDATE)
        suite = load_suite(suite_path)
        t = time.perf_counter()
        outcome = gate.run_suite(suite)
        elapsed = time.perf_counter() - t
        assert outcome.error is None, outcome.error
        if elapsed < best:
            best, timings = elapsed, dict(outcome.timings)
    return best, timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--all-families", action="store_true",
                    help="gate on every family of suites/adult.yaml (default: performance only, "
                         "the family whose cost is compared with bare inference)")
    args = ap.parse_args()
    base = pd.read_csv(DATA)
    import yaml

    doc = yaml.safe_load((ROOT / "suites/adult.yaml").read_text())
    if not args.all_families:
        doc["checks"] = {"performance": doc["checks"]["performance"]}
    suite_text = yaml.safe_dump(doc, sort_keys=False)
    features = [c for c in base.columns if c != "income"]
    print(f"{'rows':>10} {'bare (2 models)':>16} {'gate':>8} {'performance':>12} "
          f"{'perf/bare':>10}  stages")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (len(base), args.rows):
            if rows == len(base):
                frame, path = base, DATA
            else:
                idx = np.random.default_rng(0).integers(0, len(base), size=rows)
                frame = base.iloc[idx].reset_index(drop=True)
                path = Path(tmp) / f"adult_{rows}.parquet"
                frame.to_parquet(path)
            suite = Path(tmp) / f"adult_{rows}.yaml"
            suite.write_text(suite_text.replace("../examples/data/adult_test.csv.gz", str(path))
                             .replace("../examples", str(ROOT / "examples")))
            bare = bare_inference(frame, features, args.repeat)
            total, timings = gate_run(suite, args.repeat)
            perf = timings.get("performance", float("nan"))
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
            print(f"{rows:>10,} {bare:>15.2f}s {total:>7.2f}s {perf:>11.2f}s "
                  f"{perf / bare:>9.2f}x  {stages}", flush=True)


if __name__ == "__main__":
    main()
