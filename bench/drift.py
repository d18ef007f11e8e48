"""Time the drift family: every column of the evaluation rows against a reference.

    python bench/drift.py [--rows 1000000] [--repeat 3]

Data: the shipped Adult test split resampled with replacement to --rows rows (seed 0) as the
evaluation set, the training split resampled likewise (seed 1) as the reference, both Parquet.
The suite declares only the drift family's column checks (14 columns: 6 numeric, 8
categorical; Wasserstein and Jensen–Shannon with 1,000 bootstrap replicates each, plus the
noise floor's 1,000). Reported: the family's own time (``outcome.timings["drift"]``: reading
the reference, binning both sets, every interval), best of --repeat; the gate's reading and
predicting of the evaluation rows is not part of it. Target (issue 15): ≤ 5 s at 1M × 14
against a 1M-row reference on the local engine.
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

CANDIDATE = ROOT / "examples/models/candidate.onnx"
TEST = ROOT / "examples/data/adult_test.csv.gz"
TRAIN = ROOT / "examples/data/adult_train.csv.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for src, name, seed in ((TEST, "eval", 0), (TRAIN, "ref", 1)):
            base = pd.read_csv(src)
            idx = np.random.default_rng(seed).integers(0, len(base), size=args.rows)
            base.iloc[idx].reset_index(drop=True).to_parquet(root / f"{name}.parquet",
                                                             index=False)
        (root / "s.yaml").write_text(
            "suite: drift-bench\ntask: binary\ndata:\n  path: eval.parquet\n  target: income\n"
            "  repeated_rows: independent\n"  # resampled with replacement: by design
            "  positive_label: \">50K\"\nchecks:\n  drift:\n    reference: ref.parquet\n"
            "    max_missing_increase: 0.02\n    max_unseen: 0.01\n")
        suite = load_suite(root / "s.yaml")
        best, total, statuses = np.inf, np.inf, []
        for _ in range(args.repeat):
            t = time.perf_counter()
            outcome = Gate(CANDIDATE, no_champion=True).run_suite(suite)
            total = min(total, time.perf_counter() - t)
            assert outcome.error is None, outcome.error
            best = min(best, outcome.timings["drift"])
            statuses = [r.status for r in outcome.results]
        print(f"{args.rows:,} evaluation rows × {len(statuses)} columns against {args.rows:,} "
              f"reference rows: drift family {best:.2f} s (whole gate run {total:.2f} s); "
              f"{statuses.count('pass')} pass, {statuses.count('fail')} fail")


if __name__ == "__main__":
    main()
