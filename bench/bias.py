"""Time the bias family on synthetic data.

    python bench/bias.py [--rows 1000000] [--groups 10] [--resamples 1000] [--repeat 3]

A binary task with a champion: two groupings (``region``, ``band``) of --groups groups
each (unequal sizes), three metrics (selection rate, TPR, FPR), each with ``max_difference``
and ``max_regression`` — 6 checks, each a per-group table for both models, Newcombe
intervals and a paired bootstrap of --resamples replicates. Reported: the whole family
(``bias.run``, what the runner calls: group coding, disaggregation, intervals, bootstrap),
and its parts — coding the rows by group, and one check on already coded groups. Best of
--repeat. Predictions are given (no model runs): this times evalgate's own work.
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

from evalgate.data import Dataset, Target  # noqa: E402
from evalgate.families import EvalContext, load_suite  # noqa: E402
from evalgate.families.bias import check as bias  # noqa: E402
from evalgate.families.bias.groups import group_rows  # noqa: E402
from evalgate.families.bias.tables import prepare  # noqa: E402
from evalgate.models.predictions import Predictions  # noqa: E402

SUITE = """\
suite: bench
task: binary
data:
  path: data.csv
  target: y
  sensitive: [region, band]
seed: 0
n_resamples: {resamples}
checks:
  bias:
    groups: [region, band]
    min_group_size: 30
    metrics: [selection_rate, true_positive_rate, false_positive_rate]
    max_difference: 0.5
    max_regression: 0.05
"""


def make(rows: int, groups: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = np.arange(1, groups + 1, dtype=float)
    weights /= weights.sum()
    region = rng.choice([f"region-{i}" for i in range(groups)], rows, p=weights)
    band = rng.choice([f"band-{i}" for i in range(groups)], rows, p=weights[::-1])
    y = (rng.random(rows) < 0.3).astype(np.int8)
    score = 0.6 * y + 0.4 * rng.random(rows)
    cand = (score + 0.05 * rng.standard_normal(rows) > 0.5).astype(np.int8)
    champ = (score + 0.05 * rng.standard_normal(rows) > 0.5).astype(np.int8)
    frame = pd.DataFrame({"region": pd.array(region, dtype="str"),
                          "band": pd.array(band, dtype="str"), "y": y})
    return frame, y, cand, champ


def context(folder: Path, frame: pd.DataFrame, y: np.ndarray, cand: np.ndarray,
            champ: np.ndarray, resamples: int) -> EvalContext:
    frame.head(2).to_csv(folder / "data.csv", index=False)  # the spec wants a real file
    (folder / "suite.yaml").write_text(SUITE.format(resamples=resamples))
    suite = load_suite(folder / "suite.yaml")
    data = Dataset(path=folder / "data.csv", sha256="0" * 64, rows=len(frame), frame=frame,
                   target="y", features=("region", "band"), sensitive=("region", "band"))
    return EvalContext(suite=suite, target=Target(y=y, classes=(0, 1)),
                       candidate=Predictions(cand, None), champion=Predictions(champ, None),
                       data=data)


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    frame, y, cand, champ = make(args.rows, args.groups)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = context(Path(tmp), frame, y, cand, champ, args.resamples)
        spec = ctx.suite.families["bias"]
        plans = bias.plan(ctx.suite)
        results = bias.run(ctx, plans)
        assert all(r.status in ("pass", "fail") for r in results), [r.message for r in results]
        whole = best(lambda: bias.run(ctx, plans), args.repeat)
        coding = best(lambda: [group_rows(ctx.data, spec, g) for g in spec.groupings],
                      args.repeat)
        prepared = prepare(ctx)
        groups = group_rows(ctx.data, spec, spec.groupings[0])
        one = best(lambda: bias.evaluate(ctx, spec, spec.groupings[0], spec.metrics[1],
                                         groups, prepared), args.repeat)
    print(f"bias family: {args.rows:,} rows, {len(spec.groupings)} groupings × "
          f"{args.groups} groups, {len(spec.metrics)} metrics ({len(results)} checks), "
          f"{args.resamples:,} bootstrap replicates, with a champion; best of {args.repeat}")
    print(f"  whole family (bias.run)        {whole:8.3f} s")
    print(f"  coding rows by group (×{len(spec.groupings)})    {coding:8.3f} s")
    print(f"  one check on coded groups      {one:8.3f} s")
    for r in results:
        print(f"  {r.id:45s} {r.status:5s} {r.method}")


if __name__ == "__main__":
    main()
